"""Security headers: HSTS and Secure cookies over TLS only; a strict Content-Security-Policy on every page."""

from __future__ import annotations

import subprocess
import sys
from html.parser import HTMLParser

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from accounts.models import Team, User
from conftest import PASSWORD
from fleetsite.liveserver import BASE_DIR
from hosts.models import Host, Label
from queries.models import Policy, Query

pytestmark = pytest.mark.django_db

ONE_YEAR = 365 * 24 * 3600


def log_in(client: Client, user: User, **extra: object) -> object:
    return client.post("/login/", {"email": user.email, "password": PASSWORD}, **extra)


# --- TLS: HSTS and Secure cookies ------------------------------------------------------------


def test_over_tls_the_login_sets_secure_cookies_and_hsts(admin: User) -> None:
    client = Client()
    page = client.get("/login/", secure=True)
    assert page["Strict-Transport-Security"] == f"max-age={ONE_YEAR}"
    assert page.cookies["csrftoken"]["secure"] is True
    response = log_in(client, admin, secure=True)
    assert response.status_code == 302
    assert response.cookies["sessionid"]["secure"] is True
    assert response["Strict-Transport-Security"] == f"max-age={ONE_YEAR}"


def test_over_plain_http_cookies_are_not_secure_and_there_is_no_hsts(admin: User) -> None:
    """`make run` serves http://127.0.0.1:8080: Secure cookies would never come back and login would break."""
    client = Client()
    page = client.get("/login/")
    assert "Strict-Transport-Security" not in page
    assert not page.cookies["csrftoken"]["secure"]
    response = log_in(client, admin)
    assert not response.cookies["sessionid"]["secure"]
    assert client.get("/").status_code == 200


def test_hsts_max_age_zero_turns_it_off(settings, admin: User) -> None:
    settings.SECURE_HSTS_SECONDS = 0
    assert "Strict-Transport-Security" not in Client().get("/login/", secure=True)


def test_a_tls_proxy_is_believed_only_when_configured_and_only_from_trusted_peers(settings, admin: User) -> None:
    forwarded = {"HTTP_X_FORWARDED_PROTO": "https", "REMOTE_ADDR": "10.0.0.5"}
    assert "Strict-Transport-Security" not in Client().get("/login/", **forwarded)

    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    response = Client().get("/login/", **forwarded)
    assert response["Strict-Transport-Security"] == f"max-age={ONE_YEAR}"
    assert response.cookies["csrftoken"]["secure"] is True

    settings.FLEETSITE_TRUSTED_PROXIES = ["10.0.0.1"]
    assert "Strict-Transport-Security" not in Client().get("/login/", **forwarded)
    from_proxy = Client().get("/login/", **{**forwarded, "REMOTE_ADDR": "10.0.0.1"})
    assert from_proxy["Strict-Transport-Security"] == f"max-age={ONE_YEAR}"

    # A range, as FLEETSITE_TRUSTED_PROXIES accepts for X-Forwarded-For, counts here too.
    settings.FLEETSITE_TRUSTED_PROXIES = ["10.0.0.0/29"]
    assert Client().get("/login/", **forwarded)["Strict-Transport-Security"] == f"max-age={ONE_YEAR}"
    outside = Client().get("/login/", **{**forwarded, "REMOTE_ADDR": "10.0.0.9"})
    assert "Strict-Transport-Security" not in outside


def test_pages_forbid_sniffing_framing_and_cross_site_referrers(admin: User) -> None:
    response = Client().get("/login/")
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["X-Frame-Options"] == "DENY"
    assert response["Referrer-Policy"] == "same-origin"
    assert "frame-ancestors 'none'" in response["Content-Security-Policy"]


# --- Content-Security-Policy on every page ---------------------------------------------------


class InlineCodeFinder(HTMLParser):
    """Collects what a strict CSP blocks: inline scripts and styles, style attributes, handlers."""

    def __init__(self) -> None:
        super().__init__()
        self.problems: list[str] = []
        self._open_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = {name for name, _ in attrs}
        if tag == "style":
            self.problems.append("<style> element")
        if tag == "script":
            self._open_script = "src" not in names and dict(attrs).get("type") != "application/json"
        for name in names:
            if name == "style" or name.startswith(("on", "hx-on", "data-hx-on")):
                self.problems.append(f'{name}="…" on <{tag}>')

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._open_script = False

    def handle_data(self, data: str) -> None:
        if self._open_script and data.strip():
            self.problems.append(f"inline <script>: {data.strip()[:60]}")


def inline_code(html: str) -> list[str]:
    finder = InlineCodeFinder()
    finder.feed(html)
    return finder.problems


def assert_strict_policy(path: str, response: object) -> None:
    policy = response.get("Content-Security-Policy", "")
    assert policy, f"{path} has no Content-Security-Policy"
    directives = dict((part.strip().split(" ", 1) + [""])[:2] for part in policy.split(";") if part.strip())
    assert "'unsafe-inline'" not in directives.get("script-src", ""), (path, policy)
    assert "'unsafe-eval'" not in directives.get("script-src", ""), (path, policy)
    assert "'unsafe-inline'" not in directives.get("style-src", ""), (path, policy)
    assert directives.get("default-src") == "'self'", (path, policy)
    assert inline_code(response.content.decode()) == [], path


def argumentless_pages() -> list[str]:
    """Every UI route that needs no URL arguments (agent, REST, metrics and file routes excluded)."""
    skip = ("api/", "admin/", "metrics", "healthz", "version", "logout/", "tuf/")
    found: list[str] = []

    def walk(patterns: list, prefix: str) -> None:
        for entry in patterns:
            route = prefix + str(entry.pattern)
            if "<" in route or route.startswith(skip):
                continue
            if isinstance(entry, URLResolver):
                walk(entry.url_patterns, route)
            elif isinstance(entry, URLPattern) and not route.endswith((".csv", ".json")):
                found.append("/" + route.lstrip("^").rstrip("$"))

    walk(get_resolver().url_patterns, "")
    return sorted(set(found))


def test_every_ui_page_has_a_strict_policy_and_no_inline_code(admin: User) -> None:
    team = Team.objects.create(name="Workstations")
    host = Host.objects.create(
        osquery_host_id="h1", hostname="h1", team=team, gigs_total_disk_space=100, gigs_disk_space_available=40,
        percent_disk_space_available=40, platform="darwin",
    )  # fmt: skip
    query = Query.objects.create(name="uptime", query="SELECT * FROM uptime;")
    label = Label.objects.create(name="Pilot", query="", label_membership_type="manual")
    policy = Policy.objects.create(name="FileVault", query="SELECT 1;")
    with_args = [
        reverse("ui-host", args=[host.pk]),
        reverse("ui-team", args=[team.pk]),
        reverse("ui-user-edit", args=[admin.pk]),
        reverse("ui-query", args=[query.pk]),
        reverse("ui-query-report", args=[query.pk]),
        reverse("ui-label", args=[label.pk]),
        reverse("ui-policy", args=[policy.pk]),
        reverse("ui-team-delete", args=[team.pk]),
    ]
    pages = argumentless_pages()
    assert {"/", "/hosts/", "/queries/live/", "/settings/", "/login/"} <= set(pages)
    client = Client()
    client.force_login(admin)
    checked = []
    admin.is_staff = admin.is_superuser = True
    admin.save(update_fields=["is_staff", "is_superuser"])
    admin_pages = ["/admin/", "/admin/accounts/user/", f"/admin/accounts/user/{admin.pk}/change/", "/admin/hosts/host/"]
    extra = ["/hosts/?status=online&order_key=hostname", "/api/reference/", *admin_pages]
    for path in pages + with_args + extra:
        response = client.get(path)
        if response.status_code != 200 or not response["Content-Type"].startswith("text/html"):
            continue
        assert_strict_policy(path, response)
        checked.append(path)
    assert len(checked) >= 30 and set(admin_pages) <= set(checked), checked
    # A page only someone logged out sees.
    assert_strict_policy("/login/", Client().get("/login/"))


def test_htmx_is_configured_not_to_inject_inline_styles_or_evaluate_code(admin: User) -> None:
    client = Client()
    client.force_login(admin)
    for path in ("/", "/packages/"):
        html = client.get(path).content.decode()
        assert '<meta name="htmx-config"' in html, path
        assert '"includeIndicatorStyles":false' in html.replace(" ", ""), path
        assert '"allowEval":false' in html.replace(" ", ""), path


def test_api_docs_relax_only_styles_for_redoc(admin: User) -> None:
    """Redoc's styled-components inject <style> tags without a nonce: that page alone allows inline styles."""
    client = Client()
    client.force_login(admin)
    response = client.get("/api/docs/")
    assert response.status_code == 200
    policy = response["Content-Security-Policy"]
    script_src = next(part for part in policy.split(";") if part.strip().startswith("script-src"))
    assert "unsafe" not in script_src
    assert "worker-src 'self' blob:" in policy
    assert inline_code(response.content.decode()) == []


def test_tls_settings_come_from_the_environment(tmp_path) -> None:
    """Operators set HSTS and the proxy header by environment variables only."""
    script = (
        "import django; from django.conf import settings; django.setup();"
        "print(settings.SECURE_HSTS_SECONDS, settings.SECURE_PROXY_SSL_HEADER)"
    )
    env = {
        "PATH": "/usr/bin:/bin",
        "DJANGO_SETTINGS_MODULE": "fleetsite.settings",
        "FLEETSITE_DATA_DIR": str(tmp_path),
        "FLEETSITE_HSTS_SECONDS": "600",
        "FLEETSITE_TLS_PROXY_HEADER": "X-Forwarded-Proto",
    }
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=BASE_DIR, env=env, capture_output=True, text=True, check=True
    )
    assert result.stdout.split(None, 1) == ["600", "('HTTP_X_FORWARDED_PROTO', 'https')\n"]
