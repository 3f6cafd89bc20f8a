"""A pasted Beatport link read into a `Target`; anything else refused in words.

The link is untrusted text: only www.beatport.com over http(s), no credentials, ports,
IP addresses, look-alike or encoded hosts, and only the paths of the kinds in
`services.beatport.targets`. The query string and fragment are never used.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Final

from services.beatport.targets import MAX_BEATPORT_ID, SLUG_RE, InvalidTarget, Target, quoted

MAX_TARGET_CHARS: Final = 2000

_HOSTS: Final = frozenset({"www.beatport.com", "beatport.com"})
_SCHEME_RE: Final = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*):")
_ID_RE: Final = re.compile(r"[0-9]{1,10}")
_LOCALE_RE: Final = re.compile(r"[A-Za-z]{2}")
_IPV4ISH_RE: Final = re.compile(r"[0-9.]+|0x[0-9a-f.x]*|[0-9]+")
_LIST_WORDS: Final = {"top-100": "genre_top100", "hype-100": "genre_hype100"}


def _char_name(ch: str) -> str:
    return f"{ch!r} (U+{ord(ch):04X})"


def parse_target(text: str) -> Target:
    """Turn a pasted Beatport link into a Target, refusing anything else with InvalidTarget."""
    if not isinstance(text, str):
        raise InvalidTarget("Paste a Beatport link as text.")
    if len(text) > MAX_TARGET_CHARS:
        raise InvalidTarget(
            f"That link is {len(text)} characters long; a Beatport link has at most "
            f"{MAX_TARGET_CHARS}."
        )
    url = text.strip()
    if not url:
        raise InvalidTarget("Paste a Beatport link; the field is empty.")
    for ch in url:
        if ch.isspace() or unicodedata.category(ch)[0] in "CZ":
            raise InvalidTarget(
                f"The link contains a space or an invisible control character {_char_name(ch)}."
            )
    if not url.isascii():
        bad = next(ch for ch in url if not ch.isascii())
        raise InvalidTarget(
            f"The link contains the non-ASCII character {_char_name(bad)}; Beatport links are "
            "plain ASCII, and look-alike letters are a common trick."
        )
    if "\\" in url:
        raise InvalidTarget("The link contains a backslash, which Beatport links never have.")

    scheme_match = _SCHEME_RE.match(url)
    if scheme_match is None:
        raise InvalidTarget(
            "The link must start with https:// (for example https://www.beatport.com/top-100)."
        )
    scheme = scheme_match.group(1).lower()
    if scheme not in ("https", "http"):
        raise InvalidTarget(f"Only https:// links are accepted, not {scheme}: links.")
    rest = url[scheme_match.end() :]
    if not rest.startswith("//"):
        raise InvalidTarget("The link must start with https:// followed by the host name.")
    rest = rest[2:]
    end = min((i for i in (rest.find(c) for c in "/?#") if i >= 0), default=len(rest))
    authority, remainder = rest[:end], rest[end:]
    _check_host(authority)

    cut = min((i for i in (remainder.find(c) for c in "?#") if i >= 0), default=len(remainder))
    # The query string and fragment are ignored: nothing from them is ever used.
    path = remainder[:cut]
    if "%" in path:
        raise InvalidTarget(
            "The link's path contains percent-encoded characters, which Beatport links never need."
        )
    return _target_from_path(path)


def _check_host(authority: str) -> None:
    if not authority:
        raise InvalidTarget("The link has no host name after https://.")
    if "@" in authority:
        raise InvalidTarget(
            "The link carries a user name or password before the host (the '@' part); "
            "Beatport links never do."
        )
    if "%" in authority:
        raise InvalidTarget("The link's host name is percent-encoded; write it plainly.")
    if authority.startswith("["):
        raise InvalidTarget("IP addresses are not accepted; use www.beatport.com.")
    if ":" in authority:
        raise InvalidTarget("The link names a port (':' after the host); Beatport links never do.")
    host = authority.lower()
    if host in _HOSTS:
        return
    if _IPV4ISH_RE.fullmatch(host):
        raise InvalidTarget(
            f"IP addresses ({quoted(host)}) are not accepted; use www.beatport.com."
        )
    if "xn--" in host:
        raise InvalidTarget(
            f"The host {quoted(host)} is an encoded international name (xn--), often used to "
            "imitate a real site; only www.beatport.com is accepted."
        )
    if host.rstrip(".") in _HOSTS:
        raise InvalidTarget("Write the host as www.beatport.com, without a trailing dot.")
    raise InvalidTarget(
        f"Only links on www.beatport.com are accepted; this one is on {quoted(host)}."
    )


def _target_from_path(path: str) -> Target:
    if path in ("", "/"):
        raise InvalidTarget("That is Beatport's home page, not a list of tracks.")
    parts = path[1:].split("/")
    if parts[-1] == "":
        parts.pop()
    if any(part == "" for part in parts):
        raise InvalidTarget("The link's path has an empty part ('//').")
    if len(parts) >= 2 and _LOCALE_RE.fullmatch(parts[0]):
        parts = parts[1:]  # a language prefix such as /en/ or /de/
    words = [part.lower() for part in parts]
    head = words[0]
    shown = "/" + "/".join(parts)
    if head == "top-100" and len(words) == 1:
        return Target("top100")
    if head == "genre":
        if len(words) == 4 and words[3] in _LIST_WORDS:
            return _slug_target(_LIST_WORDS[words[3]], parts[1], parts[2])
        raise InvalidTarget(
            "A genre page itself is not a list Crate collects: paste its Top 100 or Hype 100 "
            "link (ending in /top-100 or /hype-100), or pick the genre and a date range."
        )
    if head in ("chart", "release", "track"):
        if len(words) == 3:
            return _slug_target(head, parts[1], parts[2])
        raise InvalidTarget(
            f"A {head} link looks like /{head}/{{slug}}/{{id}}; this one is {quoted(shown)}."
        )
    if head in ("label", "artist"):
        if len(words) == 4 and words[3] == "tracks":
            return _slug_target(head, parts[1], parts[2])
        raise InvalidTarget(
            f"For an {head} paste the link of their tracks page, ending in /tracks "
            f"(/{head}/{{slug}}/{{id}}/tracks)."
            if head == "artist"
            else f"For a {head} paste the link of its tracks page, ending in /tracks "
            f"(/{head}/{{slug}}/{{id}}/tracks)."
        )
    if head == "search":
        raise InvalidTarget(
            "Search pages are not collected: open the chart, release, label or artist and "
            "paste that link."
        )
    raise InvalidTarget(f"Crate cannot collect this kind of Beatport page ({quoted(shown)}).")


def _slug_target(kind: str, slug: str, raw_id: str) -> Target:
    if not SLUG_RE.fullmatch(slug):
        raise InvalidTarget(
            f"The name part of the link ({quoted(slug)}) has characters Beatport links do not use."
        )
    if not _ID_RE.fullmatch(raw_id):
        raise InvalidTarget(
            f"The {kind.split('_')[0]} id in the link ({quoted(raw_id)}) must be a whole number "
            "of at most 10 digits."
        )
    beatport_id = int(raw_id)
    if not 0 < beatport_id <= MAX_BEATPORT_ID:
        raise InvalidTarget(
            f"The id {beatport_id} in the link is not a Beatport id (1 to {MAX_BEATPORT_ID})."
        )
    return Target(kind, beatport_id, slug)
