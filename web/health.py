"""Liveness and readiness probes."""

from __future__ import annotations

from typing import Any

from litestar import Controller, MediaType, Response, get
from litestar.di import NamedDependency
from taskiq import AsyncBroker

from services import db
from services.db import describe_error
from tasks import broker as broker_module


class HealthController(Controller):
    """`/healthz` and `/readyz`."""

    @get("/healthz", media_type=MediaType.JSON, name="healthz")
    async def healthz(self) -> dict[str, str]:
        """The process is up."""
        return {"status": "ok"}

    @get("/readyz", media_type=MediaType.JSON, name="readyz")
    async def readyz(self, broker: NamedDependency[AsyncBroker]) -> Response[Any]:
        """Database and broker both answer; 503 with the reason when one does not."""
        problems: dict[str, str] = {}
        try:
            await db.ping()
        except db.DatabaseError as exc:
            problems["database"] = str(exc)
        try:
            await broker_module.ping(broker)
        except Exception as exc:  # any failure to reach Redis means "not ready"
            problems["broker"] = f"Job queue (Redis) not reachable: {describe_error(exc)}"
        if problems:
            return Response({"status": "unavailable", **problems}, status_code=503)
        return Response({"status": "ok", "database": "ok", "broker": "ok"})
