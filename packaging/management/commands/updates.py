"""`manage.py updates init|add|roots|timestamp|status|mirror`: Fleetsite's TUF repository, as `fleetctl updates`.

Non-interactive: keys are encrypted with FLEETSITE_TUF_KEY_PASSPHRASE when it is set, never
with a prompt.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from packaging.exceptions import PackagingError
from packaging.repository import Repository
from packaging.targets import UpdateSource, fetch, list_targets


class Command(BaseCommand):
    help = "Manage the TUF update repository that /tuf/ serves to orbit and that packages are built from."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        sub.add_parser("init", help="create a repository with new keys (refuses to overwrite one)")
        add = sub.add_parser("add", help="publish a file as <name>/<platform>/<tag>/<file> for its version and tags")
        add.add_argument("--target", required=True, help="path of the file to publish")
        add.add_argument("--platform", required=True, help="e.g. linux, linux-arm64, macos, macos-app, windows")
        add.add_argument("--name", required=True, help="e.g. orbit, osqueryd, desktop")
        add.add_argument("--version", required=True, help="stored as custom.version and used as a tag")
        add.add_argument("-t", "--tag", action="append", default=[], help="extra tags (channels), repeatable")
        sub.add_parser("roots", help="print the current root metadata (the value of --update-roots)")
        sub.add_parser("timestamp", help="re-sign the timestamp role with a fresh expiry")
        sub.add_parser("status", help="show role versions and expiry, and the targets")
        mirror = sub.add_parser("mirror", help="copy the targets of another TUF repository into this one")
        mirror.add_argument("url", help="the other repository's base URL (metadata at <url>/root.json)")
        mirror.add_argument("--roots", required=True, help="file with the root metadata to trust for it")
        mirror.add_argument("--prefix", action="append", default=[], help="only targets starting with this")

    def handle(self, *args: Any, **options: Any) -> None:
        repo = Repository.from_settings()
        try:
            getattr(self, f"do_{options['action']}")(repo, options)
        except PackagingError as exc:
            raise CommandError(exc.message) from exc

    def do_init(self, repo: Repository, options: dict[str, Any]) -> None:
        repo.init()
        encrypted = "encrypted" if repo.keys.passphrase else "unencrypted (set FLEETSITE_TUF_KEY_PASSPHRASE to encrypt)"
        self.stdout.write(f"initialised TUF repository in {repo.directory}; keys are {encrypted}")

    def do_add(self, repo: Repository, options: dict[str, Any]) -> None:
        names = repo.add_target(
            Path(options["target"]), options["platform"], options["name"], options["version"], options["tag"]
        )
        for name in names:
            self.stdout.write(f"published {name}")

    def do_roots(self, repo: Repository, options: dict[str, Any]) -> None:
        self.stdout.write(repo.root_bytes().decode())

    def do_timestamp(self, repo: Repository, options: dict[str, Any]) -> None:
        self.stdout.write(f"timestamp re-signed: version {repo.timestamp()}")

    def do_status(self, repo: Repository, options: dict[str, Any]) -> None:
        for role in repo.status():
            self.stdout.write(f"{role.role:<10} version {role.version:<6} expires {role.expires.isoformat()}")
        for name, info in sorted(repo.targets().items()):
            version = (info.custom or {}).get("version", "")
            self.stdout.write(f"  {name}  {info.length} bytes  version {version}")

    def do_mirror(self, repo: Repository, options: dict[str, Any]) -> None:
        """Verify the other repository with its root, then publish its targets under our own keys."""
        repo.require()
        try:
            root = Path(options["roots"]).read_bytes()
        except OSError as exc:
            raise CommandError(f"cannot read --roots: {exc}") from exc
        source = UpdateSource(options["url"].rstrip("/"), root)
        wanted = {
            name: custom
            for name, custom in list_targets(source).items()
            if not options["prefix"] or name.startswith(tuple(options["prefix"]))
        }
        if not wanted:
            raise CommandError("no targets to mirror")
        fetched = fetch(source, sorted(wanted))
        repo.add_target_info([(fetched.files[name], name, custom) for name, custom in sorted(wanted.items())])
        self.stdout.write(f"mirrored {len(wanted)} targets from {source.url}")
