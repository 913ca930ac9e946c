"""Batched seen times: every host gets its own times, in as few statements as the database allows."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from hosts import seen
from hosts.models import Host


def test_a_flush_writes_each_hosts_own_times_and_leaves_others_alone(db, django_assert_max_num_queries):
    start = timezone.now() - timedelta(days=1)
    hosts = Host.objects.bulk_create(
        [
            Host(osquery_host_id=f"seen-{i}", hostname=f"seen-{i}", seen_time=start, online_until=start)
            for i in range(700)
        ]
    )
    marked = hosts[:650]  # more than one batch on every database
    now = timezone.now().replace(microsecond=123456)
    for offset, host in enumerate(marked):
        seen.buffer.mark(host.pk, now + timedelta(seconds=offset), now + timedelta(seconds=offset, minutes=1))
    with django_assert_max_num_queries(8):  # per batch: one UPDATE (and the transaction around it)
        assert seen.buffer.flush() == len(marked)
    stored = {pk: (seen_time, online_until) for pk, seen_time, online_until in Host.objects.values_list(
        "pk", "seen_time", "online_until")}  # fmt: skip
    for offset, host in enumerate(marked):
        assert stored[host.pk] == (now + timedelta(seconds=offset), now + timedelta(seconds=offset, minutes=1))
    for host in hosts[650:]:
        assert stored[host.pk] == (start, start)
