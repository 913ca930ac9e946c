"""The Celery app: a Redis broker with REDIS_URL, otherwise tasks run eagerly in-process."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fleetsite.settings")

app = Celery("fleetsite")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
