"""Bad input and hostile repositories: a clear error naming the problem, no partial file, the cache unharmed."""

from __future__ import annotations

import datetime
import io
import json
import subprocess
import tarfile
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from django.core.management import CommandError, call_command

from packaging.build import build_package
from packaging.exceptions import PackagingError
from packaging.options import PackageOptions, go_duration
from packaging.payload import Tree, unpack_into
from packaging.tests.conftest import FLEET_URL, SECRET, Served, full_options, make_repository


def _snapshot(directory: Path) -> dict[str, bytes]:
    return {str(path.relative_to(directory)): path.read_bytes() for path in directory.rglob("*") if path.is_file()}


def self_signed(tmp_path: Path, name: str = "fleet") -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"{name}.example.com")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / f"{name}.crt", tmp_path / f"{name}.key"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


@pytest.fixture
def private_repo(tmp_path: Path, settings: Any) -> Any:
    """A repository of this test's own, for tampering, with a fresh target cache."""
    served = make_repository(tmp_path / "private")
    settings.FLEETSITE_TUF_DIR = served.repo.directory
    settings.FLEETSITE_UPDATE_URL = served.url
    settings.PACKAGER_TARGET_CACHE = tmp_path / "cache"
    yield served
    served.close()


def _fails(options: PackageOptions, out: Path, match: str) -> PackagingError:
    with pytest.raises(PackagingError, match=match) as caught:
        build_package(options, out)
    assert not out.exists() or list(out.iterdir()) == []  # no partial file, no work directory
    assert SECRET not in str(caught.value)
    return caught.value


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"type": "exe"}, "type", "unknown package type 'exe'"),
        ({"enroll_secret": ""}, "enroll_secret", "--enroll-secret is missing"),
        ({"fleet_url": ""}, "fleet_url", "--fleet-url is missing"),
        ({"fleet_url": "ftp://fleet"}, "fleet_url", "is not an http"),
        ({"enroll_secret": 'a"b'}, "enroll_secret", "quotes"),
        ({"orbit_channel": "../x"}, "orbit_channel", "is not a channel name"),
        ({"update_interval": "soon"}, "update_interval", "is not a duration"),
        ({"host_identifier": "hostname"}, "host_identifier", "uuid or instance"),
        ({"arch": "mips"}, "arch", "amd64 or arm64"),
        ({"end_user_email": "not-an-email"}, "end_user_email", "is not an email"),
        ({"osquery_db": "relative/db"}, "osquery_db", "absolute path"),
        ({"insecure": True, "fleet_certificate": "x"}, "insecure", "cannot be used with"),
        ({"fleet_certificate": "not a pem"}, "fleet_certificate", "not a PEM certificate"),
        ({"update_roots": "{}"}, "update_roots", "not TUF root metadata"),
        ({"outfile": "x.rpm"}, "outfile", "must end with .deb"),
        ({"use_system_configuration": True}, "use_system_configuration", "pkg only"),
    ],
)
def test_bad_options_are_refused_by_name(changes: dict, field: str, message: str, tmp_path: Path) -> None:
    options = full_options("deb", "http://127.0.0.1:9", **changes)
    error = _fails(options, tmp_path / "out", message)
    assert error.field == field


def test_go_durations_are_formatted_as_go_does() -> None:
    assert [go_duration(value) for value in ("15m", "1h", "10s", "90s", "1h30m", "1.5s", "2h0m5s")] == [
        "15m0s", "1h0m0s", "10s", "1m30s", "1h30m0s", "1.5s", "2h0m5s",
    ]  # fmt: skip
    with pytest.raises(PackagingError):
        go_duration("500ms")


def test_client_certificate_and_key_must_be_a_pair(tmp_path: Path) -> None:
    cert, _ = self_signed(tmp_path, "a")
    _, other_key = self_signed(tmp_path, "b")
    options = full_options(
        "deb", "http://127.0.0.1:9", fleet_tls_client_certificate=cert.read_text(), fleet_tls_client_key=""
    )
    _fails(options, tmp_path / "out", "must be given together")
    options.fleet_tls_client_key = other_key.read_text()
    _fails(options, tmp_path / "out", "does not match")


def test_macos_signing_and_notarization_are_refused_not_skipped(repo_settings: Served, tmp_path: Path) -> None:
    _fails(full_options("pkg", repo_settings.url, sign_identity="ABC123"), tmp_path / "out", "productsign")
    _fails(full_options("pkg", repo_settings.url, notarize=True), tmp_path / "out", "notarytool")
    _fails(full_options("deb", repo_settings.url, notarize=True), tmp_path / "out", "pkg only")


def test_unreachable_repository(repo_settings: Served, tmp_path: Path) -> None:
    _fails(full_options("deb", "http://127.0.0.1:9"), tmp_path / "out", "cannot reach the update server")


def test_missing_target_channel_is_named(repo_settings: Served, tmp_path: Path) -> None:
    _fails(full_options("deb", repo_settings.url, orbit_channel="edge"), tmp_path / "out", "orbit/linux/edge/orbit")


def test_tampered_target_is_rejected_and_the_cache_stays_clean(private_repo: Served, tmp_path: Path) -> None:
    target = private_repo.repo.targets_dir / "osqueryd/linux/stable/osqueryd"
    target.write_bytes(target.read_bytes().replace(b"osqueryd", b"evil-bin"))
    _fails(full_options("deb", private_repo.url), tmp_path / "out", "does not match its signed length and hashes")
    assert not list((tmp_path / "cache").rglob("osqueryd/linux/stable/osqueryd"))


def test_tampered_metadata_is_rejected_and_the_warm_cache_survives(private_repo: Served, tmp_path: Path) -> None:
    good = build_package(full_options("deb", private_repo.url), tmp_path / "first")
    cache = tmp_path / "cache"
    before = _snapshot(cache)
    timestamp = private_repo.repo.metadata_dir / "timestamp.json"
    original = timestamp.read_bytes()
    document = json.loads(original)
    document["signed"]["version"] += 1  # edited without re-signing
    timestamp.write_text(json.dumps(document))
    _fails(full_options("deb", private_repo.url), tmp_path / "out", "not signed by the trusted root")
    assert _snapshot(cache) == before
    timestamp.write_bytes(original)
    again = build_package(full_options("deb", private_repo.url), tmp_path / "second")
    assert again.read_bytes() == good.read_bytes()  # reproducible, and the cache still serves the targets


def test_expired_root_is_rejected(private_repo: Served, tmp_path: Path) -> None:
    trusted_v1 = private_repo.repo.root_bytes().decode()
    past = datetime.datetime.now(datetime.UTC).replace(microsecond=0) - datetime.timedelta(days=1)
    private_repo.repo.set_expiry("root", past)
    _fails(full_options("deb", private_repo.url), tmp_path / "out", "expired")
    # Trusting the still-valid v1 does not help: the client follows the server's root chain to v2.
    _fails(full_options("deb", private_repo.url, update_roots=trusted_v1), tmp_path / "out2", "expired")


def test_wrong_update_roots_are_rejected(repo_settings: Served, tmp_path: Path) -> None:
    other = make_repository(tmp_path / "other")
    try:
        options = full_options("deb", repo_settings.url, update_roots=other.repo.root_bytes().decode())
        _fails(options, tmp_path / "out", "not signed by the trusted root")
    finally:
        other.close()


def test_archive_targets_cannot_escape_or_hold_links(tmp_path: Path) -> None:
    for name, kind in (("../../etc/passwd", tarfile.REGTYPE), ("fleet-desktop/link", tarfile.SYMTYPE)):
        archive = tmp_path / "desktop.tar.gz"
        with tarfile.open(archive, "w:gz") as tar:
            info = tarfile.TarInfo(name)
            info.type, info.linkname = kind, "/etc/shadow"
            tar.addfile(info, io.BytesIO(b""))
        with pytest.raises(PackagingError):
            unpack_into(Tree(), archive, "/opt/orbit/bin/desktop/linux/stable")


def test_msi_signed_with_osslsigncode(repo_settings: Served, tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path, "codesign")
    options = full_options("msi", repo_settings.url, windows_sign_certificate=str(cert), windows_sign_key=str(key))
    msi = build_package(options, tmp_path / "out")
    streams = subprocess.run(["msiinfo", "streams", str(msi)], capture_output=True, text=True, check=True).stdout
    assert "\x05DigitalSignature" in streams or "DigitalSignature" in streams
    verify = subprocess.run(
        ["osslsigncode", "verify", "-CAfile", str(cert), "-in", str(msi)], capture_output=True, text=True, check=False
    )
    assert "Signature verification: ok" in verify.stdout, verify.stdout + verify.stderr


def test_bad_signing_certificate_file(repo_settings: Served, tmp_path: Path) -> None:
    _, key = self_signed(tmp_path)
    missing = full_options(
        "msi", repo_settings.url, windows_sign_certificate="/nonexistent.pem", windows_sign_key=str(key)
    )
    _fails(missing, tmp_path / "out", "cannot read --windows-sign-certificate")
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("-----BEGIN CERTIFICATE-----\nnope\n-----END CERTIFICATE-----\n")
    bad = full_options("msi", repo_settings.url, windows_sign_certificate=str(garbage), windows_sign_key=str(key))
    _fails(bad, tmp_path / "out", "not a PEM certificate")


def test_cli_reports_bad_input_clearly(repo_settings: Served, tmp_path: Path) -> None:
    common = ["--fleet-url", FLEET_URL, "--enroll-secret", SECRET, "--update-url", repo_settings.url]
    with pytest.raises(CommandError, match="invalid choice: 'exe'"):
        call_command("package", "--type", "exe", *common)
    with pytest.raises(CommandError, match="--enroll-secret is missing"):
        call_command("package", "--type", "deb", "--fleet-url", FLEET_URL, "--update-url", repo_settings.url)
    with pytest.raises(CommandError, match="cannot read --fleet-certificate"):
        call_command("package", "--type", "deb", *common, "--fleet-certificate", str(tmp_path / "missing.pem"))
    not_pem = tmp_path / "cert.pem"
    not_pem.write_text("hello")
    with pytest.raises(CommandError, match="--fleet-certificate is not a PEM certificate"):
        call_command("package", "--type", "deb", *common, "--fleet-certificate", str(not_pem), "--outfile",
                     str(tmp_path / "out.deb"))  # fmt: skip
    assert not (tmp_path / "out.deb").exists()
