"""The search fold (services.folding) as a pure function: accents, letters NFKD keeps,
punctuation; the query's words folded like the stored text; the migration's frozen copy."""

from __future__ import annotations

import importlib

import pytest

from services import folding
from services.beatport.tracks import parse_track
from services.folding import fold
from services.track_filter import TrackFilter
from services.track_store import search_text
from tests.support.library import beatport_track, label, person

# Every character of the Basic Multilingual Plane, plus the planes' letter-like blocks
# (mathematical alphanumerics, enclosed and fullwidth forms).
CHARACTERS = [
    chr(code)
    for block in (range(0xD800), range(0xE000, 0x10000), range(0x1D400, 0x1D800),
                  range(0x1F100, 0x1F200))
    for code in block
]  # fmt: skip


@pytest.mark.parametrize(
    ("text", "folded"),
    [
        ("Âme", "ame"),
        ("Kölsch", "kolsch"),
        ("Röyksopp", "royksopp"),
        ("Sigur Rós", "sigur ros"),
        ("DJ Kozé", "dj koze"),
        ("ÂME", "ame"),
        ("Ærø", "aero"),
        ("Œuvre", "oeuvre"),
        ("Straße", "strasse"),
        ("STRAẞE", "strasse"),
        ("Łódź", "lodz"),
        ("Đorđe", "dorde"),
        ("Þórður", "thordur"),
        ("İstanbul", "istanbul"),
        ("Ağır", "agir"),
        ("Guns N' Roses", "guns n roses"),
        ("Don’t", "dont"),
        ("Don´t", "dont"),
        ("Mixmaster Moʻo", "mixmaster moo"),
        ("a-ha", "aha"),
        ("D.I.S.C.O.", "disco"),
        ("Sonar & Licht", "sonar and licht"),
        ("Drum&Bass", "drum and bass"),
        ("Techno (Peak Time / Driving)", "techno peak time driving"),
        ("  Tabs\tand\nlines  ", "tabs and lines"),
        ("ﬁve ½ Ⅻ ²", "five 12 xii 2"),
        ("Ｆｕｌｌｗｉｄｔｈ", "fullwidth"),
        ("Мумий Тролль", "мумии тролль"),
        ("坂本龍一", "坂本龍一"),
        ("한국", "한국"),
        ("\u1112\u1161\u11ab", "한"),  # Hangul written as separate letters (jamo)
        ("e\u0301te\u0301", "ete"),  # accents written as separate marks
        ("100% <script>", "100 script"),
        ("", ""),
        ("¿?!", ""),
    ],
)
def test_fold_forgives_accents_case_and_punctuation(text: str, folded: str) -> None:
    assert fold(text) == folded


def test_folding_twice_changes_nothing() -> None:
    for char in CHARACTERS:
        once = fold(char)
        assert fold(once) == once, (hex(ord(char)), char, once)
    text = "".join(CHARACTERS)
    assert fold(fold(text)) == fold(text)


def test_the_migration_folds_exactly_as_the_app_does() -> None:
    """Stored text (folded by the migration) and typed words (folded by the app) meet only
    if both fold alike; a change to services.folding needs a new re-fold migration, named
    in folding.REFOLD_MIGRATION."""
    frozen = importlib.import_module(f"services.piccolo_migrations.{folding.REFOLD_MIGRATION}")
    for char in CHARACTERS:
        assert frozen.fold(char) == fold(char), (hex(ord(char)), char)
    sample = "Âme & Röyksopp — Don't (DJ Kozé Remix) Sigur Rós Ærø Straße Łódź"
    folded = "ame and royksopp dont dj koze remix sigur ros aero strasse lodz"
    assert frozen.fold(sample) == fold(sample) == folded


def test_the_searched_words_are_folded_like_the_stored_text() -> None:
    assert TrackFilter(q="Sigur Rós").words == ["sigur", "ros"]
    assert TrackFilter(q="KÖLSCH").words == ["kolsch"]
    assert TrackFilter(q="guns n' roses").words == ["guns", "roses"]  # "n" is one letter
    assert TrackFilter(q="don't").words == ["dont"]
    assert TrackFilter(q="a-ha").words == ["aha"]
    assert TrackFilter(q="above & beyond").words == ["above", "and", "beyond"]
    assert TrackFilter(q="!!! ?").words == []
    track = parse_track(
        beatport_track(
            1, "Don't Stop (Café Version)", mix="Âme Remix",
            artists=[person(1, "Röyksopp"), person(2, "Ærø & Łukasz")],
            label_obj=label(1, "Sigur Rós Records"),
        )
    )  # fmt: skip
    stored = search_text(track)
    assert stored == "dont stop cafe version ame remix royksopp aero and lukasz sigur ros records"
    for query in ("don't", "CAFÉ", "âme", "royksopp", "æro", "łukasz", "Sigur Rós", "ros rec"):
        assert all(word in stored for word in TrackFilter(q=query).words), query
