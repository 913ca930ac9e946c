"""Celery queues: installer builds and scheduled jobs travel apart, and a plain worker takes both."""

from __future__ import annotations

from django.conf import settings

from fleetsite.celery import app


def _queue(task_name: str) -> str:
    return app.amqp.router.route({}, task_name)["queue"].name


def test_builds_and_scheduled_jobs_have_their_own_queues() -> None:
    assert _queue("packager-build") == "builds"
    for entry in settings.CELERY_BEAT_SCHEDULE.values():
        assert _queue(entry["task"]) == "scheduled", entry["task"]
    assert _queue("a-task-nobody-routed") == "celery"


def test_a_worker_started_without_queues_consumes_all_of_them() -> None:
    # `celery -A fleetsite worker` with no -Q listens on every declared queue; one per queue scales out.
    assert set(app.amqp.queues) == {"celery", "scheduled", "builds"}
