"""`manage.py fleet_routes [--markdown | --check]`: Fleet's routes and whether this project answers them."""

from __future__ import annotations

from collections import Counter
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from fleetsite.fleet_routes import DOCS_PATH, render_markdown, route_statuses


class Command(BaseCommand):
    help = "List Fleet's routes with their state here (built, refused, missing, mdm); --markdown writes docs."

    def add_arguments(self, parser: CommandParser) -> None:
        mode = parser.add_mutually_exclusive_group()
        mode.add_argument("--markdown", action="store_true", help=f"write {DOCS_PATH.name} in docs/")
        mode.add_argument("--check", action="store_true", help=f"fail when docs/{DOCS_PATH.name} is out of date")

    def handle(self, *args: Any, **options: Any) -> None:
        statuses = route_statuses()
        if options["markdown"] or options["check"]:
            text = render_markdown(statuses)
            if options["check"]:
                current = DOCS_PATH.read_text(encoding="utf-8") if DOCS_PATH.exists() else ""
                if current != text:
                    raise CommandError(f"{DOCS_PATH} is out of date: run manage.py fleet_routes --markdown")
                self.stdout.write(f"{DOCS_PATH} is up to date.")
                return
            DOCS_PATH.parent.mkdir(parents=True, exist_ok=True)
            DOCS_PATH.write_text(text, encoding="utf-8")
            self.stdout.write(f"Wrote {DOCS_PATH}.")
            return
        for status in statuses:
            route = status.route
            self.stdout.write(f"{status.state:8} {route.method:6} {route.path}  [{route.versions}] {route.family}")
        counts = Counter(status.state for status in statuses if not status.route.mdm)
        self.stdout.write(
            f"non-MDM: {counts['built']} built, {counts['refused']} refused, {counts['missing']} missing "
            f"of {sum(counts.values())}; MDM routes: {sum(1 for s in statuses if s.route.mdm)}"
        )
