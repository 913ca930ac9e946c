"""`manage.py run_job NAME`: run one scheduled job now (for cron-less setups and debugging)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from fleetsite.scheduler import run_job


class Command(BaseCommand):
    help = "Run one scheduled job once, in this process."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", nargs="?", help="job name; omit to list them")

    def handle(self, *args: Any, **options: Any) -> None:
        if not options["name"]:
            for name, entry in sorted(settings.CELERY_BEAT_SCHEDULE.items()):
                self.stdout.write(f"{name}\tevery {entry['schedule']}s")
            return
        try:
            result = run_job(options["name"])
        except KeyError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"{options['name']}: {result}")
