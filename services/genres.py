"""The genres Beatport has: a built-in list, refreshed with the genres stored in the library.

The built-in ids and names are Beatport's own. Those seen in the real samples
(shared/fixtures/real/beatport: the Top 100 page's track objects and its genre links,
the track pages) are 1, 5, 6, 7, 12, 14, 39, 89, 90 and 96; the rest are the genre menu
of www.beatport.com as several public scrapers list it (the same id, name and slug in
each), 2025-2026. Beatport renames and adds genres now and then: a genre stored by a
collection (`services.tables.Genre`, by Beatport id) wins over the built-in name and
joins the list, so the choice stays current once a collection has seen it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from services.tables import Genre


@dataclass(frozen=True, slots=True)
class GenreChoice:
    """One Beatport genre: its id (what Crate asks Beatport for) and its name."""

    beatport_id: int
    name: str


BUILT_IN: Final = tuple(
    GenreChoice(beatport_id, name)
    for beatport_id, name in (
        (1, "Drum & Bass"),
        (2, "Hard Techno"),
        (3, "Electronica"),
        (5, "House"),
        (6, "Techno (Peak Time / Driving)"),
        (7, "Trance (Main Floor)"),
        (8, "Hard Dance / Hardcore / Neo Rave"),
        (9, "Breaks / Breakbeat / UK Bass"),
        (11, "Tech House"),
        (12, "Deep House"),
        (13, "Psy-Trance"),
        (14, "Minimal / Deep Tech"),
        (15, "Progressive House"),
        (16, "DJ Tools"),
        (18, "Dubstep"),
        (37, "Indie Dance"),
        (38, "Trap / Future Bass"),
        (39, "Dance / Pop"),
        (50, "Nu Disco / Disco"),
        (63, "Downtempo"),
        (81, "Funky House"),
        (85, "Bass / Club"),
        (86, "UK Garage / Bassline"),
        (89, "Afro House"),
        (90, "Melodic House & Techno"),
        (91, "Bass House"),
        (92, "Techno (Raw / Deep / Hypnotic)"),
        (93, "Organic House"),
        (94, "Electro (Classic / Detroit / Modern)"),
        (95, "140 / Deep Dubstep / Grime"),
        (96, "Mainstage"),
        (97, "Jackin House"),
        (98, "Amapiano"),
        (99, "Trance (Raw / Deep / Hypnotic)"),
        (100, "Ambient / Experimental"),
        (101, "Brazilian Funk"),
        (102, "African"),
        (103, "Caribbean"),
        (105, "Hip-Hop"),
        (106, "Latin"),
        (107, "Pop"),
        (108, "R&B"),
    )
)


def merge(built_in: Iterable[GenreChoice], stored: Iterable[GenreChoice]) -> list[GenreChoice]:
    """The built-in genres plus the stored ones (a stored name wins), sorted by name."""
    by_id = {genre.beatport_id: genre for genre in built_in}
    by_id.update((genre.beatport_id, genre) for genre in stored if genre.name.strip())
    return sorted(by_id.values(), key=lambda genre: (genre.name.casefold(), genre.beatport_id))


async def choices() -> list[GenreChoice]:
    """Every genre a collection can ask for: built in, refreshed from the library."""
    rows = await Genre.select(Genre.beatport_id, Genre.name)
    stored = (GenreChoice(int(row["beatport_id"]), str(row["name"] or "")) for row in rows)
    return merge(BUILT_IN, stored)


def names(genres: Iterable[GenreChoice]) -> dict[int, str]:
    """Genre names by Beatport id."""
    return {genre.beatport_id: genre.name for genre in genres}
