"""My Device: the end user's page at /device/{token}, reached with the device token and no login."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from accounts.models import Team, User
from fleetsite.lib.tokens import digest
from hosts.models import Host, HostSoftware, Software
from queries.models import Policy, PolicyMembership

pytestmark = pytest.mark.django_db

TOKEN = "5a1d3e0f-7d0b-4c8e-9a51-0e6f2c4b9d11"
OTHER_TOKEN = "b7c1e9a2-3f4d-4e5a-8b6c-7d8e9f0a1b2c"


def _host(name: str, token: str, team: Team | None = None, **fields: object) -> Host:
    return Host.objects.create(
        osquery_host_id=name,
        hostname=name,
        team=team,
        device_token_digest=digest(token),
        device_token_updated_at=timezone.now(),
        **fields,
    )


def _install(host: Host, name: str, version: str = "1.0", source: str = "deb_packages") -> Software:
    software, _ = Software.objects.get_or_create(
        checksum=f"{name}-{version}-{source}", defaults={"name": name, "version": version, "source": source}
    )
    HostSoftware.objects.create(host=host, software=software)
    return software


def _answer(host: Host, name: str, passes: bool | None, resolution: str = "", team: Team | None = None) -> Policy:
    policy = Policy.objects.create(name=name, query="SELECT 1;", resolution=resolution, team=team)
    PolicyMembership.objects.create(policy=policy, host=host, passes=passes)
    return policy


@pytest.fixture
def mine(team: Team) -> Host:
    host = _host(
        "alice-laptop",
        TOKEN,
        team,
        computer_name="Alice's MacBook",
        os_version="macOS 14.5",
        platform="darwin",
        hardware_vendor="Apple Inc.",
        hardware_model="MacBookPro18,3",
        hardware_serial="C02ALICE",
        gigs_disk_space_available=42.5,
        percent_disk_space_available=17,
        gigs_total_disk_space=250,
        refetch_requested=False,
    )
    _install(host, "firefox", "126.0")
    _answer(host, "Firewall on", True)
    _answer(host, "Disk encrypted", False, "Turn on FileVault in System Settings.", team)
    return host


@pytest.fixture
def theirs(other_team: Team) -> Host:
    host = _host("bob-desktop", OTHER_TOKEN, other_team, hardware_serial="BOBSERIAL", os_version="Windows 11")
    _install(host, "bobs-secret-tool", "9.9")
    _answer(host, "Bob's private policy", False, "Bob's resolution", other_team)
    return host


def main_of(response: object) -> str:
    return response.content.decode().split("<main", 1)[1]  # type: ignore[attr-defined]


def test_the_right_token_shows_the_summary_software_and_failing_policies_first(mine: Host) -> None:
    response = Client().get(f"/device/{TOKEN}")
    assert response.status_code == 200
    html = response.content.decode()
    for text in ("alice-laptop", "macOS 14.5", "MacBookPro18,3", "C02ALICE", "42.5 GB", "firefox", "126.0"):
        assert text in html, text
    assert "Turn on FileVault in System Settings." in html and "1 failing" in html
    assert html.index("Disk encrypted") < html.index("Firewall on")  # failing first
    assert '<time datetime="' in html  # the one timestamp format
    # No admin navigation and no login: the end user's own header.
    assert 'href="/hosts/"' not in html and "Log out" not in html
    assert response["Cache-Control"] == "no-store" and response["Referrer-Policy"] == "same-origin"


def test_an_admins_session_does_not_change_the_page(mine: Host, admin: User) -> None:
    client = Client()
    client.force_login(admin)
    html = client.get(f"/device/{TOKEN}").content.decode()
    assert "alice-laptop" in html and 'href="/hosts/"' not in html


@pytest.mark.parametrize("token", ["wrong-token", OTHER_TOKEN.upper(), "x" * 300, "%00"])
def test_a_wrong_token_gets_a_plain_401_naming_no_host(mine: Host, theirs: Host, token: str) -> None:
    response = Client().get(f"/device/{token}")
    assert response.status_code == 401
    html = response.content.decode()
    for leak in ("alice", "bob", "C02ALICE", "firefox", "Disk encrypted", "macOS"):
        assert leak not in html.lower(), leak


def test_an_expired_token_gets_the_same_401(mine: Host, settings: object) -> None:
    Host.objects.filter(pk=mine.pk).update(device_token_updated_at=timezone.now() - timedelta(hours=2))
    expired = Client().get(f"/device/{TOKEN}")
    wrong = Client().get("/device/never-issued")
    assert expired.status_code == wrong.status_code == 401
    assert main_of(expired) == main_of(wrong)


def test_another_hosts_data_is_never_shown(mine: Host, theirs: Host) -> None:
    html = Client().get(f"/device/{TOKEN}").content.decode()
    for other in ("bob-desktop", "BOBSERIAL", "bobs-secret-tool", "Bob's private policy", "Bob&#x27;s", "Windows 11"):
        assert other not in html, other
    bob = Client().get(f"/device/{OTHER_TOKEN}").content.decode()
    assert "bobs-secret-tool" in bob and "firefox" not in bob and "C02ALICE" not in bob


def test_software_is_paged(mine: Host) -> None:
    for i in range(60):
        _install(mine, f"pkg-{i:02d}")
    first = Client().get(f"/device/{TOKEN}").content.decode()
    assert "Software (61)" in first and "pkg-00" in first and "pkg-59" not in first
    assert 'rel="next"' in first
    second = Client().get(f"/device/{TOKEN}?page=1", headers={"HX-Request": "true", "HX-Target": "results"})
    fragment = second.content.decode()
    assert "pkg-59" in fragment and "<header" not in fragment and "pkg-00" not in fragment


def test_tabs_open_the_same_page_and_unknown_ones_404(mine: Host) -> None:
    assert Client().get(f"/device/{TOKEN}/policies").status_code == 200
    assert Client().get(f"/device/{TOKEN}/self-service").status_code == 200
    assert Client().get(f"/device/{TOKEN}/nonsense").status_code == 404


def test_refetch_is_a_csrf_protected_post(mine: Host) -> None:
    client = Client(enforce_csrf_checks=True)
    page = client.get(f"/device/{TOKEN}").content.decode()
    form = re.search(r'<form method="post" action="(/device/[^"]+/refetch)".*?</form>', page, re.S)
    assert form is not None
    # Without the form's token, nothing happens.
    assert client.post(form.group(1)).status_code == 403
    mine.refresh_from_db()
    assert mine.refetch_requested is False
    csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.group(0)).group(1)  # type: ignore[union-attr]
    response = client.post(form.group(1), {"csrfmiddlewaretoken": csrf})
    assert response.status_code == 302 and response["Location"] == f"/device/{TOKEN}?done=refetch"
    mine.refresh_from_db()
    assert mine.refetch_requested is True
    after = client.get(response["Location"]).content.decode()
    assert "Refetch requested" in after and "refetch pending" in after


def test_refetch_with_a_wrong_token_changes_nothing(mine: Host, theirs: Host) -> None:
    Host.objects.update(refetch_requested=False)
    assert Client().post("/device/wrong-token/refetch").status_code == 401
    assert Client().get(f"/device/{TOKEN}/refetch").status_code == 405
    assert not Host.objects.filter(refetch_requested=True).exists()


def test_self_service_installs_are_offered_and_queued(mine: Host, team: Team, other_team: Team) -> None:
    from software_installers.models import SoftwareInstall, SoftwareInstaller

    assert 'id="self-service"' not in Client().get(f"/device/{TOKEN}").content.decode()
    Host.objects.filter(pk=mine.pk).update(orbit_node_key_digest=digest("orbit-key"))
    title = Software.objects.create(name="Slack", version="4.0", source="apps", checksum="slack-apps")
    hidden = Software.objects.create(name="Admin tool", version="1", source="apps", checksum="admin-apps")
    elsewhere = Software.objects.create(name="Other team app", version="1", source="apps", checksum="other-apps")
    common = {"extension": "pkg", "platform": "darwin", "storage_id": "0" * 64}
    SoftwareInstaller.objects.create(team=team, title=title, filename="slack.pkg", self_service=True, **common)
    SoftwareInstaller.objects.create(team=team, title=hidden, filename="admin.pkg", self_service=False, **common)
    SoftwareInstaller.objects.create(
        team=other_team, title=elsewhere, filename="other.pkg", self_service=True, **common
    )
    html = Client().get(f"/device/{TOKEN}").content.decode()
    section = html.split('id="self-service"', 1)[1].split("</section>", 1)[0]
    assert "Slack" in section and "Admin tool" not in section and "Other team app" not in section
    response = Client().post(f"/device/{TOKEN}/install/{title.pk}")
    assert response.status_code == 302
    run = SoftwareInstall.objects.get()
    assert run.host_id == mine.pk and run.self_service is True and run.user is None
    after = Client().get(response["Location"]).content.decode()
    assert "Install pending" in after and "Install requested" in after
    # Not self-service, another team's package, or a wrong token: nothing is queued.
    assert Client().post(f"/device/{TOKEN}/install/{hidden.pk}").status_code == 404
    assert Client().post(f"/device/{TOKEN}/install/{elsewhere.pk}").status_code == 404
    assert Client().post(f"/device/wrong/install/{title.pk}").status_code == 401
    # Already pending: Fleet's refusal, shown on a page of its own.
    again = Client().post(f"/device/{TOKEN}/install/{title.pk}")
    assert again.status_code == 400 and SoftwareInstall.objects.count() == 1
