"""The host search index: the same hosts as Fleet's LIKE on every database, current after every write."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.db.models import Q

from hosts import search
from hosts.models import Host

# Committed, as a search request sees them: InnoDB indexes FULLTEXT words when a transaction commits.
pytestmark = pytest.mark.django_db(transaction=True)

HOSTS = "/api/latest/fleet/hosts"

FLEET = [
    dict(hostname="dev-000123.corp.example.com", computer_name="dev-000123",
         uuid="0000007B-CD61-3E30-D8F1-6ADF91B7584A",
         hardware_serial="SN000007BC38", primary_ip="10.0.0.123", public_ip="203.0.113.17"),
    dict(hostname="Jose-MBP.local", computer_name="José’s MacBook Pro", uuid="A1B2C3D4-0000-4000-8000-000000000001",
         hardware_serial="C02XK1ABJGH5", primary_ip="192.168.1.20", public_ip=""),
    dict(hostname="WEB-01.EXAMPLE.COM", computer_name="", uuid="", hardware_serial="", primary_ip="fe80::1ff:fe23:4567",
         public_ip="198.51.100.7"),
    dict(hostname="build_agent%7", computer_name="Build Agent 7", uuid="b7", hardware_serial="-1", primary_ip="",
         public_ip=""),
]  # fmt: skip

TERMS = [
    "dev-0001", "dev-000123", "DEV-000123", "none-such", "example", "EXAMPLE.com", "7584a", "d8f1-6adf",
    "sn000007", "10.0.0.12", "203.0.113", "macbook", "josé", "’s mac", "jose", "c02xk", "fe80::1", "4567",
    "_agent%", "agent%7", "t%7", "b7", "ple", "ope", "1.20",
]  # fmt: skip


@pytest.fixture
def fleet() -> list[Host]:
    search.forget_samples()
    hosts = [Host.objects.create(osquery_host_id=f"h{n}", **values) for n, values in enumerate(FLEET)]
    yield hosts
    search.forget_samples()


def like(text: str, columns: tuple[str, ...] = search.SEARCHED) -> Q:
    condition = Q()
    for column in columns:
        condition |= Q(**{f"{column}__icontains": text})
    return condition


def found(condition: Q) -> set[str]:
    return set(Host.objects.filter(condition).values_list("hostname", flat=True))


def through_index(text: str) -> set[str] | None:
    """The hosts the LIKE keeps among the index's candidates, or None where the index cannot serve `text`."""
    narrowed = search.candidates(text, always=True)
    return None if narrowed is None else found(like(text) & Q(pk__in=narrowed))


def test_the_index_is_kept_on_this_database() -> None:
    """A later migration that rebuilt hosts_host (SQLite does, to alter a table) would drop the triggers."""
    if connection.vendor == "mysql" and not connection.mysql_is_mariadb:
        pytest.skip("MySQL keeps no host search index")
    with connection.cursor() as cursor:
        assert search._BACKENDS[connection.vendor].available(connection, cursor)


@pytest.mark.parametrize("text", TERMS)
def test_the_index_finds_exactly_the_hosts_the_like_finds(fleet: list[Host], text: str) -> None:
    expected = found(like(text))
    narrowed = through_index(text)
    if narrowed is None:
        assert len(text) < 4 or connection.vendor == "sqlite" and ("%" in text or "_" in text)
        return
    assert narrowed == expected
    assert found(search.matching(text)) == expected


def test_the_index_serves_every_term_long_enough() -> None:
    """Terms of 4 characters and more, with no LIKE wildcard, always have candidates (never a silent scan)."""
    search.forget_samples()
    Host.objects.create(osquery_host_id="one", hostname="one")
    for text in ("none-such", "dev-0001", "1.20", "josé"):
        assert search.candidates(text, always=True) is not None, text


def test_the_index_follows_every_write(fleet: list[Host]) -> None:
    host = fleet[0]
    assert through_index("dev-000123") == {"dev-000123.corp.example.com"}

    Host.objects.filter(pk=host.pk).update(hostname="renamed-77.corp", computer_name="renamed-77")
    assert through_index("dev-000123") == set()
    assert through_index("renamed-77") == {"renamed-77.corp"}

    host.refresh_from_db()
    host.primary_ip = "172.16.9.9"
    host.save()
    assert through_index("172.16.9") == {"renamed-77.corp"}
    assert through_index("10.0.0.123") == set()

    Host.objects.filter(pk=host.pk).update(seen_time=host.seen_time)  # no searched column: nothing to write
    assert through_index("172.16.9") == {"renamed-77.corp"}

    Host.objects.bulk_create([Host(osquery_host_id="bulk", hostname="bulk-zz9.corp")])
    assert through_index("bulk-zz9") == {"bulk-zz9.corp"}

    Host.objects.filter(pk=host.pk).delete()
    assert through_index("renamed-77") == set()
    with connection.cursor() as cursor:
        table, key = ("hosts_hostsearch", "rowid") if connection.vendor == "sqlite" else ("hosts_hostsearch", "host_id")
        cursor.execute(f"SELECT COUNT(*) FROM {table} WHERE {key} = %s", [host.pk])
        assert cursor.fetchone()[0] == 0


def test_a_term_most_hosts_contain_is_left_to_the_scan(fleet: list[Host]) -> None:
    """The sample holds the whole of a small fleet: 'example' is in half of it, 'none-such' in none."""
    assert search.candidates("example") is None
    assert search.candidates("none-such") is not None
    assert search.candidates("ab") is None  # too short for any index


def test_the_host_list_and_count_answer_the_same_through_the_index(api: Any, fleet: list[Host]) -> None:
    for text in ("dev-000123", "josé", "none-such", "fe80::1"):
        hosts = api.get(HOSTS, {"query": text}).json()["hosts"]
        expected = found(like(text))
        assert {host["hostname"] for host in hosts} == expected
        assert api.get(f"{HOSTS}/count", {"query": text}).json()["count"] == len(expected)


def test_the_target_search_leaves_out_the_public_address(api: Any, fleet: list[Host]) -> None:
    """Fleet's target picker matches no public_ip; the index holds it but the LIKE decides."""
    assert api.post("/api/latest/fleet/hosts/search", {"query": "198.51.100"}).json()["hosts"] == []
    listed = api.get(HOSTS, {"query": "198.51.100"}).json()["hosts"]
    assert [host["hostname"] for host in listed] == ["WEB-01.EXAMPLE.COM"]
