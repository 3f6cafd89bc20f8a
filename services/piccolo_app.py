"""The one Piccolo app: Crate's tables and their migrations."""

from pathlib import Path

from piccolo.conf.apps import AppConfig

from services.tables import TABLES

APP_CONFIG = AppConfig(
    app_name="crate",
    migrations_folder_path=str(Path(__file__).resolve().parent / "piccolo_migrations"),
    table_classes=list(TABLES),
    migration_dependencies=[],
    commands=[],
)
