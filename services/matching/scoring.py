"""How well one Spotify candidate fits a Beatport track: title, artists and duration, 0..1.

A candidate whose version cannot be the query's (`services.matching.versions`) scores 0
whatever its words; `services.matching.choice` applies the thresholds.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

from rapidfuzz import fuzz

from services.matching.text import artist_parts, artists_parts, fold, found_among, same_name
from services.matching.versions import (
    ParsedTitle,
    Version,
    parse_title,
    parse_version,
    versions_compatible,
)

if TYPE_CHECKING:
    from services.spotify.tracks import SpotifyTrack

DURATION_FULL_MS = 3_000
DURATION_ZERO_MS = 30_000
TITLE_WEIGHT, ARTIST_WEIGHT, DURATION_WEIGHT = 0.45, 0.35, 0.20
_DIGITS = re.compile(r"\d+")


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
class QueryFacts:
    """What the matcher reads from a query once: its parsed title, version and artist names."""

    parsed: ParsedTitle
    version: Version
    all_parts: frozenset[str]
    main_parts: frozenset[str]
    remix_parts: frozenset[str]
    credited: frozenset[str]  # artists, featured and remixers as Beatport lists them
    digits: frozenset[str]


@dataclass(frozen=True, slots=True)
class Assessment:
    """How one candidate compares with a query, part by part."""

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
def _query_facts(query: TrackQuery) -> QueryFacts:
    parsed = parse_title(query.title, query.mix_name)
    version = parsed.version
    if version.family == "remix" and not version.by and query.remixers:
        version = Version(family="remix", by=fold(" ".join(query.remixers)), cut=version.cut)
    remix_parts = artists_parts(query.remixers) | (
        artist_parts(version.by) if version.by else set()
    )
    credited = artists_parts(query.artists) | parsed.featured | artists_parts(query.remixers)
    all_parts = credited | remix_parts
    main_parts = frozenset(p for p in all_parts if not found_among(p, remix_parts)) or all_parts
    return QueryFacts(
        parsed=parsed,
        version=version,
        all_parts=all_parts,
        main_parts=main_parts,
        remix_parts=frozenset(remix_parts),
        credited=credited,
        digits=frozenset(_DIGITS.findall(parsed.core)),
    )


def _title_similarity(query: QueryFacts, candidate: ParsedTitle) -> float:
    a, b = query.parsed.core, candidate.core
    if a == b:
        return 1.0
    similarity = max(fuzz.ratio(a, b), fuzz.token_sort_ratio(a, b)) / 100.0
    if query.digits != frozenset(_DIGITS.findall(b)):
        similarity = min(similarity, 0.5)  # "Part 1" is not "Part 2"
    return similarity


def _artist_similarity(query: QueryFacts, track: SpotifyTrack, parsed: ParsedTitle) -> float:
    credited = artists_parts(track.artists)
    candidate_remixers = artist_parts(parsed.version.by) if parsed.version.by else frozenset()
    candidate_all = credited | parsed.featured | candidate_remixers
    if not query.all_parts or not candidate_all:
        return 0.0
    # Only a remixer in common is fine when Spotify credits nobody but the remixer;
    # otherwise it is another artist's track remixed by the same person.
    if not any(found_among(part, candidate_all) for part in query.main_parts) and (
        not credited or not all(found_among(p, query.remix_parts) for p in credited)
    ):
        return 0.0
    matched = sum(1 for part in query.all_parts if found_among(part, candidate_all))
    return min(1.0, matched / min(len(query.all_parts), len(candidate_all)))


def _duration_similarity(delta_ms: int | None) -> float:
    if delta_ms is None:
        return 0.5
    if delta_ms <= DURATION_FULL_MS:
        return 1.0
    if delta_ms >= DURATION_ZERO_MS:
        return 0.0
    return 1.0 - (delta_ms - DURATION_FULL_MS) / (DURATION_ZERO_MS - DURATION_FULL_MS)


def assess(query: TrackQuery, track: SpotifyTrack) -> tuple[QueryFacts, Assessment]:
    """The query's facts, and how the candidate compares with them (under both rule sets)."""
    facts = _query_facts(query)
    parsed = parse_title(track.name)
    delta_ms = (
        abs(query.length_ms - track.duration_ms)
        if query.length_ms is not None and track.duration_ms is not None
        else None
    )
    candidate_artists = artists_parts(track.artists) | parsed.featured
    return facts, Assessment(
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
    facts, assessment = assess(query, candidate)
    if not assessment.same_version:
        return 0.0
    return round(assessment.score, 4)


def clear_caches() -> None:
    """Forget memoised parses (benchmarks measure the matcher cold)."""
    for cached in (artist_parts, same_name, parse_version, parse_title, _query_facts):
        cached.cache_clear()
