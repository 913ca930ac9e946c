"""`fleetsite.lib.bounds`: values fitted by the field they land in, logged once per owner and field."""

from __future__ import annotations

import logging

import orjson
import pytest

from carves.models import Carve
from fleetsite.lib import bounds
from hosts.models import Host, HostUser
from queries.models import Campaign, CampaignResult


@pytest.fixture(autouse=True)
def _fresh_log() -> None:
    bounds.forget_logged()


@pytest.mark.parametrize(
    ("model", "name", "value", "expected"),
    [
        (Host, "memory", 2**63, 0),  # BigIntegerField, not null, default 0
        (Host, "memory", 2**63 - 1, 2**63 - 1),
        (Host, "memory", float("inf"), 0),
        (Host, "memory", 1e300, 0),
        (Host, "distributed_interval", 2**31, 0),  # IntegerField: 32 bits on every database
        (Host, "distributed_interval", -(2**31), -(2**31)),
        (Host, "gigs_all_disk_space", float("nan"), None),  # nullable FloatField
        (Host, "gigs_disk_space_available", float("-inf"), 0),
        (Host, "gigs_disk_space_available", 10**400, 0),  # too large for a float
        (HostUser, "uid", 10**23, 0),  # no default: 0
        (Campaign, "status", 40_000, 0),  # PositiveSmallIntegerField
        (Campaign, "status", -1, 0),
        (Carve, "block_count", 2**64, 0),  # BigIntegerField without default, not null
        (Host, "hostname", "a\x00b", "ab"),
        (Host, "platform", "p" * 100, "p" * 64),
        (Host, "orbit_version", None, None),
        (CampaignResult, "error", "x\x00" * 3, "xxx"),  # TextField: NUL only
        (CampaignResult, "rows", [{"k\x00": "v\x00", "n": [1, "\x00"]}], [{"k": "v", "n": [1, ""]}]),
        (CampaignResult, "rows", [{"a": "\\u0000 is text"}], [{"a": "\\u0000 is text"}]),  # not a NUL
    ],
)
def test_values_are_fitted_to_their_field(model, name, value, expected):
    assert bounds.fit(model, name, value) == expected


def test_a_caller_may_choose_what_unknown_is():
    assert bounds.fit(HostUser, "uid", 10**23, unknown=-1) == -1


def test_json_nested_past_what_can_be_written_is_unknown():
    deep: list = []
    for _ in range(300):
        deep = [deep]
    assert bounds.fit(CampaignResult, "rows", deep) == []  # the field's default


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        ([{"a": "1"}, {"b": "\\u0000 is text"}], [{"a": "1"}, {"b": "\\u0000 is text"}]),
        ([{"k\x00": "v"}, {"n": ["\x00"]}], [{"k": "v"}, {"n": [""]}]),
    ],
)
def test_a_json_list_is_fitted_with_each_items_text(rows, expected):
    fitted, texts = bounds.fit_json_list(CampaignResult, "rows", rows)
    assert fitted == expected
    assert [orjson.loads(text) for text in texts] == expected


def test_a_json_list_too_deep_to_write_is_unknown_with_no_texts():
    deep: list = []
    for _ in range(300):
        deep = [deep]
    assert bounds.fit_json_list(CampaignResult, "rows", [deep]) == ([], [])


def test_fit_instance_fits_every_column():
    user = bounds.fit_instance(HostUser(uid=10**30, username="a\x00" * 300, shell="s" * 300))
    assert (user.uid, user.username, user.shell) == (0, "a" * 255, "s" * 255)


def test_fits_is_for_identifiers_matched_as_sent():
    assert bounds.fits(Host, "osquery_host_id", "h" * 255)
    assert not bounds.fits(Host, "osquery_host_id", "h" * 256)
    assert not bounds.fits(Host, "osquery_host_id", "h\x00")


@pytest.mark.parametrize(
    ("text", "expected"),
    [("12", 12), ("0", None), ("", None), ("\u00b2", None), ("\u0661", None), ("9" * 19, None), ("9" * 5000, None),
     (str(2**63 - 1), 2**63 - 1), ("-1", None), ("1 ", None)],
)  # fmt: skip
def test_ids_in_query_names(text, expected):
    assert bounds.parse_id(text) == expected


def test_each_owner_and_field_is_logged_once(caplog):
    with caplog.at_level(logging.INFO, logger="fleetsite.lib.bounds"):
        for _ in range(3):
            bounds.fit(Host, "memory", 10**30, owner=1)
            bounds.fit(Host, "memory", 10**30, owner=2)
            bounds.fit(Host, "hostname", "a\x00", owner=1)
    assert len(caplog.records) == 3
    assert "hosts.Host.memory for 1" in caplog.records[0].getMessage()
