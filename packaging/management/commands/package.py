"""`manage.py package --type deb|rpm|pkg|msi …`: build a fleetd installer with `fleetctl package` flags.

Boolean flags read as fleetctl's do: `--insecure` or `--insecure=true`, and `--service=false`.
Certificate and flag-file options take file paths; `--update-roots` takes the root JSON (or a
file holding it).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from packaging import constants as C
from packaging.build import build_package
from packaging.exceptions import PackagingError
from packaging.options import PackageOptions

STRING_FLAGS = (
    "fleet-url", "enroll-secret", "identifier", "version", "sign-identity", "orbit-channel", "osqueryd-channel",
    "desktop-channel", "update-url", "update-interval", "fleet-desktop-alternative-browser-host", "host-identifier",
    "end-user-email", "osquery-db", "outfile", "windows-sign-certificate", "windows-sign-key",
)  # fmt: skip
FILE_FLAGS = (
    "fleet-certificate", "fleet-tls-client-certificate", "fleet-tls-client-key", "update-tls-certificate",
    "update-tls-client-certificate", "update-tls-client-key", "osquery-flagfile",
)  # fmt: skip
BOOL_FLAGS = {
    "insecure": False, "service": True, "notarize": False, "disable-updates": False, "enable-scripts": False,
    "debug": False, "fleet-desktop": False, "disable-keystore": False, "use-system-configuration": False,
}  # fmt: skip


def go_bool(value: str) -> bool:
    """Go's flag booleans: 1/t/true/yes and 0/f/false/no."""
    lowered = value.strip().lower()
    if lowered in ("1", "t", "true", "yes"):
        return True
    if lowered in ("0", "f", "false", "no"):
        return False
    raise ValueError(value)


class Command(BaseCommand):
    help = "Build a fleetd installer (deb, rpm, pkg or msi) that enrolls hosts on first boot."

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> CommandParser:
        # fleetctl's --version is the package version; it replaces Django's --version here.
        return super().create_parser(prog_name, subcommand, conflict_handler="resolve", **kwargs)

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--type", required=True, choices=C.PACKAGE_TYPES)
        parser.add_argument("--arch", default="amd64", help="amd64 or arm64 (deb, rpm, msi)")
        for flag in STRING_FLAGS:
            parser.add_argument(f"--{flag}", default=None)
        for flag in FILE_FLAGS:
            parser.add_argument(f"--{flag}", default=None, metavar="PATH")
        parser.add_argument("--update-roots", default=None, help="root metadata JSON, or a file holding it")
        enable_scripts = os.environ.get("FLEETCTL_ENABLE_SCRIPTS", "")
        for flag, default in BOOL_FLAGS.items():
            if flag == "enable-scripts" and enable_scripts:
                default = go_bool(enable_scripts)
            parser.add_argument(f"--{flag}", nargs="?", const=True, default=default, type=go_bool, metavar="BOOL")
        for flag in ("verbose", "disable-open-folder", "native-tooling"):
            parser.add_argument(f"--{flag}", nargs="?", const=True, default=False, type=go_bool, metavar="BOOL")

    def handle(self, *args: Any, **opts: Any) -> None:
        values: dict[str, Any] = {"type": opts["type"], "arch": opts["arch"]}
        for flag in (*STRING_FLAGS, *BOOL_FLAGS):
            value = opts[flag.replace("-", "_")]
            if value is not None:
                values[flag.replace("-", "_")] = value
        for flag in FILE_FLAGS:
            path = opts[flag.replace("-", "_")]
            if path:
                values[flag.replace("-", "_")] = self._read(path, flag)
        roots = opts["update_roots"]
        if roots:
            values["update_roots"] = roots if roots.lstrip().startswith("{") else self._read(roots, "update-roots")
        options = PackageOptions(**values)
        outfile = Path(options.outfile) if options.outfile else None
        verbose = opts["verbose"]

        def progress(stage: str) -> None:
            if verbose:
                self.stderr.write(f"{stage}…")

        try:
            path = build_package(
                options,
                outfile.parent if outfile else Path.cwd(),
                outfile.name if outfile else "",
                progress=progress,
            )
        except PackagingError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(f"Generated {path}")

    @staticmethod
    def _read(path: str, flag: str) -> str:
        try:
            return Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise CommandError(f"cannot read --{flag} file {path}: {exc}") from exc
