"""DATABASE_READ_REPLICA_URL: people's lists read from a second database; agents and auth do not.

The replica here is a real second database (a SQLite copy taken before the host enrolled), so
what each endpoint answers shows which database it read.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from fleetsite.liveserver import LiveServer
from queries import livecheck

pytestmark = [pytest.mark.e2e, pytest.mark.own_sqlite]

ADMIN = {"email": "replica-admin@example.com", "password": "a long replica password 1234"}


def test_lists_read_the_replica_while_check_ins_tokens_and_details_use_the_primary(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    live = LiveServer(data_dir=data_dir, database_url=f"sqlite:///{data_dir / 'primary.sqlite3'}")
    live.manage("migrate", "--noinput")
    live.extra_env.update(DJANGO_SUPERUSER_EMAIL=ADMIN["email"], DJANGO_SUPERUSER_PASSWORD=ADMIN["password"])
    live.manage("createsuperuser", "--noinput")
    replica = data_dir / "replica.sqlite3"
    with sqlite3.connect(data_dir / "primary.sqlite3") as source, sqlite3.connect(replica) as target:
        source.backup(target)  # the replica as of now: the admin, no hosts
    live.extra_env["DATABASE_READ_REPLICA_URL"] = f"sqlite:///{replica}"
    secret = live.manage("enroll_secret", "add").strip()
    with live:
        status, enrolled = livecheck.call(
            live.url, "POST", "/api/osquery/enroll",
            {"enroll_secret": secret, "host_identifier": "replica-probe", "host_details": {}},
        )  # fmt: skip
        assert status == 200 and enrolled["node_key"], enrolled
        status, read = livecheck.call(
            live.url, "POST", "/api/osquery/distributed/read", {"node_key": enrolled["node_key"]}
        )
        assert status == 200, read  # the check-in found its host on the primary

        status, login = livecheck.call(live.url, "POST", "/api/latest/fleet/login", ADMIN)
        assert status == 200, login
        token = login["token"]  # exists only on the primary: lists still authenticate

        status, listing = livecheck.call(live.url, "GET", "/api/latest/fleet/hosts?per_page=50", token=token)
        assert status == 200, listing
        assert listing["hosts"] == []  # the replica has not seen the host yet
        status, summary = livecheck.call(live.url, "GET", "/api/latest/fleet/host_summary", token=token)
        assert status == 200 and summary["totals_hosts_count"] == 0, summary

        status, detail = livecheck.call(
            live.url, "GET", "/api/latest/fleet/hosts/identifier/replica-probe", token=token
        )
        assert status == 200 and detail["host"]["hostname"] is not None, detail  # details read the primary
