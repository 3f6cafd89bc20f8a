"""Text folded for the library's search: what is stored and what is typed, folded alike.

`fold` lowercases (casefold: ß is ss), drops accents (Âme is ame, Sigur Rós is sigur ros),
spells out the letters Unicode does not decompose (ø o, æ ae, œ oe, ł l, đ and ð d,
þ th, ı i), reads "&" as "and", removes every other mark, punctuation and symbol without
a gap (don't is dont, a-ha is aha, D.I.S.C.O. is disco, Guns N' Roses is guns n roses),
and leaves single spaces between words. Letters and digits of every script stay.

Words are searched anywhere inside the folded text, so joining at punctuation makes each
spelling find the others: `aha`, `a-ha` and `a ha` (its word `ha`) all find A-Ha.

The stored `track.search_text` holds folded text (services.track_store), and so do the
labels' and artists' `name_key` (services.name_keys), so a change to what `fold` does needs a
migration re-folding every track, label and artist; the newest such migration
keeps a frozen copy of `fold`, and tests/test_folding.py checks the two agree.
"""

from __future__ import annotations

import unicodedata
from typing import Final

# The migration whose frozen copy of `fold` wrote today's search text.
REFOLD_MIGRATION: Final = "crate_2026_12_07t19_00_00_000000"

# Letters NFKD does not decompose into a base letter and an accent (after casefold).
LETTERS: Final = {
    "ø": "o",
    "æ": "ae",
    "œ": "oe",
    "ł": "l",
    "đ": "d",
    "ð": "d",
    "þ": "th",
    "ı": "i",
    "ħ": "h",
    "ŧ": "t",
    "ŋ": "ng",
    "ƒ": "f",
    "&": " and ",
    # Apostrophes written as modifier letters.
    "ʼ": "",
    "ʻ": "",
    "ʽ": "",
    "ʹ": "",
}


def _piece(char: str) -> str:
    """One character of a decomposed, casefolded text: itself, a spelling, a space or nothing."""
    if char in LETTERS:
        return LETTERS[char]
    if char.isspace():
        return " "
    kind = unicodedata.category(char)
    # Letters, numbers, and the spacing vowel signs some scripts write words with.
    return char if kind[0] in "LN" or kind == "Mc" else ""


def fold_char(char: str) -> str:
    """What `fold` makes of one character; applying it again changes nothing."""
    if unicodedata.category(char) == "Sk":
        return ""  # an accent on its own (´ ¨ ˜), which NFKD would make a space and a mark
    text = char
    for _ in range(4):
        decomposed = unicodedata.normalize("NFKD", unicodedata.normalize("NFKD", text).casefold())
        folded = unicodedata.normalize("NFC", "".join(_piece(c) for c in decomposed))
        if folded == text:
            break
        text = folded
    return text


class _Table(dict[int, str]):
    """`fold_char` of each character seen so far, for str.translate."""

    def __missing__(self, code: int) -> str:
        folded = self[code] = fold_char(chr(code))
        return folded


_TABLE: Final = _Table()


def fold(text: str) -> str:
    """`text` folded for search (see the module's description)."""
    # NFC at the end joins what the table left apart (Hangul written as separate jamo).
    return " ".join(unicodedata.normalize("NFC", text.translate(_TABLE)).split())


def words(text: str) -> list[str]:
    """The folded words of `text`."""
    return fold(text).split()
