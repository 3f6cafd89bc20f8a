"""Job bookkeeping: the `job` table rows and the progress interface long work reports to."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, Protocol

from services import job_words
from services.tables import Job

JobState = Literal["queued", "running", "waiting", "succeeded", "failed", "cancelled"]
ACTIVE_STATES: tuple[JobState, ...] = ("queued", "running", "waiting")
FINAL_STATES: tuple[JobState, ...] = ("succeeded", "failed", "cancelled")


class JobFailed(Exception):
    """Ends a job as failed; the message is shown to the user as the reason, word for word.

    `snapshot` says where the job stood: its `phase` then reads after the word "failed"
    ("on page 2 of 3: 100 tracks kept"). Without one the job ends as it last reported,
    with no phase.
    """

    def __init__(self, reason: str, snapshot: Snapshot | None = None) -> None:
        super().__init__(reason)
        self.snapshot = snapshot


class JobCancelled(Exception):
    """Raised between units of work when a user cancelled the job."""


class JobDeferred(Exception):
    """Ends this run of a job as `waiting`; the job machinery runs it again at `retry_at`.

    Long waits (a Spotify quota, say) must not keep a worker busy for hours; the job
    checkpoints first, so the next run resumes where this one stopped.
    """

    def __init__(self, retry_at: datetime, snapshot: Snapshot) -> None:
        super().__init__(f"waiting until {retry_at.isoformat()}")
        self.retry_at = retry_at
        self.snapshot = snapshot


class JobInterrupted(Exception):
    """The worker is stopping: end this run between two units of work; it resumes elsewhere."""


class LeaseLost(Exception):
    """This run no longer holds its job (another run claimed it): stop, write nothing more."""


class JobNotFound(LookupError):
    """No job has that task id."""


@dataclass(slots=True)
class Snapshot:
    """Where a job stands: what the badge, the status JSON and the job row show."""

    state: JobState = "queued"
    phase: str = ""
    done: int = 0
    total: int | None = None
    counts: dict[str, int] = field(default_factory=dict)
    retry_at: datetime | None = None
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (datetimes as ISO-8601 strings)."""
        return {
            "state": self.state,
            "phase": self.phase,
            "done": self.done,
            "total": self.total,
            "counts": dict(self.counts),
            "retry_at": self.retry_at.isoformat() if self.retry_at else None,
            "error": self.error,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Snapshot:
        """The inverse of `to_json`, tolerant of missing keys."""
        retry_at = data.get("retry_at")
        state = data.get("state", "queued")
        return cls(
            state=state if state in ACTIVE_STATES + FINAL_STATES else "running",
            phase=str(data.get("phase") or ""),
            done=int(data.get("done") or 0),
            total=None if data.get("total") is None else int(data["total"]),
            counts={str(k): int(v) for k, v in (data.get("counts") or {}).items()},
            retry_at=datetime.fromisoformat(retry_at) if isinstance(retry_at, str) else retry_at,
            error=data.get("error"),
        )

    @property
    def percent(self) -> int | None:
        """Progress as a whole percentage, when the total is known."""
        if not self.total:
            return None
        return min(100, math.floor(100 * self.done / self.total))

    @property
    def state_word(self) -> str:
        """What people call the state ("done" for succeeded), as badges and the CLI say it."""
        return job_words.state_word(self.state)

    @property
    def counts_in_words(self) -> str:
        """'300 new, 0 updated' / '12 matched by ISRC, 3 not found'; '' without counts."""
        return job_words.counts_in_words(self.counts)

    def counts_for(self, kind: str | None) -> str:
        """The counts in the words of this kind of job ('sent 37, 4 not on Spotify')."""
        return job_words.counts_in_words(self.counts, kind)

    def in_words(self) -> str:
        """The state in one line, as the badge says it (services.job_words.in_words)."""
        return job_words.in_words(self)


# The words for jobs live in services.job_words; these names are what callers use.
JOB_TITLES = job_words.JOB_TITLES
job_title = job_words.job_title
job_name = job_words.job_name
state_word = job_words.state_word


class Progress(Protocol):
    """What a long-running service reports to; the task layer decides where it goes."""

    async def update(self, snapshot: Snapshot) -> None:
        """Record the job's current state (running or waiting, counts so far)."""

    async def check_cancelled(self) -> None:
        """Raise JobCancelled when the user asked to stop; call it between units of work."""


class NullProgress:
    """A Progress that records nothing, for callers that do not track a job."""

    async def update(self, snapshot: Snapshot) -> None:
        """Ignore the update."""

    async def check_cancelled(self) -> None:
        """Never cancelled."""


def now() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


async def create(task_id: str, kind: str, params: dict[str, Any]) -> None:
    """Record a new queued job, handed to the queue now. `params` must already be free of
    secrets."""
    job = Job(task_id=task_id, kind=kind, params=params, state="queued", kicked_at=clock())
    await Job.insert(job).run()


async def get(task_id: str) -> dict[str, Any]:
    """One job row as a dict; raises JobNotFound."""
    row = await Job.select().where(Job.task_id == task_id).first().output(load_json=True)
    if row is None:
        raise JobNotFound(task_id)
    return row  # type: ignore[no-any-return]


async def recent(limit: int = 50, *, offset: int = 0) -> list[dict[str, Any]]:
    """The newest jobs first."""
    rows = (
        await Job.select()
        .order_by(Job.created_at, ascending=False)
        .order_by(Job._meta.primary_key, ascending=False)
        .limit(limit)
        .offset(offset)
        .output(load_json=True)
    )
    return list(rows)


async def mark_started(row: dict[str, Any], claim: int | None = None) -> None:
    """Set the job of `row` (as read just before) running, in one statement; a
    redelivered job keeps its first start time."""
    values: dict[Any, Any] = {Job.state: "running", Job.retry_at: None, Job.phase: "starting"}
    if row["started_at"] is None:
        values[Job.started_at] = now()
    await _fenced(Job.update(values), row["task_id"], claim)


async def save_snapshot(task_id: str, snapshot: Snapshot, claim: int | None = None) -> None:
    """Store where a job stands, so /jobs shows it even after the result backend forgets.

    With `claim`, only while the job still holds that claim (else LeaseLost)."""
    values: dict[Any, Any] = {
        Job.state: snapshot.state,
        Job.phase: snapshot.phase[:200],
        Job.done: snapshot.done,
        Job.total: snapshot.total,
        Job.counts: snapshot.counts,
        Job.retry_at: snapshot.retry_at,
        Job.error: snapshot.error,
    }
    if snapshot.state in FINAL_STATES:
        values[Job.finished_at] = now()
        values[Job.lease_until] = None
    # One statement: no transaction needed (each is atomic, also on SQLite).
    await _fenced(Job.update(values), task_id, claim)


async def save_checkpoint(
    task_id: str, checkpoint: dict[str, Any] | None, claim: int | None = None
) -> None:
    """Remember how far a job got, so a redelivered job resumes instead of starting over."""
    await _fenced(Job.update({Job.checkpoint: checkpoint}), task_id, claim)


async def _fenced(query: Any, task_id: str, claim: int | None) -> None:
    """Run an UPDATE of one job; with `claim`, only while the job holds it."""
    if claim is None:
        await query.where(Job.task_id == task_id)
        return
    written = await query.where((Job.task_id == task_id) & (Job.claim == claim)).returning(
        Job.claim
    )
    if not written:
        raise LeaseLost(task_id)


# ---------------------------------------------------------------- claims and leases
#
# The job row, not Redis, says who runs a job. A run first claims it: the claim number
# goes up by one, and only a job nobody holds (no lease, or one that lapsed) can be
# claimed. The run renews its lease while it works and writes only while the row still
# holds its number, so a run that lost its job (its worker stalled, Redis forgot its
# message and handed it out again) is refused at its next write and stops.


def clock() -> float:
    """Unix seconds: leases are compared with the time of the process that writes them."""
    return time.time()


async def claim(task_id: str, ttl: float) -> int | None:
    """Claim a job that is not ended and that nobody holds; its claim number, or None."""
    moment = clock()
    rows = (
        await Job.update({Job.claim: Job.claim + 1, Job.lease_until: moment + ttl})
        .where(
            (Job.task_id == task_id)
            & Job.state.not_in(list(FINAL_STATES))
            & (Job.lease_until.is_null() | (Job.lease_until < moment))
        )
        .returning(Job.claim)
    )
    return int(rows[0]["claim"]) if rows else None


async def renew(task_id: str, claim_number: int, ttl: float) -> bool:
    """Extend the lease of a claim still held; False when the job was claimed since."""
    rows = (
        await Job.update({Job.lease_until: clock() + ttl})
        .where((Job.task_id == task_id) & (Job.claim == claim_number))
        .returning(Job.claim)
    )
    return bool(rows)


async def release(task_id: str, claim_number: int) -> None:
    """Give a claim up (the run ended or handed the job back), if it is still held."""
    await Job.update({Job.lease_until: None}).where(
        (Job.task_id == task_id) & (Job.claim == claim_number)
    )


async def mark_kicked(task_id: str, *, state: JobState | None = None) -> None:
    """Note that the job was just handed to the queue (optionally as `state`)."""
    values: dict[Any, Any] = {Job.kicked_at: clock()}
    if state is not None:
        values[Job.state] = state
    await Job.update(values).where(Job.task_id == task_id)


async def take_for_requeue(row: dict[str, Any]) -> bool:
    """Among reconcilers in several processes, let exactly one re-queue the job of `row`
    (read just before): the one whose update finds `kicked_at` unchanged."""
    kicked = row["kicked_at"]
    condition = Job.kicked_at.is_null() if kicked is None else Job.kicked_at == kicked
    rows = (
        await Job.update({Job.kicked_at: clock()})
        .where(
            (Job.task_id == row["task_id"])
            & (Job.claim == row["claim"])
            & Job.state.is_in(list(ACTIVE_STATES))
            & condition
        )
        .returning(Job.claim)
    )
    return bool(rows)


async def unheld(grace: float) -> list[dict[str, Any]]:
    """Jobs that should be moving but that nobody holds: not ended, no live lease, last
    queued more than `grace` seconds ago (and, waiting, due more than `grace` ago)."""
    moment = clock()
    rows = (
        await Job.select()
        .where(
            Job.state.is_in(list(ACTIVE_STATES))
            & (Job.lease_until.is_null() | (Job.lease_until < moment - grace))
            & (Job.kicked_at.is_null() | (Job.kicked_at < moment - grace))
        )
        .order_by(Job._meta.primary_key)
        .limit(100)
        .output(load_json=True)
    )
    due = now().timestamp() - grace
    return [
        row
        for row in rows
        if row["state"] != "waiting" or row["retry_at"] is None or row["retry_at"].timestamp() < due
    ]


async def unfinished() -> list[dict[str, Any]]:
    """Jobs not yet ended (queued, running or waiting), oldest first."""
    rows = (
        await Job.select()
        .where(Job.state.is_in(list(ACTIVE_STATES)))
        .order_by(Job._meta.primary_key)
        .output(load_json=True)
    )
    return list(rows)


async def request_cancel(task_id: str) -> bool:
    """Stop a job that has not ended; False when it had already ended.

    A job some run holds is asked to stop (it does so between two units of work); one
    nobody holds (queued, waiting, or left by a run that is gone) ends here and now, and
    its claim number goes up so that no run of it writes again.
    """
    row = await get(task_id)
    if row["state"] in FINAL_STATES:
        return False
    moment = clock()
    ended = (
        await Job.update(
            {
                Job.state: "cancelled",
                Job.phase: "cancelled",
                Job.retry_at: None,
                Job.cancel_requested: True,
                Job.finished_at: now(),
                Job.claim: Job.claim + 1,
                Job.lease_until: None,
            }
        )
        .where(
            (Job.task_id == task_id)
            & Job.state.not_in(list(FINAL_STATES))
            & (Job.lease_until.is_null() | (Job.lease_until < moment))
        )
        .returning(Job.claim)
    )
    if not ended:
        await Job.update({Job.cancel_requested: True}).where(Job.task_id == task_id)
    return True


async def held_by(task_id: str) -> tuple[bool, int]:
    """Whether someone asked the job to stop, and its current claim number."""
    value = await Job.select(Job.cancel_requested, Job.claim).where(Job.task_id == task_id).first()
    if value is None:
        return False, -1
    return bool(value["cancel_requested"]), int(value["claim"])


async def cancel_requested(task_id: str) -> bool:
    """True when someone asked this job to stop."""
    value = await Job.select(Job.cancel_requested).where(Job.task_id == task_id).first()
    return bool(value and value["cancel_requested"])


def snapshot_of(row: dict[str, Any]) -> Snapshot:
    """The Snapshot a job row holds."""
    return Snapshot(
        state=row["state"],
        phase=row["phase"],
        done=row["done"],
        total=row["total"],
        counts=dict(row["counts"] or {}),
        retry_at=row["retry_at"],
        error=row["error"],
    )
