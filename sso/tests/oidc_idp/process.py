"""The tests' handle on the provider process: start and stop it, set who signs in, walk its login form.

Only the test side imports this module; it never loads the provider's Django settings.
"""

from __future__ import annotations

import os
import secrets
import select
import subprocess
import sys
from pathlib import Path
from typing import IO, Any
from urllib.parse import urljoin

import httpx

from sso.tests.providers import form_fields

REPO = Path(__file__).resolve().parents[3]
START_TIMEOUT = 60.0


class OidcProviderProcess:
    """django-oauth-toolkit serving OpenID Connect on a loopback port, in a child process."""

    client_id = "fleetsite-test"
    client_secret = "s3cret-for-tests"
    password = "provider-pass-1"

    def __init__(self, directory: Path, redirect_uris: list[str]) -> None:
        self.directory = directory
        self.redirect_uris = redirect_uris
        self.admin_token = secrets.token_urlsafe(24)
        self.url = ""
        self.process: subprocess.Popen[str] | None = None
        self._log: IO[str] | None = None

    @property
    def issuer(self) -> str:
        return f"{self.url}/o"

    @property
    def discovery_url(self) -> str:
        return f"{self.issuer}/.well-known/openid-configuration"

    def start(self) -> None:
        env = {k: v for k, v in os.environ.items() if k not in ("DJANGO_SETTINGS_MODULE", "DATABASE_URL")}
        env["OIDC_IDP_ADMIN_TOKEN"] = self.admin_token
        self._log = (self.directory / "provider.log").open("w")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "sso.tests.oidc_idp.serve",
                str(self.directory),
                self.client_id,
                self.client_secret,
                *self.redirect_uris,
            ],  # fmt: skip
            cwd=REPO,
            env=env,
            stdin=subprocess.PIPE,  # closed by stop() or by our exit: the provider then exits too
            stdout=subprocess.PIPE,
            stderr=self._log,
            text=True,
        )
        ready, _, _ = select.select([self.process.stdout], [], [], START_TIMEOUT)
        line = self.process.stdout.readline() if ready else ""  # type: ignore[union-attr]
        if not line.startswith("READY "):
            self.stop()
            raise RuntimeError(f"the OIDC provider did not start: {(self.directory / 'provider.log').read_text()}")
        self.url = line.split()[1]

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.stdin.close()  # type: ignore[union-attr]
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self._log is not None:
            self._log.close()

    def set_user(self, claims: dict[str, Any]) -> str:
        """Make (or update) the provider account these claims describe; its username (`sub`, else the email)."""
        username = str(claims.get("sub") or claims["email"])
        response = httpx.post(
            f"{self.url}/test/user",
            json={"username": username, "password": self.password, "claims": claims},
            headers={"Authorization": f"Bearer {self.admin_token}"},
            timeout=10,
        )
        response.raise_for_status()
        return username

    def sign_in(self, authorize_url: str, username: str) -> str:
        """Follow `authorize_url` as a fresh browser through the provider's login form; where it sends us back."""
        url = authorize_url
        with httpx.Client(follow_redirects=False, timeout=10) as browser:
            for _ in range(8):
                response = browser.get(url)
                if response.status_code == 200 and 'id="id_username"' in response.text:
                    action, fields = form_fields(response.text)
                    fields.update(username=username, password=self.password)
                    response = browser.post(urljoin(url, action), data=fields)
                if response.status_code != 302:
                    raise AssertionError(f"provider answered {response.status_code}: {response.text[:500]}")
                url = urljoin(url, response.headers["Location"])
                if not url.startswith(self.url):
                    return url
        raise AssertionError("the provider kept redirecting to itself")
