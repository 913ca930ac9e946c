"""Signing installers: Authenticode for msi with osslsigncode; macOS signing is refused clearly.

A request to sign or notarize that cannot be honoured is an error before anything is built,
never a silently unsigned package.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from packaging import constants as C
from packaging.exceptions import PackagingError
from packaging.options import PackageOptions


def check(options: PackageOptions) -> None:
    """Refuse signing requests this host cannot fulfil, before fetching or building anything."""
    if options.sign_identity:
        raise PackagingError(
            "--sign-identity needs Apple's productsign, which only runs on macOS; build the pkg unsigned "
            "here and sign it on a Mac (productsign or rcodesign)",
            "sign_identity",
        )
    if options.notarize:
        raise PackagingError(
            "--notarize needs a signed pkg and Apple's notarytool (macOS) or rcodesign with App Store Connect "
            "keys; neither is available on this server",
            "notarize",
        )
    if options.windows_sign_certificate and shutil.which("osslsigncode") is None:
        raise PackagingError("signing msi packages needs osslsigncode (Debian package osslsigncode)")


def sign_msi(msi: Path, options: PackageOptions, work: Path) -> Path:
    """An Authenticode-signed copy of `msi` (a DigitalSignature stream), SHA-256, no timestamp server."""
    signed = work / f"signed-{msi.name}"
    command = [
        "osslsigncode", "sign", "-certs", options.windows_sign_certificate, "-key", options.windows_sign_key,
        "-n", C.MSI_PRODUCT_NAME, "-i", C.HOMEPAGE, "-h", "sha256", "-in", str(msi), "-out", str(signed),
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, check=False, timeout=600)
    if result.returncode != 0 or not signed.is_file():
        raise PackagingError(f"osslsigncode could not sign the msi: {(result.stderr or result.stdout).strip()[-1000:]}")
    return signed
