"""Manual labels name hosts by any identifier people know; a name shared by several hosts is refused by name."""

from __future__ import annotations

import pytest
from django.test import Client

from accounts.models import Team, User
from fleetsite.api.errors import FleetAPIError
from hosts.choices import LabelMembershipType
from hosts.models import Host, Label
from queries.labels import resolve_hosts


def browser_for(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def hosts(team: Team) -> dict[str, Host]:
    return {
        "named": Host.objects.create(
            osquery_host_id="osq-1", hostname="mac-1.local", computer_name="Ada's MacBook", hardware_serial="C02X1",
            uuid="UUID-1", node_key_digest="d" * 64,
        ),
        "twin_a": Host.objects.create(osquery_host_id="osq-2", hostname="web", hardware_serial="S-A", uuid="UUID-2"),
        "twin_b": Host.objects.create(
            osquery_host_id="osq-3", hostname="web", hardware_serial="S-B", uuid="UUID-3", team=team
        ),
    }  # fmt: skip


@pytest.mark.parametrize("identifier", ["mac-1.local", "Ada's MacBook", "C02X1", "UUID-1", "osq-1"])
def test_every_identifier_names_the_host(admin: User, hosts: dict[str, Host], identifier: str) -> None:
    assert resolve_hosts(admin, [identifier]) == [hosts["named"].pk]


def test_the_node_key_is_not_an_identifier(admin: User, hosts: dict[str, Host]) -> None:
    with pytest.raises(FleetAPIError) as error:
        resolve_hosts(admin, ["d" * 64])
    assert "unknown hosts: " in error.value.reason


def test_an_ambiguous_name_is_refused_with_the_hosts_it_matches(admin: User, hosts: dict[str, Host]) -> None:
    response = browser_for(admin).post(
        "/labels/new/", {"name": "Web", "label_membership_type": "manual", "hosts": "mac-1.local\nweb\n"}
    )
    html = response.content.decode()
    assert "“web” matches 2 hosts" in html and "serial S-A" in html and "serial S-B" in html
    assert "serial number or UUID instead" in html and not Label.objects.filter(name="Web").exists()
    # Named by serial, the same two hosts are accepted.
    browser_for(admin).post(
        "/labels/new/", {"name": "Web", "label_membership_type": "manual", "hosts": "S-A\nS-B\nAda's MacBook"}
    )
    assert set(Label.objects.get(name="Web").hosts.values_list("pk", flat=True)) == {h.pk for h in hosts.values()}


def test_the_edit_form_lists_members_so_saving_unchanged_works(admin: User, hosts: dict[str, Host]) -> None:
    label = Label.objects.create(name="All", label_membership_type=LabelMembershipType.MANUAL)
    label.hosts.set(hosts.values())
    client = browser_for(admin)
    page = client.get(f"/labels/{label.pk}/").content.decode()
    listed = page.split('name="hosts"', 1)[1].split("</textarea>", 1)[0]
    assert "mac-1.local" in listed and "UUID-2" in listed and "UUID-3" in listed and "\nweb" not in listed
    assert client.post(f"/labels/{label.pk}/", {"name": "All", "hosts": listed.split(">", 1)[1]}).status_code == 302
    assert label.hosts.count() == 3


def test_a_team_user_cannot_name_hosts_they_do_not_see(maintainer: User, hosts: dict[str, Host]) -> None:
    """The team-A maintainer sees only twin_b: "web" is one host for them, and mac-1.local unknown."""
    assert resolve_hosts(maintainer, ["web"]) == [hosts["twin_b"].pk]
    with pytest.raises(FleetAPIError):
        resolve_hosts(maintainer, ["mac-1.local"])
