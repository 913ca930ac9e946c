"""Agents over https with certificate verification on (issue 14 item 2): against the certificate
`serve --tls` generates for the configured names, and against the operator's one from a CA."""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import json
import ssl
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from agentsim import run as run_agents
from fleetsite.liveserver import LiveServer

pytestmark = [pytest.mark.e2e, pytest.mark.own_sqlite]
LOOPBACK = "127.0.0.1"


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def make_ca_and_leaf(directory: Path) -> tuple[Path, Path, Path]:
    """A test CA and a server certificate it signed for 127.0.0.1 and fleet.test: (ca, cert, key)."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(_name("Fleetsite test CA"))
        .issuer_name(_name("Fleetsite test CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = (
        x509.CertificateBuilder()
        .subject_name(_name("fleet.test"))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("fleet.test"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    ca_path, cert_path, key_path = directory / "ca.pem", directory / "server.pem", directory / "server.key"
    ca_path.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    cert_path.write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return ca_path, cert_path, key_path


def _enroll_verified(live: LiveServer, ca_file: Path) -> None:
    secret = live.manage("enroll_secret", "add").strip()
    summary = asyncio.run(run_agents(live.url, secret, 2, duration=3, ca_file=str(ca_file), ramp=0.5))
    assert summary.ok, summary.format()
    assert summary.hosts_enrolled == 2


def test_agents_verify_the_generated_certificate_for_the_configured_names(tmp_path: Path) -> None:
    live = LiveServer(
        data_dir=tmp_path / "data",
        tls=True,
        extra_env={"FLEETSITE_SERVER_URL": "https://fleet.test:8443", "FLEETSITE_TLS_NAMES": "10.9.8.7"},
    )
    with live:
        cert = live.data_dir / "tls" / "server.crt"
        sans = x509.load_pem_x509_certificate(cert.read_bytes()).extensions.get_extension_for_class(
            x509.SubjectAlternativeName
        )
        assert "fleet.test" in sans.value.get_values_for_type(x509.DNSName)
        assert ipaddress.ip_address("10.9.8.7") in sans.value.get_values_for_type(x509.IPAddress)
        _enroll_verified(live, cert)
        # A client that trusts only the system's CAs refuses the self-signed certificate.
        with pytest.raises(urllib.error.URLError):
            urllib.request.urlopen(f"{live.url}/healthz", timeout=5)  # noqa: S310 - https to the test server


def test_agents_verify_an_operators_certificate_signed_by_a_ca(tmp_path: Path) -> None:
    ca, cert, key = make_ca_and_leaf(tmp_path / "pki")
    live = LiveServer(
        data_dir=tmp_path / "data",
        tls=True,
        extra_env={"FLEETSITE_TLS_CERT": str(cert), "FLEETSITE_TLS_KEY": str(key)},
    )
    with live:
        assert not (live.data_dir / "tls" / "server.crt").exists()  # the operator's pair, not a generated one
        _enroll_verified(live, ca)
        context = ssl.create_default_context(cafile=str(ca))
        with urllib.request.urlopen(f"{live.url}/version", timeout=5, context=context) as response:  # noqa: S310
            assert json.loads(response.read())["version"]
