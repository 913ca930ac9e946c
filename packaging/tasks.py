"""Celery tasks: one installer build per task, package expiry, TUF re-signing (STYLE 5)."""

from __future__ import annotations

import logging

from celery import shared_task

from packaging import service
from packaging.exceptions import RepositoryError
from packaging.repository import Repository

logger = logging.getLogger(__name__)


@shared_task(name="packager-build", ignore_result=True)
def build_package_task(build_pk: int) -> str:
    """Build a queued package; queued with transaction.on_commit by `service.request_build`."""
    return service.run_build(build_pk)


@shared_task(name="expire-packages")
def expire_packages() -> int:
    """Securely delete installers past PACKAGER_EXPIRY_SECONDS: they carry enroll secrets."""
    return service.expire_packages()


@shared_task(name="tuf-resign")
def tuf_resign() -> list[str]:
    """Renew the TUF timestamp (and any role near expiry) so orbit never sees expired metadata."""
    repo = Repository.from_settings()
    if not repo.exists():
        return []
    try:
        return repo.resign_expiring()
    except RepositoryError:
        logger.exception("cannot re-sign the TUF repository")
        raise
