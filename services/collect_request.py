"""What a user asks to collect: one Beatport source and a page cap, read from a form,
JSON or the command line (`parse_collect_request`) and kept as job parameters
(`CollectRequest`). The collection itself is services.collection.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any, Final, Literal

from services.beatport.links import parse_target as parse_beatport_target
from services.beatport.targets import MAX_BEATPORT_ID, InvalidTarget, Target
from services.beatport.targets import genre_target as make_genre_target
from services.beatport.web_mode import NO_GENRE_DATES_IN_WEB_MODE
from services.errors import InvalidRequest
from services.forms import whole_number

DEFAULT_MAX_PAGES = 100
MAX_PAGES_LIMIT = 300
PICK_A_GENRE: Final = "Pick a genre from the list."


@dataclass(frozen=True, slots=True)
class CollectRequest:
    """A validated request to collect one Beatport source."""

    target: Target
    max_pages: int

    def to_params(self) -> dict[str, Any]:
        """Job parameters (JSON-safe, no secrets)."""
        return {
            "target": self.target.to_params(),
            "max_pages": self.max_pages,
            "label": self.target.describe(),
        }

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> CollectRequest:
        """Read job parameters back."""
        return cls(Target.from_params(params["target"]), int(params["max_pages"]))


def parse_collect_request(
    *,
    url: str | None = None,
    genre: str | int | None = None,
    date_from: str | date | None = None,
    date_to: str | date | None = None,
    max_pages: str | int | None = None,
    mode: Literal["web", "api"] | None = None,
    genres: Mapping[int, str] | None = None,
) -> CollectRequest:
    """Validate what a user asked to collect (form, JSON or CLI); raise InvalidRequest.

    `mode` is the Beatport mode the job will run in: a genre with dates is refused in web
    mode (the public pages cannot list one). `genres` are the genres Beatport has
    (`services.genres`): another genre id is refused. Without them (a schedule's run),
    neither is checked here; the collection itself refuses what it cannot fetch.
    """
    errors: dict[str, str] = {}
    pages = max_pages_field(errors, max_pages)
    url = (url or "").strip()
    genre_text = str(genre).strip() if genre is not None else ""
    target: Target | None = None
    if url and (genre_text or date_from or date_to):
        errors["url"] = "Give either a Beatport link or a genre with dates, not both."
    elif url:
        try:
            target = parse_beatport_target(url)
        except InvalidTarget as exc:
            errors["url"] = str(exc)
    elif (genre_text or date_from or date_to) and mode == "web":
        errors["genre"] = NO_GENRE_DATES_IN_WEB_MODE
    elif genre_text or date_from or date_to:
        target = _genre_range(genre_text, date_from, date_to, errors, genres)
    else:
        errors["url"] = "Paste a Beatport link, or pick a genre and a date range."
    if errors or target is None or pages is None:
        raise InvalidRequest(errors or {"url": "Nothing to collect."})
    return CollectRequest(target, pages)


def max_pages_field(errors: dict[str, str], value: object) -> int | None:
    """The page cap a form asks for: DEFAULT_MAX_PAGES when empty, else 1 to MAX_PAGES_LIMIT."""
    return whole_number(
        errors,
        "max_pages",
        value,
        label="Max pages",
        low=1,
        high=MAX_PAGES_LIMIT,
        default=DEFAULT_MAX_PAGES,
    )


def genre_field(
    errors: dict[str, str], name: str, value: object, genres: Mapping[int, str] | None
) -> int | None:
    """A Beatport genre id, one of `genres` when they are given; the problem in words."""
    if value is None or str(value).strip() == "":
        errors[name] = PICK_A_GENRE
        return None
    genre_id = whole_number(
        errors,
        name,
        value,
        low=1,
        high=MAX_BEATPORT_ID,
        message=f"{PICK_A_GENRE} (A genre is a Beatport genre id, a whole number like 6.)",
    )
    if genre_id is not None and genres is not None and genre_id not in genres:
        errors[name] = (
            f"Beatport has no genre with the id {genre_id} that Crate knows of. "
            f"{PICK_A_GENRE} (A genre newer than the list joins it once a collection "
            "has stored one of its tracks: collect its Top 100 link.)"
        )
        return None
    return genre_id


def _genre_range(
    genre: str,
    date_from: str | date | None,
    date_to: str | date | None,
    errors: dict[str, str],
    genres: Mapping[int, str] | None,
) -> Target | None:
    """The genre + date range half of `parse_collect_request`."""
    genre_id = genre_field(errors, "genre", genre, genres)
    dates: list[date | None] = []
    for name, value in (("date_from", date_from), ("date_to", date_to)):
        if isinstance(value, date):
            dates.append(value)
            continue
        try:
            dates.append(date.fromisoformat(str(value or "").strip()))
        except ValueError:
            words = "From" if name == "date_from" else "To"
            errors[name] = f"{words} must be a date like 2026-01-31."
            dates.append(None)
    start, end = dates
    if genre_id is None or start is None or end is None:
        return None
    try:
        return make_genre_target(genre_id, start, end)
    except InvalidTarget as exc:
        errors["date_to" if start <= end else "date_from"] = str(exc)
        return None
