"""Imported by `crate worker tests.support.demo_worker`: adds the demo job to the worker."""

from tasks.worker import broker
from tests.support.demo_jobs import register

register(broker)
