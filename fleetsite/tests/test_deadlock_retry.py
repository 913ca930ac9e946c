"""A transaction the database picks as a deadlock victim runs again instead of failing.

Batch script runs and seen-time flushes lock thousands of host rows while agents update their
own: on MySQL and PostgreSQL a lock cycle rolls one transaction back. The bench hit it (a batch
of pending scripts against the seen flusher); these tests make a real cycle on the real database.
"""

from __future__ import annotations

import threading

import pytest
from django.db import connection, connections

from fleetsite.lib.db import atomic_with_retry
from hosts.models import Host

pytestmark = pytest.mark.skipif(
    connection.vendor == "sqlite", reason="SQLite locks the whole file: it has no row-lock cycles"
)


def _cycle(first: int, second: int, barrier: threading.Barrier, attempts: list[int], name: str) -> None:
    """Lock `first`, wait until the other side holds its row, then want `second`: a cycle, once."""

    def work() -> None:
        attempts.append(1)
        Host.objects.filter(pk=first).update(hostname=f"{name}-first")
        if len(attempts) == 1:
            barrier.wait(timeout=10)
        Host.objects.filter(pk=second).update(hostname=f"{name}-second")

    atomic_with_retry(work)


@pytest.mark.django_db(transaction=True)
def test_both_sides_of_a_deadlock_complete() -> None:
    one = Host.objects.create(osquery_host_id="one", hostname="one")
    two = Host.objects.create(osquery_host_id="two", hostname="two")
    barrier = threading.Barrier(2)
    left: list[int] = []
    right: list[int] = []
    errors: list[BaseException] = []

    def other_side() -> None:
        try:
            _cycle(two.pk, one.pk, barrier, right, "right")
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)
        finally:
            connections.close_all()

    thread = threading.Thread(target=other_side)
    thread.start()
    _cycle(one.pk, two.pk, barrier, left, "left")
    thread.join(timeout=30)
    assert not errors, errors
    assert len(left) + len(right) == 3  # exactly one side was the victim and ran again
    names = set(Host.objects.values_list("hostname", flat=True))
    assert names in ({"left-first", "left-second"}, {"right-first", "right-second"})
