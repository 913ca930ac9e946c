"""Host identities must be reproducible with --seed and shaped like real agents'."""

from __future__ import annotations

import re
from collections import Counter

import pytest

from agentsim.identity import make_identities, make_identity, platform_for_index


def test_same_seed_same_identities() -> None:
    assert make_identities(50, "mixed", seed=7) == make_identities(50, "mixed", seed=7)


def test_different_seed_different_identities() -> None:
    a, b = make_identities(5, "linux", seed=1), make_identities(5, "linux", seed=2)
    assert {h.hardware_uuid for h in a}.isdisjoint(h.hardware_uuid for h in b)


def test_identity_independent_of_fleet_size() -> None:
    assert make_identities(3, "mixed", seed=9) == make_identities(10, "mixed", seed=9)[:3]
    assert make_identity(4, "mixed", 9) == make_identities(5, "mixed", seed=9)[4]


def test_no_seed_is_random() -> None:
    assert make_identities(1)[0].hardware_uuid != make_identities(1)[0].hardware_uuid


def test_identity_shape() -> None:
    hosts = make_identities(200, "mixed", seed=3)
    assert len({h.hardware_uuid for h in hosts}) == 200
    assert len({h.hostname for h in hosts}) == 200
    assert len({h.ip for h in hosts}) == 200
    for h in hosts:
        assert re.fullmatch(r"[0-9A-F]{8}-[0-9A-F]{4}-4[0-9A-F]{3}-[89AB][0-9A-F]{3}-[0-9A-F]{12}", h.hardware_uuid)
        assert h.hostname == f"sim-{h.platform}-{h.index:05d}"
        assert re.fullmatch(r"[0-9a-f-]{36}", h.device_auth_token)
        assert h.platform_type == {"linux": "9", "darwin": "21", "windows": "2"}[h.platform]
    assert hosts[42].hostname == "sim-linux-00042"


def test_mixed_ratio() -> None:
    counts = Counter(h.platform for h in make_identities(1000, "mixed", seed=0))
    assert counts == {"linux": 500, "darwin": 300, "windows": 200}


def test_linux_has_flavour_variety() -> None:
    flavors = Counter(h.flavor for h in make_identities(300, "linux", seed=5))
    assert set(flavors) == {"ubuntu", "rhel", "debian"}
    assert flavors["ubuntu"] > flavors["rhel"]


def test_unknown_platform_rejected() -> None:
    with pytest.raises(ValueError, match="unknown platform"):
        platform_for_index("plan9", 0)
