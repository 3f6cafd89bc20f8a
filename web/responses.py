"""Reading what a request sent, and answering it in the form it wants.

Every route that serves more than one kind of client asks `wanted(request)` once:

* ``"json"``: an API client (a JSON `Accept` header, or a JSON body);
* ``"fragment"``: htmx swapping part of a page (not a boosted link, not a history
  restore: those want the whole page);
* ``"page"``: a browser without htmx, which gets a whole page or a redirect.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from litestar import MediaType, Request, Response
from litestar.exceptions import HTTPException
from litestar.plugins.htmx import HTMXRequest

Wanted = Literal["json", "fragment", "page"]
# The longest text a form field may hold (a Beatport link is far shorter).
MAX_FIELD_LENGTH = 2000


def wants_json(request: Request[Any, Any, Any]) -> bool:
    """True for API clients: a JSON Accept header, or a JSON body they sent."""
    accept = request.headers.get("accept", "")
    return "application/json" in accept or sent_json(request)


def sent_json(request: Request[Any, Any, Any]) -> bool:
    """True when the request's body is JSON."""
    return request.headers.get("content-type", "").startswith("application/json")


def wanted(request: HTMXRequest) -> Wanted:
    """The kind of answer this request wants (see the module docstring)."""
    if wants_json(request):
        return "json"
    details = request.htmx
    if details and not details.boosted and not details.history_restore_request:
        return "fragment"
    return "page"


def json_answer(
    body: Any, *, status_code: int = 200, headers: dict[str, str] | None = None
) -> Response[Any]:
    """A JSON response."""
    return Response(body, status_code=status_code, media_type=MediaType.JSON, headers=headers)


def invalid_answer(errors: dict[str, str], *, status_code: int = 422) -> Response[Any]:
    """Field errors for API clients: `{"detail": all of them in words, "errors": by field}`."""
    return json_answer(
        {"detail": " ".join(errors.values()), "errors": errors}, status_code=status_code
    )


async def read_fields(request: Request[Any, Any, Any]) -> dict[str, str]:
    """The submitted fields as text, from a JSON object or a form (CSRF token left out)."""
    if sent_json(request):
        try:
            body = json.loads(await request.body() or b"{}")
        except (ValueError, UnicodeDecodeError):
            raise HTTPException(status_code=400, detail="The body is not valid JSON.") from None
        if not isinstance(body, dict):
            raise HTTPException(status_code=400, detail="The JSON body must be an object.")
        return {k: "" if v is None else str(v) for k, v in body.items() if isinstance(k, str)}
    form = await request.form()
    return {k: str(v) for k, v in form.items() if k != "_csrf_token"}
