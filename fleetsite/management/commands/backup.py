"""`manage.py backup FILE.tar.gz`: the data dir (TUF signing keys, secret key, certificates, carves)
and, on SQLite, a consistent copy of the database, in one archive.

Restore by unpacking it into an empty data dir (`tar -xzf FILE.tar.gz -C /var/lib/fleetsite`);
docs/operations.md has the whole procedure and `fleetsite/tests/test_restore_drill.py` runs it.
MySQL and PostgreSQL are dumped with their own tools beside this archive (mysqldump, pg_dump).
"""

from __future__ import annotations

import os
import sqlite3
import tarfile
import tempfile
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection

# Rebuilt or short-lived: not worth restoring (static files, metrics, built installers, caches).
SKIPPED = {"staticfiles", "prometheus", "packages", "target-cache", "celerybeat-schedule"}


class Command(BaseCommand):
    help = "Archive the data dir (incl. TUF keys) and, on SQLite, a consistent copy of the database."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("archive", help="the .tar.gz file to write")

    def handle(self, *args: Any, **options: Any) -> None:
        archive = Path(options["archive"]).resolve()
        data_dir = Path(settings.DATA_DIR).resolve()
        if archive.is_relative_to(data_dir):
            raise CommandError("write the archive outside the data dir")
        database = self._sqlite_file(data_dir)
        live_files = set()
        if database is not None:
            live_files = {str(database.relative_to(data_dir)) + suffix for suffix in ("", "-wal", "-shm", "-journal")}

        def leave_out_live_database(info: tarfile.TarInfo) -> tarfile.TarInfo | None:
            return None if info.name in live_files else info

        tuf_dir = Path(settings.FLEETSITE_TUF_DIR).resolve()
        with tempfile.TemporaryDirectory() as scratch, tarfile.open(archive, "w:gz") as tar:
            for entry in sorted(data_dir.iterdir()):
                if entry.name not in SKIPPED:
                    tar.add(entry, arcname=entry.name, filter=leave_out_live_database)
            if not tuf_dir.is_relative_to(data_dir) and tuf_dir.exists():
                tar.add(tuf_dir, arcname="tuf")
                self.stdout.write(f"FLEETSITE_TUF_DIR {tuf_dir} is archived as tuf/: restore it to that path")
            if database is not None:
                copy = Path(scratch) / database.name
                self._copy_sqlite(copy)
                tar.add(copy, arcname=str(database.relative_to(data_dir)))
        os.chmod(archive, 0o600)  # it holds the TUF signing keys and the secret key
        kind = "the data dir and the SQLite database" if database else "the data dir (dump the database separately)"
        self.stdout.write(f"wrote {archive}: {kind}")

    @staticmethod
    def _sqlite_file(data_dir: Path) -> Path | None:
        if connection.vendor != "sqlite":
            return None
        path = Path(settings.DATABASES["default"]["NAME"]).resolve()
        if not path.is_relative_to(data_dir):
            raise CommandError(f"the SQLite database {path} is outside the data dir: back it up with sqlite3 .backup")
        return path

    @staticmethod
    def _copy_sqlite(target: Path) -> None:
        """SQLite's online backup: a consistent copy while the server keeps writing."""
        connection.ensure_connection()
        destination = sqlite3.connect(target)
        try:
            connection.connection.backup(destination)
        finally:
            destination.close()
