"""Client-IP and public-IP rules (fleet-protocol §8), typed env readers, random keys and insert_many."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db import connection, models
from django.utils import timezone

from fleetsite.lib import env, netaddr, tokens
from fleetsite.lib.rows import insert_many
from hosts.models import Host
from vulnerabilities.matching import HISTORY_COLUMNS
from vulnerabilities.models import HostVulnerability

# --- client_ip ----------------------------------------------------------------------------------


PROXY = ["10.0.0.9"]


def test_proxy_headers_are_ignored_when_no_proxy_is_configured() -> None:
    """Unset FLEETSITE_TRUSTED_PROXIES: anyone could send these headers, so the peer is the client."""
    meta = {
        "REMOTE_ADDR": "198.51.100.66",
        "HTTP_TRUE_CLIENT_IP": "203.0.113.1",
        "HTTP_X_REAL_IP": "203.0.113.2",
        "HTTP_X_FORWARDED_FOR": "203.0.113.3",
    }
    assert netaddr.client_ip(meta) == "198.51.100.66"


def test_true_client_ip_wins_over_every_other_source() -> None:
    meta = {
        "REMOTE_ADDR": "10.0.0.9",
        "HTTP_TRUE_CLIENT_IP": "198.51.100.1",
        "HTTP_X_REAL_IP": "198.51.100.2",
        "HTTP_X_FORWARDED_FOR": "198.51.100.3",
    }
    assert netaddr.client_ip(meta, PROXY) == "198.51.100.1"


def test_x_real_ip_wins_over_forwarded_for_and_peer() -> None:
    meta = {"REMOTE_ADDR": "10.0.0.9", "HTTP_X_REAL_IP": "198.51.100.2", "HTTP_X_FORWARDED_FOR": "198.51.100.3"}
    assert netaddr.client_ip(meta, PROXY) == "198.51.100.2"


def test_forwarded_for_gives_the_hop_the_proxy_saw() -> None:
    """Hops left of the proxy's own entry were written by the client, so they are not believed."""
    meta = {"REMOTE_ADDR": "10.0.0.9", "HTTP_X_FORWARDED_FOR": "8.8.8.8, 10.1.2.3, 203.0.113.5"}
    assert netaddr.client_ip(meta, PROXY) == "203.0.113.5"


def test_forwarded_for_skips_every_trusted_proxy_hop() -> None:
    meta = {"REMOTE_ADDR": "10.0.0.9", "HTTP_X_FORWARDED_FOR": "8.8.8.8, 203.0.113.5, 10.0.0.7, 10.0.0.8"}
    assert netaddr.client_ip(meta, ["10.0.0.0/24"]) == "203.0.113.5"


def test_forwarded_for_of_only_proxies_gives_the_first_hop() -> None:
    meta = {"REMOTE_ADDR": "10.0.0.9", "HTTP_X_FORWARDED_FOR": " 10.0.0.7 , 10.0.0.8"}
    assert netaddr.client_ip(meta, ["10.0.0.0/24"]) == "10.0.0.7"


def test_peer_address_is_used_without_proxy_headers() -> None:
    assert netaddr.client_ip({"REMOTE_ADDR": "203.0.113.77"}) == "203.0.113.77"
    assert netaddr.client_ip({"REMOTE_ADDR": "10.0.0.9"}, PROXY) == "10.0.0.9"


def test_blank_proxy_headers_fall_through_to_the_peer() -> None:
    meta = {"REMOTE_ADDR": "10.0.0.9", "HTTP_TRUE_CLIENT_IP": "  ", "HTTP_X_FORWARDED_FOR": " , "}
    assert netaddr.client_ip(meta, PROXY) == "10.0.0.9"


def test_proxy_headers_from_an_untrusted_peer_are_ignored() -> None:
    meta = {"REMOTE_ADDR": "198.51.100.66", "HTTP_TRUE_CLIENT_IP": "203.0.113.5", "HTTP_X_FORWARDED_FOR": "8.8.8.8"}
    assert netaddr.client_ip(meta, trusted_proxies=["10.0.0.1"]) == "198.51.100.66"


def test_proxy_headers_from_a_trusted_peer_are_believed() -> None:
    meta = {"REMOTE_ADDR": "10.0.0.1", "HTTP_X_FORWARDED_FOR": "203.0.113.5, 10.0.0.1"}
    assert netaddr.client_ip(meta, trusted_proxies=["10.0.0.1"]) == "203.0.113.5"


def test_a_proxy_network_is_matched_by_cidr() -> None:
    meta = {"REMOTE_ADDR": "172.20.3.4", "HTTP_X_FORWARDED_FOR": "203.0.113.5"}
    assert netaddr.client_ip(meta, trusted_proxies=["172.20.0.0/16"]) == "203.0.113.5"


def test_a_bad_trusted_proxy_entry_is_refused() -> None:
    with pytest.raises(ValueError, match="not an IP address"):
        netaddr.proxy_networks(("proxy.example.com",))


# --- public_ip and parse_ip ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "address",
    [
        "10.1.2.3",
        "172.16.0.1",
        "172.31.255.254",
        "192.168.0.10",
        "127.0.0.1",
        "169.254.10.20",
        "::1",
        "fe80::1",
        "fc00::1",
        "fd12:3456::1",
        "[::1]:8080",
        "10.0.0.1:443",
    ],
)
def test_private_addresses_are_not_public(address: str) -> None:
    assert netaddr.public_ip(address) == ""


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("203.0.113.5", "203.0.113.5"),
        ("8.8.8.8", "8.8.8.8"),
        ("172.32.0.1", "172.32.0.1"),
        ("8.8.8.8:53", "8.8.8.8"),
        ("[2001:4860:4860::8888]:443", "2001:4860:4860::8888"),
        ("2001:4860:4860::8888", "2001:4860:4860::8888"),
        (" 203.0.113.5 ", "203.0.113.5"),
    ],
)
def test_public_addresses_are_kept_without_port_or_brackets(given: str, stored: str) -> None:
    assert netaddr.public_ip(given) == stored


@pytest.mark.parametrize("junk", ["", "   ", "not-an-ip", "999.1.1.1", "unknown"])
def test_unparsable_addresses_give_an_empty_public_ip(junk: str) -> None:
    assert netaddr.public_ip(junk) == ""


def test_ipv4_mapped_ipv6_is_judged_as_ipv4() -> None:
    assert netaddr.public_ip("::ffff:10.0.0.1") == ""
    assert netaddr.public_ip("::ffff:8.8.8.8") == "8.8.8.8"


# --- env helpers -------------------------------------------------------------------------------


def test_env_int_rejects_a_non_integer(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLEETSITE_TEST_INT", "ten")
    with pytest.raises(ImproperlyConfigured, match="FLEETSITE_TEST_INT"):
        env.env_int("FLEETSITE_TEST_INT", 5)


def test_env_int_rejects_a_value_below_the_minimum(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLEETSITE_TEST_INT", "3")
    with pytest.raises(ImproperlyConfigured, match="at least 16"):
        env.env_int("FLEETSITE_TEST_INT", 24, minimum=16)


def test_env_int_reads_a_value_and_defaults_when_unset_or_blank(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FLEETSITE_TEST_INT", raising=False)
    assert env.env_int("FLEETSITE_TEST_INT", 5) == 5
    monkeypatch.setenv("FLEETSITE_TEST_INT", " ")
    assert env.env_int("FLEETSITE_TEST_INT", 5) == 5
    monkeypatch.setenv("FLEETSITE_TEST_INT", "42")
    assert env.env_int("FLEETSITE_TEST_INT", 5) == 42


def test_env_float_rejects_a_non_number(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLEETSITE_TEST_FLOAT", "1,5")
    with pytest.raises(ImproperlyConfigured, match="FLEETSITE_TEST_FLOAT"):
        env.env_float("FLEETSITE_TEST_FLOAT", 1.0)


@pytest.mark.parametrize("raw", ["maybe", "2", "enabled"])
def test_env_bool_rejects_an_unknown_word(monkeypatch: pytest.MonkeyPatch, raw: str) -> None:
    monkeypatch.setenv("FLEETSITE_TEST_BOOL", raw)
    with pytest.raises(ImproperlyConfigured, match="FLEETSITE_TEST_BOOL"):
        env.env_bool("FLEETSITE_TEST_BOOL")


@pytest.mark.parametrize(("raw", "value"), [("1", True), ("TRUE", True), ("yes", True), ("off", False), ("0", False)])
def test_env_bool_reads_common_spellings(monkeypatch: pytest.MonkeyPatch, raw: str, value: bool) -> None:
    monkeypatch.setenv("FLEETSITE_TEST_BOOL", raw)
    assert env.env_bool("FLEETSITE_TEST_BOOL", default=not value) is value


def test_env_choice_rejects_a_value_outside_the_choices(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLEETSITE_TEST_CHOICE", "serial")
    with pytest.raises(ImproperlyConfigured, match="provided, uuid"):
        env.env_choice("FLEETSITE_TEST_CHOICE", "provided", ("provided", "uuid"))


def test_env_choice_accepts_a_listed_value(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLEETSITE_TEST_CHOICE", "uuid")
    assert env.env_choice("FLEETSITE_TEST_CHOICE", "provided", ("provided", "uuid")) == "uuid"


def test_env_str_reads_a_secret_from_a_file(monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> None:
    secret_file = tmp_path / "secret"  # type: ignore[operator]
    secret_file.write_text("s3cret\n")
    monkeypatch.setenv("FLEETSITE_TEST_STR_FILE", str(secret_file))
    assert env.env_str("FLEETSITE_TEST_STR") == "s3cret"


def test_env_str_with_an_unreadable_file_is_improperly_configured(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLEETSITE_TEST_STR_FILE", "/nonexistent/fleetsite/secret")
    with pytest.raises(ImproperlyConfigured, match="FLEETSITE_TEST_STR_FILE"):
        env.env_str("FLEETSITE_TEST_STR")


# --- tokens -------------------------------------------------------------------------------------


def test_random_key_is_base64_of_the_requested_number_of_bytes() -> None:
    key = tokens.random_key(24)
    assert len(key) == 32
    assert len(base64.b64decode(key, validate=True)) == 24


def test_random_key_differs_on_each_call() -> None:
    keys = {tokens.random_key(24) for _ in range(20)}
    assert len(keys) == 20


def test_digest_is_stable_and_does_not_contain_the_key() -> None:
    key = tokens.random_key(24)
    assert tokens.digest(key) == tokens.digest(key)
    assert key not in tokens.digest(key)
    assert tokens.digest(key) != tokens.digest(tokens.random_key(24))


# --- rows.insert_many -------------------------------------------------------------------------------


@pytest.fixture
def host(db: None) -> Host:
    return Host.objects.create(hostname="rows-1", osquery_host_id="rows-1", platform="ubuntu")


def _history_rows(host: Host, count: int, at: object) -> Iterator[tuple[object, ...]]:
    return ((host.pk, f"CVE-2024-{n:04}", f"s{n}", None, None, at) for n in range(count))


def test_insert_many_sends_one_executemany_per_batch(host: Host, django_assert_num_queries: Any) -> None:
    now = timezone.now()
    with django_assert_num_queries(3):  # 5 rows in batches of 2
        insert_many(HostVulnerability, HISTORY_COLUMNS, _history_rows(host, 5, now), batch_size=2)
    stored = HostVulnerability.objects.order_by("cve").values_list("cve", "via", "first_detected_at")
    assert list(stored) == [(f"CVE-2024-{n:04}", f"s{n}", now) for n in range(5)]


def test_insert_many_of_no_rows_sends_nothing(host: Host, django_assert_num_queries: Any) -> None:
    with django_assert_num_queries(0):
        insert_many(HostVulnerability, HISTORY_COLUMNS, iter(()), batch_size=2)
        insert_many(HostVulnerability, HISTORY_COLUMNS, [])


def test_insert_many_passes_prepared_values_as_they_are(host: Host, monkeypatch: pytest.MonkeyPatch) -> None:
    """A value the caller adapted once is not converted again per row; others are, per row."""
    calls: list[object] = []
    original = models.DateTimeField.get_db_prep_save

    def counted(field: models.Field, value: object, connection: object) -> object:
        calls.append(value)
        return original(field, value, connection)

    monkeypatch.setattr(models.DateTimeField, "get_db_prep_save", counted)
    now = timezone.now()
    at = connection.ops.adapt_datetimefield_value(now)
    insert_many(HostVulnerability, HISTORY_COLUMNS, _history_rows(host, 3, at), prepared=True)
    assert calls == []
    insert_many(HostVulnerability, HISTORY_COLUMNS, [(host.pk, "CVE-2024-9999", "o1", None, None, now)])
    assert calls == [now]
    assert set(HostVulnerability.objects.values_list("first_detected_at", flat=True)) == {now}


@pytest.mark.skipif(connection.vendor != "mysql", reason="insert_many writes MySQL's multi-row INSERTs itself")
def test_a_big_insert_fits_the_servers_packet_size(
    host: Host, monkeypatch: pytest.MonkeyPatch, django_assert_max_num_queries: Any
) -> None:
    """Half the server's max_allowed_packet, at most 8 MB: a server set lower gets more, smaller statements."""
    from fleetsite.lib import rows

    with connection.cursor() as cursor:
        cursor.execute("SELECT @@max_allowed_packet")
        packet = int(cursor.fetchone()[0])
    assert rows._mysql_statement_limit() == max(rows._MYSQL_SMALL_STATEMENT, min(8_000_000, packet // 2))
    monkeypatch.setattr(rows, "_MYSQL_SMALL_STATEMENT", 10_000)
    monkeypatch.setattr(connection.connection, rows._PACKET_ATTRIBUTE, 10_000)  # as a server with 20 KB packets
    with django_assert_max_num_queries(20) as captured:
        insert_many(HostVulnerability, HISTORY_COLUMNS, _history_rows(host, 1000, timezone.now()))
    statements = [query["sql"] for query in captured.captured_queries]
    assert len(statements) > 5 and all(len(sql) <= 10_000 for sql in statements)
    assert HostVulnerability.objects.filter(host=host).count() == 1000


def test_insert_many_stores_awkward_values_as_given(host: Host) -> None:
    """Quotes, backslashes, percent signs, non-ASCII text, big integers, booleans and NULLs survive.

    On MySQL insert_many writes the values into the SQL itself.
    """
    from hosts.models import HostSoftware, HostUser, Software
    from vulnerabilities.models import SoftwareChange

    texts = ["it's", 'say "hi"', "back\\slash", "100% %s %(x)s", "ünï €", "", "\n\t"]
    names = ("host", "uid", "username", "type", "groupname", "shell")
    insert_many(HostUser, names, [(host.pk, n, text, "", text, text) for n, text in enumerate(texts)])
    stored = HostUser.objects.filter(host=host).order_by("uid").values_list("username", "groupname", "shell")
    assert list(stored) == [(text, text, text) for text in texts]
    insert_many(SoftwareChange, ("host_id", "software_id", "installed"), [(host.pk, 2**40, True), (host.pk, 7, False)])
    assert set(SoftwareChange.objects.values_list("software_id", "installed")) == {(2**40, True), (7, False)}
    software = Software.objects.create(name="x", source="deb_packages", checksum="x")
    insert_many(
        HostSoftware, ("host", "software", "last_opened_at", "installed_path"), [(host.pk, software.pk, None, "")]
    )
    assert HostSoftware.objects.values_list("last_opened_at", "installed_path").get() == (None, "")
