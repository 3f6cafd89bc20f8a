"""What jobs are called, in words: their kinds, their states, their counts, one job's name.

Badges, /jobs, the track pages and the CLI all say a job's state the same way ("done",
never "succeeded", which stays the status JSON's value for scripts).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final, Protocol

# What people call each kind of job (the kinds are the task names in the queue; a test
# checks that every registered kind has a title here).
JOB_TITLES: Final = {
    "collect_bp_tracks_task": "Beatport collection",
    "enrich_spotify_data_task": "Match to Spotify",
    "export_spotify_playlist_task": "Send to Spotify",
}
# What people call each state.
STATE_WORDS: Final[dict[str, str]] = {
    "queued": "queued",
    "running": "running",
    "waiting": "waiting",
    "succeeded": "done",
    "failed": "failed",
    "cancelled": "cancelled",
}
# Count names that read badly with their underscores replaced.
COUNT_WORDS: Final = {"matched_isrc": "matched by ISRC", "matched_text": "matched by text"}
# Count names one kind of job says otherwise ("{n}" is where the number goes).
KIND_COUNT_WORDS: Final = {
    "export_spotify_playlist_task": {"sent": "sent {n}", "skipped": "{n} not on Spotify"},
}


def job_title(kind: str) -> str:
    """'collect_bp_tracks_task' -> 'Beatport collection'; an unknown kind in words."""
    return JOB_TITLES.get(kind) or kind.replace("_", " ").capitalize()


def state_word(state: str) -> str:
    """'succeeded' -> 'done': a state as people read it (an unknown one as it is)."""
    return STATE_WORDS.get(state, state)


def job_name(row: dict[str, Any]) -> str:
    """What this one job is called: its `label` ("Label Sonar & Licht / Digital", named by
    Beatport once the collection read a page; the link's words before), else its kind."""
    params = row.get("params")
    label = params.get("label") if isinstance(params, dict) else None
    return label if isinstance(label, str) and label else job_title(str(row.get("kind")))


def counts_in_words(counts: dict[str, int], kind: str | None = None) -> str:
    """'300 new, 0 updated' / '12 matched by ISRC, 3 not found' / 'sent 37, 4 not on
    Spotify' (in the words of `kind`'s jobs); '' without counts."""
    words = {**COUNT_WORDS, **KIND_COUNT_WORDS.get(kind or "", {})}
    parts = []
    for name, n in counts.items():
        word = words.get(name) or name.replace("_", " ")
        parts.append(word.replace("{n}", f"{n:,}") if "{n}" in word else f"{n:,} {word}")
    return ", ".join(parts)


class Standing(Protocol):
    """Where a job stands (services.jobs.Snapshot), as far as its words need it."""

    @property
    def state(self) -> str: ...
    @property
    def phase(self) -> str: ...
    @property
    def done(self) -> int: ...
    @property
    def total(self) -> int | None: ...
    @property
    def counts(self) -> dict[str, int]: ...
    @property
    def retry_at(self) -> datetime | None: ...
    @property
    def error(self) -> str | None: ...


def in_words(snapshot: Standing) -> str:
    """A job's state in one line, as its badge says it: "done (250 new, 0 updated)",
    "running · page 2 of 3 · 100/250", "failed on page 2 of 3: 100 tracks kept. Reason"."""
    text = state_word(snapshot.state)
    counts = counts_in_words(snapshot.counts)
    phase = snapshot.phase
    match snapshot.state:
        case "running" | "waiting":
            text += f" · {phase}" if phase and phase != "starting" else ""
            if snapshot.retry_at is not None:
                text += f" until {snapshot.retry_at.astimezone():%H:%M}"
            text += f" · {snapshot.done:,}/{snapshot.total:,}" if snapshot.total else ""
        case "succeeded":
            text += f" ({counts})" if counts else ""
        case "cancelled":
            text += f" (kept: {counts})" if counts else ""
        case "failed":
            text += f" {phase}" if phase else ""
            if snapshot.error:
                text += f". {snapshot.error}" if phase else f": {snapshot.error}"
    return text
