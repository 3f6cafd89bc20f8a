"""Piccolo's configuration: the engine of the database this process uses, and Crate's app.

Piccolo's engine_finder reads `DB` here, for the tables and the migration runner alike.
It is the engine of `services.db.database()`: DATABASE_URL's, unless the process chose
another with `services.db.use(url)`.
"""

from piccolo.conf.apps import AppRegistry
from piccolo.engine.base import Engine

from services import db

APP_REGISTRY = AppRegistry(apps=["services.piccolo_app"])


def __getattr__(name: str) -> Engine:  # type: ignore[type-arg]
    if name == "DB":
        return db.engine()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
