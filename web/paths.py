"""Row ids in paths (`/tracks/{id}`, `/schedules/{id}/toggle` …): bounded like the columns
they name, so an id no row can have is a 404 in words on either engine, not a query that
overflows PostgreSQL's `integer`."""

from __future__ import annotations

from typing import Annotated, Final

from litestar.exceptions import NotFoundException
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import Parameter

from services.track_filter import MAX_ID
from web.security import ErrorDetail, api_error_responses

# The documented range; ids outside it are answered like unknown ones (404), in words.
RowId = Annotated[
    int,
    Parameter(
        description=f"A row id, from 1 to {MAX_ID}.",
        schema_extra={"minimum": 1, "maximum": MAX_ID},
    ),
]
# What these routes answer besides their page: the security layers' errors, and 404.
NOT_FOUND: Final = {
    **api_error_responses(),
    404: ResponseSpec(ErrorDetail, description="Nothing has this id.", generate_examples=False),
}


def existing(row_id: int, missing: str) -> int:
    """`row_id` when a row could have it; else 404 with the words `missing`."""
    if not 1 <= row_id <= MAX_ID:
        raise NotFoundException(missing)
    return row_id
