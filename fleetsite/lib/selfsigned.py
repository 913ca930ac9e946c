"""A self-signed TLS certificate for `serve --tls`: osquery only talks https.

The certificate names every address agents may use (subjectAltName): localhost, this machine's
name, loopback, the server URL's host and FLEETSITE_TLS_NAMES (DNS names or IP addresses). When
the names asked for change, a new certificate is made, so agents built with a new name verify;
the old one must then be handed out again (the "Add hosts" page offers it).
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import socket
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

SUBJECT = "Fleetsite self-signed"
WILDCARD_BINDS = {"", "0.0.0.0", "::", "[::]"}


def _general_name(name: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(name.strip("[]")))
    except ValueError:
        return x509.DNSName(name.lower())


def certificate_names(extra_names: list[str] | None = None) -> list[x509.GeneralName]:
    """Every subjectAltName the generated certificate carries, without repeats, in a stable order."""
    names = ["localhost", socket.gethostname(), "127.0.0.1", "::1", *(extra_names or [])]
    unique: dict[str, x509.GeneralName] = {}
    for name in names:
        if name and name not in WILDCARD_BINDS:
            general = _general_name(name)
            unique.setdefault(repr(general), general)
    return list(unique.values())


def _covers(cert_path: Path, wanted: list[x509.GeneralName]) -> bool:
    try:
        certificate = x509.load_pem_x509_certificate(cert_path.read_bytes())
        present = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (ValueError, x509.ExtensionNotFound):
        return False
    have = {repr(name) for name in present}
    expires = certificate.not_valid_after_utc
    soon = datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=30)
    return all(repr(name) in have for name in wanted) and expires > soon


def ensure_certificate(directory: Path, extra_names: list[str] | None = None) -> tuple[Path, Path]:
    """Return (cert, key) under `directory`: kept while it covers every name, else made anew; key 0600."""
    directory.mkdir(parents=True, exist_ok=True)
    cert_path, key_path = directory / "server.crt", directory / "server.key"
    alt_names = certificate_names(extra_names)
    if cert_path.exists() and key_path.exists() and _covers(cert_path, alt_names):
        return cert_path, key_path
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, SUBJECT)])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=825))
        .add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    return cert_path, key_path
