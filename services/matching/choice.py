"""Looking a Beatport track up on Spotify: what to search for, and which candidate to take.

An ISRC hit is taken when it is plausibly the same track (a lower bar, the earliest
release first); otherwise the best text-search candidate above the threshold, with
near-ties going to the original release rather than a compilation.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from services.matching.scoring import TrackQuery, assess
from services.matching.text import artist_parts, without_disambiguation
from services.matching.versions import parse_title

if TYPE_CHECKING:
    from services.spotify.tracks import SpotifyTrack

TEXT_MIN_TITLE = 0.90
TEXT_MIN_ARTIST = 0.5
# An ISRC is strong evidence, so its bar is this fraction of the text threshold.
ISRC_BAR = 0.6
# Text candidates scoring within this of the best count as the same recording.
TIE_MARGIN = 0.02


@dataclass(frozen=True, slots=True)
class Match:
    """The Spotify track chosen for a query, how it was found, and how sure we are."""

    track: SpotifyTrack
    method: Literal["isrc", "text"]
    confidence: float


def _words_contained(a: str, b: str) -> bool:
    """One title's words all appear in the other (neither empty)."""
    words_a, words_b = set(a.split()), set(b.split())
    return bool(words_a and words_b) and (words_a <= words_b or words_b <= words_a)


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
        facts, assessment = assess(query, track)
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
        facts, assessment = assess(query, track)
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
    artist = without_disambiguation(artist).replace('"', " ").strip()
    artist = re.sub(r"^the\s+", "", artist, flags=re.IGNORECASE) or artist
    return " ".join(title.split()), " ".join(artist.split())
