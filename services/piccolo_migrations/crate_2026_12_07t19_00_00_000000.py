"""Search forgives accents and punctuation: every track's search text folded again.

`track.search_text` used to be the lowercased title, mix, artists, remixers and label;
it now holds them folded (services.folding): no accents (Âme is ame), ø æ ß ł đ þ spelt
out, "&" read as "and", punctuation removed (don't is dont). The searched words are
folded the same way, so each track's stored text is folded here, a batch of rows at a
time (memory stays flat however big the library), all in the migration's one
transaction: a failure leaves every row as it was.

Folding the old text gives what folding the names gives (it was the names, lowercased and
joined with spaces), so no other column is read.

The fold is a frozen copy of services.folding.fold as of this migration: a migration must
do the same thing in a year as today, whatever the app's module becomes (a later change to
the fold comes with a migration of its own; tests/test_folding.py checks they agree).

SQLite: the FTS5 trigram table is rebuilt from the folded rows. Every track is first
marked pending, so the update trigger (2026-11-29T03:00) leaves the index alone while
rows change; FTS5's 'rebuild' then indexes every track at once, and nothing is pending
any more. (Replacing each changed track's words through the trigger costs twice the
tokenising per row: at 100,000 tracks, 13 s when all change against 6 s for the rebuild,
which costs the same 1.5 s as the trigger when only 3 % change, and leaves the index in
one compact segment.) PostgreSQL: the pg_trgm GIN index on `search_text` follows the rows
by itself; ANALYZE refreshes the planner's statistics.
"""

from __future__ import annotations

import unicodedata
from typing import Any, Final

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder
from piccolo.querystring import QueryString

ID = "2026-12-07T19:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "search text folded: accents and punctuation forgiven"

BATCH: Final = 5_000

# ---------------------------------------------------------------- the fold, frozen

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
    "ʼ": "",
    "ʻ": "",
    "ʽ": "",
    "ʹ": "",
}


def _piece(char: str) -> str:
    if char in LETTERS:
        return LETTERS[char]
    if char.isspace():
        return " "
    kind = unicodedata.category(char)
    return char if kind[0] in "LN" or kind == "Mc" else ""


def fold_char(char: str) -> str:
    if unicodedata.category(char) == "Sk":
        return ""
    text = char
    for _ in range(4):
        decomposed = unicodedata.normalize("NFKD", unicodedata.normalize("NFKD", text).casefold())
        folded = unicodedata.normalize("NFC", "".join(_piece(c) for c in decomposed))
        if folded == text:
            break
        text = folded
    return text


class _Table(dict[int, str]):
    def __missing__(self, code: int) -> str:
        folded = self[code] = fold_char(chr(code))
        return folded


_TABLE: Final = _Table()


def fold(text: str) -> str:
    return " ".join(unicodedata.normalize("NFC", text.translate(_TABLE)).split())


# ---------------------------------------------------------------- the migration


async def refold(engine: Any) -> int:
    """Fold every track's search text, BATCH rows at a time in id order; return how many
    rows changed."""
    transaction = engine.current_transaction.get()
    assert transaction is not None  # Piccolo runs each migration in a transaction
    placeholders = "?, ?" if engine.engine_type == "sqlite" else "$1, $2"
    update = "UPDATE track SET search_text = {} WHERE id = {}".format(*placeholders.split(", "))
    changed = 0
    last = 0
    while True:
        rows = await engine.run_querystring(
            QueryString(
                f"SELECT id, search_text FROM track WHERE id > {{}} ORDER BY id LIMIT {BATCH}",
                last,
            )
        )
        updates = []
        for row in rows:
            old = row["search_text"] or ""
            new = fold(old)
            if new != old:
                updates.append((new, row["id"]))
        if updates:
            await transaction.connection.executemany(update, updates)
            changed += len(updates)
        if len(rows) < BATCH:
            return changed
        last = int(rows[-1]["id"])


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="crate", description=DESCRIPTION)

    async def run() -> None:
        engine = engine_finder()
        assert engine is not None
        if engine.engine_type == "sqlite":
            await engine.run_ddl("INSERT OR IGNORE INTO search_pending SELECT id FROM track")
            await refold(engine)
            await engine.run_ddl("INSERT INTO track_fts(track_fts) VALUES ('rebuild')")
            await engine.run_ddl("DELETE FROM search_pending")
        else:
            await refold(engine)
            await engine.run_ddl("ANALYZE track")

    manager.add_raw(run)
    return manager
