"""Fleetsite's own TUF repository, in the go-tuf layout Fleet's orbit expects (packaging.md §9).

Metadata sits at the top of `<TUF dir>/repository/` (`root.json`, `<N>.root.json`,
`targets.json`, `snapshot.json`, `timestamp.json`) and target files under `targets/` with no
hash prefix (consistent_snapshot is false). Keys live apart in `<TUF dir>/keys/`, so the
directory that is served never holds a key.
"""

from __future__ import annotations

import fcntl
import os
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from tuf.api.metadata import (
    Metadata,
    MetaFile,
    Root,
    Signed,
    Snapshot,
    TargetFile,
    Targets,
    Timestamp,
)
from tuf.api.serialization.json import JSONSerializer

from packaging.exceptions import RepositoryError
from packaging.keystore import ROLES, KeyStore

# A target name part: no separators, no leading dot (no traversal, no hidden files).
NAME_PART = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,127}$")
HASHES = ["sha256", "sha512"]

# How long each role's signature is valid, and how close to expiry the scheduled job re-signs it.
LIFETIME = {"root": 365, "targets": 365, "snapshot": 90}
RENEW_WITHIN = {"root": 30, "targets": 14, "snapshot": 14}


def _timestamp_lifetime() -> timedelta:
    return timedelta(days=settings.FLEETSITE_TUF_TIMESTAMP_DAYS)


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def target_name(name: str, platform: str, tag: str, filename: str) -> str:
    """Fleet's target naming: `<name>/<platform>/<tag>/<file>` (packaging.md §1.3)."""
    for label, part in (("name", name), ("platform", platform), ("tag", tag), ("file name", filename)):
        if not NAME_PART.match(part):
            raise RepositoryError(f"invalid target {label} {part!r}: letters, digits, '.', '_', '+', '-' only")
    return f"{name}/{platform}/{tag}/{filename}"


@dataclass
class RoleStatus:
    role: str
    version: int
    expires: datetime


class Repository:
    """Creates, signs and extends the repository; every change holds an exclusive file lock."""

    def __init__(self, directory: Path, passphrase: str = "") -> None:
        self.directory = Path(directory)
        self.metadata_dir = self.directory / "repository"
        self.targets_dir = self.metadata_dir / "targets"
        self.keys = KeyStore(self.directory / "keys", passphrase)
        self.serializer = JSONSerializer(compact=False)

    @classmethod
    def from_settings(cls) -> Repository:
        return cls(settings.FLEETSITE_TUF_DIR, settings.FLEETSITE_TUF_KEY_PASSPHRASE)

    # --- reading -------------------------------------------------------------------------
    def exists(self) -> bool:
        return (self.metadata_dir / "root.json").is_file()

    def require(self) -> None:
        if not self.exists():
            raise RepositoryError(f"no TUF repository in {self.directory}: run `manage.py updates init`")

    def load(self, role: str) -> Metadata[Any]:
        self.require()
        try:
            return Metadata.from_file(str(self.metadata_dir / f"{role}.json"))
        except (OSError, ValueError) as exc:
            raise RepositoryError(f"cannot read {role}.json: {exc}") from exc

    def root_bytes(self) -> bytes:
        """The current root metadata: what `updates roots` prints and `--update-roots` takes."""
        self.require()
        return (self.metadata_dir / "root.json").read_bytes()

    def status(self) -> list[RoleStatus]:
        return [RoleStatus(role, md.signed.version, md.signed.expires) for role in ROLES for md in [self.load(role)]]

    def targets(self) -> dict[str, TargetFile]:
        return self.load("targets").signed.targets

    def resolve(self, relative: str) -> Path | None:
        """The file under the served directory for a URL path, or None (no traversal, no dot files)."""
        parts = [part for part in relative.split("/") if part]
        if not parts or any(part in (".", "..") or part.startswith(".") or "\\" in part for part in parts):
            return None
        base = self.metadata_dir.resolve()
        candidate = (base / Path(*parts)).resolve()
        if not candidate.is_relative_to(base) or not candidate.is_file():
            return None
        return candidate

    # --- writing -------------------------------------------------------------------------
    @contextmanager
    def locked(self) -> Iterator[None]:
        """One writer at a time across processes (the server, beat and `manage.py updates`)."""
        self.directory.mkdir(parents=True, exist_ok=True)
        with open(self.directory / ".lock", "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _write(self, role: str, md: Metadata[Any]) -> None:
        md.signatures.clear()
        md.sign(self.keys.signer(role), append=True)
        data = md.to_bytes(self.serializer)
        names = [f"{role}.json"]
        if role == "root":
            names.insert(0, f"{md.signed.version}.root.json")
        self.metadata_dir.mkdir(parents=True, exist_ok=True)
        for name in names:
            tmp = self.metadata_dir / f".{name}.tmp"
            tmp.write_bytes(data)
            os.chmod(tmp, 0o644)
            os.replace(tmp, self.metadata_dir / name)

    def init(self, root_expires: datetime | None = None) -> None:
        """A fresh repository with new keys and no targets; refuses to overwrite an existing one."""
        with self.locked():
            if self.exists():
                raise RepositoryError(f"a TUF repository already exists in {self.directory}")
            now = _now()
            signers = {role: self.keys.generate(role) for role in ROLES}
            root = Root(expires=root_expires or now + timedelta(days=LIFETIME["root"]), consistent_snapshot=False)
            for role, signer in signers.items():
                root.add_key(signer.public_key, role)
            self.targets_dir.mkdir(parents=True, exist_ok=True)
            self._write("root", Metadata(root))
            self._write("targets", Metadata(Targets(expires=now + timedelta(days=LIFETIME["targets"]))))
            snapshot = Snapshot(expires=now + timedelta(days=LIFETIME["snapshot"]))
            self._write("snapshot", Metadata(snapshot))
            self._write("timestamp", Metadata(Timestamp(expires=now + _timestamp_lifetime())))

    def _publish(self, targets: Metadata[Targets]) -> None:
        """Sign `targets` as a new version, then a snapshot and a timestamp that point at it."""
        now = _now()
        targets.signed.version += 1
        targets.signed.expires = now + timedelta(days=LIFETIME["targets"])
        self._write("targets", targets)
        self._bump_snapshot(targets.signed.version)

    def _bump_snapshot(self, targets_version: int | None = None) -> None:
        snapshot: Metadata[Snapshot] = self.load("snapshot")
        if targets_version is not None:
            snapshot.signed.meta["targets.json"] = MetaFile(version=targets_version)
        snapshot.signed.version += 1
        snapshot.signed.expires = _now() + timedelta(days=LIFETIME["snapshot"])
        self._write("snapshot", snapshot)
        self._bump_timestamp(snapshot.signed.version)

    def _bump_timestamp(self, snapshot_version: int | None = None) -> None:
        timestamp: Metadata[Timestamp] = self.load("timestamp")
        if snapshot_version is not None:
            timestamp.signed.snapshot_meta = MetaFile(version=snapshot_version)
        timestamp.signed.version += 1
        timestamp.signed.expires = _now() + _timestamp_lifetime()
        self._write("timestamp", timestamp)

    def add_target(self, source: Path, platform: str, name: str, version: str, tags: list[str]) -> list[str]:
        """Publish `source` as `<name>/<platform>/<tag>/<file>` for its version and every tag."""
        if not source.is_file():
            raise RepositoryError(f"target file {source} does not exist")
        if not version:
            raise RepositoryError("a target needs a --version")
        names = [target_name(name, platform, tag, source.name) for tag in dict.fromkeys([version, *tags])]
        with self.locked():
            targets: Metadata[Targets] = self.load("targets")
            for target in names:
                destination = self.targets_dir / target
                destination.parent.mkdir(parents=True, exist_ok=True)
                tmp = destination.with_name(f".{destination.name}.tmp")
                shutil.copyfile(source, tmp)
                os.chmod(tmp, 0o644)
                os.replace(tmp, destination)
                info = TargetFile.from_file(target, str(destination), HASHES)
                info.unrecognized_fields["custom"] = {"version": version}
                targets.signed.targets[target] = info
            self._publish(targets)
        return names

    def add_target_info(self, files: list[tuple[Path, str, dict[str, Any]]]) -> None:
        """Publish already downloaded files under given target names with their custom fields (mirror)."""
        with self.locked():
            targets: Metadata[Targets] = self.load("targets")
            for source, target, custom in files:
                if not all(NAME_PART.match(part) for part in target.split("/")):
                    raise RepositoryError(f"refusing target name {target!r}")
                destination = self.targets_dir / target
                destination.parent.mkdir(parents=True, exist_ok=True)
                tmp = destination.with_name(f".{destination.name}.tmp")
                shutil.copyfile(source, tmp)
                os.chmod(tmp, 0o644)
                os.replace(tmp, destination)
                info = TargetFile.from_file(target, str(destination), HASHES)
                if custom:
                    info.unrecognized_fields["custom"] = custom
                targets.signed.targets[target] = info
            self._publish(targets)

    def timestamp(self) -> int:
        """Re-sign the timestamp with a fresh expiry; returns its new version."""
        with self.locked():
            self._bump_timestamp()
            return self.load("timestamp").signed.version

    def resign_expiring(self) -> list[str]:
        """Re-sign every role that is close to expiry (the timestamp when half its life is gone)."""
        renewed: list[str] = []
        with self.locked():
            now = _now()
            root: Metadata[Root] = self.load("root")
            if root.signed.expires - now < timedelta(days=RENEW_WITHIN["root"]):
                root.signed.version += 1
                root.signed.expires = now + timedelta(days=LIFETIME["root"])
                self._write("root", root)
                renewed.append("root")
            targets: Metadata[Targets] = self.load("targets")
            if targets.signed.expires - now < timedelta(days=RENEW_WITHIN["targets"]):
                self._publish(targets)
                return [*renewed, "targets", "snapshot", "timestamp"]
            if self.load("snapshot").signed.expires - now < timedelta(days=RENEW_WITHIN["snapshot"]):
                self._bump_snapshot()
                return [*renewed, "snapshot", "timestamp"]
            if self.load("timestamp").signed.expires - now < _timestamp_lifetime() / 2:
                self._bump_timestamp()
                renewed.append("timestamp")
        return renewed

    def set_expiry(self, role: str, expires: datetime) -> None:
        """Re-sign root or timestamp with an explicit expiry and a new version (tests, emergencies)."""
        if role not in ("root", "timestamp"):
            raise RepositoryError("only root and timestamp expiry can be set directly")
        with self.locked():
            md: Metadata[Signed] = self.load(role)
            md.signed.expires = expires
            md.signed.version += 1
            self._write(role, md)
