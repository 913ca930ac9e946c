"""Run the Celery beat schedule inside the server process when there is no broker.

The embedded default (no REDIS_URL) has no beat or worker processes; this thread plays both,
running each job in-process at its cadence. With Redis, run `celery -A fleetsite worker -B`.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import timedelta

from celery.schedules import schedule as interval_schedule
from django.conf import settings
from django.db import close_old_connections

from fleetsite.celery import app

logger = logging.getLogger(__name__)


def _period_seconds(entry: dict) -> float:
    value = entry["schedule"]
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, interval_schedule):
        return value.run_every.total_seconds()
    # crontab and friends: ask how long until the next run.
    return max(1.0, value.remaining_estimate(value.now()).total_seconds())


def run_job(name: str) -> object:
    """Run one scheduled job now, in this process; returns what the task returned."""
    app.loader.import_default_modules()  # Django apps' tasks.py modules register their tasks
    entry = settings.CELERY_BEAT_SCHEDULE.get(name)
    task_name = entry["task"] if entry else name
    task = app.tasks.get(task_name)
    if task is None:
        raise KeyError(f"unknown job {name!r}; known: {', '.join(sorted(settings.CELERY_BEAT_SCHEDULE))}")
    return task.apply().get()


class InProcessScheduler(threading.Thread):
    """Runs every scheduled job at its period, first after one period (so start-up stays quick)."""

    def __init__(self) -> None:
        super().__init__(name="in-process-beat", daemon=True)
        self._stop_event = threading.Event()
        now = time.monotonic()
        self.next_run = {name: now + _period_seconds(entry) for name, entry in settings.CELERY_BEAT_SCHEDULE.items()}

    def run(self) -> None:
        while not self._stop_event.is_set():
            now = time.monotonic()
            for name, due in sorted(self.next_run.items(), key=lambda item: item[1]):
                if due > now:
                    continue
                self._run_safely(name)
                self.next_run[name] = time.monotonic() + _period_seconds(settings.CELERY_BEAT_SCHEDULE[name])
            self._stop_event.wait(max(0.5, min(self.next_run.values(), default=now + 60) - time.monotonic()))

    def _run_safely(self, name: str) -> None:
        try:
            close_old_connections()
            result = run_job(name)
            logger.info("job %s done: %s", name, result)
        except Exception:  # one failing job must not stop the others
            logger.exception("job %s failed", name)

    def stop(self) -> None:
        self._stop_event.set()
