"""Piccolo's configuration: the engine named by DATABASE_URL, and Crate's one app."""

from piccolo.conf.apps import AppRegistry

from services.db import build_engine
from services.settings import Settings

DB = build_engine(Settings.from_env().database_url)

APP_REGISTRY = AppRegistry(apps=["services.piccolo_app"])
