"""CSRF protection that covers browsers (forms, htmx) and lets JSON API clients through."""

from __future__ import annotations

from litestar.enums import ScopeType
from litestar.middleware.csrf import CSRFMiddleware
from litestar.types import Receive, Scope, Send


class BrowserCSRFMiddleware(CSRFMiddleware):
    """Litestar's CSRF check, skipped for JSON bodies.

    A cross-site page cannot send `Content-Type: application/json` without a CORS
    preflight, which Crate never grants, so JSON requests cannot be forged by a
    browser; form posts (the attack CSRF is about) still need the token.
    """

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Let JSON requests with unsafe methods pass; check everything else."""
        if scope["type"] == ScopeType.HTTP and scope.get("method") not in self.config.safe_methods:
            for name, value in scope.get("headers", []):
                if name == b"content-type" and value.split(b";")[0].strip().lower() == (
                    b"application/json"
                ):
                    await self.app(scope, receive, send)
                    return
        await super().__call__(scope, receive, send)
