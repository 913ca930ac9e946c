"""The options of one installer build, checked once for the CLI, the packager API and the UI.

Field names follow `fleetctl package` flags (dashes as underscores). Every value that ends up in
an env file, a plist or a service command line is checked here, so no builder has to escape
newlines or quotes: a value that would need it is refused with a message naming the flag.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from django.conf import settings

from packaging import constants as C
from packaging.exceptions import PackagingError

CHANNEL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
IDENTIFIER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.-]{0,127}$")
VERSION = re.compile(r"^[0-9][A-Za-z0-9.+~]{0,63}$")
EMAIL = re.compile(r"^[^@\s\"'<>]+@[^@\s\"'<>]+\.[^@\s\"'<>]+$")
HOSTNAME = re.compile(r"^[A-Za-z0-9.-]+(:[0-9]{1,5})?$")
# Characters that could break out of an env line, a plist string or a quoted service argument.
UNSAFE = re.compile(r"[\x00-\x1f\x7f\"'`$\\]")
DURATION_PART = re.compile(r"([0-9]*\.?[0-9]+)(ns|us|µs|ms|s|m|h)")
UNIT_NS = {"ns": 1, "us": 10**3, "µs": 10**3, "ms": 10**6, "s": 10**9, "m": 60 * 10**9, "h": 3600 * 10**9}


def go_duration(text: str) -> str:
    """Parse a Go duration ("15m", "1h30m", "10s") and format it as Go does ("15m0s")."""
    value = text.strip()
    if not value or DURATION_PART.sub("", value) != "":
        raise PackagingError(f"update interval {text!r} is not a duration like 10s, 15m or 1h", "update_interval")
    nanos = sum(int(Decimal(number) * UNIT_NS[unit]) for number, unit in DURATION_PART.findall(value))
    if nanos < 10**9:
        raise PackagingError("update interval must be at least 1s", "update_interval")
    seconds, fraction = divmod(nanos, 10**9)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    sec_text = f"{secs}.{fraction:09d}".rstrip("0").rstrip(".") + "s"
    if hours:
        return f"{hours}h{minutes}m{sec_text}"
    if minutes:
        return f"{minutes}m{sec_text}"
    return sec_text


def _certificates(pem: str, flag: str) -> list[x509.Certificate]:
    try:
        certificates = x509.load_pem_x509_certificates(pem.encode())
    except ValueError as exc:
        raise PackagingError(f"--{flag} is not a PEM certificate (chain)", flag.replace("-", "_")) from exc
    return certificates


def _key_pair(cert_pem: str, key_pem: str, flag: str) -> None:
    """Fleet refuses a client certificate without its key, or a key that is not its pair."""
    name = flag.replace("-", "_")
    if bool(cert_pem) != bool(key_pem):
        raise PackagingError(f"--{flag}-certificate and --{flag}-key must be given together", name)
    if not cert_pem:
        return
    certificate = _certificates(cert_pem, f"{flag}-certificate")[0]
    try:
        key = serialization.load_pem_private_key(key_pem.encode(), password=None)
    except (ValueError, TypeError) as exc:
        raise PackagingError(f"--{flag}-key is not an unencrypted PEM private key", name) from exc
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    if key.public_key().public_bytes(serialization.Encoding.DER, spki) != certificate.public_key().public_bytes(
        serialization.Encoding.DER, spki
    ):
        raise PackagingError(f"--{flag}-key does not match --{flag}-certificate", name)


def _read_pem(path: str, flag: str) -> str:
    if not path:
        return ""
    try:
        with open(path, encoding="ascii") as handle:
            return handle.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise PackagingError(f"cannot read --{flag} file {path}: {exc}", flag.replace("-", "_")) from exc


def normalize_url(value: str, flag: str) -> str:
    """An http(s) URL; a bare `host:port` gets https:// as fleetctl does."""
    url = value.strip()
    if "://" not in url:
        url = f"https://{url}"
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or UNSAFE.search(url) or " " in url:
        raise PackagingError(f"--{flag} {value!r} is not an http(s) URL", flag.replace("-", "_"))
    return url.rstrip("/")


@dataclass
class PackageOptions:
    """Everything that decides the bytes of one installer."""

    type: str
    fleet_url: str = ""
    enroll_secret: str = ""
    arch: str = "amd64"
    fleet_certificate: str = ""
    fleet_tls_client_certificate: str = ""
    fleet_tls_client_key: str = ""
    identifier: str = C.DEFAULT_IDENTIFIER
    version: str = ""
    insecure: bool = False
    service: bool = True
    sign_identity: str = ""
    notarize: bool = False
    disable_updates: bool = False
    orbit_channel: str = C.DEFAULT_CHANNEL
    osqueryd_channel: str = C.DEFAULT_CHANNEL
    desktop_channel: str = C.DEFAULT_CHANNEL
    update_url: str = ""
    update_roots: str = ""
    update_tls_certificate: str = ""
    update_tls_client_certificate: str = ""
    update_tls_client_key: str = ""
    update_interval: str = C.DEFAULT_UPDATE_INTERVAL
    enable_scripts: bool = False
    debug: bool = False
    fleet_desktop: bool = False
    fleet_desktop_alternative_browser_host: str = ""
    host_identifier: str = "uuid"
    osquery_flagfile: str = ""
    end_user_email: str = ""
    osquery_db: str = ""
    disable_keystore: bool = False
    use_system_configuration: bool = False
    outfile: str = ""
    # Authenticode signing of msi packages: PEM file paths (server configuration, not a fleetctl flag).
    windows_sign_certificate: str = ""
    windows_sign_key: str = ""

    def __repr__(self) -> str:  # never print the secret or keys
        return f"PackageOptions(type={self.type!r}, fleet_url={self.fleet_url!r}, arch={self.arch!r})"

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PackageOptions:
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{key: value for key, value in data.items() if key in names})

    def digest(self) -> str:
        """A keyed hash of every option: equal requests share a build without storing a plain hash."""
        canonical = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":")).encode()
        return hmac.new(settings.SECRET_KEY.encode(), canonical, hashlib.sha256).hexdigest()

    def default_update_url(self) -> str:
        """This server's repository: FLEETSITE_UPDATE_URL, else derived from the server or fleet URL."""
        if settings.FLEETSITE_UPDATE_URL:
            return settings.FLEETSITE_UPDATE_URL.rstrip("/")
        base = settings.FLEETSITE_SERVER_URL or self.fleet_url
        if not base:
            raise PackagingError("--update-url is required when there is no --fleet-url", "update_url")
        return f"{base.rstrip('/')}/{settings.FLEETSITE_TUF_URL_PATH.strip('/')}"

    # --- validation, mirroring fleetctl's checks (packaging.md §2) ------------------------
    def validate(self, require_enrollment: bool = False) -> PackageOptions:
        """Check and normalise every option in place; raises PackagingError naming the flag."""
        if self.type not in C.PACKAGE_TYPES:
            raise PackagingError(f"unknown package type {self.type!r}: use one of {', '.join(C.PACKAGE_TYPES)}", "type")
        self._check_enrollment(require_enrollment)
        self._check_tls()
        self._check_channels()
        self._check_platform_flags()
        self.update_interval = go_duration(self.update_interval or C.DEFAULT_UPDATE_INTERVAL)
        if self.version and not VERSION.match(self.version):
            raise PackagingError(f"--version {self.version!r} is not a package version like 1.2.3", "version")
        if not IDENTIFIER.match(self.identifier or ""):
            raise PackagingError(f"--identifier {self.identifier!r} is not a reverse-DNS identifier", "identifier")
        if self.host_identifier not in C.HOST_IDENTIFIERS:
            raise PackagingError("--host-identifier must be uuid or instance", "host_identifier")
        if "\x00" in self.osquery_flagfile:
            raise PackagingError("--osquery-flagfile must be a text file", "osquery_flagfile")
        self.update_url = normalize_url(self.update_url or self.default_update_url(), "update-url")
        if self.update_roots:
            self._check_roots()
        if self.outfile and not self.outfile.endswith(f".{self.type}"):
            raise PackagingError(f"--outfile must end with .{self.type}", "outfile")
        return self

    def _check_enrollment(self, required: bool) -> None:
        if required and not self.fleet_url:
            raise PackagingError("a fleet URL is required (--fleet-url)", "fleet_url")
        if required and not self.enroll_secret:
            raise PackagingError("an enroll secret is required (--enroll-secret)", "enroll_secret")
        if bool(self.fleet_url) != bool(self.enroll_secret):
            missing = "enroll_secret" if self.fleet_url else "fleet_url"
            raise PackagingError(
                f"--fleet-url and --enroll-secret go together: --{missing.replace('_', '-')} is missing", missing
            )
        if self.fleet_url:
            self.fleet_url = normalize_url(self.fleet_url, "fleet-url")
        if self.enroll_secret and (UNSAFE.search(self.enroll_secret) or len(self.enroll_secret) > 255):
            raise PackagingError(
                "the enroll secret has quotes, backslashes, '$' or control characters", "enroll_secret"
            )

    def _check_tls(self) -> None:
        if self.insecure and (self.fleet_certificate or self.update_tls_certificate):
            raise PackagingError(
                "--insecure cannot be used with --fleet-certificate or --update-tls-certificate", "insecure"
            )
        if self.fleet_certificate:
            _certificates(self.fleet_certificate, "fleet-certificate")
        if self.update_tls_certificate:
            _certificates(self.update_tls_certificate, "update-tls-certificate")
        _key_pair(self.fleet_tls_client_certificate, self.fleet_tls_client_key, "fleet-tls-client")
        _key_pair(self.update_tls_client_certificate, self.update_tls_client_key, "update-tls-client")
        if self.windows_sign_certificate or self.windows_sign_key:
            _key_pair(
                _read_pem(self.windows_sign_certificate, "windows-sign-certificate"),
                _read_pem(self.windows_sign_key, "windows-sign-key"),
                "windows-sign",
            )

    def _check_channels(self) -> None:
        for name in ("orbit_channel", "osqueryd_channel", "desktop_channel"):
            value = getattr(self, name) or C.DEFAULT_CHANNEL
            if not CHANNEL.match(value):
                raise PackagingError(f"--{name.replace('_', '-')} {value!r} is not a channel name", name)
            setattr(self, name, value)

    def _check_platform_flags(self) -> None:
        if self.arch not in C.ARCHES:
            raise PackagingError("--arch must be amd64 or arm64", "arch")
        if self.type == "pkg" and self.arch != "amd64":
            raise PackagingError("--arch is not allowed for pkg (macOS packages are universal)", "arch")
        if self.type == "msi" and self.arch == "arm64" and self.fleet_desktop:
            raise PackagingError("Fleet Desktop is not available for Windows arm64", "fleet_desktop")
        if self.end_user_email:
            if self.type == "pkg":
                raise PackagingError("--end-user-email is for msi, deb and rpm only", "end_user_email")
            if not EMAIL.match(self.end_user_email):
                raise PackagingError(f"--end-user-email {self.end_user_email!r} is not an email", "end_user_email")
        if self.use_system_configuration and self.type != "pkg":
            raise PackagingError("--use-system-configuration is for pkg only", "use_system_configuration")
        if (self.sign_identity or self.notarize) and self.type != "pkg":
            raise PackagingError("--sign-identity and --notarize are for pkg only", "sign_identity")
        if self.disable_keystore and self.type in ("deb", "rpm"):
            raise PackagingError("--disable-keystore is for pkg and msi only", "disable_keystore")
        if self.windows_sign_certificate and self.type != "msi":
            raise PackagingError("Authenticode signing is for msi only", "windows_sign_certificate")
        host = self.fleet_desktop_alternative_browser_host
        if host and not HOSTNAME.match(host):
            raise PackagingError("--fleet-desktop-alternative-browser-host must be host[:port]", "fleet_desktop")
        if self.osquery_db:
            windows = re.match(r"^[A-Za-z]:\\", self.osquery_db)
            if (self.type == "msi" and not windows) or (self.type != "msi" and not self.osquery_db.startswith("/")):
                raise PackagingError("--osquery-db must be an absolute path", "osquery_db")
            if UNSAFE.sub("", self.osquery_db.replace("\\", "")) != self.osquery_db.replace("\\", ""):
                raise PackagingError("--osquery-db has quotes or control characters", "osquery_db")

    def _check_roots(self) -> None:
        from tuf.api.metadata import Metadata, Root

        try:
            md = Metadata[Root].from_bytes(self.update_roots.encode())
        except Exception as exc:  # python-tuf raises several types for malformed JSON or metadata
            message = "--update-roots is not TUF root metadata (see `updates roots`)"
            raise PackagingError(message, "update_roots") from exc
        if md.signed.type != "root":
            raise PackagingError("--update-roots is not TUF root metadata", "update_roots")
