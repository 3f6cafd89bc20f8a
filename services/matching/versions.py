"""Which version (mix) of a recording a title names, and whether two versions can be one audio.

Versions are compared, not stripped: "Extended Mix", "Radio Edit", "X Remix", "VIP",
"Dub" and "Instrumental" are different recordings. "Original Mix" and a title with
no suffix only say "the main version", which on Beatport is often the extended cut
and on Spotify often the radio edit, so they match another cut of the main version
only when the durations agree.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

from services.matching.text import artist_parts, fold, found_among, same_credit

Family = Literal[
    "original", "remix", "vip", "dub", "instrumental", "acapella", "live", "acoustic", "mixed"
]
Cut = Literal["plain", "extended", "radio", "club"]

# Durations of one cut of one recording differ by a second or two between releases.
AGREE_MS = 5_000
# Same explicit label ("Extended Mix" on both sides) but this far apart: not the same audio.
SAME_CUT_MAX_MS = 15_000


@dataclass(frozen=True, slots=True)
class Version:
    """Which version of a recording a title names: family, remixer and cut."""

    family: Family = "original"
    by: str = ""
    cut: Cut = "plain"


@dataclass(frozen=True, slots=True)
class ParsedTitle:
    """A title split into its core words, version, and artists named in "feat."."""

    core: str
    raw_core: str
    version: Version
    featured: frozenset[str]


_BRACKETS = re.compile(r"\(([^()]*)\)|\[([^\[\]]*)\]")
_DASH_SPLIT = re.compile(r"\s+[-–—]\s+")
_INLINE_FEAT = re.compile(r"\s(?:feat\.?|ft\.?|featuring)\s+(.+)$", re.IGNORECASE)
_VERSION_WORDS = frozenset(
    {
        *("mix", "remix", "rmx", "edit", "version", "rework", "reworked", "bootleg", "flip"),
        *("refix", "rerub", "reedit", "remake", "remode", "reinterpretation", "remixed"),
        *("dub", "vip", "instrumental", "acapella", "acappella", "cappella"),
        *("extended", "radio", "club", "original", "mixed"),
    }
)
_REMIX_WORDS = frozenset(
    {
        *("remix", "rmx", "rework", "reworked", "bootleg", "flip", "refix", "rerub"),
        *("reedit", "remake", "remode", "reinterpretation", "remixed"),
    }
)
# Words in a descriptor that are not part of the remixer's name.
_FILLER = _VERSION_WORDS | frozenset(
    {"re", "work", "vocal", "main", "album", "single", "short", "long", "by", "the"}
    | {"cut", "edition"}
)
_FEAT = re.compile(r"^(?:feat|ft|featuring|with)\b\s*(.*)$")
_NEUTRAL = re.compile(
    r"remaster|^\d{4}( version)?$|^from |^bonus|^explicit$|^clean$|^mono$|^stereo$"
    r"|^original version$|^album version$"
)
_LIVE = re.compile(r"^live$|^live (?:at|from|in|on|version|session)\b|\blive$")
_ACOUSTIC = re.compile(r"\bacoustic\b")
_ACAPELLA = re.compile(r"\ba ?cappella\b|\bacapella\b")

Segment = tuple[Literal["feat", "version", "neutral"], str]


def _classify(segment: str) -> Segment | None:
    """What a bracketed or dashed part of a title is; None when it belongs to the title."""
    folded = fold(segment)
    if not folded:
        return ("neutral", "")
    feat = _FEAT.match(folded)
    if feat:
        return ("feat", segment)
    if _NEUTRAL.search(folded):
        return ("neutral", folded)
    words = set(folded.split())
    if words & _VERSION_WORDS or _LIVE.search(folded) or _ACOUSTIC.search(folded):
        return ("version", folded)
    return None


@lru_cache(maxsize=16_384)
def parse_version(descriptor: str) -> Version:
    """The version named by one descriptor such as "Max Styler Extended Rework"."""
    folded = fold(descriptor)
    words = folded.split()
    word_set = set(words)
    if "extended" in word_set or "long" in word_set:
        cut: Cut = "extended"
    elif "radio" in word_set or "short" in word_set or "single" in word_set:
        cut = "radio"
    elif "club" in word_set:
        cut = "club"
    else:
        cut = "plain"
    name_words = [w for w in words if w not in _FILLER]
    if _ACAPELLA.search(folded):
        name_words = [w for w in name_words if w not in ("a", "cappella")]
    by = " ".join(name_words)
    family: Family
    if "instrumental" in word_set:
        family = "instrumental"
    elif _ACAPELLA.search(folded):
        family = "acapella"
    elif "dub" in word_set:
        family = "dub"
    elif "vip" in word_set:
        family = "vip"
    elif folded in ("mixed", "mix cut"):
        family = "mixed"
    elif _LIVE.search(folded):
        family, by = "live", ""
    elif _ACOUSTIC.search(folded):
        family, by = "acoustic", by.replace("acoustic", "").strip()
    elif word_set & _REMIX_WORDS or (by and word_set & {"mix", "edit", "version"}):
        family = "remix"
    else:
        # "Original Mix", "Extended Mix", "Radio Edit", "Edit", "Club Mix": the main version.
        family, by = "original", ""
        if cut == "plain" and word_set == {"edit"}:
            cut = "radio"
    if family == "remix" and "edit" in word_set and cut == "plain" and word_set & _REMIX_WORDS:
        cut = "radio"  # "X Remix Edit" is the short cut of X's remix.
    return Version(family=family, by=by, cut=cut)


# When a title names several things ("X Remix - Instrumental", "… - Mixed"), the most
# specific family decides which recording it is.
_FAMILY_RANK: dict[Family, int] = {
    "mixed": 0,
    "instrumental": 1,
    "acapella": 1,
    "dub": 2,
    "vip": 3,
    "live": 4,
    "acoustic": 4,
    "remix": 5,
    "original": 6,
}


def _combine(versions: Sequence[Version]) -> Version:
    """One version from several descriptors ("(X Remix) - Extended")."""
    if not versions:
        return Version()
    lead = min(versions, key=lambda v: _FAMILY_RANK[v.family])
    cut: Cut = next((v.cut for v in versions if v.cut != "plain"), "plain")
    remixer = next((v.by for v in versions if v.family == "remix" and v.by), "")
    by = lead.by or remixer or next((v.by for v in versions if v.by), "")
    return Version(family=lead.family, by=by, cut=cut)


@lru_cache(maxsize=16_384)
def parse_title(title: str, mix_name: str = "") -> ParsedTitle:
    """Split a title (Spotify's "T - X Remix", Beatport's name plus mix_name) into parts."""
    versions: list[Version] = []
    featured: set[str] = set()

    def take(segment: str) -> bool:
        kind = _classify(segment)
        if kind is None:
            return False
        if kind[0] == "feat":
            match = _FEAT.match(fold(segment))
            featured.update(artist_parts(match.group(1) if match else ""))
        elif kind[0] == "version":
            versions.append(parse_version(kind[1]))
        return True

    def bracket(match: re.Match[str]) -> str:
        inner = match.group(1) if match.group(1) is not None else match.group(2)
        return " " if take(inner) else match.group(0)

    text = _BRACKETS.sub(bracket, title)
    pieces = _DASH_SPLIT.split(text)
    core_pieces = [pieces[0]]
    for piece in pieces[1:]:
        if not take(piece):
            core_pieces.append(piece)
    raw_core = " - ".join(p.strip() for p in core_pieces if p.strip())
    inline = _INLINE_FEAT.search(raw_core)
    if inline:
        featured.update(artist_parts(inline.group(1)))
        raw_core = raw_core[: inline.start()]
    if mix_name.strip():
        take(mix_name)
    raw_core = " ".join(raw_core.split())
    return ParsedTitle(
        core=fold(raw_core),
        raw_core=raw_core,
        version=_combine(versions),
        featured=frozenset(featured),
    )


def versions_compatible(
    query: Version,
    candidate: Version,
    delta_ms: int | None,
    *,
    isrc: bool = False,
    query_artists: frozenset[str] = frozenset(),
    candidate_artists: frozenset[str] = frozenset(),
) -> bool:
    """Whether two versions can be the same audio (ISRC hits skip the duration gate).

    A credit named on one side only ("Dub" vs "Kerri Chandler Dub") must be among the
    other side's artists (folded names): an artist's own dub need not repeat its name.
    """
    if query.family != candidate.family:
        return False
    if query.by and candidate.by:
        if not same_credit(query.by, candidate.by):
            return False
    elif query.by:
        if not all(found_among(part, candidate_artists) for part in artist_parts(query.by)):
            return False
    elif candidate.by and not all(
        found_among(part, query_artists) for part in artist_parts(candidate.by)
    ):
        return False
    if query.cut != candidate.cut and "plain" not in (query.cut, candidate.cut):
        return False  # two explicit, different cuts: Extended vs Radio Edit
    if isrc:
        return True
    if query.cut == candidate.cut and query.cut != "plain":
        return delta_ms is None or delta_ms <= SAME_CUT_MAX_MS
    # A plain title on either side: only the durations can tell which cut it is.
    if query.cut != candidate.cut:
        return delta_ms is not None and delta_ms <= AGREE_MS
    return delta_ms is None or delta_ms <= AGREE_MS
