"""The TUF signing keys on disk: one ed25519 key per role, PEM PKCS#8, mode 0600.

With FLEETSITE_TUF_KEY_PASSPHRASE the keys are encrypted at rest; commands never prompt, so a
missing or wrong passphrase is an error that names the setting.
"""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from securesystemslib.signer import CryptoSigner

from packaging.exceptions import RepositoryError

ROLES = ("root", "targets", "snapshot", "timestamp")


def write_private(path: Path, data: bytes) -> None:
    """Create `path` with mode 0600 from the start (never world-readable, even briefly)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(path.parent, 0o700)
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)


class KeyStore:
    """Loads and creates the per-role signers in `<TUF dir>/keys/`."""

    def __init__(self, directory: Path, passphrase: str = "") -> None:
        self.directory = directory
        self.passphrase = passphrase

    def path(self, role: str) -> Path:
        return self.directory / f"{role}.pem"

    def generate(self, role: str) -> CryptoSigner:
        """A new key for `role`, saved (encrypted when a passphrase is set) before it is used."""
        private = Ed25519PrivateKey.generate()
        encryption = (
            serialization.BestAvailableEncryption(self.passphrase.encode())
            if self.passphrase
            else serialization.NoEncryption()
        )
        pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)
        write_private(self.path(role), pem)
        return CryptoSigner(private)

    def signer(self, role: str) -> CryptoSigner:
        path = self.path(role)
        try:
            data = path.read_bytes()
        except FileNotFoundError as exc:
            raise RepositoryError(f"no {role} key in {self.directory}: run `manage.py updates init`") from exc
        try:
            private = serialization.load_pem_private_key(data, password=self.passphrase.encode() or None)
        except TypeError as exc:
            raise RepositoryError(
                f"the {role} key is encrypted: set FLEETSITE_TUF_KEY_PASSPHRASE"
                if not self.passphrase
                else f"the {role} key is not encrypted but a passphrase is set"
            ) from exc
        except ValueError as exc:
            raise RepositoryError(f"cannot decrypt the {role} key: wrong FLEETSITE_TUF_KEY_PASSPHRASE?") from exc
        if not isinstance(private, Ed25519PrivateKey):
            raise RepositoryError(f"the {role} key is not an ed25519 key")
        return CryptoSigner(private)
