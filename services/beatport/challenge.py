"""Telling a bot wall (Cloudflare's check, Beatport's human test) from a real answer."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Final

from services.beatport.pages import NEXT_DATA_MARK

_CHALLENGE_TITLE_RE: Final = re.compile(
    r"<title[^>]*>\s*just a moment(?:\.\.\.|\u2026)?\s*</title>", re.IGNORECASE
)
_CLOUDFLARE_MARKS: Final = ("cf_chl_opt", "/cdn-cgi/challenge-platform/")


def _header(headers: Mapping[str, str], name: str) -> str:
    value = headers.get(name)
    if value is None:
        lowered = name.lower()
        value = next((v for k, v in headers.items() if k.lower() == lowered), None)
    return value.strip().lower() if isinstance(value, str) else ""


def detect_challenge(status: int, headers: Mapping[str, str], body: str) -> str | None:
    """Say why a response is a bot wall (Cloudflare, Beatport's human test), else None."""
    if _header(headers, "cf-mitigated") == "challenge":
        return "Cloudflare answered with a bot check (cf-mitigated: challenge)"
    if NEXT_DATA_MARK in body:
        # A real page; its text may well mention "Just a moment" (a track title, say).
        return None
    if _CHALLENGE_TITLE_RE.search(body, 0, 20000) or any(m in body for m in _CLOUDFLARE_MARKS):
        return f"Cloudflare answered {status} with its 'Just a moment...' bot check page"
    if "/human-test/" in body or "findProof" in body:
        return "Beatport answered with its own human-test page instead of the requested page"
    content_type = _header(headers, "content-type")
    start = body[:200].lstrip()[:1]
    if "json" in content_type or start in ("{", "["):
        return None
    if status == 200 and ("html" in content_type or start == "<"):
        return (
            "the page came back without its __NEXT_DATA__ data, which is what a bot wall "
            "(or a changed site layout) looks like"
        )
    return None
