"""Browser-facing protections: CSRF, security headers, request limits, and their answers in words.

* `BrowserCSRFMiddleware`: Litestar's CSRF check for forms and htmx; JSON bodies and
  bearer-token API calls pass (a cross-site page can send neither without a CORS
  preflight, and Crate never grants CORS: `add_security_headers` strips any
  `Access-Control-Allow-*` header so no later change can grant it by accident).
* `add_security_headers`: CSP and friends on every response. It is a `before_send` hook,
  not a route middleware, because Litestar runs route middleware only for matched routes;
  the hook also covers 404/405 answers and static files.
* `JobRateLimitMiddleware`: at most 30 job-creating posts a minute per client
  (`web.shared.JOBS_PER_MINUTE`, counted across all web processes).
* `InputGuardMiddleware`: a NUL byte in the address is refused with 400 before any route
  sees it (PostgreSQL cannot store one and would answer with an error).
* `too_large`, `too_many_requests`: 413 and 429 in words (JSON, htmx fragment or page).
"""

from __future__ import annotations

import ipaddress
import math
import re
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import unquote_to_bytes

from litestar import MediaType, Request, Response
from litestar.datastructures import MutableScopeHeaders
from litestar.enums import ScopeType
from litestar.exceptions import ClientException, HTTPException, TooManyRequestsException
from litestar.middleware.csrf import CSRFMiddleware
from litestar.openapi import OpenAPIConfig
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.plugins import JsonRenderPlugin
from litestar.openapi.spec import (
    Components,
    OpenAPIMediaType,
    Operation,
    RequestBody,
    Schema,
    SecurityScheme,
)
from litestar.plugins.htmx import HTMXDetails, HTMXRequest
from litestar.types import ASGIApp, HTTPResponseStartEvent, Message, Receive, Scope, Send
from markupsafe import escape

from web.errors import error_response
from web.responses import wants_json
from web.shared import Limit

CONTENT_SECURITY_POLICY: Final = (
    "default-src 'self'; img-src 'self' https: data:; media-src 'self' https:; "
    "style-src 'self'; script-src 'self'; object-src 'none'; frame-ancestors 'none'; "
    "base-uri 'self'; form-action 'self'"
)
SECURITY_HEADERS: Final = (
    ("content-security-policy", CONTENT_SECURITY_POLICY),
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "same-origin"),
    ("x-frame-options", "DENY"),
    ("cross-origin-opener-policy", "same-origin"),
)
# Largest request body accepted (forms and JSON are a few hundred bytes).
MAX_BODY_BYTES: Final = 1024 * 1024
# Job-creating routes: every POST under this prefix enqueues a job; a new schedule starts
# jobs on its own later.
JOB_PATH_PREFIX: Final = "/collect/"
JOB_CREATING_PATHS: Final = frozenset({"/schedules"})
# Sending a crate to Spotify (`/crates/{id}/spotify`) starts a job too.
JOB_CREATING_PATTERN: Final = re.compile(r"^/crates/[^/]+/spotify/?$")
# scope["state"][AUTH_STATE_KEY] says how a request was authenticated: "session" or "token".
AUTH_STATE_KEY: Final = "crate_auth"
# Paths whose JSON bodies still need the CSRF token (a login must come from Crate's form).
CSRF_ALWAYS: Final = frozenset({"/login", "/logout"})


# ------------------------------------------------------------------ rate limiting


class ClientAddresses:
    """Who is asking, for the per-address limits: the socket's peer, unless the peer is one
    of the trusted proxies (CRATE_TRUSTED_PROXIES); only then is X-Forwarded-For read, and
    its right-most entry that is not itself a trusted proxy names the client (the entries
    left of it are whatever the client sent, so they count for nothing)."""

    def __init__(self, trusted_proxies: tuple[str, ...]) -> None:
        self._trusted = tuple(ipaddress.ip_network(network) for network in trusted_proxies)

    def _is_proxy(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in self._trusted)

    def __call__(self, scope: Scope) -> str:
        """The client's address."""
        client = scope.get("client")
        peer = str(client[0]) if client else "unknown"
        if not self._is_proxy(peer):
            return peer
        forwarded = [
            entry.strip()
            for name, value in scope.get("headers", [])
            if name == b"x-forwarded-for"
            for entry in value.decode("latin-1").split(",")
        ]
        for entry in reversed(forwarded):
            if entry and not self._is_proxy(entry):
                return entry[:100]
        return peer


def wait_words(seconds: float) -> str:
    """'1 second', '42 seconds'."""
    whole = max(1, math.ceil(seconds))
    return f"{whole} second{'s' if whole != 1 else ''}"


class JobRateLimitMiddleware:
    """Refuse job-creating posts beyond `limit` from one client (429)."""

    def __init__(self, app: ASGIApp, limit: Limit, clients: ClientAddresses) -> None:
        self.app = app
        self.limit = limit
        self.clients = clients

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Count POSTs under JOB_PATH_PREFIX (and to JOB_CREATING_PATHS) per client address."""
        path = scope.get("path", "")
        if (
            scope["type"] == ScopeType.HTTP
            and scope.get("method") == "POST"
            and (
                path.startswith(JOB_PATH_PREFIX)
                or path.rstrip("/") in JOB_CREATING_PATHS
                or JOB_CREATING_PATTERN.match(path)
            )
        ):
            wait = await self.limit.hit(self.clients(scope))
            if wait is not None:
                raise TooManyRequestsException(
                    detail=(
                        f"Too many jobs started from your address: at most "
                        f"{self.limit.item.amount} a minute. Try again in {wait_words(wait)}."
                    ),
                    headers={"Retry-After": str(max(1, math.ceil(wait)))},
                )
        await self.app(scope, receive, send)


class InputGuardMiddleware:
    """Refuse addresses carrying a NUL byte (in the path or the query string) with 400."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Check the decoded path and the percent-decoded query string."""
        if scope["type"] == ScopeType.HTTP:
            query: bytes = scope.get("query_string", b"")
            if "\x00" in scope["path"] or b"\x00" in unquote_to_bytes(query):
                raise ClientException(
                    status_code=400,
                    detail=(
                        "The address contains a NUL character (%00), which Crate never uses; "
                        "remove it and try again."
                    ),
                )
        await self.app(scope, receive, send)


# ------------------------------------------------------------------ CSRF


class BrowserCSRFMiddleware(CSRFMiddleware):
    """Litestar's CSRF check, skipped for JSON bodies and bearer-token API calls.

    A cross-site page cannot send `Content-Type: application/json` or an `Authorization`
    header without a CORS preflight, which Crate never grants, so such requests cannot
    be forged by a browser; form posts (the attack CSRF is about) still need the token.
    The login and logout forms always need it, whatever their content type.
    """

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Let JSON and token-authenticated requests with unsafe methods pass; check the rest."""
        if (
            scope["type"] == ScopeType.HTTP
            and scope.get("method") not in self.config.safe_methods
            and scope["path"] not in CSRF_ALWAYS
        ):
            if scope.get("state", {}).get(AUTH_STATE_KEY) == "token":
                await self.app(scope, receive, send)
                return
            for name, value in scope.get("headers", []):
                if name == b"content-type" and value.split(b";")[0].strip().lower() == (
                    b"application/json"
                ):
                    await self.app(scope, receive, send)
                    return
        await super().__call__(scope, receive, send)


# ------------------------------------------------------------------ headers


def came_over_https(scope: Scope) -> bool:
    """True when the browser reached Crate over https (directly, or through a proxy that
    uvicorn trusts and that says so in X-Forwarded-Proto)."""
    if scope.get("scheme") == "https":
        return True
    for name, value in scope.get("headers", []):
        if name == b"x-forwarded-proto":
            return bool(value.split(b",")[0].strip().lower() == b"https")
    return False


def _secure_cookies(message: HTTPResponseStartEvent) -> None:
    """Mark every cookie of the response Secure (the CSRF cookie is set by Litestar's
    middleware, whose setting is fixed at start, while Crate may be reached both ways)."""
    message["headers"] = [
        (name, value + b"; Secure")
        if name.lower() == b"set-cookie"
        and not any(part.strip().lower() == b"secure" for part in value.split(b";")[1:])
        else (name, value)
        for name, value in message.get("headers", [])
    ]


async def add_security_headers(message: Message, scope: Scope) -> None:
    """`before_send` hook: security headers on every HTTP response, `Cache-Control: no-store`
    on everything served behind the login, never any CORS grant, and only Secure cookies
    for a browser that came over https."""
    if message["type"] != "http.response.start":
        return
    if came_over_https(scope):
        _secure_cookies(message)
    headers = MutableScopeHeaders.from_message(message)
    for name, value in SECURITY_HEADERS:
        if name not in headers:
            headers[name] = value
    if (
        scope.get("state", {}).get(AUTH_STATE_KEY)
        and "cache-control" not in headers
        and not scope.get("path", "").startswith("/static/")
    ):
        # Behind a login, pages are private: not kept by shared caches or the back button.
        headers["cache-control"] = "no-store"
    for name in list(headers):
        if name.lower().startswith("access-control-allow-"):
            del headers[name]


# ------------------------------------------------------------------ answers in words


def htmx(request: Request[Any, Any, Any]) -> HTMXDetails:
    """What htmx says about the request (false when htmx did not send it)."""
    return request.htmx if isinstance(request, HTMXRequest) else HTMXDetails(request)


def answer_in_words(
    request: Request[Any, Any, Any],
    status_code: int,
    detail: str,
    headers: dict[str, str] | None = None,
) -> Response[Any]:
    """JSON for API clients, a small alert for htmx (added to the target), else the error page."""
    if htmx(request) and not wants_json(request):
        response: Response[Any] = Response(
            f'<p class="field-error request-refused" role="alert">{escape(detail)}</p>',
            status_code=status_code,
            media_type=MediaType.HTML,
            headers={"HX-Reswap": "beforeend"},
        )
    else:
        response = error_response(request, status_code, detail)
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def too_large(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    """413: the body is over MAX_BODY_BYTES."""
    detail = (
        f"What was sent is too large: Crate accepts at most {MAX_BODY_BYTES // (1024 * 1024)} MB "
        "in one request."
    )
    return answer_in_words(request, 413, detail)


def too_many_requests(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    """429 with the wait in words and in Retry-After."""
    detail = exc.detail
    if not detail or detail == "Too Many Requests":
        detail = "Too many requests from your address. Wait a minute, then try again."
    return answer_in_words(request, 429, detail, headers=exc.headers)


# ------------------------------------------------------------------ OpenAPI


@dataclass
class ErrorDetail:
    """An error in words."""

    detail: str


def api_error_responses() -> dict[int, ResponseSpec]:
    """The answers the security layers may give any JSON route, for the OpenAPI document."""

    def spec(description: str) -> ResponseSpec:
        return ResponseSpec(ErrorDetail, description=description, generate_examples=False)

    return {
        400: spec("What was sent could not be read."),
        401: spec("A login is needed: send `Authorization: Bearer <CRATE_API_TOKEN>`."),
        403: spec("A form post without Crate's CSRF token (JSON bodies do not need it)."),
        413: spec(f"The body is larger than {MAX_BODY_BYTES} bytes."),
        429: spec("Too many requests from this address; `Retry-After` says how long to wait."),
    }


def json_body_operation(schema: Schema, description: str) -> type[Operation]:
    """An `operation_class` documenting a JSON request body the handler reads itself."""

    @dataclass
    class JsonBodyOperation(Operation):
        def __post_init__(self) -> None:
            self.request_body = RequestBody(
                content={"application/json": OpenAPIMediaType(schema=schema)},
                description=description,
                required=True,
            )

    return JsonBodyOperation


def openapi_config() -> OpenAPIConfig:
    """`GET /schema` (and `/schema/openapi.json`): the OpenAPI document as JSON.

    No HTML viewer: the usual ones load scripts from a CDN, which the CSP (rightly) blocks.
    """
    return OpenAPIConfig(
        title="Crate",
        version="1",
        description=(
            "Crate's JSON API: start Beatport collections and Spotify enrichments, follow "
            "their jobs. Send `Accept: application/json`. When CRATE_PASSWORD is set, send "
            "`Authorization: Bearer <CRATE_API_TOKEN>`."
        ),
        path="/schema",
        render_plugins=[JsonRenderPlugin(path=["/", "/openapi.json"])],
        components=Components(
            security_schemes={
                "bearer": SecurityScheme(
                    type="http",
                    scheme="bearer",
                    description="CRATE_API_TOKEN (needed when CRATE_PASSWORD is set).",
                )
            }
        ),
        security=[{"bearer": []}],
    )
