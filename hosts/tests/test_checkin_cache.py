"""Agents' host rows answered from memory; every change to a row seen at the next check-in (hosts/checkin_cache)."""

from __future__ import annotations

import pytest
from django.db import connection, transaction
from django.utils import timezone

from accounts.models import Team
from enrollment.tests.fixtures import READ, detail_write
from fleetsite.lib import sharedcache
from fleetsite.lib.tokens import digest
from hosts import checkin_cache
from hosts.lookup import host_by_key
from hosts.models import Host


@pytest.fixture(autouse=True)
def cache_on(settings):
    settings.FLEETSITE_CHECKIN_CACHE_SECONDS = 60


@pytest.fixture
def idle_host(agent, ubuntu_host):
    """A host that has answered its detail queries and labels: its reads are idle."""
    agent.json(READ, ubuntu_host.body())
    agent.json("/api/osquery/distributed/write", detail_write(ubuntu_host))
    now = timezone.now()
    Host.objects.filter(pk=ubuntu_host.host.pk).update(label_updated_at=now, policy_updated_at=now)
    agent.json(READ, ubuntu_host.body())  # the config, policy and campaign caches, as in a running server
    return ubuntu_host


def lookup(enrolled):
    return host_by_key("node_key_digest", digest(enrolled.node_key))


def test_an_idle_read_after_the_first_costs_no_query(agent, idle_host, django_assert_num_queries):
    with django_assert_num_queries(0):
        assert agent.json(READ, idle_host.body())["queries"] == {}


def test_a_refetch_asked_by_an_admin_goes_out_at_the_next_read(agent, idle_host, api):
    assert api.post(f"/api/latest/fleet/hosts/{idle_host.host.pk}/refetch").status_code == 200
    assert any(name.startswith("fleet_detail_query_") for name in agent.json(READ, idle_host.body())["queries"])


def test_a_deleted_host_is_refused_at_its_next_check_in(agent, idle_host, api):
    assert api.delete(f"/api/latest/fleet/hosts/{idle_host.host.pk}").status_code == 200
    body = agent.json(READ, idle_host.body(), expect=401)
    assert body["node_invalid"] is True


def test_a_host_moved_by_a_team_filter_or_a_deleted_team_is_seen_at_once(idle_host, team):
    Host.objects.filter(team__isnull=True).update(team=team)  # no ids in the filter: everything is forgotten
    assert lookup(idle_host).team_id == team.pk
    Team.objects.filter(pk=team.pk).delete()  # hosts lose the team by cascade, not through a Host queryset
    assert lookup(idle_host).team_id is None


def test_a_write_to_one_host_keeps_the_others_in_memory(enroll_host, django_assert_num_queries):
    first, second = enroll_host(), enroll_host("enroll_ubuntu", host_identifier="second-host")
    lookup(first), lookup(second)
    Host.objects.filter(pk=first.host.pk).update(computer_name="renamed")
    with django_assert_num_queries(1):
        assert lookup(first).computer_name == "renamed"
        assert lookup(second).computer_name == second.host.computer_name


def test_many_written_hosts_leave_the_other_cached_hosts_in_memory(enroll_host, monkeypatch, django_assert_num_queries):
    monkeypatch.setattr(checkin_cache, "MAX_ENTRIES", 2)
    kept = enroll_host()
    lookup(kept)
    for first in (10**9, 10**9 + 10):  # more written hosts than the records of writes hold
        checkin_cache.forget_hosts([first, first + 1, first + 2])
    with django_assert_num_queries(0):
        assert lookup(kept).pk == kept.host.pk


def test_a_host_written_while_it_was_read_is_not_kept_though_the_record_of_it_was_pruned(enroll_host, monkeypatch):
    monkeypatch.setattr(checkin_cache, "MAX_ENTRIES", 2)
    host = enroll_host().host
    loads = []

    def load_while_written(number):
        loads.append(number)
        if number == 1:
            checkin_cache.forget_hosts([host.pk])  # written while it was being read...
            checkin_cache.forget_hosts([10**9, 10**9 + 1, 10**9 + 2])  # ...and that record pruned since
        return Host.objects.get(pk=host.pk)

    key = ("default", "node_key_digest", digest("a key"))
    checkin_cache.get(key, lambda: load_while_written(1))
    checkin_cache.get(key, lambda: load_while_written(2))  # not answered from memory: read again
    assert loads == [1, 2]


needs_redis = pytest.mark.skipif(not checkin_cache._REDIS, reason="other processes speak through Redis")


@needs_redis
def test_a_change_made_by_another_process_is_seen_once_the_stream_is_read_again(idle_host, monkeypatch):
    lookup(idle_host)
    pk = idle_host.host.pk
    # Another process: its own UPDATE, and the host's id on the stream; this process's memory untouched.
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {Host._meta.db_table} SET refetch_requested = %s WHERE id = %s", [True, pk])
    client, stream = checkin_cache._stream()
    client.xadd(stream, {"ids": str(pk)})
    assert lookup(idle_host).refetch_requested is False  # the stream was read less than REFRESH_SECONDS ago
    monkeypatch.setattr(checkin_cache, "REFRESH_SECONDS", 0)
    assert lookup(idle_host).refetch_requested is True


@needs_redis
def test_a_transaction_tells_other_processes_once_after_its_commit(idle_host, django_capture_on_commit_callbacks):
    """Other processes read the old row until the commit, so the hosts a transaction wrote go out together after it."""
    client, stream = checkin_cache._stream()
    newest = client.xrevrange(stream, "+", "-", count=1)
    start = f"({newest[0][0].decode()}" if newest else "-"
    pk = idle_host.host.pk
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        Host.objects.filter(pk=pk).update(refetch_requested=True)  # a distributed/write writes the row...
        Host.objects.filter(pk=pk).update(policy_updated_at=timezone.now())  # ...and then its policy answers
        with transaction.atomic():
            Host.objects.filter(pk__in=[pk + 1000]).update(refetch_requested=True)
        assert client.xrange(stream, start, "+") == []
    assert [fields[b"ids"] for _, fields in client.xrange(stream, start, "+")] == [f"{pk},{pk + 1000}".encode()]


@needs_redis
def test_a_process_that_read_nothing_for_a_while_starts_over(idle_host, monkeypatch, django_assert_num_queries):
    lookup(idle_host)
    monkeypatch.setattr(checkin_cache, "_read_at", checkin_cache._read_at - checkin_cache.STALE_SECONDS - 1)
    with django_assert_num_queries(1):  # the stream may have been trimmed past it: nothing kept is trusted
        lookup(idle_host)


def test_the_caller_gets_its_own_copy(idle_host):
    stored = Host.objects.get(pk=idle_host.host.pk).hostname
    first = lookup(idle_host)
    first.hostname = "changed in the request"
    first._state.fields_cache["team"] = None
    again = lookup(idle_host)
    assert again.hostname == stored and again is not first and "team" not in again._state.fields_cache


@needs_redis
def test_while_the_shared_cache_is_down_every_check_in_reads_the_database(
    agent, idle_host, monkeypatch, django_assert_num_queries
):
    def down(*args, **kwargs):
        raise sharedcache.Unavailable("down")

    monkeypatch.setattr(checkin_cache.sharedcache, "call", down)
    monkeypatch.setattr(checkin_cache, "REFRESH_SECONDS", 0)
    for _ in range(2):
        with django_assert_num_queries(1):
            assert agent.json(READ, idle_host.body())["queries"] == {}


def test_turned_off_every_check_in_reads_the_database(agent, idle_host, settings, django_assert_num_queries):
    settings.FLEETSITE_CHECKIN_CACHE_SECONDS = 0
    with django_assert_num_queries(1):
        agent.json(READ, idle_host.body())
