"""The certificate chain agents must trust: the one `serve --tls` presents.

`serve --tls` (or FLEETSITE_TLS_CERT) names the operator's chain; without one it generates a
self-signed certificate in <data dir>/tls. Behind a TLS-terminating proxy neither exists on this
machine, so, as Fleet does, the chain is read from the server URL's TLS handshake instead.
"""

from __future__ import annotations

import logging
import os
import ssl
from pathlib import Path
from urllib.parse import urlsplit

from django.conf import settings

from fleetsite.lib.publicurl import public_base_url

logger = logging.getLogger(__name__)

# `serve` puts the certificate it serves here, for its worker processes and this module.
SERVED_CERT_ENV = "FLEETSITE_TLS_CERT"


def served_certificate_path() -> Path | None:
    """The PEM file `serve --tls` presents in this deployment, when it is on this machine."""
    configured = os.environ.get(SERVED_CERT_ENV) or settings.FLEETSITE_TLS_CERT
    if configured:
        return Path(configured)
    generated = Path(settings.DATA_DIR) / "tls" / "server.crt"
    return generated if generated.is_file() else None


def _from_handshake(url: str) -> bytes | None:
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.hostname:
        return None
    try:
        pem = ssl.get_server_certificate((parts.hostname, parts.port or 443), timeout=5)
    except (OSError, ValueError) as exc:
        logger.warning("could not read the certificate of %s: %s", url, exc)
        return None
    return pem.encode("ascii")


def certificate_chain() -> bytes | None:
    """The PEM chain agents should be given (osquery's --tls_server_certs), or None when there is none."""
    path = served_certificate_path()
    if path is not None:
        try:
            return path.read_bytes()
        except OSError as exc:
            logger.warning("cannot read the TLS certificate %s: %s", path, exc)
    return _from_handshake(public_base_url())
