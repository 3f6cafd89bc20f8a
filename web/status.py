"""`GET /tasks/status/{task_id}`: the live badge, or its JSON."""

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
from web.responses import json_answer, wanted
from web.security import ErrorDetail, api_error_responses


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
        return Template(
            "jobs/_badge.html",
            context={"job": {**row, "snapshot": snapshot}},
            headers={"Cache-Control": "no-store"},
        )

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
                return Template("jobs/_badge.html", context={"job": {**row, "snapshot": snapshot}})
            case "page":
                return Redirect(path="/jobs")
