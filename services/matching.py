"""Deciding which Spotify track is a given Beatport track: pure functions, no I/O.

Versions are compared, not stripped: "Extended Mix", "Radio Edit", "X Remix", "VIP",
"Dub" and "Instrumental" are different recordings. "Original Mix" and a title with
no suffix only say "the main version", which on Beatport is often the extended cut
and on Spotify often the radio edit, so they match another cut of the main version
only when the durations agree.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Literal

from rapidfuzz import fuzz
from unidecode import unidecode

if TYPE_CHECKING:
    from services.spotify import SpotifyTrack

Family = Literal[
    "original", "remix", "vip", "dub", "instrumental", "acapella", "live", "acoustic", "mixed"
]
Cut = Literal["plain", "extended", "radio", "club"]

# Durations of one cut of one recording differ by a second or two between releases.
AGREE_MS = 5_000
# Same explicit label ("Extended Mix" on both sides) but this far apart: not the same audio.
SAME_CUT_MAX_MS = 15_000
DURATION_FULL_MS = 3_000
DURATION_ZERO_MS = 30_000
TITLE_WEIGHT, ARTIST_WEIGHT, DURATION_WEIGHT = 0.45, 0.35, 0.20
TEXT_MIN_TITLE = 0.90
TEXT_MIN_ARTIST = 0.5
# An ISRC is strong evidence, so its bar is this fraction of the text threshold.
ISRC_BAR = 0.6
# Text candidates scoring within this of the best count as the same recording.
TIE_MARGIN = 0.02


@dataclass(frozen=True, slots=True)
class TrackQuery:
    """What Beatport tells us about a track."""

    title: str
    mix_name: str
    artists: tuple[str, ...]
    remixers: tuple[str, ...] = ()
    isrc: str | None = None
    length_ms: int | None = None


@dataclass(frozen=True, slots=True)
class Match:
    """The Spotify track chosen for a query, how it was found, and how sure we are."""

    track: SpotifyTrack
    method: Literal["isrc", "text"]
    confidence: float


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


# ---------------------------------------------------------------- normalisation

_APOSTROPHES = re.compile(r"['’`´]")
_NON_ALNUM = re.compile(r"[^a-z0-9]+")
_BRACKETS = re.compile(r"\(([^()]*)\)|\[([^\[\]]*)\]")
_DASH_SPLIT = re.compile(r"\s+[-–—]\s+")
_INLINE_FEAT = re.compile(r"\s(?:feat\.?|ft\.?|featuring)\s+(.+)$", re.IGNORECASE)
_ARTIST_SEPARATORS = re.compile(
    r"\s*(?:,|&|\+|/|\\|;|\b(?:feat|ft|featuring|vs|versus|x|and|with|presents|pres)\b\.?)\s*"
)
_DISAMBIGUATION = re.compile(r"\s*\([^)]*\)")
_DIGITS = re.compile(r"\d+")


def fold(text: str) -> str:
    """Lowercase ASCII words: accents transliterated, "&" read as "and", punctuation gone."""
    text = unidecode(text).lower().replace("&", " and ")
    text = _APOSTROPHES.sub("", text)
    return _NON_ALNUM.sub(" ", text).strip()


@lru_cache(maxsize=16_384)
def artist_parts(name: str) -> frozenset[str]:
    """The individual names in one artist credit ("A & B feat. C" gives a, b, c)."""
    text = _DISAMBIGUATION.sub("", unidecode(name).lower())
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
def _same_name(a: str, b: str) -> bool:
    """Two folded names denote the same artist (spacing, small typos)."""
    if a == b or a.replace(" ", "") == b.replace(" ", ""):
        return True
    return min(len(a), len(b)) >= 4 and fuzz.ratio(a, b) >= 88


def _same_credit(a: str, b: str) -> bool:
    """Two remixer credits name the same people ("A & B" is not "A")."""
    parts_a, parts_b = artist_parts(a), artist_parts(b)
    return all(_found(p, parts_b) for p in parts_a) and all(_found(p, parts_a) for p in parts_b)


def _found(part: str, parts: Iterable[str]) -> bool:
    return any(_same_name(part, other) for other in parts)


# ---------------------------------------------------------------- versions

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
        if not _same_credit(query.by, candidate.by):
            return False
    elif query.by:
        if not all(_found(part, candidate_artists) for part in artist_parts(query.by)):
            return False
    elif candidate.by and not all(
        _found(part, query_artists) for part in artist_parts(candidate.by)
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


# ---------------------------------------------------------------- scoring


@dataclass(frozen=True, slots=True)
class _QueryFacts:
    parsed: ParsedTitle
    version: Version
    all_parts: frozenset[str]
    main_parts: frozenset[str]
    remix_parts: frozenset[str]
    credited: frozenset[str]  # artists, featured and remixers as Beatport lists them
    digits: frozenset[str]


@dataclass(frozen=True, slots=True)
class _Assessment:
    title: float
    artist: float
    duration: float
    delta_ms: int | None
    version: Version
    core: str
    same_version: bool  # text rules: cuts of the main version need agreeing durations
    same_version_isrc: bool  # ISRC rules: only explicit conflicts count

    @property
    def score(self) -> float:
        return (
            TITLE_WEIGHT * self.title
            + ARTIST_WEIGHT * self.artist
            + DURATION_WEIGHT * self.duration
        )


@lru_cache(maxsize=4_096)
def _query_facts(query: TrackQuery) -> _QueryFacts:
    parsed = parse_title(query.title, query.mix_name)
    version = parsed.version
    if version.family == "remix" and not version.by and query.remixers:
        version = Version(family="remix", by=fold(" ".join(query.remixers)), cut=version.cut)
    remix_parts = artists_parts(query.remixers) | (
        artist_parts(version.by) if version.by else set()
    )
    credited = artists_parts(query.artists) | parsed.featured | artists_parts(query.remixers)
    all_parts = credited | remix_parts
    main_parts = frozenset(p for p in all_parts if not _found(p, remix_parts)) or all_parts
    return _QueryFacts(
        parsed=parsed,
        version=version,
        all_parts=all_parts,
        main_parts=main_parts,
        remix_parts=frozenset(remix_parts),
        credited=credited,
        digits=frozenset(_DIGITS.findall(parsed.core)),
    )


def _title_similarity(query: _QueryFacts, candidate: ParsedTitle) -> float:
    a, b = query.parsed.core, candidate.core
    if a == b:
        return 1.0
    similarity = max(fuzz.ratio(a, b), fuzz.token_sort_ratio(a, b)) / 100.0
    if query.digits != frozenset(_DIGITS.findall(b)):
        similarity = min(similarity, 0.5)  # "Part 1" is not "Part 2"
    return similarity


def _artist_similarity(query: _QueryFacts, track: SpotifyTrack, parsed: ParsedTitle) -> float:
    credited = artists_parts(track.artists)
    candidate_remixers = artist_parts(parsed.version.by) if parsed.version.by else frozenset()
    candidate_all = credited | parsed.featured | candidate_remixers
    if not query.all_parts or not candidate_all:
        return 0.0
    # Only a remixer in common is fine when Spotify credits nobody but the remixer;
    # otherwise it is another artist's track remixed by the same person.
    if not any(_found(part, candidate_all) for part in query.main_parts) and (
        not credited or not all(_found(p, query.remix_parts) for p in credited)
    ):
        return 0.0
    matched = sum(1 for part in query.all_parts if _found(part, candidate_all))
    return min(1.0, matched / min(len(query.all_parts), len(candidate_all)))


def _words_contained(a: str, b: str) -> bool:
    """One title's words all appear in the other (neither empty)."""
    words_a, words_b = set(a.split()), set(b.split())
    return bool(words_a and words_b) and (words_a <= words_b or words_b <= words_a)


def _duration_similarity(delta_ms: int | None) -> float:
    if delta_ms is None:
        return 0.5
    if delta_ms <= DURATION_FULL_MS:
        return 1.0
    if delta_ms >= DURATION_ZERO_MS:
        return 0.0
    return 1.0 - (delta_ms - DURATION_FULL_MS) / (DURATION_ZERO_MS - DURATION_FULL_MS)


def _assess(query: TrackQuery, track: SpotifyTrack) -> tuple[_QueryFacts, _Assessment]:
    facts = _query_facts(query)
    parsed = parse_title(track.name)
    delta_ms = (
        abs(query.length_ms - track.duration_ms)
        if query.length_ms is not None and track.duration_ms is not None
        else None
    )
    candidate_artists = artists_parts(track.artists) | parsed.featured
    return facts, _Assessment(
        title=_title_similarity(facts, parsed),
        artist=_artist_similarity(facts, track, parsed),
        duration=_duration_similarity(delta_ms),
        delta_ms=delta_ms,
        version=parsed.version,
        core=parsed.core,
        same_version=versions_compatible(
            facts.version,
            parsed.version,
            delta_ms,
            query_artists=facts.credited,
            candidate_artists=candidate_artists,
        ),
        same_version_isrc=versions_compatible(
            facts.version,
            parsed.version,
            delta_ms,
            isrc=True,
            query_artists=facts.credited,
            candidate_artists=candidate_artists,
        ),
    )


def score(query: TrackQuery, candidate: SpotifyTrack) -> float:
    """How well a candidate fits the query, 0..1; 0 when the versions cannot be the same."""
    facts, assessment = _assess(query, candidate)
    if not assessment.same_version:
        return 0.0
    return round(assessment.score, 4)


def _release_key(track: SpotifyTrack) -> str:
    """Sortable release date; year- or month-precision dates count from their start."""
    date = track.release_date or ""
    if re.fullmatch(r"\d{4}", date):
        return f"{date}-01-01"
    if re.fullmatch(r"\d{4}-\d{2}", date):
        return f"{date}-01"
    return date or "9999-99-99"


def best_isrc_match(
    query: TrackQuery, candidates: Sequence[SpotifyTrack], threshold: float
) -> Match | None:
    """The earliest-released ISRC hit that is plausibly the same track, or None."""
    wanted = (query.isrc or "").upper()
    accepted: list[tuple[str, float, int, SpotifyTrack]] = []
    for position, track in enumerate(candidates):
        if wanted and track.isrc and track.isrc.upper() != wanted:
            continue
        facts, assessment = _assess(query, track)
        if not assessment.same_version_isrc:
            continue
        # A totally different title or artist under the same ISRC is a catalogue error;
        # a title missing a bracketed part ("Jamaican" for "Jamaican (Bam Bam)") is not.
        title_close = assessment.title >= 0.75 or _words_contained(
            facts.parsed.core, assessment.core
        )
        plausible = assessment.title >= 0.95 or (assessment.artist >= 0.5 and title_close)
        value = assessment.score
        if plausible and value >= threshold * ISRC_BAR:
            accepted.append((_release_key(track), -value, position, track))
    if not accepted:
        return None
    _, negative_score, _, track = min(accepted)
    return Match(track=track, method="isrc", confidence=round(-negative_score, 4))


def best_text_match(
    query: TrackQuery, candidates: Sequence[SpotifyTrack], threshold: float
) -> Match | None:
    """The best text-search candidate above the threshold (earliest release among equals)."""
    accepted: list[tuple[float, SpotifyTrack, int]] = []
    for position, track in enumerate(candidates):
        facts, assessment = _assess(query, track)
        if not assessment.same_version:
            continue
        if assessment.title < TEXT_MIN_TITLE or assessment.artist < TEXT_MIN_ARTIST:
            continue
        value = assessment.score
        if value >= threshold:
            accepted.append((value, track, position))
    if not accepted:
        return None
    best = max(value for value, _, _ in accepted)
    tied = [entry for entry in accepted if entry[0] >= best - TIE_MARGIN]
    value, track, _ = min(
        tied,
        key=lambda e: (e[1].album_type == "compilation", _release_key(e[1]), -e[0], e[2]),
    )
    return Match(track=track, method="text", confidence=round(value, 4))


def clear_caches() -> None:
    """Forget memoised parses (benchmarks measure the matcher cold)."""
    for cached in (artist_parts, _same_name, parse_version, parse_title, _query_facts):
        cached.cache_clear()


def text_search_terms(query: TrackQuery) -> tuple[str, str]:
    """Title without version/feat. parts, and the first credited (non-featured) artist."""
    parsed = parse_title(query.title, query.mix_name)
    title = (parsed.raw_core or query.title).replace('"', " ")
    artist = ""
    for name in query.artists:
        if not artist_parts(name) <= parsed.featured:
            artist = name
            break
    if not artist and query.artists:
        artist = query.artists[0]
    # "(FR)"-style suffixes and a leading "The" are often absent on Spotify, and every
    # word given to the artist filter must be found there.
    artist = _DISAMBIGUATION.sub("", artist).replace('"', " ").strip()
    artist = re.sub(r"^the\s+", "", artist, flags=re.IGNORECASE) or artist
    return " ".join(title.split()), " ".join(artist.split())
