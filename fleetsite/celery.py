"""The Celery app: a Redis broker with REDIS_URL, otherwise tasks run eagerly in-process."""

import os

from celery import Celery, signals

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fleetsite.settings")

app = Celery("fleetsite")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@signals.worker_ready.connect
def _worker_heartbeat(**kwargs: object) -> None:
    """The worker announces itself every few seconds: the UI and /healthz?check=worker read it."""
    from fleetsite.workers import start_heartbeat

    start_heartbeat("worker")


@signals.beat_init.connect
def _beat_heartbeat(**kwargs: object) -> None:
    from fleetsite.workers import start_heartbeat

    start_heartbeat("beat")
