"""Logging in when `CRATE_PASSWORD` is set; open access when it is not.

* Every route needs a login except `/healthz`, `/readyz` (orchestrators probe them; they
  say "ok" or which service is down, nothing more), `/static/*` and `/login` itself.
  Unknown paths answer 404 without a login: Litestar runs middleware only for routes.
* A browser logs in at `/login` (a CSRF-protected form) and gets a server-side session
  (Litestar's, kept by `web.shared`): the cookie holds only a random id, HttpOnly,
  SameSite=Lax, Secure when the request came over https. A session lasts
  SESSION_LIFETIME after its last use; its cookie is renewed at most once a day. The
  session carries a fingerprint of CRATE_SECRET_KEY and the password, so changing either
  logs everyone out; a logout deletes it, so no copy of the cookie opens anything again.
  Every login gets a new id (an id planted in a browser beforehand is never used).
* API clients send `Authorization: Bearer <CRATE_API_TOKEN>`; without CRATE_API_TOKEN
  only the session works.
* Passwords and tokens are compared in constant time (digests with hmac.compare_digest).
  Each failure waits FAILED_LOGIN_DELAY; after 5 failures within a minute
  (`web.shared.LOGIN_FAILURES_PER_MINUTE`) an address gets 429 (with Retry-After) until
  the oldest failure is a minute old, counted across all web processes.
* Without a login: pages redirect to `/login?next=…`, htmx requests get `HX-Redirect`,
  JSON requests get 401 `{"detail": …}`.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
import time
import unicodedata
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import unquote, urlencode, urlsplit

from litestar import Controller, MediaType, Request, Response, get, post
from litestar.connection import ASGIConnection
from litestar.datastructures import Cookie, MutableScopeHeaders
from litestar.di import NamedDependency
from litestar.enums import ScopeType
from litestar.exceptions import NotAuthorizedException, TooManyRequestsException
from litestar.middleware.session.server_side import (
    ServerSideSessionBackend,
    ServerSideSessionConfig,
)
from litestar.plugins.htmx import HTMXRequest
from litestar.response import Redirect, Template
from litestar.types import ASGIApp, Empty, Message, Receive, Scope, ScopeSession, Send

from services.settings import Settings
from web.responses import wants_json
from web.security import AUTH_STATE_KEY, ClientAddresses, htmx, wait_words
from web.shared import Limit

SESSION_COOKIE: Final = "crate_session"
SESSION_LIFETIME: Final = 7 * 24 * 3600
# A session in use gets a fresh cookie (SESSION_LIFETIME again) at most once this often.
SESSION_RENEW_AFTER: Final = 24 * 3600
FAILED_LOGIN_DELAY: Final = 0.3
MAX_SECRET_CHARS: Final = 4096
MAX_NEXT_CHARS: Final = 2000
PUBLIC_PATHS: Final = frozenset({"/healthz", "/readyz", "/login"})
PUBLIC_PREFIXES: Final = ("/static/",)
LOGIN_FIRST: Final = (
    "Log in first: open /login in a browser, or send the header "
    "Authorization: Bearer <CRATE_API_TOKEN>."
)
# The session's data as it was loaded, kept in scope["state"] to tell what changed.
LOADED_KEY: Final = "crate_session_loaded"
# Secrets are compared as digests under a key only this process knows, so the time the
# comparison takes says nothing about the secret's length or content.
_COMPARE_KEY: Final = secrets.token_bytes(32)


def _utf8(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")


def secret_matches(given: str, expected: str) -> bool:
    """Constant-time equality of a submitted secret and the configured one."""
    if len(given) > MAX_SECRET_CHARS:
        given = ""
    mine = hmac.new(_COMPARE_KEY, _utf8(given), hashlib.sha256).digest()
    theirs = hmac.new(_COMPARE_KEY, _utf8(expected), hashlib.sha256).digest()
    return hmac.compare_digest(mine, theirs) and bool(given)


# ------------------------------------------------------------------ sessions


class SessionBackend(ServerSideSessionBackend):
    """Litestar's server-side sessions, writing only what changed.

    A request that leaves its session as it found it sends no cookie and writes nothing
    (so visitors who never log in leave nothing behind); a new login always gets a new id;
    an emptied session is deleted and its cookie cleared (`Max-Age=0`).
    """

    async def load_from_connection(
        self, connection: ASGIConnection[Any, Any, Any, Any]
    ) -> dict[str, Any]:
        """The stored session (renewed in the store), remembered as loaded."""
        data = await super().load_from_connection(connection)
        connection.scope.setdefault("state", {})[LOADED_KEY] = dict(data)
        return data

    async def store_in_message(
        self,
        scope_session: ScopeSession,
        message: Message,
        connection: ASGIConnection[Any, Any, Any, Any],
    ) -> None:
        """Write a changed session and set its cookie; delete an emptied one."""
        loaded: dict[str, Any] = connection.scope.get("state", {}).get(LOADED_KEY) or {}
        current = dict(scope_session) if isinstance(scope_session, dict) else {}
        if current == loaded:
            return
        store = self.config.get_store_from_app(connection.scope["app"])
        cookie_id = connection.cookies.get(self.config.key)
        same_login = bool(loaded) and loaded.get("login") == current.get("login")
        if cookie_id and loaded and not same_login:
            await self.delete(cookie_id, store)
        if current:
            session_id = cookie_id if same_login and cookie_id else self.generate_session_id()
            await self.set(session_id, self.serialize_data(current, connection.scope), store)
            value, max_age = session_id, self.config.max_age
        else:
            value, max_age = "", 0
        cookie = Cookie(
            key=self.config.key,
            value=value,
            max_age=max_age,
            path=self.config.path,
            httponly=self.config.httponly,
            samesite=self.config.samesite,
            secure=self.config.secure,
        )
        MutableScopeHeaders.from_message(message).add("Set-Cookie", cookie.to_header(header=""))


@dataclass
class SessionConfig(ServerSideSessionConfig):
    """Crate's session cookie: the `sessions` store, SESSION_LIFETIME renewed on use.

    `Secure` is added per response by `web.security.add_security_headers` when the
    browser came over https (Crate may be reached both ways).
    """

    _backend_class = SessionBackend
    key: str = SESSION_COOKIE
    max_age: int = SESSION_LIFETIME
    renew_on_access: bool = True
    exclude: str | list[str] | None = field(
        default_factory=lambda: ["^/static/", "^/healthz$", "^/readyz$"]
    )


# ------------------------------------------------------------------ the gate


@dataclass(frozen=True)
class Gate:
    """What the login checks need, one per app."""

    settings: Settings
    failures: Limit
    client_address: ClientAddresses

    @property
    def enabled(self) -> bool:
        """True when CRATE_PASSWORD is set."""
        return bool(self.settings.password)

    @property
    def fingerprint(self) -> str:
        """Ties a session to this secret key and password: changing either ends it."""
        message = b"crate session v2\x00" + _utf8(self.settings.password or "")
        return hmac.new(_utf8(self.settings.secret_key), message, hashlib.sha256).hexdigest()

    def new_session(self) -> dict[str, Any]:
        """The data of a fresh login."""
        return {
            "login": secrets.token_urlsafe(12),
            "auth": self.fingerprint,
            "renewed": int(time.time()),
        }

    def check(self, session: ScopeSession | None) -> dict[str, Any] | None:
        """The session when it belongs to a login under the current password, else None."""
        if not self.enabled or not isinstance(session, dict) or not session:
            return None
        auth = session.get("auth")
        if not isinstance(auth, str) or not hmac.compare_digest(
            auth.encode("ascii", "replace"), self.fingerprint.encode("ascii")
        ):
            return None
        return session

    async def failed(self, address: str) -> None:
        """Count a failed login or token, and slow the answer down."""
        await self.failures.hit(address)
        await asyncio.sleep(FAILED_LOGIN_DELAY)


def too_many_failures(wait: float) -> TooManyRequestsException:
    """The 429 for an address that failed too often."""
    return TooManyRequestsException(
        detail=(
            f"Too many failed logins from your address. Wait {wait_words(wait)}, then try again."
        ),
        headers={"Retry-After": str(max(1, int(wait + 0.999)))},
    )


class LoginRequired(NotAuthorizedException):
    """No valid session or token; answered by `login_required` (redirect, HX-Redirect or 401)."""


def is_public(path: str) -> bool:
    """Paths anyone may open."""
    return path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES)


class AuthMiddleware:
    """Let a request through only with a valid session or bearer token, when a password is set."""

    def __init__(self, app: ASGIApp, gate: Gate) -> None:
        self.app = app
        self.gate = gate

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Mark how the request authenticated, or refuse it."""
        gate = self.gate
        path = scope["path"]
        if scope["type"] != ScopeType.HTTP or not gate.enabled or path.startswith(PUBLIC_PREFIXES):
            await self.app(scope, receive, send)
            return
        state = scope.setdefault("state", {})
        stored = scope.get("session")
        session = gate.check(stored)
        if session is None and stored:
            scope["session"] = Empty  # another password's, or unreadable: deleted on the way out
        elif session is not None:
            state[AUTH_STATE_KEY] = "session"
            now = int(time.time())
            if now - int(session.get("renewed") or 0) >= SESSION_RENEW_AFTER:
                scope["session"] = {**session, "renewed": now}  # a fresh cookie goes out
        authorization = Request[Any, Any, Any](scope).headers.get("authorization")
        if is_public(path):
            await self.app(scope, receive, send)
            return
        if authorization is not None:
            await self._check_token(gate, authorization, gate.client_address(scope))
            state[AUTH_STATE_KEY] = "token"
        elif session is None:
            raise LoginRequired(LOGIN_FIRST)
        await self.app(scope, receive, send)

    @staticmethod
    async def _check_token(gate: Gate, authorization: str, address: str) -> None:
        wait = await gate.failures.wait(address)
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
    if details := htmx(request):
        parts = urlsplit(details.current_url or "")
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
    if htmx(request):
        return Response(
            "Log in first.",
            status_code=401,
            media_type=MediaType.TEXT,
            headers={"HX-Redirect": target, "Cache-Control": "no-store"},
        )
    return Redirect(path=target, status_code=303, headers={"Cache-Control": "no-store"})


# ------------------------------------------------------------------ login and logout


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
    async def show(self, request: HTMXRequest, gate: NamedDependency[Gate]) -> Response[Any]:
        """The form; straight on when no password is set or already logged in."""
        target = safe_next(request.query_params.get("next"))
        if not gate.enabled or request.scope.get("state", {}).get(AUTH_STATE_KEY) == "session":
            return Redirect(path=target, status_code=303)
        return login_page(target)

    @post("/login", name="login_submit", status_code=303)
    async def submit(self, request: HTMXRequest, gate: NamedDependency[Gate]) -> Response[Any]:
        """Check the password; on success start a session and go to `next`."""
        form = await request.form()
        next_value = form.get("next")
        target = safe_next(next_value if isinstance(next_value, str) else None)
        if not gate.enabled or not gate.settings.password:
            return Redirect(path=target, status_code=303)
        address = gate.client_address(request.scope)
        # Each attempt takes a slot first, so parallel guesses cannot pass the limit.
        wait = await gate.failures.hit(address)
        if wait is not None:
            refused = too_many_failures(wait)
            return login_page(target, refused.detail, 429, refused.headers)
        password = form.get("password")
        if not isinstance(password, str) or not secret_matches(password, gate.settings.password):
            await asyncio.sleep(FAILED_LOGIN_DELAY)
            return login_page(target, "That password is not right.", 401)
        await gate.failures.clear(address)
        request.set_session(gate.new_session())
        return Redirect(path=target, status_code=303)

    @post("/logout", name="logout", status_code=303)
    async def logout(self, request: HTMXRequest, gate: NamedDependency[Gate]) -> Response[Any]:
        """End the session: deleted from the store, so every web process refuses it."""
        request.clear_session()
        return Redirect(path="/login" if gate.enabled else "/", status_code=303)
