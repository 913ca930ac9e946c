"""A real SAML identity provider on loopback for the SSO tests (pysaml2's IdP `Server`).

It runs in a thread of the test process and answers real HTTP on 127.0.0.1. It signs with its own
generated key (and a second, "rogue" key for the re-signing attack); knobs make it issue the bad
responses the attack tests need: unsigned, signed by the rogue key, for another audience, already
expired. The OpenID Connect provider is django-oauth-toolkit in its own process (`oidc_idp/`).
"""

from __future__ import annotations

import contextlib
import html
import re
import secrets
import shutil
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT, saml
from saml2.config import IdPConfig
from saml2.metadata import create_metadata_string
from saml2.server import Server

Environ = dict[str, Any]
StartResponse = Callable[..., Any]


def key_and_cert(directory: Path, name: str) -> tuple[Path, Path]:
    """A fresh RSA key and self-signed certificate, as PEM files."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    key_path, cert_path = directory / f"{name}.key", directory / f"{name}.crt"
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return key_path, cert_path


class _Quiet(WSGIRequestHandler):
    def log_message(self, *args: Any) -> None:  # keep test output clean
        pass


class LoopbackServer:
    """A WSGI app served on 127.0.0.1 in a daemon thread."""

    def __init__(self, app: Callable[[Environ, StartResponse], Iterable[bytes]]) -> None:
        self.httpd: WSGIServer = make_server("127.0.0.1", 0, app, handler_class=_Quiet)
        self.url = f"http://127.0.0.1:{self.httpd.server_port}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def _form(environ: Environ) -> dict[str, str]:
    size = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(size).decode() if size else ""
    return {k: v[-1] for k, v in parse_qs(body).items()}


def _query(environ: Environ) -> dict[str, str]:
    return {k: v[-1] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}


def _reply(start: StartResponse, status: str, body: str | bytes, content_type: str = "text/html") -> list[bytes]:
    data = body.encode() if isinstance(body, str) else body
    start(status, [("Content-Type", content_type), ("Content-Length", str(len(data)))])
    return [data]


@contextlib.contextmanager
def _idp_clock(offset_seconds: int) -> Iterator[None]:
    """The IdP's clock `offset_seconds` off while it writes a response (an IdP with a wrong clock).

    pysaml2 reads the time through `saml2.time_util` only; the SP verifies later, on the real clock.
    """
    if not offset_seconds:
        yield
        return
    from saml2 import time_util

    real_time, real_datetime = time_util.time, time_util.datetime

    class ShiftedTime:
        def __getattr__(self, name: str) -> Any:
            return getattr(real_time, name)

        def gmtime(self, seconds: float | None = None) -> time.struct_time:
            return real_time.gmtime((real_time.time() if seconds is None else seconds) + offset_seconds)

    class ShiftedDatetime(real_datetime):  # type: ignore[misc, valid-type]
        @classmethod
        def now(cls, tz: Any = None) -> Any:
            return real_datetime.now(tz) + timedelta(seconds=offset_seconds)

    time_util.time, time_util.datetime = ShiftedTime(), ShiftedDatetime
    try:
        yield
    finally:
        time_util.time, time_util.datetime = real_time, real_datetime


class SamlIdP:
    """A SAML 2.0 identity provider (pysaml2's Server) with a login form and an auto-posting response."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.key, self.cert = key_and_cert(directory, "idp")
        self.rogue_key, self.rogue_cert = key_and_cert(directory, "rogue")
        self.server = LoopbackServer(self.app)
        self.entity_id = f"{self.server.url}/idp"
        self.users: dict[str, dict[str, list[str]]] = {}
        self.sp_metadata = ""
        self.pending: dict[str, tuple[Any, str]] = {}
        # Attack knobs, reset by `reset()`.
        self.sign_assertion = True
        self.rogue = False
        self.audience = ""
        self.clock_offset = 0

    def reset(self) -> None:
        self.sign_assertion, self.rogue, self.audience, self.clock_offset = True, False, "", 0

    def _config(self, key: Path, cert: Path, with_sp: bool = True) -> IdPConfig:
        config = IdPConfig()
        config.load(
            {
                "entityid": self.entity_id,
                "xmlsec_binary": shutil.which("xmlsec1"),
                "key_file": str(key),
                "cert_file": str(cert),
                "metadata": {"inline": [self.sp_metadata]} if with_sp and self.sp_metadata else {},
                "allow_unknown_attributes": True,
                "service": {
                    "idp": {
                        "endpoints": {"single_sign_on_service": [(f"{self.server.url}/sso", BINDING_HTTP_REDIRECT)]},
                        "name_id_format": [saml.NAMEID_FORMAT_EMAILADDRESS],
                        "policy": {
                            "default": {
                                "lifetime": {"minutes": 5},
                                "attribute_restrictions": None,
                                "name_form": saml.NAME_FORMAT_UNSPECIFIED,
                            }
                        },
                    }
                },
            }
        )
        return config

    def metadata(self) -> str:
        return create_metadata_string(None, config=self._config(self.key, self.cert, with_sp=False)).decode()

    def trust_sp(self, sp_metadata: str) -> None:
        self.sp_metadata = sp_metadata

    def start(self) -> None:
        self.server.start()

    def stop(self) -> None:
        self.server.stop()

    def app(self, environ: Environ, start: StartResponse) -> list[bytes]:
        path = environ["PATH_INFO"]
        if path == "/metadata":
            return _reply(start, "200 OK", self.metadata(), "application/samlmetadata+xml")
        if path == "/sso":
            query = _query(environ)
            idp = Server(config=self._config(self.key, self.cert))
            request = idp.parse_authn_request(query["SAMLRequest"], BINDING_HTTP_REDIRECT).message
            ticket = secrets.token_urlsafe(8)
            self.pending[ticket] = (request, query.get("RelayState", ""))
            return _reply(
                start,
                "200 OK",
                f'<form method="post" action="/login"><input type="hidden" name="ticket" value="{ticket}">'
                '<input name="email" id="idp-email"><button type="submit" id="idp-submit">Sign in</button></form>',
            )
        if path == "/login":
            form = _form(environ)
            request, relay = self.pending.pop(form["ticket"])
            return _reply(start, "200 OK", self.response_form(form["email"], request.id, request.issuer.text, relay))
        return _reply(start, "404 Not Found", "not found", "text/plain")

    def response_form(
        self, email: str, in_response_to: str | None, sp_entity_id: str, relay: str, acs: str = ""
    ) -> str:
        """The auto-posting HTML form carrying a SAMLResponse for `email` (IdP-initiated when no request id)."""
        key, cert = (self.rogue_key, self.rogue_cert) if self.rogue else (self.key, self.cert)
        idp = Server(config=self._config(key, cert))
        acs = acs or idp.metadata.assertion_consumer_service(sp_entity_id, BINDING_HTTP_POST)[0]["location"]
        with _idp_clock(self.clock_offset):
            response = idp.create_authn_response(
                identity=self.users.get(email, {}),
                in_response_to=in_response_to,
                destination=acs,
                sp_entity_id=self.audience or sp_entity_id,
                name_id=saml.NameID(format=saml.NAMEID_FORMAT_EMAILADDRESS, text=email),
                authn={"class_ref": saml.AUTHN_PASSWORD_PROTECTED, "authn_auth": self.entity_id},
                sign_assertion=self.sign_assertion,
                sign_response=False,
            )
        binding = idp.apply_binding(BINDING_HTTP_POST, str(response), acs, relay, response=True)
        return binding["data"]


def form_fields(page: str) -> tuple[str, dict[str, str]]:
    """The action and hidden/named inputs of the first form in `page` (how a browser would post it)."""
    action = html.unescape(re.search(r'<form[^>]*action="([^"]*)"', page).group(1))
    fields = {
        html.unescape(name): html.unescape(value)
        for name, value in re.findall(r'<input[^>]*name="([^"]+)"[^>]*value="([^"]*)"', page)
    }
    return action, fields
