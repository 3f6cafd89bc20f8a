"""What Crate can be asked to collect from Beatport: the `Target` kinds, their checks, their words.

A `Target` is built from a pasted link (`services.beatport.links`), a genre and a date
range (`genre_target`), or stored job parameters (`Target.from_params`), and refuses
anything out of range with `InvalidTarget`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, Final

# Beatport ids are stored in 32-bit integer columns.
MAX_BEATPORT_ID: Final = 2**31 - 1
MAX_RANGE_DAYS: Final = 366
# Longest name of a collected thing Crate keeps (a job's name is a few words more).
MAX_NAME_LENGTH: Final = 200

KINDS: Final = (
    "top100",
    "genre_top100",
    "genre_hype100",
    "chart",
    "release",
    "track",
    "label",
    "artist",
    "genre_dates",
)
ORDERED_KINDS: Final = frozenset({"top100", "genre_top100", "genre_hype100", "chart", "release"})
# Kinds whose whole list is one page: there is never a page 2 to fetch.
SINGLE_PAGE_KINDS: Final = frozenset({"top100", "genre_top100", "genre_hype100", "track"})

ACCEPTED_LINKS: Final = (
    "Crate accepts links on www.beatport.com of these kinds: /top-100, "
    "/genre/{slug}/{id}/top-100, /genre/{slug}/{id}/hype-100, /chart/{slug}/{id}, "
    "/release/{slug}/{id}, /track/{slug}/{id}, /label/{slug}/{id}/tracks, "
    "/artist/{slug}/{id}/tracks (for example https://www.beatport.com/chart/peak-time/12345)."
)
ACCEPTED_GENRE_RANGE: Final = (
    "Crate accepts a genre id (a positive whole number) with a publish-date range of at "
    f"most {MAX_RANGE_DAYS} days that ends no later than a year from today."
)

SLUG_RE: Final = re.compile(r"[A-Za-z0-9_-]{1,200}")
_KIND_WORDS: Final = {
    "genre_top100": "Top 100",
    "genre_hype100": "Hype 100",
}


class InvalidTarget(ValueError):
    """What the user asked to collect is not something Crate will fetch; the message says why."""

    def __init__(self, problem: str, *, accepted: str = ACCEPTED_LINKS) -> None:
        self.problem = problem
        self.accepted = accepted
        super().__init__(f"{problem} {accepted}")

    def __reduce__(self) -> tuple[Any, ...]:
        # Keep the two-part message intact through pickling (job results, subprocesses).
        return (_rebuild_invalid_target, (self.problem, self.accepted))


def _rebuild_invalid_target(problem: str, accepted: str) -> InvalidTarget:
    return InvalidTarget(problem, accepted=accepted)


def clean_name(name: str | None) -> str:
    """A name from Beatport's data as shown: spaces tidied, at most MAX_NAME_LENGTH long."""
    text = " ".join((name or "").split())
    return text if len(text) <= MAX_NAME_LENGTH else text[: MAX_NAME_LENGTH - 1] + "…"


def _slug_words(slug: str | None) -> str:
    """'sonar-licht-digital' -> 'Sonar Licht Digital' (a link's words, before the name)."""
    words = (slug or "").replace("_", "-").split("-")
    return " ".join(word[:1].upper() + word[1:] for word in words if word)


def quoted(text: str, limit: int = 60) -> str:
    """Outside text (a user's link, Beatport's route) quoted for a message, shortened."""
    return repr(text if len(text) <= limit else text[:limit] + "…")


@dataclass(frozen=True, slots=True)
class Target:
    """One thing to collect: a Beatport list or track, or a genre's releases in a date range."""

    kind: str
    beatport_id: int | None = None
    slug: str | None = None
    date_from: date | None = None
    date_to: date | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise InvalidTarget(f"{self.kind!r} is not a kind of Beatport source Crate knows.")
        if self.kind == "top100":
            if self.beatport_id is not None:
                raise InvalidTarget("The Beatport Top 100 has no id.")
        elif not _valid_id(self.beatport_id):
            raise InvalidTarget(
                f"A {self.kind.replace('_', ' ')} needs a Beatport id from 1 to {MAX_BEATPORT_ID}."
            )
        if self.slug is not None and not SLUG_RE.fullmatch(self.slug):
            raise InvalidTarget("A Beatport slug is made of letters, digits, '-' and '_' only.")
        if self.kind == "genre_dates":
            if not isinstance(self.date_from, date) or not isinstance(self.date_to, date):
                raise InvalidTarget(
                    "A genre date range needs both dates.", accepted=ACCEPTED_GENRE_RANGE
                )
            _check_range(self.date_from, self.date_to)
        elif self.date_from is not None or self.date_to is not None:
            raise InvalidTarget("Only a genre date range takes dates.")

    @property
    def ordered(self) -> bool:
        """True when a track's place in the list means something (charts, top lists, releases)."""
        return self.kind in ORDERED_KINDS

    def describe(self) -> str:
        """The words of the link, for a job not yet told Beatport's own name (`title`)."""
        return self.title()

    def title(self, name: str | None = None) -> str:
        """What a job collecting this target is called: with Beatport's own `name` for the
        thing ("Label Sonar & Licht / Digital", "Kölsch's tracks", "Top 100: Melodic House &
        Techno"), else in the words of its link ("Label Sonar Licht Digital")."""
        known = clean_name(name)
        entity = self.kind.split("_")[0]
        what = known or _slug_words(self.slug) or f"{entity} #{self.beatport_id}"
        match self.kind:
            case "top100":
                return "Beatport Top 100"
            case "genre_top100" | "genre_hype100":
                return f"{_KIND_WORDS[self.kind]}: {what}"
            case "artist":
                return f"{what}'s tracks"
            case "genre_dates":
                what = known or f"Genre #{self.beatport_id}"
                return f"{what} releases {self.date_from} – {self.date_to}"
            case _:
                return f"{entity.capitalize()} {what}"

    def short(self) -> str:
        """A few words naming the target, e.g. "chart #123", for error messages."""
        match self.kind:
            case "top100":
                return "the Beatport Top 100"
            case "genre_top100" | "genre_hype100":
                return f"the {_KIND_WORDS[self.kind]} of genre #{self.beatport_id}"
            case "genre_dates":
                return f"genre #{self.beatport_id} ({self.date_from} to {self.date_to})"
            case _:
                return f"{self.kind} #{self.beatport_id}"

    def web_path(self) -> str:
        """The path of this target's public Beatport page, built from the fields only."""
        slug = self.slug or self.kind.split("_")[0]
        match self.kind:
            case "top100":
                return "/top-100"
            case "genre_top100":
                return f"/genre/{slug}/{self.beatport_id}/top-100"
            case "genre_hype100":
                return f"/genre/{slug}/{self.beatport_id}/hype-100"
            case "label" | "artist" | "genre_dates":
                return f"/{self.kind.split('_')[0]}/{slug}/{self.beatport_id}/tracks"
            case _:
                return f"/{self.kind}/{slug}/{self.beatport_id}"

    def to_params(self) -> dict[str, Any]:
        """JSON-safe job parameters; `from_params` reads them back."""
        return {
            "kind": self.kind,
            "beatport_id": self.beatport_id,
            "slug": self.slug,
            "date_from": self.date_from.isoformat() if self.date_from else None,
            "date_to": self.date_to.isoformat() if self.date_to else None,
        }

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> Target:
        """Rebuild a target from `to_params` output; raises InvalidTarget when it does not fit."""
        if not isinstance(params, Mapping):
            raise InvalidTarget("Stored collection parameters are not a mapping.")
        kind = params.get("kind")
        if not isinstance(kind, str):
            raise InvalidTarget("Stored collection parameters have no kind.")
        beatport_id = params.get("beatport_id")
        if beatport_id is not None and not _valid_id(beatport_id):
            raise InvalidTarget("Stored collection parameters have a bad Beatport id.")
        slug = params.get("slug")
        if slug is not None and not isinstance(slug, str):
            raise InvalidTarget("Stored collection parameters have a bad slug.")
        return cls(
            kind=kind,
            beatport_id=beatport_id,
            slug=slug,
            date_from=_param_date(params.get("date_from")),
            date_to=_param_date(params.get("date_to")),
        )


def _valid_id(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value <= MAX_BEATPORT_ID


def _param_date(value: object) -> date | None:
    if value is None:
        return None
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise InvalidTarget("Stored collection parameters have a date that is not YYYY-MM-DD.")


def _check_range(date_from: date, date_to: date) -> None:
    if date_from > date_to:
        raise InvalidTarget(
            f"The start date {date_from} is after the end date {date_to}.",
            accepted=ACCEPTED_GENRE_RANGE,
        )
    days = (date_to - date_from).days + 1
    if days > MAX_RANGE_DAYS:
        raise InvalidTarget(
            f"The date range covers {days} days; split it into ranges of at most "
            f"{MAX_RANGE_DAYS} days.",
            accepted=ACCEPTED_GENRE_RANGE,
        )


def genre_target(
    genre_id: int, date_from: date, date_to: date, *, today: date | None = None
) -> Target:
    """A genre's tracks published in a date range, checked for sense (ids, order, length)."""
    if not _valid_id(genre_id):
        raise InvalidTarget(
            f"The genre id must be a whole number from 1 to {MAX_BEATPORT_ID}.",
            accepted=ACCEPTED_GENRE_RANGE,
        )
    _check_range(date_from, date_to)
    latest = (today or date.today()) + timedelta(days=366)
    if date_to > latest:
        raise InvalidTarget(
            f"The end date {date_to} is more than a year in the future.",
            accepted=ACCEPTED_GENRE_RANGE,
        )
    return Target("genre_dates", genre_id, None, date_from, date_to)
