"""What a person asks Spotify enrichment to do (a form, JSON or the CLI), checked."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from services.errors import InvalidRequest
from services.forms import whole_number, yes_no

MAX_LIMIT = 1_000_000


@dataclass(frozen=True, slots=True)
class EnrichRequest:
    """Which tracks to enrich: never searched (default), plus not-found ones, or one job's."""

    limit: int | None = None
    retry_not_found: bool = False
    job_task_id: str | None = None

    def to_params(self) -> dict[str, Any]:
        """Job parameters (JSON-safe)."""
        label = "Match to Spotify"
        if self.retry_not_found:
            label += ", retrying not found"
        if self.limit:
            label += f", at most {self.limit} tracks"
        return {
            "limit": self.limit,
            "retry_not_found": self.retry_not_found,
            "job_task_id": self.job_task_id,
            "label": label,
        }

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> EnrichRequest:
        """Read job parameters back."""
        limit = params.get("limit")
        return cls(
            limit=int(limit) if limit else None,
            retry_not_found=bool(params.get("retry_not_found")),
            job_task_id=params.get("job_task_id") or None,
        )


def parse_enrich_request(
    *,
    limit: str | int | None = None,
    retry_not_found: str | bool | None = None,
    job_task_id: str | None = None,
) -> EnrichRequest:
    """Validate an enrich request from a form, JSON or the CLI; raise InvalidRequest."""
    errors: dict[str, str] = {}
    count = whole_number(errors, "limit", limit, label="Limit", low=1, high=MAX_LIMIT)
    if job_task_id is not None and (len(job_task_id) > 64 or not job_task_id.isalnum()):
        errors["job"] = "That is not a job id."
    if errors:
        raise InvalidRequest(errors)
    retry = bool(yes_no(retry_not_found))
    return EnrichRequest(limit=count, retry_not_found=retry, job_task_id=job_task_id)
