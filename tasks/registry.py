"""Every job kind Crate runs, registered on a broker."""

from __future__ import annotations

from taskiq import AsyncBroker


def register_all(broker: AsyncBroker) -> None:
    """Register Crate's jobs; later issues add collect and enrich here."""
    del broker
