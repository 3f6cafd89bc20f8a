"""The pure Beatport → Spotify matcher: the decision table and the rules behind it."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.matching.choice import best_isrc_match, best_text_match, text_search_terms
from services.matching.scoring import TrackQuery, score
from services.matching.text import artist_parts, fold
from services.matching.versions import Version, parse_title, parse_version, versions_compatible
from services.spotify.tracks import SpotifyTrack
from tests.matching_cases import CASES, DEFAULT_THRESHOLD, MatchCase, decide
from tests.support.fixtures import real_fixtures

FIXTURES = real_fixtures()


def spotify(name: str, *artists: str, ms: int = 300_000, **extra: object) -> SpotifyTrack:
    """A candidate with just the fields the matcher reads."""
    return SpotifyTrack(
        id=f"id-{name}-{extra.get('release_date', '')}",
        name=name,
        artists=artists,
        album=name,
        duration_ms=ms,
        **extra,  # type: ignore[arg-type]
    )


# ---------------------------------------------------------------- the decision table


def test_case_table_is_large_and_balanced() -> None:
    names = [case.name for case in CASES]
    assert len(CASES) >= 60
    assert len(set(names)) == len(names)
    positives = [case for case in CASES if case.expected is not None]
    negatives = [case for case in CASES if case.expected is None]
    assert len(negatives) >= 20, "hard negatives keep precision honest"
    assert {case.method for case in positives} == {"isrc", "text"}
    for case in CASES:
        keys = [spot.key for spot in case.catalogue]
        assert len(set(keys)) == len(keys), case.name
        assert case.expected is None or case.expected in keys, case.name


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_matching_decision(case: MatchCase) -> None:
    match = decide(case)
    chosen = None if match is None else f"{match.track.name} ({match.method})"
    assert (match.track.id if match else None) == case.expected_id, chosen
    if match is not None:
        assert match.method == case.method
        assert 0.0 < match.confidence <= 1.0


def test_decision_with_real_isrc_sample_picks_the_earliest_release() -> None:
    path = FIXTURES / "spotify/search_track_isrc-JPE302200934_3-hits.credits_spot-2023-05.json"
    if not path.exists():
        pytest.skip(f"real fixtures not found at {FIXTURES}")
    items = json.loads(path.read_text())["tracks"]["items"]
    candidates = [SpotifyTrack.from_api(item) for item in items]
    query = TrackQuery(
        "青春コンプレックス", "", ("結束バンド",), isrc="JPE302200934", length_ms=205_000
    )
    match = best_isrc_match(query, candidates, DEFAULT_THRESHOLD)
    assert match is not None
    assert (match.track.id, match.track.release_date) == ("0jpP8AlQLVtaMwA3vQYpYB", "2022-10-09")


# ---------------------------------------------------------------- versions


@pytest.mark.parametrize(
    ("mix_name", "expected"),
    [
        ("Original Mix", Version("original", "", "plain")),
        ("Extended Mix", Version("original", "", "extended")),
        ("Radio Edit", Version("original", "", "radio")),
        ("Edit", Version("original", "", "radio")),
        ("Club Mix", Version("original", "", "club")),
        ("Buunshin Remix", Version("remix", "buunshin", "plain")),
        ("DJ Phish Remix", Version("remix", "dj phish", "plain")),
        ("CamelPhat Extended Remix", Version("remix", "camelphat", "extended")),
        ("Max Styler Extended Rework", Version("remix", "max styler", "extended")),
        ("Kream Remix Edit", Version("remix", "kream", "radio")),
        ("Dream Version", Version("remix", "dream", "plain")),
        ("VIP", Version("vip", "", "plain")),
        ("VIP Mix", Version("vip", "", "plain")),
        ("Dub", Version("dub", "", "plain")),
        ("Dub Mix", Version("dub", "", "plain")),
        ("Instrumental", Version("instrumental", "", "plain")),
        ("Instrumental Mix", Version("instrumental", "", "plain")),
        ("Mixed", Version("mixed", "", "plain")),
    ],
)
def test_parse_version(mix_name: str, expected: Version) -> None:
    assert parse_version(mix_name) == expected


@pytest.mark.parametrize(
    ("title", "mix_name", "core", "version", "featured"),
    [
        (
            "Into My Life (feat. Joyce Sims)",
            "feat. Joyce Sims",
            "into my life",
            Version(),
            {"joyce sims"},
        ),
        ("Purpose", "Original Mix", "purpose", Version(), set()),
        ("Eyes On Me ", "Extended Mix", "eyes on me", Version(cut="extended"), set()),
        ("Jamaican (Bam Bam)", "", "jamaican bam bam", Version(), set()),
        ("Positive - Extended Mix", "", "positive", Version(cut="extended"), set()),
        ("Purpose (Buunshin Remix)", "", "purpose", Version("remix", "buunshin"), set()),
        ("Kids [Radio Edit]", "", "kids", Version(cut="radio"), set()),
        ("Sandstorm - Remastered 2015", "", "sandstorm", Version(), set()),
        ("Children - 2012 Remaster", "", "children", Version(), set()),
        ("Feel This Way (with Silva Bumpa)", "", "feel this way", Version(), {"silva bumpa"}),
        ("Go feat. Noel Gallagher", "", "go", Version(), {"noel gallagher"}),
        (
            "Feel This Way (feat. Paige Cavell) - Kream Remix",
            "",
            "feel this way",
            Version("remix", "kream"),
            {"paige cavell"},
        ),
        (
            "Greece 2000 - Max Styler Rework - Radio Edit",
            "",
            "greece 2000",
            Version("remix", "max styler", "radio"),
            set(),
        ),
        (
            "Cola - CamelPhat Remix - Instrumental",
            "",
            "cola",
            Version("instrumental", "camelphat"),
            set(),
        ),
        ("Positive - Mixed", "", "positive", Version("mixed"), set()),
        ("Love - Part 2", "", "love part 2", Version(), set()),
        ("Sweet Harmony - Live at Printworks", "", "sweet harmony", Version("live"), set()),
        ("Live Forever", "", "live forever", Version(), set()),
    ],
)
def test_parse_title(
    title: str, mix_name: str, core: str, version: Version, featured: set[str]
) -> None:
    parsed = parse_title(title, mix_name)
    assert (parsed.core, parsed.version, set(parsed.featured)) == (core, version, featured)


@pytest.mark.parametrize(
    ("query", "candidate", "delta_ms", "isrc", "expected"),
    [
        (Version(cut="extended"), Version(cut="radio"), 0, True, False),
        (Version(cut="extended"), Version(), 2_000, False, True),
        (Version(cut="extended"), Version(), 60_000, False, False),
        (Version(cut="extended"), Version(), None, False, False),
        (Version(cut="extended"), Version(), 60_000, True, True),
        (Version(), Version(), 200_000, False, False),
        (Version(), Version(), None, False, True),
        (Version("remix", "a"), Version("remix", "b"), 0, True, False),
        (Version("remix", "a and b"), Version("remix", "a"), 0, False, False),
        (Version("remix", "b and a"), Version("remix", "a & b"), 0, False, True),
        (Version("remix", "a"), Version(), 0, True, False),
        (Version("vip"), Version("dub"), 0, True, False),
        (Version(cut="extended"), Version(cut="extended"), 40_000, False, False),
    ],
)
def test_versions_compatible(
    query: Version, candidate: Version, delta_ms: int | None, isrc: bool, expected: bool
) -> None:
    assert versions_compatible(query, candidate, delta_ms, isrc=isrc) is expected


def test_credit_named_on_one_side_only_must_be_the_other_sides_artist() -> None:
    own_dub, chandler_dub = Version("dub"), Version("dub", "kerri chandler")
    moon_boots = frozenset({"moon boots"})
    both = frozenset({"moon boots", "kerri chandler"})
    assert not versions_compatible(own_dub, chandler_dub, 0, query_artists=moon_boots)
    assert versions_compatible(own_dub, chandler_dub, 0, query_artists=both)
    assert not versions_compatible(chandler_dub, own_dub, 0, candidate_artists=moon_boots)
    assert versions_compatible(chandler_dub, own_dub, 0, candidate_artists=both)


# ---------------------------------------------------------------- normalisation


@pytest.mark.parametrize(
    ("credit", "parts"),
    [
        ("Hugel & SOLTO (FR)", {"hugel", "solto"}),
        ("Axwell /\\ Ingrosso", {"axwell", "ingrosso"}),
        ("David Guetta x Anne-Marie x Coi Leray", {"david guetta", "anne marie", "coi leray"}),
        ("Armin van Buuren vs. Vini Vici", {"armin van buuren", "vini vici"}),
        ("Josh Baker, Paige Cavell and Silva Bumpa", {"josh baker", "paige cavell", "silva bumpa"}),
        ("Cam Stockman feat. Joyce Sims", {"cam stockman", "joyce sims"}),
        ("Cam Stockman ft. Joyce Sims", {"cam stockman", "joyce sims"}),
        ("Cam Stockman featuring Joyce Sims", {"cam stockman", "joyce sims"}),
        ("Beyoncé", {"beyonce"}),
        ("Röyksopp", {"royksopp"}),
        ("The Chemical Brothers", {"chemical brothers"}),
    ],
)
def test_artist_parts(credit: str, parts: set[str]) -> None:
    assert artist_parts(credit) == parts


def test_fold_reads_ampersand_as_and_and_drops_punctuation() -> None:
    assert fold("Don’t Stop & Go!") == fold("Dont stop and go")


@pytest.mark.parametrize(
    ("query", "terms"),
    [
        (TrackQuery("Purpose", "Buunshin Remix", ("Noisia", "Phace")), ("Purpose", "Noisia")),
        (
            TrackQuery(
                "Into My Life (feat. Joyce Sims)",
                "feat. Joyce Sims",
                ("Joyce Sims", "Cam Stockman"),
            ),
            ("Into My Life", "Cam Stockman"),
        ),
        (
            TrackQuery("Jamaican (Bam Bam)", "Extended Mix", ("Hugel", "SOLTO (FR)")),
            ("Jamaican (Bam Bam)", "Hugel"),
        ),
        (TrackQuery("Eyes On Me ", "Original Mix", ("SOLTO (FR)",)), ("Eyes On Me", "SOLTO")),
        (TrackQuery('The "Real" One', "", ('DJ "Q"',)), ("The Real One", "DJ Q")),
    ],
)
def test_text_search_terms(query: TrackQuery, terms: tuple[str, str]) -> None:
    assert text_search_terms(query) == terms


# ---------------------------------------------------------------- scores and thresholds


def test_score_is_zero_on_a_version_conflict_and_high_on_the_same_track() -> None:
    query = TrackQuery("Positive", "Extended Mix", ("Jamback",), length_ms=361_875)
    assert score(query, spotify("Positive - Radio Edit", "Jamback", ms=172_000)) == 0.0
    assert score(query, spotify("Positive - Extended Mix", "Jamback", ms=361_875)) == 1.0


def test_text_threshold_is_respected() -> None:
    query = TrackQuery("Positive", "Extended Mix", ("Jamback", "Someone"), length_ms=361_875)
    candidate = spotify("Positive - Extended Mix", "Jamback", "Other", ms=375_000)
    value = score(query, candidate)
    assert 0.5 < value < 1.0
    assert best_text_match(query, [candidate], value) is not None
    assert best_text_match(query, [candidate], value + 0.01) is None


def test_isrc_match_ignores_hits_carrying_another_isrc() -> None:
    query = TrackQuery("Kids", "Extended Mix", ("Fezzo",), isrc="QMFMG2501300", length_ms=370_158)
    other = spotify("Kids - Extended Mix", "Fezzo", ms=370_158, isrc="QMFMG2501399")
    assert best_isrc_match(query, [other], DEFAULT_THRESHOLD) is None


def test_isrc_match_prefers_the_earliest_release_among_plausible_hits() -> None:
    query = TrackQuery("Kids", "Extended Mix", ("Fezzo",), isrc="QMFMG2501300", length_ms=370_158)
    hits = [
        spotify("Kids - Extended Mix", "Fezzo", ms=370_158, release_date="2025-06-01"),
        spotify("Kids - Extended Mix", "Fezzo", ms=370_158, release_date="2025"),
        spotify("Kids - Extended Mix", "Fezzo", ms=370_158, release_date=None),
    ]
    match = best_isrc_match(query, hits, DEFAULT_THRESHOLD)
    assert match is not None and match.track.release_date == "2025"


text = st.text(
    alphabet=st.characters(codec="utf-8", categories=("L", "M", "N", "P", "S", "Z")), max_size=40
)


@settings(max_examples=150, deadline=None)
@given(
    title=text,
    mix=text,
    artists=st.lists(text, max_size=3),
    name=text,
    spotify_artists=st.lists(text, max_size=3),
    length=st.none() | st.integers(0, 1_000_000),
    duration=st.none() | st.integers(0, 1_000_000),
)
def test_score_stays_between_zero_and_one_for_any_input(
    title: str,
    mix: str,
    artists: list[str],
    name: str,
    spotify_artists: list[str],
    length: int | None,
    duration: int | None,
) -> None:
    query = TrackQuery(title, mix, tuple(artists), length_ms=length)
    candidate = SpotifyTrack(
        id="x", name=name, artists=tuple(spotify_artists), album="", duration_ms=duration
    )
    assert 0.0 <= score(query, candidate) <= 1.0
    best_text_match(query, [candidate], DEFAULT_THRESHOLD)
    best_isrc_match(query, [candidate], DEFAULT_THRESHOLD)
    text_search_terms(query)
