"""Production settings: the public URL and what derives from it, proxies, the served certificate,
worker visibility, and the test-tools script (issue 14 items 1-4)."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography import x509
from django.core.cache import cache
from django.test import Client
from django.utils import timezone

from accounts.models import User
from conftest import APIClient
from fleetsite import workers
from fleetsite.lib.netaddr import client_ip
from fleetsite.lib.publicurl import derived_allowed_hosts, server_url_parts
from fleetsite.lib.selfsigned import ensure_certificate
from fleetsite.models import FleetConfig

BASE_DIR = Path(__file__).resolve().parent.parent.parent


def settings_in_subprocess(env: dict[str, str], names: list[str]) -> dict:
    """Import the settings under `env` in a fresh interpreter: they are read once, at start-up."""
    code = (
        "import json, django; from django.conf import settings; django.setup(); "
        f"print(json.dumps({{n: getattr(settings, n) for n in {names!r}}}, default=str))"
    )
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("FLEETSITE_", "ALLOWED_HOSTS", "CSRF_"))}
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=BASE_DIR,
        env={**clean, "DJANGO_SETTINGS_MODULE": "fleetsite.settings", **env},
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    if result.returncode != 0:
        return {"error": result.stderr}
    return json.loads(result.stdout.strip().splitlines()[-1])


# --- 1. One public URL ------------------------------------------------------------------------


def test_server_url_derives_allowed_hosts_csrf_origin_and_beat_file(tmp_path: Path) -> None:
    names = ["ALLOWED_HOSTS", "CSRF_TRUSTED_ORIGINS", "CELERY_BEAT_SCHEDULE_FILENAME", "SECURE_PROXY_SSL_HEADER"]
    env = {"FLEETSITE_DATA_DIR": str(tmp_path), "FLEETSITE_SERVER_URL": "https://Fleet.Example.com:8443/"}
    got = settings_in_subprocess({**env, "FLEETSITE_TLS_NAMES": "10.0.0.5,fleet.internal"}, names)
    hosts = ["fleet.example.com", "10.0.0.5", "fleet.internal", "localhost", "127.0.0.1", "[::1]"]
    assert got["ALLOWED_HOSTS"] == hosts
    assert got["CSRF_TRUSTED_ORIGINS"] == ["https://fleet.example.com:8443"]
    assert got["CELERY_BEAT_SCHEDULE_FILENAME"] == str(tmp_path / "celerybeat-schedule")
    assert got["SECURE_PROXY_SSL_HEADER"] is None  # proxies are believed only when asked


def test_embedded_default_answers_any_name_and_proxy_count_trusts_forwarded_proto(tmp_path: Path) -> None:
    names = ["ALLOWED_HOSTS", "CSRF_TRUSTED_ORIGINS", "SECURE_PROXY_SSL_HEADER"]
    got = settings_in_subprocess({"FLEETSITE_DATA_DIR": str(tmp_path)}, names)
    assert got == {"ALLOWED_HOSTS": ["*"], "CSRF_TRUSTED_ORIGINS": [], "SECURE_PROXY_SSL_HEADER": None}
    got = settings_in_subprocess({"FLEETSITE_DATA_DIR": str(tmp_path), "FLEETSITE_PROXY_COUNT": "1"}, names)
    assert got["SECURE_PROXY_SSL_HEADER"] == ["HTTP_X_FORWARDED_PROTO", "https"]


@pytest.mark.parametrize("url", ["fleet.example.com", "ftp://fleet.example.com", "https://", "https://x/?a=1"])
def test_a_bad_server_url_stops_start_up_with_its_name(tmp_path: Path, url: str) -> None:
    got = settings_in_subprocess({"FLEETSITE_DATA_DIR": str(tmp_path), "FLEETSITE_SERVER_URL": url}, ["DEBUG"])
    assert "FLEETSITE_SERVER_URL" in got.get("error", "")
    with pytest.raises(ValueError):
        server_url_parts(url)


def test_allowed_hosts_bracket_ipv6_and_drop_repeats() -> None:
    assert derived_allowed_hosts("fleet.example.com", ["::1", "FLEET.example.com"]) == [
        "fleet.example.com",
        "[::1]",
        "localhost",
        "127.0.0.1",
    ]


def test_proxy_count_takes_the_client_that_many_hops_from_the_right() -> None:
    meta = {"REMOTE_ADDR": "10.0.0.2", "HTTP_X_FORWARDED_FOR": "6.6.6.6, 203.0.113.9, 10.0.0.1"}
    assert client_ip(meta, (), proxy_count=2) == "203.0.113.9"
    assert client_ip(meta, (), proxy_count=1) == "10.0.0.1"
    # Fewer hops than proxies: the request skipped them; the header proves nothing.
    assert client_ip({**meta, "HTTP_X_FORWARDED_FOR": "6.6.6.6"}, (), proxy_count=2) == "10.0.0.2"
    assert client_ip(meta, (), proxy_count=0) == "10.0.0.2"


@pytest.mark.django_db
def test_proxy_count_sets_the_hosts_public_ip(settings, agent, enroll_secret: str) -> None:
    from hosts.models import Host

    settings.FLEETSITE_PROXY_COUNT = 1
    response = agent.post(
        "/api/osquery/enroll",
        {"enroll_secret": enroll_secret, "host_identifier": "proxied-host", "host_details": {}},
        environ={"HTTP_X_FORWARDED_FOR": "198.51.100.7"},
    )
    assert response.status_code == 200, response.content
    node_key = response.json()["node_key"]
    rows = [{"address": "10.1.2.3", "mac": "00:11:22:33:44:55"}]
    response = agent.post(
        "/api/osquery/distributed/write",
        {
            "node_key": node_key,
            "queries": {"fleet_detail_query_network_interface_unix": rows},
            "statuses": {"fleet_detail_query_network_interface_unix": 0},
        },
        environ={"HTTP_X_FORWARDED_FOR": "198.51.100.7"},
    )
    assert response.status_code == 200, response.content
    assert Host.objects.get().public_ip == "198.51.100.7"


@pytest.mark.django_db
def test_emails_link_to_the_public_url(settings, client: Client, admin: User, mailoutbox) -> None:
    settings.FLEETSITE_SERVER_URL = "https://fleet.example.com"
    from accounts.emails import send_password_reset

    send_password_reset(admin, "http://127.0.0.1:8080/")
    assert "https://fleet.example.com/password/reset/" in mailoutbox[0].body
    config = FleetConfig.load()
    config.server_url = "https://admin.example.com"  # the admin's app config wins (as on "Add hosts")
    config.save()
    send_password_reset(admin, "http://127.0.0.1:8080/")
    assert "https://admin.example.com/password/reset/" in mailoutbox[1].body


# --- 2. TLS for agents --------------------------------------------------------------------------


def test_generated_certificate_names_the_configured_hosts_and_ips_and_follows_them(tmp_path: Path) -> None:
    cert_path, key_path = ensure_certificate(tmp_path, ["fleet.example.com", "192.0.2.10"])
    sans = x509.load_pem_x509_certificate(cert_path.read_bytes()).extensions.get_extension_for_class(
        x509.SubjectAlternativeName
    )
    assert "fleet.example.com" in sans.value.get_values_for_type(x509.DNSName)
    assert {str(ip) for ip in sans.value.get_values_for_type(x509.IPAddress)} >= {"192.0.2.10", "127.0.0.1"}
    assert oct(key_path.stat().st_mode & 0o777) == "0o600"
    first = cert_path.read_bytes()
    assert ensure_certificate(tmp_path, ["fleet.example.com"])[0].read_bytes() == first  # still covered: kept
    ensure_certificate(tmp_path, ["other.example.com"])
    assert cert_path.read_bytes() != first  # a new name: a new certificate


@pytest.mark.django_db
def test_config_certificate_returns_the_served_chain_to_users_only(
    settings, api: APIClient, api_client_as: Callable, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("FLEETSITE_TLS_CERT", raising=False)
    url = "/api/latest/fleet/config/certificate"
    assert api_client_as(None).get(url).status_code == 401
    response = api.get(url)
    assert response.status_code == 404  # nothing served over TLS, no https server URL
    assert "serve with --tls" in response.json()["errors"][0]["reason"]
    cert_path, _ = ensure_certificate(Path(settings.DATA_DIR) / "tls", [])
    for version in ("v1", "latest"):
        response = api.get(f"/api/{version}/fleet/config/certificate")
        assert response.status_code == 200
        assert base64.b64decode(response.json()["certificate_chain"]) == cert_path.read_bytes()
    operator = tmp_path / "operator.pem"
    operator.write_bytes(b"-----BEGIN CERTIFICATE-----\nb3BlcmF0b3I=\n-----END CERTIFICATE-----\n")
    settings.FLEETSITE_TLS_CERT = str(operator)
    assert base64.b64decode(api.get(url).json()["certificate_chain"]) == operator.read_bytes()


@pytest.mark.django_db
def test_add_hosts_page_gives_https_url_chain_and_complete_commands(
    settings, client: Client, admin: User, enroll_secret: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("FLEETSITE_TLS_CERT", raising=False)
    settings.FLEETSITE_SERVER_URL = "https://fleet.example.com:8443"
    settings.FLEETSITE_UPDATE_URL = ""
    cert_path, _ = ensure_certificate(Path(settings.DATA_DIR) / "tls", ["fleet.example.com"])
    client.force_login(admin)
    page = client.get("/hosts/add/").content.decode()
    assert "https://fleet.example.com:8443" in page
    assert 'href="/hosts/add/fleet.pem"' in page
    assert "--tls_server_certs=fleet.pem" in page and "--tls_hostname=fleet.example.com:8443" in page
    assert "python manage.py package --type=deb \\\n  --fleet-url=https://fleet.example.com:8443" in page
    assert "--fleet-certificate=fleet.pem" in page
    assert "--update-url=https://fleet.example.com:8443/tuf" in page
    assert f"--enroll-secret={enroll_secret}" in page
    assert "Agents only talk https" not in page
    download = client.get("/hosts/add/fleet.pem")
    assert download.status_code == 200 and download.content == cert_path.read_bytes()
    assert "fleet.pem" in download["Content-Disposition"]
    client.logout()
    assert client.get("/hosts/add/fleet.pem").status_code == 302  # to the login page


@pytest.mark.django_db
def test_add_hosts_page_warns_when_agents_would_get_plain_http(
    settings, client: Client, admin: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("FLEETSITE_TLS_CERT", raising=False)
    settings.FLEETSITE_SERVER_URL = ""
    client.force_login(admin)
    page = client.get("/hosts/add/").content.decode()
    assert "Agents only talk https" in page
    assert "--fleet-certificate" not in page


def test_two_installations_on_one_redis_keep_apart_by_prefix(tmp_path: Path) -> None:
    """Cached campaign lists and channel groups of one installation must not reach another's agents."""
    env = {"FLEETSITE_DATA_DIR": str(tmp_path), "REDIS_URL": "redis://127.0.0.1:6399/3"}
    default = settings_in_subprocess(env, ["CACHES", "CHANNEL_LAYERS"])
    second = settings_in_subprocess({**env, "FLEETSITE_REDIS_PREFIX": "second"}, ["CACHES", "CHANNEL_LAYERS"])
    assert default["CACHES"]["default"]["KEY_PREFIX"] == "fleetsite"
    assert {config["KEY_PREFIX"] for config in second["CACHES"].values()} == {"second"}
    assert second["CHANNEL_LAYERS"]["default"]["CONFIG"]["prefix"] == "second"


# --- 3. Workers you can see --------------------------------------------------------------------


@pytest.fixture
def no_heartbeats(settings) -> None:
    """The embedded default (no REDIS_URL) and no worker seen yet, whatever the CI leg's environment."""
    settings.REDIS_URL = ""
    for kind in workers.KINDS:
        cache.delete(workers._KEY.format(kind))


@pytest.mark.django_db
def test_worker_check_passes_in_process_and_follows_heartbeats_with_redis(
    settings, client: Client, no_heartbeats: None
) -> None:
    assert client.get("/healthz", {"check": "worker"}).status_code == 200  # no REDIS_URL: tasks run in-process
    settings.REDIS_URL = "redis://127.0.0.1:6399/0"  # only the check reads it; the cache stays local memory
    response = client.get("/healthz", {"check": "worker"})
    assert response.status_code == 500 and b"worker" in response.content
    assert client.get("/healthz").status_code == 200  # a stopped worker does not take the web server out
    workers.record("worker")
    assert client.get("/healthz", {"check": "worker"}).status_code == 200
    assert client.get("/healthz", {"check": "beat"}).status_code == 500
    workers.record("worker", now=time.time() - workers.STALE_AFTER - 1)
    assert client.get("/healthz", {"check": "worker"}).status_code == 500


@pytest.mark.django_db
def test_dashboard_and_installer_pages_say_no_worker(
    settings, client: Client, admin: User, no_heartbeats: None
) -> None:
    client.force_login(admin)
    assert "No Celery worker" not in client.get("/").content.decode()
    settings.REDIS_URL = "redis://127.0.0.1:6399/0"
    for path in ("/", "/hosts/add/", "/packages/"):
        page = client.get(path).content.decode()
        assert "No Celery worker is running" in page, path
        assert "No Celery beat is running" in page, path
    workers.record("worker")
    workers.record("beat")
    assert "No Celery" not in client.get("/").content.decode()


@pytest.mark.django_db
def test_a_queued_build_says_no_worker_instead_of_spinning(
    settings, client: Client, admin: User, no_heartbeats: None
) -> None:
    from packaging.choices import Stage
    from packaging.models import PackageBuild

    expires = timezone.now() + timedelta(hours=1)
    build = PackageBuild.objects.create(
        package_type="deb", stage=Stage.QUEUED, options={}, options_digest="x", expires_at=expires
    )
    client.force_login(admin)
    settings.REDIS_URL = "redis://127.0.0.1:6399/0"
    page = client.get(f"/packages/{build.package_id}/status/").content.decode()
    assert "Queued, no worker" in page and "every 1s" in page  # still polls: runs once a worker is back
    workers.record("worker")
    page = client.get(f"/packages/{build.package_id}/status/").content.decode()
    assert "Queued, no worker" not in page and "<progress" in page


def test_heartbeat_thread_writes_at_once() -> None:
    beat = workers.Heartbeat("beat")
    beat.start()
    try:
        deadline = time.monotonic() + 5
        while workers.last_seen("beat") is None and time.monotonic() < deadline:
            time.sleep(0.01)
        assert workers.last_seen("beat") is not None
    finally:
        beat.stopped.set()
        beat.join(2)


# --- 4. Tests that pass alone ------------------------------------------------------------------


def _fake_tools(tmp_path: Path, installed: set[str], uid: int) -> dict[str, str]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "dpkg").write_text(
        '#!/bin/sh\ncase " ' + " ".join(sorted(installed)) + ' " in *" $2 "*) exit 0;; esac\nexit 1\n'
    )
    (bin_dir / "id").write_text(f"#!/bin/sh\necho {uid}\n")
    (bin_dir / "apt-get").write_text(f'#!/bin/sh\necho "$@" >> {tmp_path / "apt.log"}\n')
    for tool in bin_dir.iterdir():
        tool.chmod(0o755)
    return {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"}


def test_test_tools_names_what_is_missing_in_one_line_when_not_root(tmp_path: Path) -> None:
    env = _fake_tools(tmp_path, {"rpm", "cpio", "msitools", "chromium", "xmlsec1"}, uid=1000)
    result = subprocess.run(["bash", ".ci/test-tools"], cwd=BASE_DIR, env=env, capture_output=True, text=True)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "test-tools: missing Debian packages; run: sudo apt-get install wixl libarchive-tools osslsigncode"
    ]


def test_test_tools_installs_the_missing_ones_as_root_and_is_quiet_when_all_are_there(tmp_path: Path) -> None:
    env = _fake_tools(tmp_path, {"rpm", "msitools", "wixl", "libarchive-tools", "cpio", "chromium", "xmlsec1"}, uid=0)
    result = subprocess.run(["bash", ".ci/test-tools"], cwd=BASE_DIR, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "apt.log").read_text().splitlines()[-1] == "install -y -qq osslsigncode"
    makefile = (BASE_DIR / "Makefile").read_text()
    assert "bash .ci/test-tools" in makefile.split("\ntest:", 1)[1].split("\n\n", 1)[0]
