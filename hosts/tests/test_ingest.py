"""Detail-query ingesters (fleet-protocol §1.8) and how a check-in's update is written."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from fleetsite.lib import rows as sql_rows
from hosts import ingest
from hosts.ingest import HostUpdate, save_host_update
from hosts.models import Host, HostSoftware, HostUser, Software


@pytest.fixture
def host() -> Host:
    """An unsaved host; ingesters only read it."""
    return Host(osquery_host_id="unit", hostname="unit")


@pytest.fixture
def saved_host(db: None) -> Callable[..., Host]:
    def make(name: str = "saved", **fields: Any) -> Host:
        return Host.objects.create(osquery_host_id=name, hostname=name, **fields)

    return make


def run(name: str, host: Host, rows: list[dict[str, Any]], **context: Any) -> dict[str, Any]:
    update = HostUpdate()
    ingest.INGESTERS[name](host, rows, update, context)
    return update.fields


# --- os_version ---------------------------------------------------------------------------------


def test_ubuntu_os_version_drops_the_code_name(host: Host) -> None:
    row = {
        "name": "Ubuntu",
        "version": "22.04.3 LTS (Jammy Jellyfish)",
        "major": "22",
        "minor": "4",
        "patch": "0",
        "build": "",
        "platform": "ubuntu",
        "platform_like": "debian",
        "codename": "jammy",
    }
    fields = run("os_version", host, [row])
    assert fields["os_version"] == "Ubuntu 22.04.3 LTS"
    assert (fields["platform"], fields["platform_like"], fields["code_name"]) == ("ubuntu", "debian", "jammy")


def test_macos_os_version(host: Host) -> None:
    row = {"name": "macOS", "version": "14.4.1", "major": "14", "minor": "4", "patch": "1", "build": "23E224"}
    row |= {"platform": "darwin", "platform_like": "darwin", "codename": ""}
    fields = run("os_version", host, [row])
    assert fields["os_version"] == "macOS 14.4.1"
    assert (fields["platform"], fields["build"]) == ("darwin", "23E224")


def test_os_version_is_assembled_from_parts_when_version_is_blank(host: Host) -> None:
    row = {"name": "Debian GNU/Linux", "version": "", "major": "12", "minor": "5", "patch": "", "platform": "debian"}
    assert run("os_version", host, [row])["os_version"] == "Debian GNU/Linux 12.5"


def test_os_version_assembly_appends_extra_and_build(host: Host) -> None:
    row = {"name": "macOS", "version": "", "major": "13", "minor": "6", "patch": "1", "extra": "(a)", "build": "22G313"}
    row["platform"] = "darwin"
    assert run("os_version", host, [row])["os_version"] == "macOS 13.6.1 (a) 22G313"


def test_centos_with_an_empty_platform_is_recognised(host: Host) -> None:
    row = {"name": "CentOS", "version": "6.10 (Final)", "major": "6", "minor": "10", "platform": ""}
    fields = run("os_version", host, [row])
    assert fields["platform"] == "centos"
    assert fields["os_version"] == "CentOS 6.10"


def test_empty_platform_of_another_os_stays_empty(host: Host) -> None:
    assert run("os_version", host, [{"name": "Mystery OS", "version": "1.0", "platform": ""}])["platform"] == ""


def test_os_version_on_windows_leaves_os_version_to_the_windows_query(host: Host) -> None:
    row = {"name": "Microsoft Windows 11 Pro", "version": "10.0.22631", "platform": "windows", "build": "22631"}
    fields = run("os_version", host, [row])
    assert fields["platform"] == "windows"
    assert "os_version" not in fields


def test_os_version_without_rows_changes_nothing(host: Host) -> None:
    assert run("os_version", host, []) == {}


def test_windows_os_version(host: Host) -> None:
    row = {"name": "Microsoft Windows 11 Pro", "display_version": "23H2", "version": "10.0.22631.3155"}
    row["installation_type"] = "Client"
    assert run("os_version_windows", host, [row])["os_version"] == "Windows 11 Pro 23H2 10.0.22631.3155"


def test_windows_server_core_os_version(host: Host) -> None:
    row = {
        "name": "Microsoft Windows Server 2022 Datacenter",
        "display_version": "21H2",
        "version": "10.0.20348.2340",
        "installation_type": "Server Core",
    }
    expected = "Windows Server 2022 Datacenter 21H2 (Server Core) 10.0.20348.2340"
    assert run("os_version_windows", host, [row])["os_version"] == expected


def test_windows_os_version_without_display_version(host: Host) -> None:
    row = {"name": "Microsoft Windows 10 Enterprise LTSC", "display_version": "", "version": "10.0.17763.5576"}
    assert run("os_version_windows", host, [row])["os_version"] == "Windows 10 Enterprise LTSC 10.0.17763.5576"


# --- system_info --------------------------------------------------------------------------------


def test_system_info_sets_hardware_fields(host: Host) -> None:
    row = {
        "hostname": "web-01.example.com",
        "uuid": "UUID-1",
        "computer_name": "web-01",
        "cpu_brand": "Intel Xeon",
        "cpu_physical_cores": "4",
        "cpu_logical_cores": "8",
        "physical_memory": "17179869184",
        "hardware_vendor": "Dell Inc.",
        "hardware_model": "PowerEdge R640",
        "hardware_serial": "7XK2Q53",
    }
    fields = run("system_info", host, [row])
    assert fields["memory"] == 17179869184
    assert (fields["cpu_physical_cores"], fields["cpu_logical_cores"]) == (4, 8)
    assert (fields["hostname"], fields["computer_name"], fields["uuid"]) == ("web-01.example.com", "web-01", "UUID-1")
    assert fields["hardware_serial"] == "7XK2Q53"


@pytest.mark.parametrize("junk", ["Default string", "System Serial Number", "STRING", "default"])
def test_placeholder_serials_are_blanked(host: Host, junk: str) -> None:
    assert run("system_info", host, [{"hardware_serial": junk}])["hardware_serial"] == ""


def test_serial_placeholder_outside_fleets_pattern_is_kept(host: Host) -> None:
    # Fleet's rule is only (?i)default|serial|string; "To Be Filled By O.E.M." is stored as given.
    assert run("system_info", host, [{"hardware_serial": "To Be Filled By O.E.M."}])["hardware_serial"] == (
        "To Be Filled By O.E.M."
    )


def test_serial_of_minus_one_is_ignored(host: Host) -> None:
    assert "hardware_serial" not in run("system_info", host, [{"hardware_serial": "-1", "hostname": "h"}])


def test_system_info_without_a_column_does_not_blank_it(host: Host) -> None:
    fields = run("system_info", host, [{"hostname": "h"}])
    assert fields == {"hostname": "h"}


def test_system_info_with_a_non_numeric_memory_stores_zero(host: Host) -> None:
    assert run("system_info", host, [{"physical_memory": "lots"}])["memory"] == 0


# --- osquery_flags ------------------------------------------------------------------------------


def flags(**values: str) -> list[dict[str, str]]:
    return [{"name": name, "value": value} for name, value in values.items()]


def test_osquery_flags_set_the_intervals(host: Host) -> None:
    fields = run(
        "osquery_flags", host, flags(distributed_interval="10", config_tls_refresh="30", logger_tls_period="5")
    )
    assert fields == {"distributed_interval": 10, "config_tls_refresh": 30, "logger_tls_period": 5}


@pytest.mark.parametrize("tls_refresh", ["0", ""])
def test_config_tls_refresh_falls_back_to_config_refresh(host: Host, tls_refresh: str) -> None:
    rows = flags(config_tls_refresh=tls_refresh, config_refresh="60", distributed_interval="10")
    assert run("osquery_flags", host, rows)["config_tls_refresh"] == 60


def test_missing_flags_count_as_zero(host: Host) -> None:
    assert run("osquery_flags", host, []) == {
        "distributed_interval": 0,
        "config_tls_refresh": 0,
        "logger_tls_period": 0,
    }


# --- uptime -------------------------------------------------------------------------------------


def test_uptime_sets_seconds_and_restart_time(host: Host) -> None:
    now = timezone.now()
    fields = run("uptime", host, [{"total_seconds": "273906"}], now=now)
    assert fields["uptime_seconds"] == 273906
    assert fields["last_restarted_at"] == now - timedelta(seconds=273906)


def test_restart_time_is_unchanged_within_thirty_seconds(host: Host) -> None:
    now = timezone.now()
    host.last_restarted_at = now - timedelta(seconds=1000) + timedelta(seconds=20)
    fields = run("uptime", host, [{"total_seconds": "1000"}], now=now)
    assert fields == {"uptime_seconds": 1000}


def test_restart_time_moves_after_a_reboot(host: Host) -> None:
    now = timezone.now()
    host.last_restarted_at = now - timedelta(days=3)
    fields = run("uptime", host, [{"total_seconds": "60"}], now=now)
    assert fields["last_restarted_at"] == now - timedelta(seconds=60)


@pytest.mark.parametrize("value", ["", "-5", "soon"])
def test_unusable_uptime_is_ignored(host: Host, value: str) -> None:
    assert run("uptime", host, [{"total_seconds": value}]) == {}


# --- disk_space ---------------------------------------------------------------------------------


def test_disk_space_fields_are_rounded(host: Host) -> None:
    row = {
        "percent_disk_space_available": "43",
        "gigs_disk_space_available": "98.6149",
        "gigs_total_disk_space": "229.33",
        "gigs_all_disk_space": "1229.33",
    }
    fields = run("disk_space", host, [row])
    assert fields == {
        "percent_disk_space_available": 43.0,
        "gigs_disk_space_available": 98.61,
        "gigs_total_disk_space": 229.33,
        "gigs_all_disk_space": 1229.33,
    }


def test_blank_all_disk_space_is_null(host: Host) -> None:
    fields = run("disk_space", host, [{"gigs_disk_space_available": "1.5", "gigs_all_disk_space": ""}])
    assert fields["gigs_all_disk_space"] is None
    assert fields["gigs_disk_space_available"] == 1.5


def test_disk_space_without_all_disks_column_leaves_it_alone(host: Host) -> None:
    assert "gigs_all_disk_space" not in run("disk_space", host, [{"gigs_disk_space_available": "1.5"}])


# --- network_interface --------------------------------------------------------------------------


def test_network_interface_sets_primary_address_and_public_ip(host: Host) -> None:
    fields = run(
        "network_interface", host, [{"address": "10.0.3.17", "mac": "52:54:00:ab:cd:ef"}], client_ip="203.0.113.5"
    )
    assert fields == {"primary_ip": "10.0.3.17", "primary_mac": "52:54:00:ab:cd:ef", "public_ip": "203.0.113.5"}


@pytest.mark.parametrize("client_ip", ["192.168.1.20", "127.0.0.1", "", "garbage"])
def test_private_or_missing_client_ip_resets_public_ip(host: Host, client_ip: str) -> None:
    host.public_ip = "198.51.100.1"
    fields = run("network_interface", host, [{"address": "10.0.3.17", "mac": "m"}], client_ip=client_ip)
    assert fields["public_ip"] == ""


def test_network_interface_without_rows_still_sets_public_ip(host: Host) -> None:
    assert run("network_interface", host, [], client_ip="8.8.8.8") == {"public_ip": "8.8.8.8"}


# --- save_host_update ---------------------------------------------------------------------------


def test_saving_new_intervals_recomputes_online_until(saved_host: Callable[..., Host]) -> None:
    seen = timezone.now()
    host = saved_host(seen_time=seen, online_until=seen + timedelta(seconds=60))
    update = HostUpdate()
    update.set(distributed_interval=600, config_tls_refresh=900)
    save_host_update(host, update)
    host.refresh_from_db()
    assert host.online_until == seen + timedelta(seconds=600 + 60)
    assert host.distributed_interval == 600


def test_saving_shorter_intervals_never_moves_online_until_back(saved_host: Callable[..., Host]) -> None:
    seen = timezone.now()
    later = seen + timedelta(seconds=3600)
    host = saved_host(seen_time=seen, online_until=later)
    update = HostUpdate()
    update.set(distributed_interval=10, config_tls_refresh=10)
    save_host_update(host, update)
    host.refresh_from_db()
    assert host.online_until == later


def test_saving_other_fields_leaves_online_until_alone(saved_host: Callable[..., Host]) -> None:
    seen = timezone.now()
    host = saved_host(seen_time=seen, online_until=seen + timedelta(seconds=60))
    update = HostUpdate()
    update.set(hostname="renamed")
    save_host_update(host, update)
    host.refresh_from_db()
    assert host.online_until == seen + timedelta(seconds=60)
    assert host.hostname == "renamed"


def test_users_are_replaced_on_each_ingest(saved_host: Callable[..., Host]) -> None:
    host = saved_host()
    update = HostUpdate(users=[{"uid": "0", "username": "root"}, {"uid": "1000", "username": "alice"}])
    save_host_update(host, update)
    save_host_update(host, HostUpdate(users=[{"uid": "1000", "username": "alice", "shell": "/bin/zsh"}]))
    assert list(HostUser.objects.filter(host=host).values_list("username", "shell")) == [("alice", "/bin/zsh")]


def package(name: str, version: str = "1.0", **extra: str) -> dict[str, str]:
    return {"name": name, "version": version, "source": "deb_packages", "arch": "amd64", **extra}


def ingest_software(host: Host, rows: list[dict[str, str]]) -> None:
    update = HostUpdate()
    ingest.INGESTERS["software"](host, rows, update, {})
    save_host_update(host, update)


def installed(host: Host) -> set[tuple[str, str]]:
    return set(HostSoftware.objects.filter(host=host).values_list("software__name", "software__version"))


def test_identical_packages_share_one_catalogue_row(saved_host: Callable[..., Host]) -> None:
    first, second = saved_host("first"), saved_host("second")
    ingest_software(first, [package("openssl", "3.0.2"), package("curl", "7.81")])
    ingest_software(second, [package("openssl", "3.0.2"), package("vim", "9.0")])
    assert Software.objects.filter(name="openssl").count() == 1
    assert Software.objects.count() == 3
    openssl = Software.objects.get(name="openssl")
    assert set(openssl.installs.values_list("host__osquery_host_id", flat=True)) == {"first", "second"}


def test_a_different_version_is_a_different_catalogue_row(saved_host: Callable[..., Host]) -> None:
    ingest_software(saved_host("first"), [package("openssl", "3.0.2")])
    ingest_software(saved_host("second"), [package("openssl", "3.0.13")])
    assert Software.objects.filter(name="openssl").count() == 2


def test_next_software_ingest_replaces_the_host_links(saved_host: Callable[..., Host]) -> None:
    first, second = saved_host("first"), saved_host("second")
    ingest_software(first, [package("openssl", "3.0.2"), package("curl", "7.81")])
    ingest_software(second, [package("curl", "7.81")])
    ingest_software(first, [package("openssl", "3.0.13"), package("vim", "9.0")])
    assert installed(first) == {("openssl", "3.0.13"), ("vim", "9.0")}
    assert installed(second) == {("curl", "7.81")}


def test_duplicate_rows_in_one_report_are_one_install(saved_host: Callable[..., Host]) -> None:
    host = saved_host()
    ingest_software(host, [package("openssl"), package("openssl"), {"name": "", "version": "1"}])
    assert installed(host) == {("openssl", "1.0")}


def test_software_install_details_are_kept(saved_host: Callable[..., Host]) -> None:
    host = saved_host()
    ingest_software(host, [package("requests", installed_path="/usr/lib/python3", last_opened_at="1700000000")])
    install = HostSoftware.objects.get(host=host)
    assert install.installed_path == "/usr/lib/python3"
    assert install.last_opened_at is not None and int(install.last_opened_at.timestamp()) == 1700000000


def test_empty_software_report_removes_every_install(saved_host: Callable[..., Host]) -> None:
    host = saved_host()
    ingest_software(host, [package("openssl")])
    ingest_software(host, [])
    assert installed(host) == set()


def test_software_ingest_costs_the_same_queries_for_10_and_100_packages(
    saved_host: Callable[..., Host], django_assert_max_num_queries: Any
) -> None:
    counts = {}
    for count in (10, 100):
        host = saved_host(f"host-{count}")
        ingest_software(host, [package(f"old-{n}") for n in range(count)])
        rows = [package(f"pkg-{n}") for n in range(count // 2)] + [package(f"old-{n}") for n in range(count // 2)]
        with django_assert_max_num_queries(8) as captured:
            ingest_software(host, rows)
        counts[count] = len(captured.captured_queries)
        assert len(installed(host)) == count
    assert counts[10] == counts[100]


@pytest.mark.parametrize(
    ("awkward", "clean"),
    [
        ({"name": " curl"}, {"name": "curl"}),  # stripped, like every other text column
        ({"name": "curl\u00a0"}, {"name": "curl"}),  # a no-break space is whitespace to strip() too
        ({"version": 7}, {"version": "7"}),  # a number where text was expected
        ({"arch": None}, {"arch": ""}),  # a column the query does not select (macOS, Windows)
        ({"vendor": "x" * 300}, {"vendor": "x" * 255}),  # longer than the column: cut to fit
        ({"name": "cu\x00rl"}, {"name": "curl"}),  # NUL cannot be stored
    ],
)
def test_one_awkward_row_among_clean_ones_is_stored_as_its_clean_form(
    saved_host: Callable[..., Host], awkward: dict[str, Any], clean: dict[str, Any]
) -> None:
    """Clean columns are checked whole (hosts/ingest.py `_clean_column`); one odd value must not slip through."""
    columns = ("checksum", "name", "version", "vendor", "arch")
    ingest_software(saved_host("clean"), [{**package("curl", "7"), **clean}])
    expected = set(Software.objects.values_list(*columns))
    Software.objects.all().delete()
    host = saved_host("among")
    ingest_software(host, [package(f"clean-{n}") for n in range(50)] + [{**package("curl", "7"), **awkward}])
    assert set(Software.objects.exclude(name__startswith="clean-").values_list(*columns)) == expected
    assert HostSoftware.objects.filter(host=host).count() == 51


def test_install_paths_are_stripped_and_the_first_of_duplicate_rows_wins(saved_host: Callable[..., Host]) -> None:
    host = saved_host()
    rows = [
        package("a", installed_path="/opt/a "),
        package("b", installed_path="/opt/b", last_opened_at="1700000000"),
        package("b", installed_path="/opt/other", last_opened_at="1800000000"),
        package("c"),
    ]
    ingest_software(host, rows)
    stored = HostSoftware.objects.filter(host=host).values_list("software__name", "installed_path", "last_opened_at")
    opened = {name: (path, at and int(at.timestamp())) for name, path, at in stored}
    assert opened == {"a": ("/opt/a", None), "b": ("/opt/b", 1700000000), "c": ("", None)}


def test_a_big_software_answer_costs_the_statements_of_a_small_one(
    saved_host: Callable[..., Host], django_assert_max_num_queries: Any
) -> None:
    """12,000 new packages are one catalogue SELECT, one INSERT and one link INSERT, as 10 are (MySQL
    statements were cut at 1 MB: 12,000 rows took five)."""
    if connection.vendor == "mysql":
        sql_rows._mysql_statement_limit()  # asked once per connection, as a running server's connection has
    counts = {}
    for count in (10, 12_000):
        host = saved_host(f"host-{count}", detail_digests="software=-")
        update = HostUpdate(software=[package(f"pkg-{count}-{n}", vendor="Vendor Name") for n in range(count)])
        update.stored_digests = {"software": "-"}
        with django_assert_max_num_queries(8) as captured:
            save_host_update(host, update)
        counts[count] = len(captured.captured_queries)
        assert HostSoftware.objects.filter(host=host).count() == count
    assert counts[10] == counts[12_000]


def test_a_host_with_more_packages_than_one_select_takes_links_them_all(saved_host: Callable[..., Host]) -> None:
    """A host with 12,000 new packages has every one catalogued and linked (one SELECT takes up to 100,000)."""
    host = saved_host()
    ingest_software(host, [package(f"pkg-{n}") for n in range(12_000)])
    assert HostSoftware.objects.filter(host=host).count() == 12_000
    assert Software.objects.count() == 12_000


def test_admin_deletions_of_reported_rows_forget_the_host_digests(saved_host: Callable[..., Host]) -> None:
    """An unchanged answer is skipped (hosts/digests.py), so rows removed by hand must make the next one count."""
    from django.contrib import admin

    from hosts.admin import HostSoftwareAdmin, HostUserAdmin, SoftwareAdmin

    hosts = [saved_host(f"digested-{n}", detail_digests="software=aa users=bb") for n in range(4)]
    for host in hosts:
        ingest_software(host, [package(f"only-{host.pk}")])
        save_host_update(host, HostUpdate(users=[{"uid": "1", "username": "u"}]))
    Host.objects.update(detail_digests="software=aa users=bb")
    HostUserAdmin(HostUser, admin.site).delete_queryset(None, HostUser.objects.filter(host=hosts[0]))
    HostSoftwareAdmin(HostSoftware, admin.site).delete_model(None, HostSoftware.objects.get(host=hosts[1]))
    SoftwareAdmin(Software, admin.site).delete_queryset(None, Software.objects.filter(name=f"only-{hosts[2].pk}"))
    assert dict(Host.objects.values_list("osquery_host_id", "detail_digests")) == {
        "digested-0": "",
        "digested-1": "",
        "digested-2": "",
        "digested-3": "software=aa users=bb",
    }


# --- google_chrome_profiles (device mapping) -----------------------------------------------------


def test_chrome_profile_emails_replace_the_previous_ones_and_leave_custom_ones(
    saved_host: Callable[..., Host],
) -> None:
    from hosts import device_mapping
    from hosts.detail_queries import BY_NAME

    assert BY_NAME["google_chrome_profiles"].runs_on("darwin") and BY_NAME["chromeos_profile_user_info"].runs_on(
        "chrome"
    )
    host = saved_host()
    device_mapping.set_custom(host, "me@example.com")
    for rows in (
        [{"email": "a@example.com"}, {"email": "b@example.com"}, {"email": ""}, {"email": "a@example.com"}],
        [{"email": "b@example.com"}, {"email": "c@example.com"}, {"email": "x" * 300}],
    ):
        update = HostUpdate()
        ingest.INGESTERS["chrome_profiles"](host, rows, update, {})
        save_host_update(host, update)
    assert device_mapping.mapping_json(host) == [
        {"email": "b@example.com", "source": "google_chrome_profiles"},
        {"email": "c@example.com", "source": "google_chrome_profiles"},
        {"email": "me@example.com", "source": "custom"},
    ]
    # A check-in without the query's results keeps what is known.
    save_host_update(host, HostUpdate())
    assert len(device_mapping.mapping_json(host)) == 3


@pytest.mark.skipif(connection.vendor != "mysql", reason="the column is made binary on MySQL only")
def test_software_checksums_are_compared_byte_for_byte_on_mysql(saved_host: Callable[..., Host]) -> None:
    """Thousands of checksums per first software answer: 64-byte binary keys, not 256-byte collated ones."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT character_set_name, collation_name FROM information_schema.columns "
            "WHERE table_schema = DATABASE() AND table_name = 'hosts_software' AND column_name = 'checksum'"
        )
        assert cursor.fetchone() == ("ascii", "ascii_bin")
    host = saved_host()
    ingest_software(host, [package("pkg-a"), package("pkg-b")])
    ingest_software(host, [package("pkg-b"), package("pkg-c")])  # known and new checksums found again
    assert sorted(Software.objects.values_list("name", flat=True)) == ["pkg-a", "pkg-b", "pkg-c"]
    assert sorted(HostSoftware.objects.filter(host=host).values_list("software__name", flat=True)) == ["pkg-b", "pkg-c"]
