"""Build one installer: check, fetch the targets over TUF, write the package, sign, publish atomically.

The package is assembled in a private temporary directory beside its destination and moved into
place only when complete, so a failed build leaves no partial file behind.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path

from django.conf import settings

from packaging import signing, targets
from packaging.builders import builder_for
from packaging.exceptions import PackagingError, RepositoryError
from packaging.options import PackageOptions
from packaging.payload import target_set
from packaging.repository import Repository

Progress = Callable[[str], None]


def update_source(options: PackageOptions) -> targets.UpdateSource:
    """--update-roots when given, else this server's own root (it only verifies metadata we signed)."""
    if options.update_roots:
        root = options.update_roots.encode()
    elif settings.PACKAGER_UPDATE_ROOTS:
        root = settings.PACKAGER_UPDATE_ROOTS.encode()
    else:
        try:
            root = Repository.from_settings().root_bytes()
        except RepositoryError as exc:
            raise PackagingError(
                "no --update-roots given and this server has no TUF repository (run `manage.py updates init`)",
                "update_roots",
            ) from exc
    return targets.UpdateSource(
        options.update_url,
        root,
        ca_pem=options.update_tls_certificate,
        client_cert=options.update_tls_client_certificate,
        client_key=options.update_tls_client_key,
    )


def build_package(
    options: PackageOptions, directory: Path, filename: str = "", progress: Progress | None = None
) -> Path:
    """Build into `directory` (as `filename`, or the format's conventional name); returns the path, 0600."""
    report = progress or (lambda stage: None)
    options.validate()
    signing.check(options)
    report("fetching targets")
    fetched = targets.fetch(update_source(options), target_set(options).names())
    report("building")
    directory.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".build-", dir=directory) as tmp:
        work = Path(tmp)
        artifact = builder_for(options.type)(options, fetched, work)
        if options.type == "msi" and options.windows_sign_certificate:
            report("signing")
            artifact = signing.sign_msi(artifact, options, work)
        final = directory / (filename or artifact.name.removeprefix("signed-"))
        os.chmod(artifact, 0o600)
        os.replace(artifact, final)
    return final
