"""Logging in when `CRATE_PASSWORD` is set; open access when it is not.

* Every route needs a login except `/healthz`, `/readyz` (orchestrators probe them; they
  say "ok" or which service is down, nothing more), `/static/*` and `/login` itself.
  Unknown paths answer 404 without a login: Litestar runs middleware only for routes.
* A browser logs in at `/login` (a CSRF-protected form) and gets a session cookie: an
  HMAC-SHA256 signature (keyed with CRATE_SECRET_KEY and the password, so changing
  either logs everyone out) over an expiry time and a random id. HttpOnly,
  SameSite=Lax, Secure when the request came over https, valid SESSION_LIFETIME, and
  renewed (same id, a fresh SESSION_LIFETIME) at most once a day while in use.
* API clients send `Authorization: Bearer <CRATE_API_TOKEN>`; without CRATE_API_TOKEN
  only the session works.
* Passwords and tokens are compared in constant time (digests with hmac.compare_digest).
  Each failure waits FAILED_LOGIN_DELAY; after LOGIN_FAILURES_ALLOWED failures within a
  minute an address gets 429 (with Retry-After) until the oldest failure is a minute old.
  Failures are counted, and logouts remembered, across all web processes (`web.shared`).
* Without a login: pages redirect to `/login?next=…`, htmx requests get `HX-Redirect`,
  JSON requests get 401 `{"detail": …}`.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import re
import secrets
import time
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import unquote, urlencode, urlsplit

from litestar import Controller, Litestar, MediaType, Request, Response, get, post
from litestar.datastructures import Cookie
from litestar.enums import ScopeType
from litestar.exceptions import NotAuthorizedException, TooManyRequestsException
from litestar.response import Redirect, Template
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from services.settings import Settings
from web.errors import wants_json
from web.security import AUTH_STATE_KEY, came_over_https, client_address, wait_words
from web.shared import SharedLimiter, SharedLogouts, shared_redis

SESSION_COOKIE: Final = "crate_session"
SESSION_LIFETIME: Final = 7 * 24 * 3600
# A session in use gets a fresh SESSION_LIFETIME at most once this often.
SESSION_RENEW_AFTER: Final = 24 * 3600
LOGIN_FAILURES_ALLOWED: Final = 5
LOGIN_FAILURE_WINDOW: Final = 60.0
FAILED_LOGIN_DELAY: Final = 0.3
MAX_SECRET_CHARS: Final = 4096
MAX_NEXT_CHARS: Final = 2000
PUBLIC_PATHS: Final = frozenset({"/healthz", "/readyz", "/login"})
PUBLIC_PREFIXES: Final = ("/static/",)
GATE_KEY: Final = "auth_gate"
LOGIN_FIRST: Final = (
    "Log in first: open /login in a browser, or send the header "
    "Authorization: Bearer <CRATE_API_TOKEN>."
)
SESSION_KEY: Final = "crate_session"
_NONCE_RE: Final = re.compile(r"[A-Za-z0-9_-]{8,64}")
# Secrets are compared as digests under a key only this process knows, so the time the
# comparison takes says nothing about the secret's length or content.
_COMPARE_KEY: Final = secrets.token_bytes(32)


def _utf8(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def secret_matches(given: str, expected: str) -> bool:
    """Constant-time equality of a submitted secret and the configured one."""
    if len(given) > MAX_SECRET_CHARS:
        given = ""
    mine = hmac.new(_COMPARE_KEY, _utf8(given), hashlib.sha256).digest()
    theirs = hmac.new(_COMPARE_KEY, _utf8(expected), hashlib.sha256).digest()
    return hmac.compare_digest(mine, theirs) and bool(given)


# ------------------------------------------------------------------ sessions


@dataclass(frozen=True, slots=True)
class Session:
    """A valid session cookie's contents."""

    session_id: str
    expires: int


class SessionSigner:
    """Issue and check session cookie values: `v1.<expires>.<id>.<signature>`."""

    def __init__(self, secret_key: str, password: str) -> None:
        self._key = hmac.new(
            _utf8(secret_key), b"crate session v1\x00" + _utf8(password), hashlib.sha256
        ).digest()

    def _sign(self, body: str) -> str:
        return _b64(hmac.new(self._key, body.encode("ascii"), hashlib.sha256).digest())

    def issue(self, now: float, session_id: str | None = None) -> str:
        """A cookie value valid SESSION_LIFETIME seconds from `now`: a new session, or
        `session_id`'s renewed."""
        body = f"v1.{int(now) + SESSION_LIFETIME}.{session_id or secrets.token_urlsafe(16)}"
        return f"{body}.{self._sign(body)}"

    def verify(self, value: str | None, now: float) -> Session | None:
        """The session in `value` when its signature is right and it has not expired."""
        if not value or len(value) > 200 or not value.isascii():
            return None
        parts = value.split(".")
        if len(parts) != 4 or parts[0] != "v1":
            return None
        _, expires, session_id, signature = parts
        if not (expires.isdigit() and len(expires) <= 12 and _NONCE_RE.fullmatch(session_id)):
            return None
        expected = self._sign(f"v1.{expires}.{session_id}")
        if not hmac.compare_digest(expected.encode("ascii"), signature.encode("ascii")):
            return None
        if int(expires) <= now:
            return None
        return Session(session_id, int(expires))


@dataclass
class Gate:
    """What the login checks need, one per app."""

    settings: Settings
    signer: SessionSigner | None
    failures: SharedLimiter
    revoked: SharedLogouts
    failure_delay: float = FAILED_LOGIN_DELAY
    clock: Callable[[], float] = time.time

    @property
    def enabled(self) -> bool:
        """True when CRATE_PASSWORD is set."""
        return self.signer is not None

    async def session(self, cookie: str | None) -> Session | None:
        """The valid session in a cookie value, unless some process logged it out."""
        if self.signer is None:
            return None
        session = self.signer.verify(cookie, self.clock())
        if session is None or await self.revoked.is_revoked(session.session_id):
            return None
        return session

    async def refused_for(self, address: str) -> float | None:
        """Seconds `address` must wait after too many failures, or None."""
        return await self.failures.retry_after(address)

    async def failed(self, address: str) -> None:
        """Count a failed login or token, and slow the answer down."""
        await self.failures.record(address)
        await asyncio.sleep(self.failure_delay)

    async def log_out(self, session: Session) -> None:
        """Refuse `session` in every web process from now on: for as long as any of its
        cookies can live, since renewed copies expire later than this one."""
        now = self.clock()
        await self.revoked.revoke(session.session_id, int(now) + SESSION_LIFETIME, now)

    def renewal(self, session: Session) -> str | None:
        """A renewed cookie value for a session in use, once a day; else None."""
        now = self.clock()
        if self.signer is None or session.expires - now > SESSION_LIFETIME - SESSION_RENEW_AFTER:
            return None
        return self.signer.issue(now, session.session_id)


def gate_of(app: Litestar) -> Gate:
    """The app's Gate, built on first use from its settings."""
    gate = app.state.get(GATE_KEY)
    if not isinstance(gate, Gate):
        settings: Settings = app.state.settings
        signer = (
            SessionSigner(settings.secret_key, settings.password) if settings.password else None
        )
        redis = shared_redis(app)
        gate = Gate(
            settings=settings,
            signer=signer,
            failures=SharedLimiter(
                "login", LOGIN_FAILURES_ALLOWED, LOGIN_FAILURE_WINDOW, redis=redis
            ),
            revoked=SharedLogouts(redis),
        )
        app.state[GATE_KEY] = gate
    return gate


def too_many_failures(wait: float) -> TooManyRequestsException:
    """The 429 for an address that failed too often."""
    return TooManyRequestsException(
        detail=(
            f"Too many failed logins from your address. Wait {wait_words(wait)}, then try again."
        ),
        headers={"Retry-After": str(max(1, int(wait + 0.999)))},
    )


# ------------------------------------------------------------------ the gate itself


class LoginRequired(NotAuthorizedException):
    """No valid session or token; answered by `login_required` (redirect, HX-Redirect or 401)."""


def is_public(path: str) -> bool:
    """Paths anyone may open."""
    return path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES)


class AuthMiddleware:
    """Let a request through only with a valid session or bearer token, when a password is set."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Mark how the request authenticated, or refuse it."""
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return
        gate = gate_of(scope["litestar_app"])
        if not gate.enabled:
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        if path.startswith(PUBLIC_PREFIXES):
            # Static files: no need to know who asks (a session check may ask Redis).
            await self.app(scope, receive, send)
            return
        request: Request[Any, Any, Any] = Request(scope)
        state = scope.setdefault("state", {})
        session = await gate.session(request.cookies.get(SESSION_COOKIE))
        if session is not None:
            state[AUTH_STATE_KEY] = "session"
            state[SESSION_KEY] = session
        authorization = request.headers.get("authorization")
        if is_public(path):
            await self.app(scope, receive, send)
            return
        if authorization is not None:
            await self._check_token(gate, authorization, client_address(scope))
            state[AUTH_STATE_KEY] = "token"
        elif session is None:
            raise LoginRequired(LOGIN_FIRST)
        elif (renewed := gate.renewal(session)) is not None:
            cookie = session_cookie(request, renewed, SESSION_LIFETIME).to_encoded_header()
            send = _with_cookie(send, cookie)
        await self.app(scope, receive, send)

    @staticmethod
    async def _check_token(gate: Gate, authorization: str, address: str) -> None:
        wait = await gate.refused_for(address)
        if wait is not None:
            raise too_many_failures(wait)
        scheme, _, token = authorization.strip().partition(" ")
        expected = gate.settings.api_token
        if scheme.lower() == "bearer" and expected and secret_matches(token.strip(), expected):
            return
        await gate.failed(address)
        if not expected:
            raise LoginRequired(
                "Crate has no API token configured (CRATE_API_TOKEN), so only a browser "
                "login works."
            )
        raise LoginRequired("The API token is not valid.")


def _with_cookie(send: Send, cookie: tuple[bytes, bytes]) -> Send:
    """`send` adding the renewed session cookie to the response, unless the response sets
    the session cookie itself (a logout clearing it)."""
    mine = SESSION_COOKIE.encode() + b"="

    async def sending(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = list(message.get("headers", []))
            if not any(n.lower() == b"set-cookie" and v.startswith(mine) for n, v in headers):
                message["headers"] = [*headers, cookie]
        await send(message)

    return sending


def safe_next(value: str | None) -> str:
    """`value` when it is a path on this site (never another host), else '/'."""
    if not value or len(value) > MAX_NEXT_CHARS or not value.isascii():
        return "/"
    if any(unicodedata.category(ch)[0] in "CZ" for ch in value) or "\\" in value:
        return "/"
    if not value.startswith("/") or value.startswith("//"):
        return "/"
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or parts.path in ("/login", "/logout"):
        return "/"
    decoded = unquote(parts.path)
    if decoded.startswith("//") or "\\" in decoded or any(ord(ch) < 32 for ch in decoded):
        return "/"
    return value


def login_url(next_path: str) -> str:
    """The login page, coming back to `next_path` afterwards."""
    target = safe_next(next_path)
    return "/login" if target == "/" else "/login?" + urlencode({"next": target})


def current_page(request: Request[Any, Any, Any]) -> str:
    """The page the user is on: htmx says so in HX-Current-URL; else this request's own path."""
    if request.headers.get("hx-request"):
        parts = urlsplit(request.headers.get("hx-current-url", ""))
        if parts.netloc and parts.netloc != request.headers.get("host"):
            return "/"
        return parts.path + (f"?{parts.query}" if parts.query else "") or "/"
    if request.method not in ("GET", "HEAD"):
        return "/"  # a form post cannot be replayed after logging in
    path = request.scope.get("raw_path", b"").decode("latin-1") or request.url.path
    query = request.scope.get("query_string", b"").decode("latin-1")
    return path + (f"?{query}" if query else "")


def login_required(request: Request[Any, Any, Any], exc: NotAuthorizedException) -> Response[Any]:
    """401 JSON for API clients, HX-Redirect for htmx, a redirect to the login page otherwise."""
    if wants_json(request) or request.headers.get("authorization"):
        return Response(
            {"detail": exc.detail or LOGIN_FIRST},
            status_code=401,
            media_type=MediaType.JSON,
            headers={"WWW-Authenticate": 'Bearer realm="Crate"', "Cache-Control": "no-store"},
        )
    target = login_url(current_page(request))
    if request.headers.get("hx-request"):
        return Response(
            "Log in first.",
            status_code=401,
            media_type=MediaType.TEXT,
            headers={"HX-Redirect": target, "Cache-Control": "no-store"},
        )
    return Redirect(path=target, status_code=303, headers={"Cache-Control": "no-store"})


# ------------------------------------------------------------------ login and logout


def is_https(request: Request[Any, Any, Any]) -> bool:
    """True when the browser reached Crate over https (directly or through a proxy)."""
    return came_over_https(request.scope)


def session_cookie(request: Request[Any, Any, Any], value: str, max_age: int) -> Cookie:
    """The session cookie with its protective attributes."""
    return Cookie(
        key=SESSION_COOKIE,
        value=value,
        max_age=max_age,
        path="/",
        httponly=True,
        samesite="lax",
        secure=is_https(request),
    )


def login_page(
    next_path: str,
    error: str | None = None,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> Template:
    """The login form (never echoing the password back)."""
    return Template(
        "login.html",
        context={"next": next_path, "error": error},
        status_code=status_code,
        headers={"Cache-Control": "no-store", **(headers or {})},
    )


class LoginController(Controller):
    """`GET/POST /login`, `POST /logout`."""

    include_in_schema = False

    @get("/login", name="login")
    async def show(self, request: Request[Any, Any, Any]) -> Response[Any]:
        """The form; straight on when no password is set or already logged in."""
        target = safe_next(request.query_params.get("next"))
        gate = gate_of(request.app)
        if not gate.enabled or request.scope.get("state", {}).get(AUTH_STATE_KEY) == "session":
            return Redirect(path=target, status_code=303)
        return login_page(target)

    @post("/login", name="login_submit", status_code=303)
    async def submit(self, request: Request[Any, Any, Any]) -> Response[Any]:
        """Check the password; on success set the session cookie and go to `next`."""
        gate = gate_of(request.app)
        form = await request.form()
        next_value = form.get("next")
        target = safe_next(next_value if isinstance(next_value, str) else None)
        if gate.signer is None or not gate.settings.password:
            return Redirect(path=target, status_code=303)
        address = client_address(request.scope)
        wait = await gate.refused_for(address)
        if wait is not None:
            refused = too_many_failures(wait)
            return login_page(target, refused.detail, 429, refused.headers)
        password = form.get("password")
        if not isinstance(password, str) or not secret_matches(password, gate.settings.password):
            await gate.failed(address)
            return login_page(target, "That password is not right.", 401)
        await gate.failures.reset(address)
        response: Response[Any] = Redirect(path=target, status_code=303)
        response.set_cookie(
            session_cookie(request, gate.signer.issue(gate.clock()), SESSION_LIFETIME)
        )
        return response

    @post("/logout", name="logout", status_code=303)
    async def logout(self, request: Request[Any, Any, Any]) -> Response[Any]:
        """End the session: the cookie is cleared, and every web process refuses it from now on."""
        gate = gate_of(request.app)
        session = request.scope.get("state", {}).get(SESSION_KEY)
        if isinstance(session, Session):
            await gate.log_out(session)
        response: Response[Any] = Redirect(path="/login" if gate.enabled else "/", status_code=303)
        response.set_cookie(session_cookie(request, "", 0))
        return response
