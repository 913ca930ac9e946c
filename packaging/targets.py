"""Fetch agent binaries through a python-tuf ngclient Updater into a local cache.

One cache directory per (update URL, trusted root) holds the client metadata and the verified
target files; a file lock keeps concurrent builds from refreshing it at the same time. Every
file used in a package comes out of `find_cached_target`/`download_target`, so its length and
hashes match the signed targets metadata.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import ssl
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import urllib3
from django.conf import settings
from tuf.api import exceptions as tuf_errors
from tuf.ngclient import Updater, UpdaterConfig
from tuf.ngclient.fetcher import FetcherInterface

from packaging.exceptions import PackagingError
from packaging.keystore import ROLES

USER_AGENT = "fleetsite-packager"


class TLSFetcher(FetcherInterface):
    """ngclient's fetcher with a custom CA bundle and an optional client certificate (mTLS)."""

    def __init__(self, timeout: int, ca_pem: str = "", client_cert: str = "", client_key: str = "") -> None:
        context = ssl.create_default_context(cadata=ca_pem or None)
        if client_cert:
            # ssl only loads a key pair from files: write them 0600 and remove them at once.
            with tempfile.TemporaryDirectory(prefix="fleetsite-mtls-") as tmp:
                cert_path, key_path = Path(tmp, "client.crt"), Path(tmp, "client.key")
                for path, data in ((cert_path, client_cert), (key_path, client_key)):
                    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                    with os.fdopen(fd, "w") as handle:
                        handle.write(data)
                context.load_cert_chain(cert_path, key_path)
        self.timeout = timeout
        self.pool = urllib3.PoolManager(ssl_context=context, headers={"User-Agent": USER_AGENT}, retries=False)

    def _fetch(self, url: str) -> Iterator[bytes]:
        try:
            response = self.pool.request("GET", url, preload_content=False, timeout=urllib3.Timeout(self.timeout))
        except urllib3.exceptions.NewConnectionError as exc:  # a ConnectTimeoutError subclass in urllib3 2
            raise tuf_errors.DownloadError(f"cannot connect to {url}: {exc.__cause__ or exc}") from exc
        except urllib3.exceptions.TimeoutError as exc:
            raise tuf_errors.SlowRetrievalError(f"timed out fetching {url}") from exc
        except urllib3.exceptions.HTTPError as exc:
            raise tuf_errors.DownloadError(f"cannot connect to {url}: {exc}") from exc
        if response.status >= 400:
            # Close rather than release: an unread error body would be taken for the next
            # response on a reused keep-alive connection.
            response.close()
            raise tuf_errors.DownloadHTTPError(f"HTTP {response.status} for {url}", response.status)
        return self._chunks(response)

    @staticmethod
    def _chunks(response: Any) -> Iterator[bytes]:
        complete = False
        try:
            yield from response.stream(256 * 1024)
            complete = True
        except urllib3.exceptions.TimeoutError as exc:
            raise tuf_errors.SlowRetrievalError("the update server stopped sending") from exc
        except urllib3.exceptions.HTTPError as exc:
            raise tuf_errors.DownloadError(f"download interrupted: {exc}") from exc
        finally:
            # Only a fully read response may go back to the pool (ngclient stops early past max length).
            if complete:
                response.release_conn()
            else:
                response.close()


@dataclass
class FetchedTargets:
    """Verified target files by name, their `custom` fields, and the metadata to ship."""

    files: dict[str, Path] = field(default_factory=dict)
    custom: dict[str, dict[str, Any]] = field(default_factory=dict)
    metadata: bytes = b""

    def version_of(self, name: str) -> str:
        return str((self.custom.get(name) or {}).get("version") or "")


@dataclass
class UpdateSource:
    """Where targets come from and how to trust and reach it."""

    url: str
    root: bytes
    ca_pem: str = ""
    client_cert: str = ""
    client_key: str = ""

    def cache_dir(self) -> Path:
        key = hashlib.sha256(self.url.encode() + b"\n" + hashlib.sha256(self.root).digest()).hexdigest()[:24]
        return Path(settings.PACKAGER_TARGET_CACHE) / key


@contextmanager
def _locked(directory: Path) -> Iterator[None]:
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / ".lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _explain(exc: Exception, url: str) -> PackagingError:
    """ngclient's exceptions as one sentence a person can act on."""
    if isinstance(exc, tuf_errors.ExpiredMetadataError):
        return PackagingError(f"the update repository at {url} has expired metadata ({exc}); re-sign it", "update_url")
    if isinstance(exc, tuf_errors.UnsignedMetadataError | tuf_errors.BadVersionNumberError):
        return PackagingError(
            f"the update repository at {url} is not signed by the trusted root (tampered, or the wrong "
            f"--update-roots): {exc}",
            "update_roots",
        )
    if isinstance(exc, tuf_errors.LengthOrHashMismatchError):
        return PackagingError(f"a target from {url} does not match its signed length and hashes (tampered): {exc}")
    if isinstance(exc, tuf_errors.DownloadHTTPError) and exc.status_code == 404:
        return PackagingError(f"no TUF repository at {url} (HTTP 404 for its metadata)", "update_url")
    if isinstance(exc, tuf_errors.DownloadError | OSError | urllib3.exceptions.HTTPError):
        return PackagingError(f"cannot reach the update server {url}: {exc}", "update_url")
    return PackagingError(f"the update repository at {url} was rejected: {exc}", "update_url")


def fetch(source: UpdateSource, names: list[str]) -> FetchedTargets:
    """Refresh the metadata and return every target in `names` from the (verified) cache."""
    cache = source.cache_dir()
    metadata_dir, target_dir = cache / "metadata", cache / "targets"
    result = FetchedTargets()
    with _locked(cache):
        metadata_dir.mkdir(exist_ok=True)
        target_dir.mkdir(exist_ok=True)
        try:
            updater = Updater(
                metadata_dir=str(metadata_dir),
                metadata_base_url=f"{source.url}/",
                target_dir=str(target_dir),
                target_base_url=f"{source.url}/targets/",
                fetcher=TLSFetcher(
                    settings.PACKAGER_FETCH_TIMEOUT, source.ca_pem, source.client_cert, source.client_key
                ),
                config=UpdaterConfig(targets_max_length=64 * 1024 * 1024),
                bootstrap=source.root,
            )
            updater.refresh()
            for name in names:
                info = updater.get_targetinfo(name)
                if info is None:
                    raise PackagingError(f"target {name} is not in the update repository at {source.url}")
                path = target_dir / name
                path.parent.mkdir(parents=True, exist_ok=True)
                found = updater.find_cached_target(info, str(path)) or updater.download_target(info, str(path))
                result.files[name] = Path(found)
                result.custom[name] = dict(info.custom or {})
        except PackagingError:
            raise
        except (tuf_errors.RepositoryError, tuf_errors.DownloadError, OSError, urllib3.exceptions.HTTPError) as exc:
            raise _explain(exc, source.url) from exc
        except ValueError as exc:  # a bootstrap root that is not valid metadata
            raise PackagingError(f"the trusted root for {source.url} is not valid: {exc}", "update_roots") from exc
        # Fleet's shipped metadata: the four trusted documents in one object (packaging.md §1.2).
        bundle = {f"{role}.json": json.loads((metadata_dir / f"{role}.json").read_bytes()) for role in ROLES}
    result.metadata = json.dumps(bundle, indent=2, sort_keys=True).encode()
    return result


def list_targets(source: UpdateSource) -> dict[str, dict[str, Any]]:
    """Every target of a repository (top-level targets role) with its `custom` field, verified."""
    cache = source.cache_dir()
    with _locked(cache):
        (cache / "metadata").mkdir(exist_ok=True)
        try:
            updater = Updater(
                metadata_dir=str(cache / "metadata"),
                metadata_base_url=f"{source.url}/",
                fetcher=TLSFetcher(settings.PACKAGER_FETCH_TIMEOUT, source.ca_pem),
                config=UpdaterConfig(targets_max_length=64 * 1024 * 1024),
                bootstrap=source.root,
            )
            updater.refresh()
        except (tuf_errors.RepositoryError, tuf_errors.DownloadError, OSError, urllib3.exceptions.HTTPError) as exc:
            raise _explain(exc, source.url) from exc
        except ValueError as exc:
            raise PackagingError(f"the trusted root for {source.url} is not valid: {exc}", "update_roots") from exc
        document = json.loads((cache / "metadata" / "targets.json").read_bytes())
    return {name: dict(info.get("custom") or {}) for name, info in document["signed"]["targets"].items()}
