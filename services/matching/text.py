"""Text made comparable: titles folded to plain lowercase words, artist credits split into names.

Names are compared loosely (spacing, small typos): Beatport and Spotify spell them
differently.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache

from rapidfuzz import fuzz
from unidecode import unidecode

_APOSTROPHES = re.compile(r"['’`´]")
_NON_ALNUM = re.compile(r"[^a-z0-9]+")
_ARTIST_SEPARATORS = re.compile(
    r"\s*(?:,|&|\+|/|\\|;|\b(?:feat|ft|featuring|vs|versus|x|and|with|presents|pres)\b\.?)\s*"
)
_DISAMBIGUATION = re.compile(r"\s*\([^)]*\)")


def without_disambiguation(name: str) -> str:
    """An artist name without its "(FR)"-style bracketed parts."""
    return _DISAMBIGUATION.sub("", name)


def fold(text: str) -> str:
    """Lowercase ASCII words: accents transliterated, "&" read as "and", punctuation gone."""
    text = unidecode(text).lower().replace("&", " and ")
    text = _APOSTROPHES.sub("", text)
    return _NON_ALNUM.sub(" ", text).strip()


@lru_cache(maxsize=16_384)
def artist_parts(name: str) -> frozenset[str]:
    """The individual names in one artist credit ("A & B feat. C" gives a, b, c)."""
    text = without_disambiguation(unidecode(name).lower())
    parts = set()
    for piece in _ARTIST_SEPARATORS.split(text):
        folded = fold(piece)
        folded = folded.removeprefix("the ")
        if folded:
            parts.add(folded)
    return frozenset(parts)


def artists_parts(names: Iterable[str]) -> frozenset[str]:
    """The individual names across several artist credits."""
    result: set[str] = set()
    for name in names:
        result |= artist_parts(name)
    return frozenset(result)


@lru_cache(maxsize=16_384)
def same_name(a: str, b: str) -> bool:
    """Two folded names denote the same artist (spacing, small typos)."""
    if a == b or a.replace(" ", "") == b.replace(" ", ""):
        return True
    return min(len(a), len(b)) >= 4 and fuzz.ratio(a, b) >= 88


def same_credit(a: str, b: str) -> bool:
    """Two remixer credits name the same people ("A & B" is not "A")."""
    parts_a, parts_b = artist_parts(a), artist_parts(b)
    return all(found_among(p, parts_b) for p in parts_a) and all(
        found_among(p, parts_a) for p in parts_b
    )


def found_among(part: str, parts: Iterable[str]) -> bool:
    """A folded name denotes the same artist as one of `parts`."""
    return any(same_name(part, other) for other in parts)
