"""Errors as pages in the layout (or JSON for API clients), never a traceback."""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.response import Template

from web.responses import json_answer, wants_json

logger = logging.getLogger("crate.web")


def error_response(
    request: Request[Any, Any, Any],
    status_code: int,
    detail: str,
    extra: dict[str, Any] | None = None,
) -> Response[Any]:
    """The error as JSON `{"detail", ...}` or as the error page."""
    if wants_json(request):
        return json_answer({"detail": detail, **(extra or {})}, status_code=status_code)
    title = HTTPStatus(status_code).phrase if status_code in HTTPStatus._value2member_map_ else ""
    return Template(
        "error.html",
        context={"status_code": status_code, "title": title, "detail": detail},
        status_code=status_code,
    )


def http_error(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    """Litestar's HTTP errors (404, 403 CSRF, 400 validation…) in words."""
    detail = exc.detail
    extra: dict[str, Any] | None = None
    if exc.status_code == 404 and detail in ("", "Not Found"):
        detail = "There is nothing at this address."
    elif isinstance(exc, ValidationException):
        detail = "Some of what was sent is not valid."
        if isinstance(exc.extra, list):
            extra = {"errors": exc.extra}
    elif exc.status_code == 403 and "CSRF" in str(exc.detail):
        detail = "This form has expired or did not come from Crate. Reload the page and retry."
    return error_response(request, exc.status_code, detail, extra)


def unexpected_error(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """Anything else: logged in full, shown as a short apology without internals."""
    logger.exception("unhandled error on %s %s", request.method, request.url.path)
    return error_response(
        request, 500, "Something went wrong on our side. The error has been logged."
    )
