"""Upgrades: a database filled under the previous release's schema migrates to this one intact.

The previous release is the last commit that landed on main before this schema work (03428ac):
its latest migration per app is recorded below. The test migrates an empty database back to
that state, fills it through the historical models (what that release could write), migrates
forward, and reads the rows back through today's models and API.
"""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from accounts import tokens
from conftest import APIClient

PREVIOUS_RELEASE = {
    "accounts": "0002_invites_and_token_roles",
    "hosts": "0002_builtin_labels",
    "queries": "0001_initial",
    "enrollment": "0001_initial",
    "fleetsite": "0001_initial",
    "carves": "0001_initial",
    "activities": "0001_initial",
    "packaging": "0001_initial",
}
# Apps the previous release did not have: migrated to nothing.
NEW_APPS = ("scripts", "variables", "software_installers")


def _migrate(targets: list[tuple[str, str | None]]) -> MigrationExecutor:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor


@pytest.mark.django_db(transaction=True)
def test_a_previous_release_database_upgrades_with_its_data() -> None:
    previous = [*PREVIOUS_RELEASE.items(), *((app, None) for app in NEW_APPS)]
    executor = _migrate(previous)
    old = executor.loader.project_state(list(PREVIOUS_RELEASE.items())).apps
    team = old.get_model("accounts", "Team").objects.create(name="Upgraded team")
    user = old.get_model("accounts", "User").objects.create(
        email="upgrade@example.com", name="Upgrader", global_role="admin", password="!"
    )
    host = old.get_model("hosts", "Host").objects.create(
        osquery_host_id="upgrade-host", hostname="upgraded.example", team_id=team.pk
    )
    old.get_model("queries", "Query").objects.create(name="upgraded query", query="SELECT 1;", author_id=user.pk)

    _migrate(executor.loader.graph.leaf_nodes())

    from accounts.models import User
    from hosts.models import Host
    from queries.models import Query

    assert Host.objects.get(pk=host.pk).hostname == "upgraded.example"
    assert Host.objects.get(pk=host.pk).team.name == "Upgraded team"
    assert Query.objects.get(name="upgraded query").author_id == user.pk
    api = APIClient(tokens.issue_session(User.objects.get(pk=user.pk)))
    listing = api.get("/api/latest/fleet/hosts", {"per_page": 10})
    assert listing.status_code == 200
    assert [row["hostname"] for row in listing.json()["hosts"]] == ["upgraded.example"]
    # The search index (hosts 0010) was filled with the hosts already there.
    from hosts import search

    narrowed = search.candidates("upgraded.ex", always=True)
    assert narrowed is not None
    assert list(Host.objects.filter(pk__in=narrowed).values_list("hostname", flat=True)) == ["upgraded.example"]
