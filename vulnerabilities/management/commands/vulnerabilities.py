"""`manage.py vulnerabilities import PATH | sync | match`: feeds in, matches out, for offline and online servers."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser


class Command(BaseCommand):
    help = "Import vulnerability feeds from files, download them (sync), or run matching now."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        imp = sub.add_parser("import", help="NVD CVE JSON 2.0, OSV JSON/zip, EPSS CSV or CISA KEV JSON; file or folder")
        imp.add_argument("paths", nargs="+")
        sub.add_parser("sync", help="download the FLEETSITE_VULN_*_URLS feeds and import them")
        match = sub.add_parser("match", help="match software and OS versions against the imported feeds now")
        match.add_argument(
            "--changes-only", action="store_true", help="only what hosts changed since the last run (the hourly job)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        from vulnerabilities import feeds, matching, sync

        action = options["action"]
        if action == "match":
            result = matching.run(full=not options["changes_only"])
            self.stdout.write(
                f"{result.software_matches} software and {result.os_matches} OS version matches; "
                f"{result.opened} host vulnerabilities opened, {result.resolved} resolved"
            )
            return
        if action == "sync":
            if not settings.FLEETSITE_VULN_SYNC:
                raise CommandError("vulnerability sync is off: set FLEETSITE_VULN_SYNC=true (or use import PATH)")
            report = sync.sync()
        else:
            report = feeds.ImportReport()
            for path in options["paths"]:
                part = feeds.import_path(path)
                report.created += part.created
                report.updated += part.updated
                report.unchanged += part.unchanged
                report.files += part.files
                report.errors.extend(part.errors)
        self.stdout.write(
            f"{report.files} files imported: {report.created} created, {report.updated} updated, "
            f"{report.unchanged} unchanged"
        )
        for error in report.errors:
            self.stderr.write(error)
        if report.errors:
            raise CommandError(f"{len(report.errors)} feed file(s) failed; their previous data was kept")
