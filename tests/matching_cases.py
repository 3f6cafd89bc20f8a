"""Beatport → Spotify matching decisions, as a table shared by the tests and the benchmark.

Each case is what Beatport tells us (a `TrackQuery`) plus the Spotify catalogue that
searching for it would turn up, and the one right answer (a key into that catalogue)
or None when no candidate is the same recording. Names follow real patterns seen on
Beatport (mix_name) and Spotify (" - X Remix", "(feat. Y)", "- Remastered 2015");
the three JPE302200934 hits are the real ids of the saved search sample.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from services.matching.choice import Match, best_isrc_match, best_text_match
from services.matching.scoring import TrackQuery
from services.spotify.tracks import SpotifyTrack
from tests.fakes.spotify import spotify_id

DEFAULT_THRESHOLD = 0.8


@dataclass(frozen=True, slots=True)
class Spot:
    """One Spotify track in a case's catalogue."""

    key: str
    name: str
    artists: tuple[str, ...]
    duration_ms: int
    isrc: str | None = None
    album: str | None = None
    album_type: str = "single"
    release_date: str = "2024-01-01"
    album_artists: tuple[str, ...] | None = None
    id: str | None = None

    def track(self, case: str) -> SpotifyTrack:
        """This entry as the client would return it."""
        track_id = self.track_id(case)
        return SpotifyTrack(
            id=track_id,
            name=self.name,
            artists=self.artists,
            album=self.album or self.name,
            album_type=self.album_type,
            release_date=self.release_date,
            release_date_precision={4: "year", 7: "month"}.get(len(self.release_date), "day"),
            duration_ms=self.duration_ms,
            isrc=self.isrc,
            url=f"https://open.spotify.com/track/{track_id}",
        )

    def track_id(self, case: str) -> str:
        """A stable base62 id, unique per case."""
        return self.id or spotify_id(f"{case}:{self.key}")

    def fake_kwargs(self, case: str) -> dict[str, Any]:
        """Keyword arguments for `FakeSpotify.add_track`."""
        return {
            "name": self.name,
            "artists": list(self.artists),
            "id": self.track_id(case),
            "album": self.album or self.name,
            "album_type": self.album_type,
            "album_artists": list(self.album_artists) if self.album_artists else None,
            "release_date": self.release_date,
            "duration_ms": self.duration_ms,
            "isrc": self.isrc,
        }


@dataclass(frozen=True, slots=True)
class MatchCase:
    """A Beatport track, what Spotify holds, and the right decision."""

    name: str
    query: TrackQuery
    catalogue: tuple[Spot, ...]
    expected: str | None  # key of the right Spot, None = nothing here is the same recording
    method: Literal["isrc", "text"] | None = None
    note: str = ""
    tracks: tuple[SpotifyTrack, ...] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "tracks", tuple(s.track(self.name) for s in self.catalogue))

    @property
    def expected_id(self) -> str | None:
        """Spotify id of the right answer."""
        if self.expected is None:
            return None
        spot = next(s for s in self.catalogue if s.key == self.expected)
        return spot.track_id(self.name)

    def isrc_hits(self) -> list[SpotifyTrack]:
        """What `isrc:` search returns for this query."""
        isrc = (self.query.isrc or "").upper()
        return [t for t in self.tracks if isrc and (t.isrc or "").upper() == isrc]


def decide(
    case: MatchCase,
    threshold: float = DEFAULT_THRESHOLD,
    *,
    text_candidates: Sequence[SpotifyTrack] | None = None,
) -> Match | None:
    """The enrichment decision: ISRC hits first, then text candidates (default: all)."""
    if case.query.isrc:
        found = best_isrc_match(case.query, case.isrc_hits(), threshold)
        if found is not None:
            return found
    return best_text_match(
        case.query, case.tracks if text_candidates is None else text_candidates, threshold
    )


def bp(
    title: str,
    mix_name: str,
    *artists: str,
    remixers: tuple[str, ...] = (),
    isrc: str | None = None,
    length_ms: int | None = None,
) -> TrackQuery:
    """A Beatport track as the collector stores it."""
    return TrackQuery(
        title=title,
        mix_name=mix_name,
        artists=artists,
        remixers=remixers,
        isrc=isrc,
        length_ms=length_ms,
    )


def sp(key: str, name: str, *artists: str, ms: int, **extra: Any) -> Spot:
    """A Spotify catalogue entry."""
    return Spot(key=key, name=name, artists=artists, duration_ms=ms, **extra)


C = MatchCase
# fmt: off
CASES: tuple[MatchCase, ...] = (
    # ---------------------------------------- ISRC: one recording, many releases
    C(
        "isrc-single-hit",
        bp("Feel This Way", "Original Mix", "Josh Baker", "Paige Cavell", "Silva Bumpa",
           isrc="US39N2579880", length_ms=256_185),
        (sp("single", "Feel This Way", "Josh Baker", "Paige Cavell", "Silva Bumpa", ms=256_185,
            isrc="US39N2579880", release_date="2025-09-12"),),
        "single", "isrc",
    ),
    C(
        "isrc-real-sample-three-hits-earliest-single",
        bp("青春コンプレックス", "Original Mix", "結束バンド", isrc="JPE302200934",
           length_ms=205_133),
        (
            sp("single-a", "青春コンプレックス", "結束バンド", ms=205_133, isrc="JPE302200934",
               release_date="2022-10-09", id="0jpP8AlQLVtaMwA3vQYpYB"),
            sp("album", "青春コンプレックス", "結束バンド", ms=203_626, isrc="JPE302200934",
               album="結束バンド", album_type="album", release_date="2022-12-25",
               id="60nwK1iMgnFCznF6FiNfts"),
            sp("single-b", "青春コンプレックス", "結束バンド", ms=205_133, isrc="JPE302200934",
               release_date="2022-10-13", id="6WS4BOE25eqqbcqbWJnez9"),
        ),
        "single-a", "isrc", "the saved real 3-hit search: two singles and an album",
    ),
    C(
        "isrc-compilation-listed-first",
        bp("Kids", "Extended Mix", "Fezzo", isrc="QMFMG2501300", length_ms=370_158),
        (
            sp("compilation", "Kids - Extended Mix", "Fezzo", ms=370_158, isrc="QMFMG2501300",
               album="Club Essentials 2025", album_type="compilation",
               album_artists=("Various Artists",), release_date="2025-11-07"),
            sp("album", "Kids - Extended Mix", "Fezzo", ms=370_158, isrc="QMFMG2501300",
               album="Kids (The Album)", album_type="album", release_date="2025-06-20"),
            sp("single", "Kids - Extended Mix", "Fezzo", ms=370_158, isrc="QMFMG2501300",
               album="Kids", release_date="2025-05-02"),
        ),
        "single", "isrc",
    ),
    C(
        "isrc-various-artists-compilation-and-single",
        bp("Lost", "Original Mix", "Vintage Culture", "Gabss", isrc="BXLKS2500013",
           length_ms=406_171),
        (
            sp("va", "Lost", "Vintage Culture", "Gabss", ms=406_171, isrc="BXLKS2500013",
               album="Ibiza Closing Party 2025", album_type="compilation",
               album_artists=("Various Artists",), release_date="2025-10-03"),
            sp("single", "Lost", "Vintage Culture", "Gabss", ms=406_171, isrc="BXLKS2500013",
               release_date="2025-03-14"),
        ),
        "single", "isrc",
    ),
    C(
        "isrc-year-precision-release-date",
        bp("Concussion", "Original Mix", "Noisia", isrc="NLCK40700053", length_ms=334_883),
        (
            sp("best-of", "Concussion", "Noisia", ms=334_883, isrc="NLCK40700053",
               album="Best of Vision 2010", album_type="compilation", release_date="2010-05-01"),
            sp("ep", "Concussion", "Noisia", ms=334_883, isrc="NLCK40700053",
               album="Concussion / Seven Stitches", release_date="2007"),
        ),
        "ep", "isrc",
    ),
    C(
        "isrc-artist-in-cyrillic",
        bp("Ghetto Kraviz", "Original Mix", "Nina Kraviz", isrc="RUA1H1100123", length_ms=371_000),
        (sp("single", "Ghetto Kraviz", "Нина Кравиц", ms=371_000, isrc="RUA1H1100123",
            release_date="2011-11-14"),),
        "single", "isrc", "same title, artist written in another script",
    ),
    C(
        "isrc-feat-in-title-and-artists",
        bp("Into My Life (feat. Joyce Sims)", "feat. Joyce Sims", "Joyce Sims", "Cam Stockman",
           isrc="US39N2609542", length_ms=370_557),
        (sp("single", "Into My Life (feat. Joyce Sims)", "Cam Stockman", "Joyce Sims", ms=370_557,
            isrc="US39N2609542", release_date="2026-01-16"),),
        "single", "isrc", "the real top-100 track whose mix_name is 'feat. Joyce Sims'",
    ),
    C(
        "isrc-remix-credited-to-remixer-only",
        bp("Purpose", "Buunshin Remix", "Noisia", "Phace", remixers=("Buunshin",),
           isrc="UKACT2133031", length_ms=272_091),
        (sp("remix", "Purpose - Buunshin Remix", "Buunshin", ms=272_091, isrc="UKACT2133031",
            album="Purpose (Remixes)", release_date="2021-06-04"),),
        "remix", "isrc",
    ),
    C(
        "isrc-plain-title-for-extended-mix",
        bp("Jamaican (Bam Bam)", "Extended Mix", "Hugel", "SOLTO (FR)", isrc="ITFGO2500100",
           length_ms=300_656),
        (sp("single", "Jamaican (Bam Bam)", "HUGEL", "SOLTO", ms=300_656, isrc="ITFGO2500100",
            release_date="2025-06-27"),),
        "single", "isrc",
    ),
    C(
        "isrc-skips-radio-edit-sharing-the-code",
        bp("Jamaican (Bam Bam)", "Extended Mix", "Hugel", "SOLTO (FR)", isrc="ITFGO2500100",
           length_ms=300_656),
        (
            sp("radio", "Jamaican (Bam Bam) - Radio Edit", "HUGEL", "SOLTO", ms=151_000,
               isrc="ITFGO2500100", release_date="2025-06-13"),
            sp("extended", "Jamaican (Bam Bam) - Extended Mix", "HUGEL", "SOLTO", ms=300_656,
               isrc="ITFGO2500100", release_date="2025-06-27"),
        ),
        "extended", "isrc", "earliest hit is another cut: a version conflict beats the date",
    ),
    C(
        "isrc-skips-dj-mixed-compilation",
        bp("Greece 2000", "Max Styler Extended Rework", "Three Drives", "Three Drives On A Vinyl",
           "Max Styler", isrc="NLF712600033", length_ms=327_441),
        (
            sp("mixed", "Greece 2000 - Max Styler Extended Rework - Mixed", "Three Drives",
               "Max Styler", ms=201_000, isrc="NLF712600033", album="Trance Nation 2026 (DJ Mix)",
               album_type="compilation", album_artists=("Various Artists",),
               release_date="2026-01-02"),
            sp("single", "Greece 2000 - Max Styler Extended Rework", "Three Drives",
               "Three Drives On A Vinyl", "Max Styler", ms=327_441, isrc="NLF712600033",
               release_date="2026-01-09"),
        ),
        "single", "isrc",
    ),
    C(
        "isrc-earliest-wins-over-better-duration",
        bp("Positive", "Extended Mix", "Jamback", isrc="QMFMF2549086", length_ms=361_875),
        (
            sp("album", "Positive - Extended Mix", "Jamback", ms=361_875, isrc="QMFMF2549086",
               album="Positive Vibes", album_type="album", release_date="2025-11-21"),
            sp("single", "Positive - Extended Mix", "Jamback", ms=360_400, isrc="QMFMF2549086",
               release_date="2025-10-31"),
        ),
        "single", "isrc",
    ),
    C(
        "isrc-code-reused-for-another-song-then-text",
        bp("Positive", "Extended Mix", "Jamback", isrc="QMFMF2549086", length_ms=361_875),
        (
            sp("wrong", "Moonlight Drive", "Jamback", ms=355_000, isrc="QMFMF2549086",
               release_date="2025-08-01"),
            sp("right", "Positive - Extended Mix", "Jamback", ms=361_875, isrc="QMFMF2549087",
               release_date="2025-10-31"),
        ),
        "right", "text", "label catalogue error: same ISRC, different title",
    ),
    C(
        "isrc-code-on-unrelated-track",
        bp("Kids", "Extended Mix", "Fezzo", isrc="QMFMG2501300", length_ms=370_158),
        (sp("unrelated", "Summer Nights", "Lena Holm", ms=201_000, isrc="QMFMG2501300",
            release_date="2019-05-01"),),
        None, None, "totally different artist and title under the same ISRC",
    ),
    C(
        "isrc-no-hit-text-finds-it",
        bp("Concussion", "Original Mix", "Noisia", isrc="NLCK40700053", length_ms=334_883),
        (sp("ep", "Concussion", "Noisia", ms=335_200, isrc="NLCK40700099",
            release_date="2007-05-14"),),
        "ep", "text",
    ),
    C(
        "no-isrc-on-beatport-text-finds-it",
        bp("Eyes On Me ", "Original Mix", "Cloonee", length_ms=318_000),
        (sp("single", "Eyes On Me", "Cloonee", ms=318_400, isrc="GBKQU2500321",
            release_date="2025-12-05"),),
        "single", "text", "real Beatport names carry trailing spaces",
    ),
    C(
        "isrc-hit-is-radio-edit-text-finds-extended",
        bp("Kids", "Extended Mix", "Fezzo", isrc="QMFMG2501300", length_ms=370_158),
        (
            sp("radio", "Kids - Radio Edit", "Fezzo", ms=165_000, isrc="QMFMG2501300",
               release_date="2025-05-02"),
            sp("extended", "Kids - Extended Mix", "Fezzo", ms=370_158, isrc="QMFMG2501301",
               release_date="2025-05-02"),
        ),
        "extended", "text",
    ),
    # ---------------------------------------- versions: extended / radio / original
    C(
        "extended-vs-extended",
        bp("Positive", "Extended Mix", "Jamback", length_ms=361_875),
        (
            sp("radio", "Positive - Radio Edit", "Jamback", ms=172_000),
            sp("extended", "Positive - Extended Mix", "Jamback", ms=361_875),
        ),
        "extended", "text",
    ),
    C(
        "extended-vs-radio-edit-only",
        bp("Positive", "Extended Mix", "Jamback", length_ms=361_875),
        (sp("radio", "Positive - Radio Edit", "Jamback", ms=172_000),),
        None,
    ),
    C(
        "extended-vs-edit-only",
        bp("Positive", "Extended Mix", "Jamback", length_ms=361_875),
        (sp("edit", "Positive - Edit", "Jamback", ms=181_000),),
        None,
    ),
    C(
        "original-vs-plain-same-duration",
        bp("Feel This Way", "Original Mix", "Josh Baker", "Paige Cavell", "Silva Bumpa",
           length_ms=256_185),
        (sp("plain", "Feel This Way", "Josh Baker", "Paige Cavell", "Silva Bumpa", ms=257_000),),
        "plain", "text",
    ),
    C(
        "original-vs-plain-radio-length",
        bp("Lost", "Original Mix", "Vintage Culture", "Gabss", length_ms=406_171),
        (sp("plain", "Lost", "Vintage Culture", "Gabss", ms=189_000),),
        None, None, "Beatport's original is the long cut, Spotify's plain title the short",
    ),
    C(
        "original-picks-extended-with-same-duration",
        bp("Lost", "Original Mix", "Vintage Culture", "Gabss", length_ms=406_171),
        (
            sp("plain", "Lost", "Vintage Culture", "Gabss", ms=189_000),
            sp("extended", "Lost - Extended Mix", "Vintage Culture", "Gabss", ms=406_500),
        ),
        "extended", "text",
    ),
    C(
        "extended-vs-plain-same-duration",
        bp("Kids", "Extended Mix", "Fezzo", length_ms=370_158),
        (sp("plain", "Kids", "Fezzo", ms=370_158),),
        "plain", "text",
    ),
    C(
        "extended-vs-plain-different-duration",
        bp("Kids", "Extended Mix", "Fezzo", length_ms=370_158),
        (sp("plain", "Kids", "Fezzo", ms=165_300),),
        None,
    ),
    C(
        "extended-vs-original-mix-same-duration",
        bp("Kids", "Extended Mix", "Fezzo", length_ms=370_158),
        (sp("original", "Kids - Original Mix", "Fezzo", ms=369_000),),
        "original", "text",
    ),
    C(
        "radio-edit-vs-radio-edit",
        bp("Positive", "Radio Edit", "Jamback", length_ms=172_000),
        (
            sp("extended", "Positive - Extended Mix", "Jamback", ms=361_875),
            sp("radio", "Positive - Radio Edit", "Jamback", ms=172_400),
        ),
        "radio", "text",
    ),
    C(
        "radio-edit-vs-plain-same-duration",
        bp("Positive", "Radio Edit", "Jamback", length_ms=172_000),
        (sp("plain", "Positive", "Jamback", ms=173_100),),
        "plain", "text",
    ),
    C(
        "radio-edit-vs-extended-only",
        bp("Positive", "Radio Edit", "Jamback", length_ms=172_000),
        (sp("extended", "Positive - Extended Mix", "Jamback", ms=361_875),),
        None,
    ),
    C(
        "extended-square-brackets",
        bp("Kids", "Extended Mix", "Fezzo", length_ms=370_158),
        (sp("extended", "Kids [Extended Mix]", "Fezzo", ms=370_100),),
        "extended", "text",
    ),
    C(
        "extended-parenthesised-after-real-bracket",
        bp("Jamaican (Bam Bam)", "Extended Mix", "Hugel", "SOLTO (FR)", length_ms=300_656),
        (
            sp("radio", "Jamaican (Bam Bam)", "HUGEL", "SOLTO", ms=151_000),
            sp("extended", "Jamaican (Bam Bam) (Extended Mix)", "HUGEL", "SOLTO", ms=300_656),
        ),
        "extended", "text",
    ),
    C(
        "club-mix-vs-club-mix",
        bp("Sweet Harmony", "Club Mix", "Moon Boots", length_ms=412_000),
        (
            sp("plain", "Sweet Harmony", "Moon Boots", ms=201_000),
            sp("club", "Sweet Harmony - Club Mix", "Moon Boots", ms=411_300),
        ),
        "club", "text",
    ),
    # ---------------------------------------- versions: remixes, VIP, dub, instrumental
    C(
        "remix-vs-original-only",
        bp("Purpose", "Buunshin Remix", "Noisia", "Phace", remixers=("Buunshin",),
           length_ms=272_091),
        (sp("original", "Purpose", "Noisia", ms=272_500),),
        None, None, "a remix is never the original, even at the same length",
    ),
    C(
        "original-vs-remix-only",
        bp("Purpose", "Original Mix", "Noisia", length_ms=290_319),
        (sp("remix", "Purpose - Buunshin Remix", "Noisia", "Phace", "Buunshin", ms=290_319),),
        None,
    ),
    C(
        "remix-picks-right-remixer",
        bp("Purpose", "Buunshin Remix", "Noisia", "Phace", remixers=("Buunshin",),
           length_ms=272_091),
        (
            sp("original", "Purpose", "Noisia", ms=290_319),
            sp("other", "Purpose - Phace Remix", "Noisia", "Phace", ms=271_800),
            sp("right", "Purpose - Buunshin Remix", "Noisia", "Phace", "Buunshin", ms=272_091),
        ),
        "right", "text",
    ),
    C(
        "remix-by-another-remixer-only",
        bp("Love Parade", "Extended Mix", "Westbam", length_ms=398_000),
        (sp("phish", "Love Parade - DJ Phish Remix", "Westbam", "DJ Phish", ms=398_000),),
        None, None, "the classic complaint: Extended Mix matched to a remix",
    ),
    C(
        "remix-x-vs-remix-y",
        bp("Love Parade", "DJ Phish Remix", "Westbam", remixers=("DJ Phish",), length_ms=402_000),
        (sp("other", "Love Parade - Marusha Remix", "Westbam", "Marusha", ms=402_000),),
        None,
    ),
    C(
        "remix-parenthesised",
        bp("Purpose", "Buunshin Remix", "Noisia", "Phace", remixers=("Buunshin",),
           length_ms=272_091),
        (sp("remix", "Purpose (Buunshin Remix)", "Noisia", "Phace", "Buunshin", ms=272_000),),
        "remix", "text",
    ),
    C(
        "remix-same-remixer-other-original-artist",
        bp("Purpose", "Buunshin Remix", "Noisia", "Phace", remixers=("Buunshin",),
           length_ms=272_091),
        (sp("cover", "Purpose - Buunshin Remix", "Justin Case", "Buunshin", ms=272_091),),
        None, None, "another artist's 'Purpose', remixed by the same remixer",
    ),
    C(
        "rework-extended-vs-rework-same-duration",
        bp("Greece 2000", "Max Styler Extended Rework", "Three Drives", "Three Drives On A Vinyl",
           "Max Styler", length_ms=327_441),
        (sp("rework", "Greece 2000 - Max Styler Rework", "Three Drives", "Max Styler",
            ms=327_441),),
        "rework", "text",
    ),
    C(
        "rework-extended-vs-rework-radio-edit",
        bp("Greece 2000", "Max Styler Extended Rework", "Three Drives", "Three Drives On A Vinyl",
           "Max Styler", length_ms=327_441),
        (sp("radio", "Greece 2000 - Max Styler Rework - Radio Edit", "Three Drives", "Max Styler",
            ms=158_000),),
        None,
    ),
    C(
        "extended-remix-vs-remix-different-duration",
        bp("Cola", "Camelphat Extended Remix", "Elderbrook", remixers=("CamelPhat",),
           length_ms=412_000),
        (sp("remix", "Cola - CamelPhat Remix", "Elderbrook", "CamelPhat", ms=210_000),),
        None,
    ),
    C(
        "remixer-casing-and-extended",
        bp("Cola", "Camelphat Extended Remix", "Elderbrook", remixers=("CamelPhat",),
           length_ms=412_000),
        (
            sp("radio", "Cola - CamelPhat Remix", "Elderbrook", "CamelPhat", ms=210_000),
            sp("extended", "Cola - CamelPhat Extended Remix", "Elderbrook", "CamelPhat",
               ms=412_000),
        ),
        "extended", "text",
    ),
    C(
        "vip-vs-original-only",
        bp("Concussion", "Original Mix", "Noisia", length_ms=334_883),
        (sp("vip", "Concussion - VIP", "Noisia", ms=334_000),),
        None,
    ),
    C(
        "vip-picks-vip",
        bp("Concussion", "VIP", "Noisia", length_ms=351_000),
        (
            sp("original", "Concussion", "Noisia", ms=334_883),
            sp("vip", "Concussion (VIP)", "Noisia", ms=350_500),
        ),
        "vip", "text",
    ),
    C(
        "vip-mix-vs-vip",
        bp("Concussion", "VIP Mix", "Noisia", length_ms=351_000),
        (sp("vip", "Concussion - VIP", "Noisia", ms=351_000),),
        "vip", "text",
    ),
    C(
        "dub-vs-original-only",
        bp("Sweet Harmony", "Original Mix", "Moon Boots", length_ms=412_000),
        (sp("dub", "Sweet Harmony - Dub", "Moon Boots", ms=412_000),),
        None,
    ),
    C(
        "dub-picks-dub",
        bp("Sweet Harmony", "Dub Mix", "Moon Boots", length_ms=398_000),
        (
            sp("plain", "Sweet Harmony", "Moon Boots", ms=398_000),
            sp("dub", "Sweet Harmony - Dub Mix", "Moon Boots", ms=398_200),
        ),
        "dub", "text",
    ),
    C(
        "instrumental-vs-original-only",
        bp("Into My Life (feat. Joyce Sims)", "feat. Joyce Sims", "Joyce Sims", "Cam Stockman",
           length_ms=370_557),
        (sp("instrumental", "Into My Life - Instrumental", "Cam Stockman", ms=370_557),),
        None,
    ),
    C(
        "instrumental-picks-instrumental",
        bp("Cola", "Instrumental Mix", "Elderbrook", length_ms=245_000),
        (
            sp("vocal", "Cola", "Elderbrook", ms=245_000),
            sp("instrumental", "Cola - Instrumental", "Elderbrook", ms=245_300),
        ),
        "instrumental", "text",
    ),
    C(
        "live-version-only",
        bp("Sweet Harmony", "Original Mix", "Moon Boots", length_ms=412_000),
        (sp("live", "Sweet Harmony - Live at Printworks", "Moon Boots", ms=410_000),),
        None,
    ),
    C(
        "acoustic-version-only",
        bp("Cola", "Original Mix", "Elderbrook", length_ms=245_000),
        (sp("acoustic", "Cola - Acoustic Version", "Elderbrook", ms=246_000),),
        None,
    ),
    C(
        "dj-mixed-version-only",
        bp("Positive", "Extended Mix", "Jamback", length_ms=361_875),
        (sp("mixed", "Positive - Mixed", "Jamback", ms=201_000,
            album="Defected Ibiza 2025 (DJ Mix)", album_type="compilation"),),
        None,
    ),
    C(
        "karaoke-cover-only",
        bp("Die With A Smile", "Original Mix", "Lady Gaga", "Bruno Mars", length_ms=251_667),
        (sp("karaoke",
            "Die With A Smile (Originally Performed by Lady Gaga & Bruno Mars) [Karaoke Version]",
            "Karaoke Hits", ms=251_000),),
        None,
    ),
    # ---------------------------------------- remastered / year suffixes are neutral
    C(
        "remastered-year-suffix",
        bp("Sandstorm", "Original Mix", "Darude", length_ms=453_000),
        (sp("remaster", "Sandstorm - Remastered 2015", "Darude", ms=452_100),),
        "remaster", "text",
    ),
    C(
        "year-remaster-prefix",
        bp("Children", "Dream Version", "Robert Miles", length_ms=423_000),
        (
            sp("radio", "Children - Radio Edit", "Robert Miles", ms=241_000),
            sp("dream", "Children - Dream Version - 2012 Remaster", "Robert Miles", ms=423_500),
        ),
        "dream", "text",
    ),
    C(
        "remastered-mix-name-on-beatport",
        bp("Sandstorm", "Remastered", "Darude", length_ms=453_000),
        (sp("plain", "Sandstorm", "Darude", ms=453_800),),
        "plain", "text",
    ),
    C(
        "remastered-radio-edit-vs-extended",
        bp("Sandstorm", "Extended Mix", "Darude", length_ms=453_000),
        (sp("radio", "Sandstorm - Radio Edit - Remastered", "Darude", ms=226_000),),
        None,
    ),
    # ---------------------------------------- feat. and artist separators
    C(
        "feat-in-beatport-title-not-on-spotify",
        bp("Into My Life (feat. Joyce Sims)", "feat. Joyce Sims", "Joyce Sims", "Cam Stockman",
           length_ms=370_557),
        (sp("single", "Into My Life", "Cam Stockman", "Joyce Sims", ms=370_557),),
        "single", "text",
    ),
    C(
        "feat-in-spotify-title-only",
        bp("Feel This Way", "Original Mix", "Josh Baker", "Paige Cavell", length_ms=256_185),
        (sp("single", "Feel This Way (feat. Paige Cavell)", "Josh Baker", ms=256_185),),
        "single", "text",
    ),
    C(
        "with-in-spotify-title",
        bp("Feel This Way", "Original Mix", "Josh Baker", "Silva Bumpa", length_ms=256_185),
        (sp("single", "Feel This Way (with Silva Bumpa)", "Josh Baker", "Silva Bumpa",
            ms=256_900),),
        "single", "text",
    ),
    C(
        "ampersand-single-credit-vs-two-artists",
        bp("Jamaican (Bam Bam)", "Original Mix", "Hugel", "SOLTO (FR)", length_ms=188_000),
        (sp("single", "Jamaican (Bam Bam)", "HUGEL & SOLTO", ms=188_000),),
        "single", "text",
    ),
    C(
        "slash-duo-vs-ampersand",
        bp("More Than You Know", "Original Mix", "Axwell & Ingrosso", length_ms=203_000),
        (sp("single", "More Than You Know", "Axwell /\\ Ingrosso", ms=203_000),),
        "single", "text",
    ),
    C(
        "x-separator",
        bp("Baby Don't Hurt Me", "Extended Mix", "David Guetta", "Anne-Marie", "Coi Leray",
           length_ms=245_000),
        (sp("extended", "Baby Don't Hurt Me - Extended Mix",
            "David Guetta x Anne-Marie x Coi Leray", ms=245_400),),
        "extended", "text",
    ),
    C(
        "vs-separator-and-and",
        bp("Great Spirit", "Extended Mix", "Armin van Buuren", "Vini Vici", "Hilight Tribe",
           length_ms=398_000),
        (sp("extended", "Great Spirit - Extended Mix", "Armin van Buuren vs. Vini Vici",
            "Hilight Tribe", ms=397_100),),
        "extended", "text",
    ),
    C(
        "and-vs-ampersand-in-duo-name",
        bp("Sun & Moon", "Original Mix", "Above & Beyond", length_ms=322_000),
        (sp("single", "Sun and Moon", "Above and Beyond", ms=322_200),),
        "single", "text",
    ),
    C(
        "accents-beyonce",
        bp("Cuff It", "Wetter Remix", "Beyonce", length_ms=216_000),
        (
            sp("original", "CUFF IT", "Beyoncé", ms=225_000),
            sp("remix", "CUFF IT - WETTER REMIX", "Beyoncé", ms=216_400),
        ),
        "remix", "text",
    ),
    C(
        "accents-royksopp",
        bp("What Else Is There?", "Original Mix", "Royksopp", length_ms=317_000),
        (sp("single", "What Else Is There?", "Röyksopp", ms=317_400),),
        "single", "text",
    ),
    C(
        "artist-subset-on-spotify",
        bp("Feel This Way", "Original Mix", "Josh Baker", "Paige Cavell", "Silva Bumpa",
           length_ms=256_185),
        (sp("single", "Feel This Way", "Josh Baker", ms=256_185),),
        "single", "text",
    ),
    C(
        "same-title-different-artist",
        bp("Lost", "Original Mix", "Vintage Culture", "Gabss", length_ms=406_171),
        (sp("other", "Lost", "Frank Ocean", ms=406_000),),
        None,
    ),
    C(
        "same-title-decoy-and-right-artist",
        bp("Lost", "Original Mix", "Vintage Culture", "Gabss", length_ms=406_171),
        (
            sp("other", "Lost", "Frank Ocean", ms=406_171),
            sp("right", "Lost", "Vintage Culture", "Gabss", ms=405_800),
        ),
        "right", "text",
    ),
    # ---------------------------------------- titles
    C(
        "curly-apostrophe",
        bp("Don’t You Worry Child", "Extended Mix", "Swedish House Mafia", length_ms=402_000),
        (sp("extended", "Don't You Worry Child - Extended Mix", "Swedish House Mafia",
            ms=402_700),),
        "extended", "text",
    ),
    C(
        "part-numbers-differ",
        bp("Voices Pt. 1", "Original Mix", "Elderbrook", length_ms=280_000),
        (sp("part2", "Voices Pt. 2", "Elderbrook", ms=280_000),),
        None,
    ),
    C(
        "one-letter-off-short-title",
        bp("Kids", "Original Mix", "Fezzo", length_ms=205_000),
        (sp("kid", "Kid", "Fezzo", ms=205_000),),
        None,
    ),
    C(
        "title-is-prefix-of-another",
        bp("Lost", "Original Mix", "Vintage Culture", length_ms=250_000),
        (sp("control", "Lost Control", "Vintage Culture", ms=250_000),),
        None,
    ),
    C(
        "small-typo-long-title",
        bp("Everybody's Free To Feel Good", "Original Mix", "Rozalla", length_ms=238_000),
        (sp("single", "Everybodys Free (To Feel Good)", "Rozalla", ms=238_200),),
        "single", "text",
    ),
    C(
        "compilation-earliest-text",
        bp("Cola", "Original Mix", "Elderbrook", length_ms=245_000),
        (
            sp("va", "Cola", "Elderbrook", ms=245_000, album="Deep House Hits",
               album_type="compilation", album_artists=("Various Artists",),
               release_date="2017-09-01"),
            sp("album", "Cola", "Elderbrook", ms=245_000, album="Why Do We Shake in the Cold?",
               album_type="album", release_date="2017-12-08"),
            sp("single", "Cola", "Elderbrook", ms=245_000, release_date="2017-05-26"),
        ),
        "single", "text",
    ),
    C(
        "isrc-title-without-bracketed-part",
        bp("Jamaican (Bam Bam)", "Original Mix", "Hugel", "SOLTO (FR)", isrc="ITFGO2500111",
           length_ms=188_000),
        (sp("single", "Jamaican", "HUGEL", "SOLTO", ms=188_000, isrc="ITFGO2500111",
            release_date="2025-06-13"),),
        "single", "isrc",
    ),
    C(
        "similar-title-same-artist",
        bp("Concussion", "Original Mix", "Noisia", length_ms=334_883),
        (sp("percussion", "Percussion", "Noisia", ms=334_883),),
        None,
    ),
    C(
        "extended-version-wording",
        bp("Cola", "Extended Mix", "Elderbrook", length_ms=352_000),
        (sp("extended", "Cola - Extended Version", "Elderbrook", ms=352_300),),
        "extended", "text",
    ),
    C(
        "original-mix-on-both-sides",
        bp("Positive", "Original Mix", "Jamback", length_ms=361_875),
        (sp("original", "Positive - Original Mix", "Jamback", ms=361_000),),
        "original", "text",
    ),
    C(
        "generic-remix-mix-name-with-remixers-list",
        bp("Cola", "Remix", "Elderbrook", remixers=("Rudimental",), length_ms=236_000),
        (
            sp("other", "Cola - Dusky Remix", "Elderbrook", "Dusky", ms=236_000),
            sp("right", "Cola - Rudimental Remix", "Elderbrook", "Rudimental", ms=236_200),
        ),
        "right", "text",
    ),
    C(
        "remix-vs-instrumental-of-that-remix",
        bp("Cola", "CamelPhat Remix", "Elderbrook", remixers=("CamelPhat",), length_ms=412_000),
        (sp("instrumental", "Cola - CamelPhat Remix - Instrumental", "Elderbrook", "CamelPhat",
            ms=412_000),),
        None,
    ),
    C(
        "feat-and-remix-in-spotify-title",
        bp("Feel This Way", "Kream Remix", "Josh Baker", "Paige Cavell", remixers=("Kream",),
           length_ms=221_000),
        (
            sp("original", "Feel This Way (feat. Paige Cavell)", "Josh Baker", ms=256_185),
            sp("remix", "Feel This Way (feat. Paige Cavell) - Kream Remix", "Josh Baker", "Kream",
               ms=221_400),
        ),
        "remix", "text",
    ),
    C(
        "two-remixers",
        bp("Sweet Harmony", "Dom Dolla & John Summit Remix", "Moon Boots",
           remixers=("Dom Dolla", "John Summit"), length_ms=365_000),
        (
            sp("dom", "Sweet Harmony - Dom Dolla Remix", "Moon Boots", "Dom Dolla", ms=365_000),
            sp("both", "Sweet Harmony - Dom Dolla & John Summit Remix", "Moon Boots", "Dom Dolla",
               "John Summit", ms=365_000),
        ),
        "both", "text",
    ),
    C(
        "the-prefix-in-artist",
        bp("Go", "Original Mix", "The Chemical Brothers", length_ms=262_000),
        (sp("single", "Go", "Chemical Brothers", ms=262_300),),
        "single", "text",
    ),
    C(
        "sped-up-version-only",
        bp("Cola", "Original Mix", "Elderbrook", length_ms=245_000),
        (sp("sped", "Cola - Sped Up", "Elderbrook", ms=245_000),),
        None,
    ),
    C(
        "same-name-intro-other-album",
        bp("Intro", "Original Mix", "Noisia", length_ms=92_000),
        (sp("intro", "Intro", "Noisia", ms=131_000, album="Outer Edges", album_type="album"),),
        None,
    ),
    C(
        "radio-mix-vs-radio-edit",
        bp("Positive", "Radio Edit", "Jamback", length_ms=172_000),
        (sp("radio", "Positive - Radio Mix", "Jamback", ms=171_900),),
        "radio", "text",
    ),
    # ---------------------------------------- written after the matcher, not tuned
    C(
        "accent-on-beatport-side",
        bp("All That Matters", "Original Mix", "Kölsch", length_ms=395_000),
        (sp("single", "All That Matters", "Kolsch", ms=395_600),),
        "single", "text",
    ),
    C(
        "radio-edit-vs-single-version",
        bp("Positive", "Radio Edit", "Jamback", length_ms=172_000),
        (sp("single", "Positive - Single Version", "Jamback", ms=172_500),),
        "single", "text",
    ),
    C(
        "extended-version-vs-extended-mix",
        bp("Cola", "Extended Version", "Elderbrook", length_ms=352_000),
        (sp("extended", "Cola - Extended Mix", "Elderbrook", ms=351_500),),
        "extended", "text",
    ),
    C(
        "part-vs-pt",
        bp("Voices Pt. 2", "Original Mix", "Elderbrook", length_ms=280_000),
        (sp("single", "Voices, Part 2", "Elderbrook", ms=280_400),),
        "single", "text",
    ),
    C(
        "remixer-with-accent",
        bp("Rej", "Âme Remix", "Âme", remixers=("Âme",), length_ms=544_000),
        (
            sp("original", "Rej", "Ame", ms=507_000),
            sp("remix", "Rej - Ame Remix", "Ame", ms=544_000),
        ),
        "remix", "text",
    ),
    C(
        "comma-vs-ampersand-credit",
        bp("Tremor", "Extended Mix", "Dimitri Vegas & Like Mike", "Martin Garrix",
           length_ms=299_000),
        (sp("extended", "Tremor - Extended Mix", "Dimitri Vegas", "Like Mike", "Martin Garrix",
            ms=299_000),),
        "extended", "text",
    ),
    C(
        "original-vs-extended-thirty-seconds-apart",
        bp("Tremor", "Original Mix", "Dimitri Vegas & Like Mike", "Martin Garrix",
           length_ms=329_000),
        (sp("extended", "Tremor - Extended Mix", "Dimitri Vegas & Like Mike", "Martin Garrix",
            ms=299_000),),
        None,
    ),
    C(
        "artists-own-dub-vs-remixers-dub",
        bp("Sweet Harmony", "Dub", "Moon Boots", length_ms=398_000),
        (sp("dub", "Sweet Harmony - Kerri Chandler Dub", "Moon Boots", "Kerri Chandler",
            ms=398_000),),
        None,
    ),
    C(
        "uppercase-extended-and-feat",
        bp("Into My Life (feat. Joyce Sims)", "Extended Mix", "Cam Stockman", "Joyce Sims",
           length_ms=402_000),
        (sp("extended", "INTO MY LIFE (FEAT. JOYCE SIMS) - EXTENDED MIX", "Cam Stockman",
            ms=402_300),),
        "extended", "text",
    ),
    C(
        "isrc-hit-with-extra-vocalist-credit",
        bp("Lost", "Original Mix", "Vintage Culture", isrc="BXLKS2500014", length_ms=406_171),
        (sp("single", "Lost (feat. Gabss)", "Vintage Culture", "Gabss", ms=406_171,
            isrc="BXLKS2500014", release_date="2025-03-14"),),
        "single", "isrc",
    ),
    C(
        "nothing-on-spotify",
        bp("Positive", "Extended Mix", "Jamback", isrc="QMFMF2549086", length_ms=361_875),
        (),
        None,
    ),
    C(
        "unknown-beatport-length-plain-vs-plain",
        bp("Concussion", "Original Mix", "Noisia"),
        (sp("ep", "Concussion", "Noisia", ms=334_883),),
        "ep", "text", "no length: a plain title can still match a plain title",
    ),
    C(
        "unknown-beatport-length-extended-vs-plain",
        bp("Kids", "Extended Mix", "Fezzo"),
        (sp("plain", "Kids", "Fezzo", ms=165_000),),
        None, None, "no length: cannot tell which cut a plain title is",
    ),
)
# fmt: on
