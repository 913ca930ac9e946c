"""Run the provider: `python -m sso.tests.oidc_idp.serve DIR CLIENT_ID CLIENT_SECRET REDIRECT_URI...`.

Binds a free loopback port first (the issuer URL names it), then sets up Django, creates the tables
(`migrate --run-syncdb`: DOT's migrations plus the claims table), registers Fleetsite as a
confidential RS256 client with consent skipped, prints `READY <base URL>` and serves until its
standard input closes (the test process ended, even if killed) or it is terminated.
"""

from __future__ import annotations

import os
import sys
import threading
from pathlib import Path
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _Quiet(WSGIRequestHandler):
    def log_message(self, *args: Any) -> None:  # the test output stays clean
        pass


def _signing_key(directory: Path) -> None:
    """The RS256 key DOT signs ID tokens with (OIDC_RSA_PRIVATE_KEY), made once per directory."""
    path = directory / "oidc-rsa.pem"
    if not path.exists():
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        path.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )


def main(argv: list[str]) -> None:
    directory, client_id, client_secret, *redirect_uris = argv
    httpd = make_server("127.0.0.1", 0, lambda environ, start: [], server_class=_ThreadingServer, handler_class=_Quiet)
    base = f"http://127.0.0.1:{httpd.server_port}"
    _signing_key(Path(directory))
    os.environ["OIDC_IDP_DIR"] = directory
    os.environ["OIDC_IDP_ISSUER"] = base + "/o"
    os.environ["DJANGO_SETTINGS_MODULE"] = "sso.tests.oidc_idp.settings"

    import django

    django.setup()
    from django.core.management import call_command
    from django.core.wsgi import get_wsgi_application
    from oauth2_provider.models import Application

    call_command("migrate", run_syncdb=True, verbosity=0)
    Application.objects.filter(client_id=client_id).delete()
    Application.objects.create(
        name="Fleetsite",
        client_id=client_id,
        client_secret=client_secret,  # DOT stores a hash of it
        client_type=Application.CLIENT_CONFIDENTIAL,
        authorization_grant_type=Application.GRANT_AUTHORIZATION_CODE,
        redirect_uris=" ".join(redirect_uris),
        algorithm=Application.RS256_ALGORITHM,
        skip_authorization=True,
    )
    httpd.set_app(get_wsgi_application())
    threading.Thread(target=_exit_with_parent, daemon=True).start()
    print(f"READY {base}", flush=True)
    httpd.serve_forever()


def _exit_with_parent() -> None:
    """No provider outlives its tests: the parent holds our stdin open, and its end is ours."""
    sys.stdin.read()
    os._exit(0)


if __name__ == "__main__":
    main(sys.argv[1:])
