"""A job's badge and status: `GET /tasks/status/{task_id}` (the live badge, or its JSON),
cancelling (`POST /tasks/{task_id}/cancel`) and retrying (`POST /collect/retry/{task_id}`).

A badge answer for a job that has ended carries `HX-Trigger: job-ended`: htmx fires the
event from the badge, and the parts of the page that job changed (the dashboard's totals
and pictures, the job lists) fetch themselves again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from litestar import Controller, Response, get, post
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath
from litestar.plugins.htmx import HTMXRequest
from litestar.response import Redirect, Template
from taskiq import AsyncBroker

from services import jobs
from tasks import jobs as job_tasks
from web.collect import JobStarted
from web.responses import json_answer, wanted
from web.security import ErrorDetail, answer_in_words, api_error_responses


@dataclass
class JobStatus:
    """A job's status (`Accept: application/json`; without it, the HTML badge)."""

    task_id: str
    kind: str
    state: Literal["queued", "running", "waiting", "succeeded", "failed", "cancelled"]
    phase: str
    done: int
    total: int | None
    counts: dict[str, int]
    retry_at: datetime | None
    error: str | None


@dataclass
class CancelAnswer:
    """Whether the cancel request changed anything, and the job's state."""

    task_id: str
    cancel_requested: bool
    state: str


NOT_FOUND = ResponseSpec(ErrorDetail, description="No job has that id.", generate_examples=False)


def no_such_job(task_id: str) -> NotFoundException:
    """The 404 for a job id Crate never issued."""
    return NotFoundException(f"No job has the id {task_id!r}.")


class StatusController(Controller):
    """Job status, read from the result backend with the job row as the record."""

    @get(
        "/tasks/status/{task_id:str}",
        name="task_status",
        responses={
            **api_error_responses(),
            200: ResponseSpec(JobStatus, description="The status.", generate_examples=False),
            404: NOT_FOUND,
        },
    )
    async def show(
        self,
        request: HTMXRequest,
        task_id: FromPath[str],
        broker: NamedDependency[AsyncBroker],
    ) -> Response[Any]:
        """The badge fragment (polling itself while the job runs) or the status JSON."""
        try:
            row, snapshot = await job_tasks.read_status(broker, task_id)
        except jobs.JobNotFound:
            raise no_such_job(task_id) from None
        if wanted(request) == "json":
            return json_answer(
                {"task_id": task_id, "kind": row["kind"], **snapshot.to_json()},
                headers={"Cache-Control": "no-store"},
            )
        # The badge is the fragment htmx polls, and all there is to show without htmx too.
        return badge(row, snapshot)

    @post(
        "/tasks/{task_id:str}/cancel",
        name="task_cancel",
        status_code=200,
        responses={
            **api_error_responses(),
            200: ResponseSpec(
                CancelAnswer, description="It had already ended.", generate_examples=False
            ),
            202: ResponseSpec(CancelAnswer, description="Asked to stop.", generate_examples=False),
            404: NOT_FOUND,
        },
    )
    async def cancel(
        self,
        request: HTMXRequest,
        task_id: FromPath[str],
        broker: NamedDependency[AsyncBroker],
    ) -> Response[Any]:
        """Ask a job to stop; answers with the updated badge, JSON, or a redirect."""
        try:
            changed = await jobs.request_cancel(task_id)
            row, snapshot = await job_tasks.read_status(broker, task_id)
        except jobs.JobNotFound:
            raise no_such_job(task_id) from None
        match wanted(request):
            case "json":
                return json_answer(
                    {"task_id": task_id, "cancel_requested": changed, "state": snapshot.state},
                    status_code=202 if changed else 200,
                )
            case "fragment":
                return badge(row, snapshot)
            case "page":
                return Redirect(path="/jobs")

    @post(
        "/collect/retry/{task_id:str}",
        name="task_retry",
        status_code=202,
        responses={
            **api_error_responses(),
            202: ResponseSpec(JobStarted, description="Queued again.", generate_examples=False),
            404: NOT_FOUND,
            409: ResponseSpec(
                ErrorDetail, description="The job has not failed.", generate_examples=False
            ),
            503: ResponseSpec(
                ErrorDetail, description="The job queue is down.", generate_examples=False
            ),
        },
    )
    async def retry(
        self,
        request: HTMXRequest,
        task_id: FromPath[str],
        broker: NamedDependency[AsyncBroker],
    ) -> Response[Any]:
        """Ask again what a failed or cancelled job asked, as a new job: its badge (htmx), a
        redirect to /jobs, or `202 {task_id, status_url}`."""
        try:
            row = await jobs.get(task_id)
        except jobs.JobNotFound:
            raise no_such_job(task_id) from None
        if row["state"] not in RETRYABLE:
            words = jobs.snapshot_of(row).state_word
            detail = f"Job {task_id} is {words}: only a failed or cancelled job is retried."
            return answer_in_words(request, 409, detail)
        try:
            new_id = await job_tasks.enqueue(broker, row["kind"], dict(row["params"] or {}))
        except job_tasks.QueueUnavailable as exc:
            return answer_in_words(request, 503, str(exc))  # added to the badge, in htmx
        match wanted(request):
            case "json":
                status_url = request.app.route_reverse("task_status", task_id=new_id)
                return json_answer({"task_id": new_id, "status_url": status_url}, status_code=202)
            case "fragment":
                new_row = await jobs.get(new_id)
                return badge(new_row, jobs.snapshot_of(new_row), status_code=200)
            case "page":
                return Redirect(path="/jobs", status_code=303)


# Jobs a person may start again (the same request, as a new job).
RETRYABLE = ("failed", "cancelled")


def badge(row: dict[str, Any], snapshot: jobs.Snapshot, *, status_code: int = 200) -> Template:
    """A job's badge; once the job has ended, with `HX-Trigger: job-ended` (see above)."""
    headers = {"Cache-Control": "no-store"}
    if snapshot.state in jobs.FINAL_STATES:
        headers["HX-Trigger"] = "job-ended"
    return Template(
        "jobs/_badge.html",
        context={"job": {**row, "snapshot": snapshot}},
        headers=headers,
        status_code=status_code,
    )
