"""The broker `crate worker` (and `taskiq worker tasks.worker:broker`) runs."""

from services.settings import Settings
from tasks.broker import create_broker

broker = create_broker(Settings.from_env())
