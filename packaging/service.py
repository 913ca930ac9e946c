"""The packager service (seed 003): dedupe, dispatch, run, report and expire installer builds.

The REST API, the UI and `manage.py` all go through `request_build`, so they share one dedupe
and one code path to Celery. Files live in PACKAGER_DIR/<package_id>/ with mode 0600 and are
overwritten before they are removed when they expire.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import close_old_connections, transaction
from django.utils import timezone

from packaging.build import build_package
from packaging.choices import BuildStatus, Stage
from packaging.exceptions import PackagingError
from packaging.models import PackageBuild
from packaging.options import PackageOptions
from packaging.repository import Repository

logger = logging.getLogger(__name__)
# Expired rows are kept this long so `status` can still answer "expired".
KEEP_EXPIRED = timedelta(days=1)

_executor: ThreadPoolExecutor | None = None
_executor_lock = threading.Lock()


def package_dir(build: PackageBuild) -> Path:
    return Path(settings.PACKAGER_DIR) / str(build.package_id)


def prepare(options: PackageOptions) -> PackageOptions:
    """Fill what the server configures (Authenticode signing) and validate, as every caller must."""
    if options.type == "msi" and settings.PACKAGER_MSI_SIGN_CERT and not options.windows_sign_certificate:
        options.windows_sign_certificate = settings.PACKAGER_MSI_SIGN_CERT
        options.windows_sign_key = settings.PACKAGER_MSI_SIGN_KEY
    options.validate(require_enrollment=True)
    if not (options.update_roots or settings.PACKAGER_UPDATE_ROOTS or Repository.from_settings().exists()):
        raise PackagingError("this server has no TUF repository yet: run `manage.py updates init`", "update_roots")
    return options


def request_build(
    options: PackageOptions, retry: bool = False, user: Any = None, client_ip: str = ""
) -> tuple[PackageBuild, bool]:
    """The build for these options: an existing valid one, or a new one queued after commit.

    Identical options share a build while it is in progress or done and unexpired; a failed one
    is returned again unless `retry`, which starts a new build with a new id (seed 003).
    """
    prepare(options)
    digest = options.digest()
    now = timezone.now()
    with transaction.atomic():
        existing = (
            PackageBuild.objects.select_for_update()
            .filter(options_digest=digest, expires_at__gt=now)
            .exclude(status=BuildStatus.EXPIRED)
            .order_by("-created_at", "-id")
            .first()
        )
        if existing is not None and not (retry and existing.status == BuildStatus.FAIL):
            return existing, False
        build = PackageBuild.objects.create(
            options_digest=digest,
            package_type=options.type,
            options=options.to_dict(),
            requested_by=user if getattr(user, "is_authenticated", False) else None,
            client_ip=client_ip,
            expires_at=now + timedelta(seconds=settings.PACKAGER_EXPIRY_SECONDS),
        )
        transaction.on_commit(lambda: dispatch(build.pk))
    return build, True


def dispatch(build_pk: int) -> None:
    """Queue the Celery task; without a broker, run it on a small in-process pool (or inline)."""
    from fleetsite.celery import app
    from packaging.tasks import build_package_task

    if app.conf.task_always_eager and settings.PACKAGER_THREADS > 0:
        global _executor
        with _executor_lock:
            if _executor is None:
                _executor = ThreadPoolExecutor(settings.PACKAGER_THREADS, thread_name_prefix="packager")
        _executor.submit(_run_in_thread, build_pk)
    else:
        build_package_task.delay(build_pk)


def _run_in_thread(build_pk: int) -> None:
    try:
        run_build(build_pk)
    except Exception:  # the thread has no caller to report to
        logger.exception("package build %s crashed", build_pk)
    finally:
        close_old_connections()


def _finish(build: PackageBuild, **fields: Any) -> bool:
    """Record the outcome unless the build expired meanwhile; clear the stored options either way."""
    fields.update(options={}, finished_at=timezone.now(), updated_at=timezone.now())
    return bool(PackageBuild.objects.filter(pk=build.pk, status=BuildStatus.IN_PROGRESS).update(**fields))


def run_build(build_pk: int) -> str:
    """Build one queued package; returns its final status. Bad input and tool failures become `fail`."""
    build = PackageBuild.objects.filter(pk=build_pk).first()
    if build is None or build.status != BuildStatus.IN_PROGRESS or not build.options:
        return build.status if build else "missing"
    options = PackageOptions.from_dict(build.options)
    log: list[str] = [f"{options.type} package for {options.fleet_url}, updates from {options.update_url}"]

    def progress(stage: str) -> None:
        log.append(f"stage: {stage}")
        PackageBuild.objects.filter(pk=build.pk).update(stage=stage, updated_at=timezone.now())

    directory = package_dir(build)
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)  # only the server reads installers
    try:
        path = build_package(options, directory, progress=progress)
    except PackagingError as exc:
        log.append(f"error: {exc}")
        _finish(build, status=BuildStatus.FAIL, logs="\n".join(log))
        secure_delete(directory)
        return BuildStatus.FAIL
    except Exception:
        logger.exception("package build %s failed unexpectedly", build.package_id)
        log.append("error: internal error while building (details are in the server log)")
        _finish(build, status=BuildStatus.FAIL, logs="\n".join(log))
        secure_delete(directory)
        return BuildStatus.FAIL
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    log.append(f"built {path.name} ({path.stat().st_size} bytes)")
    recorded = _finish(
        build,
        status=BuildStatus.SUCCESS,
        stage=Stage.DONE,
        filename=path.name,
        size=path.stat().st_size,
        sha256=digest.hexdigest(),
        logs="\n".join(log),
    )
    if not recorded:  # expired while building: nobody may download it now
        secure_delete(directory)
        return BuildStatus.EXPIRED
    return BuildStatus.SUCCESS


@dataclass
class BuildState:
    """What `status` reports: the seed's fields, plus the file for the download view."""

    status: str
    stage: str = ""
    logs: str = ""
    path: Path | None = None

    def as_json(self, download_url: str) -> dict[str, str]:
        body = {"status": self.status}
        if self.status == BuildStatus.IN_PROGRESS:
            body["stage"] = self.stage
        elif self.status == BuildStatus.SUCCESS:
            body["download_url"] = download_url
        elif self.status == BuildStatus.FAIL:
            body["logs"] = self.logs
        return body


def state_of(build: PackageBuild) -> BuildState:
    if build.status != BuildStatus.EXPIRED and build.expires_at <= timezone.now():
        return BuildState(BuildStatus.EXPIRED)
    if build.status == BuildStatus.SUCCESS:
        path = package_dir(build) / build.filename
        if not path.is_file():  # deleted under us: as good as expired
            return BuildState(BuildStatus.EXPIRED)
        return BuildState(BuildStatus.SUCCESS, path=path)
    return BuildState(build.status, stage=build.stage, logs=build.logs)


# --- expiry and secure deletion ----------------------------------------------------------------
def secure_delete(path: Path) -> None:
    """Overwrite every file under `path` with zeros, flush, then remove it (seed 003: secrets inside)."""
    if not path.exists():
        return
    files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file() and not p.is_symlink()]
    for file in files:
        try:
            size = file.stat().st_size
            with file.open("r+b") as handle:
                block = bytes(1 << 20)
                remaining = size
                while remaining > 0:
                    handle.write(block[: min(remaining, len(block))])
                    remaining -= len(block)
                handle.flush()
                os.fsync(handle.fileno())
        except OSError:
            logger.warning("could not overwrite %s before removing it", file)
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def expire_packages() -> int:
    """Expire builds past their time, securely delete their files and stray directories; returns the count."""
    now = timezone.now()
    expired = 0
    for build in PackageBuild.objects.filter(expires_at__lte=now).exclude(status=BuildStatus.EXPIRED):
        secure_delete(package_dir(build))
        expired += PackageBuild.objects.filter(pk=build.pk).update(
            status=BuildStatus.EXPIRED, options={}, updated_at=now
        )
    PackageBuild.objects.filter(status=BuildStatus.EXPIRED, expires_at__lte=now - KEEP_EXPIRED).delete()
    root = Path(settings.PACKAGER_DIR)
    if root.is_dir():
        live = {str(value) for value in PackageBuild.objects.exclude(status=BuildStatus.EXPIRED).values_list(
            "package_id", flat=True
        )}  # fmt: skip
        cutoff = now.timestamp() - settings.PACKAGER_EXPIRY_SECONDS
        for child in root.iterdir():
            if child.name not in live and child.stat().st_mtime < cutoff:
                secure_delete(child)
    return expired
