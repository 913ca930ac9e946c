"""Detail-query rows must be realistic, per platform, and string-valued like osquery's output."""

from __future__ import annotations

import pytest

from agentsim.catalogue import DETAIL_QUERIES, HostData, software_columns
from agentsim.identity import make_identities, make_identity
from agentsim.software import CATALOGUE, catalogue_size

OS_VERSION_COLS = {
    "name",
    "version",
    "major",
    "minor",
    "patch",
    "build",
    "platform",
    "platform_like",
    "codename",
    "arch",
    "extra",
}
OSQUERY_INFO_COLS = {
    "pid",
    "uuid",
    "instance_id",
    "version",
    "config_hash",
    "config_valid",
    "extensions",
    "build_platform",
    "build_distro",
    "start_time",
    "watcher",
    "platform_mask",
}
SYSTEM_INFO_COLS = {
    "hostname",
    "uuid",
    "cpu_type",
    "cpu_subtype",
    "cpu_brand",
    "cpu_physical_cores",
    "cpu_logical_cores",
    "physical_memory",
    "hardware_vendor",
    "hardware_model",
    "hardware_version",
    "hardware_serial",
    "computer_name",
    "local_hostname",
}
DISK = {"percent_disk_space_available", "gigs_disk_space_available", "gigs_total_disk_space"}
SOFTWARE_BASE = {
    "name",
    "version",
    "source",
    "bundle_identifier",
    "extension_id",
    "extension_for",
    "vendor",
    "last_opened_at",
    "installed_path",
}

EXPECTED_COLUMNS = {
    "network_interface_unix": {"address", "mac"},
    "network_interface_windows": {"address", "mac"},
    "os_version": OS_VERSION_COLS,
    "os_version_windows": {"name", "display_version", "version", "installation_type"},
    "osquery_flags": {"name", "value"},
    "osquery_info": OSQUERY_INFO_COLS,
    "system_info": SYSTEM_INFO_COLS,
    "uptime": {"total_seconds"},
    "disk_space_unix": DISK | {"gigs_all_disk_space"},
    "disk_space_darwin": DISK,
    "disk_space_darwin_legacy": DISK,
    "disk_space_windows": DISK,
    "users": {"uid", "uuid", "username", "type", "groupname", "shell"},
    "orbit_info": {"version", "device_auth_token", "desktop_version", "scripts_enabled"},
}
SOFTWARE = {
    "linux": (
        "software_linux",
        SOFTWARE_BASE | {"release", "arch"},
        {"deb_packages", "rpm_packages", "python_packages"},
    ),
    "darwin": ("software_macos", SOFTWARE_BASE, {"apps", "homebrew_packages"}),
    "windows": ("software_windows", SOFTWARE_BASE | {"upgrade_code"}, {"programs", "chocolatey_packages"}),
}


def _assert_rows(rows: object) -> None:
    assert isinstance(rows, list) and rows
    for row in rows:
        assert isinstance(row, dict)
        assert all(isinstance(k, str) and isinstance(v, str) for k, v in row.items()), row


@pytest.mark.parametrize("platform", ["linux", "darwin", "windows"])
@pytest.mark.parametrize("name", sorted(EXPECTED_COLUMNS))
def test_detail_rows_have_string_values_and_columns(platform: str, name: str) -> None:
    host = HostData(make_identity(1, platform, seed=11))
    rows = host.detail(name)
    _assert_rows(rows)
    for row in rows:
        assert set(row) == EXPECTED_COLUMNS[name]


@pytest.mark.parametrize("platform", ["linux", "darwin", "windows"])
def test_software_rows(platform: str) -> None:
    name, columns, sources = SOFTWARE[platform]
    for ident in make_identities(20, platform, seed=4):
        rows = HostData(ident).detail(name)
        _assert_rows(rows)
        assert 20 <= len(rows) <= 60
        assert len({(r["name"], r["source"]) for r in rows}) == len(rows)
        for row in rows:
            assert set(row) == columns
            assert row["source"] in sources
            assert row["name"] and row["version"]
    assert set(software_columns(platform)) == columns


def test_every_listed_detail_query_is_answered() -> None:
    for ident in make_identities(10, "mixed", seed=1):
        host = HostData(ident)
        for name in DETAIL_QUERIES:
            _assert_rows(host.detail(name))
        assert host.detail("battery") is None


def test_platform_specific_values() -> None:
    linux = HostData(make_identity(0, "linux", 0)).detail("os_version")[0]
    assert linux["platform"] in {"ubuntu", "rhel", "debian"}
    mac = HostData(make_identity(0, "darwin", 0)).detail("os_version")[0]
    assert (mac["name"], mac["version"], mac["platform"]) == ("macOS", "14.4.1", "darwin")
    win = HostData(make_identity(0, "windows", 0)).detail("os_version")[0]
    assert (win["name"], win["platform"]) == ("Microsoft Windows 11 Pro", "windows")
    ubuntu = next(HostData(i) for i in make_identities(50, "linux", 0) if i.flavor == "ubuntu")
    row = ubuntu.detail("os_version")[0]
    assert row["version"].startswith("22.04.3 LTS") and row["platform_like"] == "debian"


def test_flags_follow_runtime_intervals() -> None:
    host = HostData(make_identity(0, "linux", 0))
    host.distributed_interval = 7
    flags = {r["name"]: r["value"] for r in host.detail("osquery_flags")}
    assert flags["distributed_interval"] == "7"
    assert flags["config_refresh"] == "60" and flags["logger_tls_period"] == "10"


def test_uptime_increases() -> None:
    host = HostData(make_identity(0, "linux", 0), now=0.0)
    first = int(host.detail("uptime")[0]["total_seconds"])
    host.started -= 100
    assert int(host.detail("uptime")[0]["total_seconds"]) == first + 100


def test_enroll_host_details_are_strings() -> None:
    for ident in make_identities(6, "mixed", seed=2):
        details = HostData(ident).host_details()
        assert set(details) == {"os_version", "osquery_info", "system_info", "platform_info"}
        assert set(details["os_version"]) == OS_VERSION_COLS - {"extra"}
        assert set(details["osquery_info"]) == OSQUERY_INFO_COLS
        assert set(details["system_info"]) == SYSTEM_INFO_COLS
        for section in details.values():
            assert all(isinstance(v, str) for v in section.values())
        assert details["system_info"]["uuid"] == ident.hardware_uuid


def test_fleet_catalogue_is_a_few_hundred_entries_and_shared() -> None:
    assert 200 <= catalogue_size() <= 800
    assert set(CATALOGUE) == {"ubuntu", "debian", "rhel", "darwin", "windows"}
    hosts = [HostData(i) for i in make_identities(300, "mixed", seed=8)]
    seen = {(r["name"], r["version"], r["source"]) for h in hosts for r in h.software()}
    assert 100 <= len(seen) <= catalogue_size()
