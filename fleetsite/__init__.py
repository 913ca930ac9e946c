"""Fleetsite: a Fleet-compatible osquery and fleetd server."""

from fleetsite.celery import app as celery_app

__all__ = ["celery_app"]
