"""Spotify for a user: connect (`/spotify/connect`, `/spotify/callback`), disconnect, and
send a crate to its playlist (`POST /crates/{id}/spotify`).

Connecting runs the authorization code flow with PKCE: the state and the verifier wait in
the server-side session (never in the cookie, never in a page) until Spotify sends the
browser back; a callback whose state this session did not issue is refused in words.
Every problem at the callback (refused, a stale or foreign state, Spotify down) is a page
in words, never a 500, and nothing of a token ever reaches a page, a log or a job.
"""

from __future__ import annotations

import time
from typing import Any, Final

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.openapi.datastructures import ResponseSpec
from litestar.plugins.htmx import HTMXRequest
from litestar.response import Redirect, Template
from taskiq import AsyncBroker

from services import jobs, spotify_account
from services.playlist_export import KIND as EXPORT_KIND
from services.playlist_export import crate_summary
from services.redaction import redact
from services.settings import Settings
from services.spotify import oauth
from services.spotify.errors import (
    SpotifyError,
    SpotifyNotConfigured,
    SpotifyRateLimited,
    SpotifyUnavailable,
)
from tasks import jobs as job_tasks
from web.auth import current_page, safe_next
from web.collect import FormErrors, JobStarted
from web.paths import RowId, existing
from web.responses import invalid_answer, json_answer, read_fields, wanted
from web.security import ErrorDetail, api_error_responses

SESSION_KEY: Final = "spotify_logins"
# A login not finished within this many seconds is refused at the callback.
LOGIN_PATIENCE: Final = 600.0
# Logins started and not finished that one session keeps (several tabs, say).
PENDING_LOGINS: Final = 4
NOT_CONNECTED: Final = "Connect Spotify first (Connect Spotify), then send the crate."

SEND_RESPONSES: Final = {
    **api_error_responses(),
    202: ResponseSpec(JobStarted, description="Queued.", generate_examples=False),
    404: ResponseSpec(ErrorDetail, description="No crate has this id.", generate_examples=False),
    409: ResponseSpec(
        FormErrors,
        description="Nothing queued: Spotify is not connected (or not configured).",
        generate_examples=False,
    ),
    503: ResponseSpec(
        FormErrors, description="Nothing queued: the job queue is down.", generate_examples=False
    ),
}


async def status_context(settings: Settings, back: str | None = None) -> dict[str, Any]:
    """What `spotify/_status.html` shows: the connected account, whether Crate can connect
    one at all, and the page to come back to after connecting (default: the one shown)."""
    return {
        "spotify_login": await spotify_account.connection(),
        "spotify_can_connect": bool(settings.spotify_client_id),
        "spotify_back": back,
    }


def _problem(message: str, status_code: int, *, retry: bool = True) -> Template:
    return Template(
        "spotify/problem.html",
        context={"message": message, "retry": retry},
        status_code=status_code,
        headers={"Cache-Control": "no-store"},
    )


def _session(request: Request[Any, Any, Any]) -> dict[str, Any]:
    """The session's data (empty when there is none, or it was just refused)."""
    value: object = request.scope.get("session")
    return dict(value) if isinstance(value, dict) else {}


def _pending(session: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """This session's unfinished logins, the stale ones left out."""
    found = session.get(SESSION_KEY)
    if not isinstance(found, dict):
        return {}
    moment = time.time()
    return {
        state: login
        for state, login in found.items()
        if isinstance(login, dict) and moment - float(login.get("at") or 0) < LOGIN_PATIENCE
    }


def _keep_pending(request: Request[Any, Any, Any], pending: dict[str, dict[str, Any]]) -> None:
    session = _session(request)
    if pending:
        session[SESSION_KEY] = pending
    else:
        session.pop(SESSION_KEY, None)
    request.set_session(session)


class SpotifyController(Controller):
    """`/spotify/connect`, `/spotify/callback`, `/spotify/disconnect`."""

    path = "/spotify"
    include_in_schema = False

    @get("/connect", name="spotify_connect")
    async def connect(
        self, request: HTMXRequest, settings: NamedDependency[Settings]
    ) -> Response[Any]:
        """Send the browser to Spotify's login, remembering the state and the verifier."""
        try:
            login = oauth.start_login(settings)
        except SpotifyNotConfigured as exc:
            return _problem(str(exc), 409, retry=False)
        # The newest few logins of this session stay open (one per tab, say).
        oldest_first = sorted(
            _pending(_session(request)).items(), key=lambda item: float(item[1].get("at") or 0)
        )
        pending = dict(oldest_first[-(PENDING_LOGINS - 1) :])
        pending[login.state] = {
            "verifier": login.verifier,
            "next": safe_next(request.query_params.get("next")),
            "at": time.time(),
        }
        _keep_pending(request, pending)
        return Redirect(path=login.url, status_code=303, headers={"Cache-Control": "no-store"})

    @get("/callback", name="spotify_callback")
    async def callback(
        self, request: HTMXRequest, settings: NamedDependency[Settings]
    ) -> Response[Any]:
        """Spotify sent the browser back: check the state, trade the code, keep the login."""
        query = request.query_params
        state = query.get("state") or ""
        session = _session(request)
        pending = _pending(session)
        login = pending.pop(state, None) if state else None
        if SESSION_KEY in session:
            _keep_pending(request, pending)  # a state is good for one callback only
        if login is None:
            return _problem(
                "This Spotify login did not start here, or took longer than 10 minutes, so "
                "Crate did not use it. Nothing changed: connect again.",
                400,
            )
        error = query.get("error")
        if error == "access_denied":
            return _problem(
                "You did not allow Crate to use your Spotify account; nothing changed.", 400
            )
        code = query.get("code")
        if error or not code:
            said = redact(str(error or "no code"), settings.secrets())[:100]
            return _problem(f"Spotify did not log you in ({said}); nothing changed.", 400)
        try:
            async with oauth.open_http() as http:
                tokens = await oauth.exchange_code(http, settings, code, str(login["verifier"]))
                profile = await oauth.read_profile(http, settings, tokens.access_token)
        except (SpotifyUnavailable, SpotifyRateLimited) as exc:
            reason = redact(str(exc), settings.secrets())
            return _problem(f"{reason} Nothing changed: try connecting again in a moment.", 502)
        except SpotifyError as exc:
            reason = redact(str(exc), settings.secrets())
            return _problem(f"{reason} Nothing changed: connect again.", 400)
        await spotify_account.save_login(settings, tokens, profile)
        return Redirect(path=safe_next(str(login.get("next") or "/")), status_code=303)

    @post("/disconnect", name="spotify_disconnect", status_code=200)
    async def disconnect(
        self, request: HTMXRequest, settings: NamedDependency[Settings]
    ) -> Response[Any]:
        """Forget the Spotify login and its tokens."""
        await spotify_account.forget()
        match wanted(request):
            case "json":
                return json_answer({"connected": False})
            case "fragment":
                back = safe_next(current_page(request))
                context = await status_context(settings, back)
                return Template("spotify/_status.html", context=context)
            case "page":
                fields = await read_fields(request)
                return Redirect(path=safe_next(fields.get("next")), status_code=303)


class CrateSpotifyController(Controller):
    """`POST /crates/{id}/spotify`: send a crate to its Spotify playlist, as a job."""

    @post(
        "/crates/{crate_id:int}/spotify",
        name="crate_spotify",
        status_code=202,
        responses=SEND_RESPONSES,
    )
    async def send(
        self,
        request: HTMXRequest,
        crate_id: RowId,
        broker: NamedDependency[AsyncBroker],
        settings: NamedDependency[Settings],
    ) -> Response[Any]:
        """Queue the export (form: the badge in the send panel; JSON: 202)."""
        missing = f"There is no crate {crate_id}."
        crate = await crate_summary(existing(crate_id, missing))
        if crate is None:
            raise NotFoundException(missing)
        login = await spotify_account.connection()
        if not settings.spotify_client_id:
            problem = oauth.NOT_CONFIGURED
        elif login is None:
            problem = NOT_CONNECTED
        elif not login.usable:
            problem = oauth.REVOKED
        else:
            problem = None
        if problem is not None:
            return await _send_answer(request, settings, crate, {"spotify": problem}, None, 409)
        params = {"crate_id": crate_id, "label": crate["name"]}
        try:
            task_id = await job_tasks.enqueue(broker, EXPORT_KIND, params)
        except job_tasks.QueueUnavailable as exc:
            return await _send_answer(request, settings, crate, {"queue": str(exc)}, None, 503)
        if wanted(request) == "json":
            status_url = request.app.route_reverse("task_status", task_id=task_id)
            return json_answer({"task_id": task_id, "status_url": status_url}, status_code=202)
        row = await jobs.get(task_id)
        started = {**row, "snapshot": jobs.snapshot_of(row)}
        return await _send_answer(request, settings, crate, {}, started, 200)


async def send_context(settings: Settings, crate: dict[str, Any]) -> dict[str, Any]:
    """What `spotify/_send.html` needs for a crate (for the crate page to include it)."""
    return {"crate": crate, "errors": {}, "started": None, **await status_context(settings)}


async def _send_answer(
    request: HTMXRequest,
    settings: Settings,
    crate: dict[str, Any],
    errors: dict[str, str],
    started: dict[str, Any] | None,
    status_code: int,
) -> Response[Any]:
    answer = wanted(request)
    if answer == "json":
        return invalid_answer(errors, status_code=status_code)
    if answer == "page" and not errors:
        return Redirect(path=f"/crates/{crate['id']}", status_code=303)
    context = {**await send_context(settings, crate), "errors": errors, "started": started}
    template = "spotify/_send.html" if answer == "fragment" else "spotify/send.html"
    return Template(template, context=context, status_code=status_code)
