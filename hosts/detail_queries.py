"""The detail queries Fleetsite sends as `fleet_detail_query_<name>` (fleet-protocol §1.8).

Each entry names the platforms it runs on, an optional table whose presence gates it (sent as
a discovery query), and the ingester that turns its rows into host fields or side tables. The
SQL is our own; the names, columns and host fields are Fleet's.
"""

from __future__ import annotations

from dataclasses import dataclass

LINUX_PLATFORMS = frozenset(
    {
        "linux", "ubuntu", "debian", "rhel", "centos", "sles", "kali", "gentoo", "amzn", "pop", "arch",
        "linuxmint", "void", "nixos", "endeavouros", "manjaro", "opensuse-leap", "opensuse-tumbleweed",
        "tuxedo", "neon", "archarm", "fedora", "rocky", "almalinux", "ol",
    }
)  # fmt: skip
DARWIN = frozenset({"darwin"})
WINDOWS = frozenset({"windows"})
CHROME = frozenset({"chrome"})
UNIX = LINUX_PLATFORMS | DARWIN
DESKTOP = LINUX_PLATFORMS | DARWIN | WINDOWS
EVERY = frozenset()  # empty: every platform


@dataclass(frozen=True)
class DetailQuery:
    """A detail query: its SQL, where it runs, and which ingester reads its rows."""

    name: str
    sql: str
    platforms: frozenset[str] = EVERY
    requires_table: str = ""
    ingester: str = ""
    # Set when the query feeds side tables only, so it does not count as a detail refresh.
    side_table: bool = False
    feature: str = ""

    def runs_on(self, platform: str) -> bool:
        """Whether a host of `platform` gets this query; hosts of unknown platform get the generic ones."""
        if not self.platforms:
            return True
        return platform in self.platforms

    @property
    def discovery(self) -> str:
        if self.requires_table:
            return (
                "SELECT 1 FROM osquery_registry WHERE active = true AND registry = 'table' "
                f"AND name = '{self.requires_table}';"
            )
        return "SELECT 1;"


_NETWORK_UNIX = """
SELECT ia.address, id.mac
FROM interface_addresses ia
JOIN interface_details id ON id.interface = ia.interface
JOIN routes r ON r.interface = ia.interface
WHERE (r.destination = '0.0.0.0' OR r.destination = '::') AND r.netmask = 0 AND r.type = 'gateway'
  AND (ia.address LIKE '10.%' OR ia.address LIKE '192.168.%' OR ia.address LIKE '172.1_.%'
       OR ia.address LIKE '172.2_.%' OR ia.address LIKE '172.30.%' OR ia.address LIKE '172.31.%'
       OR ia.address LIKE 'fc%' OR ia.address LIKE 'fd%')
ORDER BY r.metric ASC, ia.address NOT LIKE '%:%' DESC
LIMIT 1;
""".strip()

_NETWORK_WINDOWS = """
SELECT ia.address, id.mac
FROM interface_addresses ia
JOIN interface_details id ON id.interface = ia.interface
JOIN routes r ON r.interface = ia.address
WHERE (r.destination = '0.0.0.0' OR r.destination = '::') AND r.netmask = 0 AND r.type = 'remote'
  AND (ia.address LIKE '10.%' OR ia.address LIKE '192.168.%' OR ia.address LIKE '172.1_.%'
       OR ia.address LIKE '172.2_.%' OR ia.address LIKE '172.30.%' OR ia.address LIKE '172.31.%'
       OR ia.address LIKE 'fc%' OR ia.address LIKE 'fd%')
ORDER BY r.metric ASC, ia.address NOT LIKE '%:%' DESC
LIMIT 1;
""".strip()

_OS_VERSION_WINDOWS = """
WITH display AS (
  SELECT data FROM registry
  WHERE path = 'HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion\\DisplayVersion'
), ubr AS (
  SELECT data FROM registry
  WHERE path = 'HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion\\UBR'
), install_type AS (
  SELECT data FROM registry
  WHERE path = 'HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion\\InstallationType'
)
SELECT os.name,
       COALESCE((SELECT data FROM display), '') AS display_version,
       k.version || COALESCE('.' || (SELECT data FROM ubr), '') AS version,
       COALESCE((SELECT data FROM install_type), '') AS installation_type
FROM os_version os, kernel_info k;
""".strip()

_SOFTWARE_LINUX = """
SELECT name, version, '' AS bundle_identifier, '' AS extension_id, '' AS extension_for,
       'deb_packages' AS source, maintainer AS vendor, '' AS last_opened_at, '' AS installed_path,
       '' AS release, arch
FROM deb_packages WHERE status LIKE '% ok installed'
UNION ALL
SELECT name, version, '', '', '', 'rpm_packages', vendor, '', '', release, arch FROM rpm_packages
UNION ALL
SELECT name, version, '', '', '', 'python_packages', author, '', path, '', '' FROM python_packages;
""".strip()

_SOFTWARE_MACOS = """
SELECT name, COALESCE(NULLIF(bundle_short_version, ''), bundle_version) AS version,
       bundle_identifier, '' AS extension_id, '' AS extension_for, 'apps' AS source, '' AS vendor,
       last_opened_time AS last_opened_at, path AS installed_path
FROM apps
UNION ALL
SELECT name, version, '', '', '', 'homebrew_packages', '', '', path FROM homebrew_packages;
""".strip()

_SOFTWARE_WINDOWS = """
SELECT name, version, '' AS bundle_identifier, '' AS extension_id, '' AS extension_for,
       'programs' AS source, publisher AS vendor, '' AS last_opened_at, install_location AS installed_path,
       upgrade_code
FROM programs
UNION ALL
SELECT name, version, '', '', '', 'chocolatey_packages', '', '', path, '' FROM chocolatey_packages;
""".strip()

_USERS = """
SELECT u.uid, u.uuid, u.username, u.type, g.groupname, u.shell
FROM users u LEFT JOIN groups g ON g.gid = u.gid
WHERE u.type <> 'special' AND u.shell NOT LIKE '%/false' AND u.shell NOT LIKE '%/nologin'
  AND u.shell NOT LIKE '%/shutdown' AND u.shell NOT LIKE '%/halt' AND u.username NOT LIKE '%$'
  AND u.username NOT LIKE '\\_%' ESCAPE '\\' AND NOT (u.username = 'sync' AND u.shell = '/bin/sync');
""".strip()

DETAIL_QUERIES: tuple[DetailQuery, ...] = (
    DetailQuery("network_interface_unix", _NETWORK_UNIX, UNIX, ingester="network_interface"),
    DetailQuery("network_interface_windows", _NETWORK_WINDOWS, WINDOWS, ingester="network_interface"),
    DetailQuery(
        "network_interface_chrome",
        "SELECT ipv4 AS address, mac FROM network_interfaces LIMIT 1;",
        CHROME,
        ingester="network_interface",
    ),
    # Runs everywhere; on Windows, os_version_windows (ingested after it) refines the name.
    DetailQuery("os_version", "SELECT * FROM os_version LIMIT 1;", ingester="os_version"),
    DetailQuery("os_version_windows", _OS_VERSION_WINDOWS, WINDOWS, ingester="os_version_windows"),
    DetailQuery(
        "osquery_flags",
        "SELECT name, value FROM osquery_flags WHERE name IN "
        "('distributed_interval', 'config_tls_refresh', 'config_refresh', 'logger_tls_period');",
        DESKTOP,
        ingester="osquery_flags",
    ),
    DetailQuery("osquery_info", "SELECT * FROM osquery_info LIMIT 1;", ingester="osquery_info"),
    DetailQuery("system_info", "SELECT * FROM system_info LIMIT 1;", ingester="system_info"),
    DetailQuery("uptime", "SELECT * FROM uptime LIMIT 1;", DESKTOP, ingester="uptime"),
    DetailQuery(
        "disk_space_unix",
        "SELECT (blocks_available * 100 / blocks) AS percent_disk_space_available, "
        "ROUND((blocks_available * blocks_size * 10e-10), 2) AS gigs_disk_space_available, "
        "ROUND((blocks * blocks_size * 10e-10), 2) AS gigs_total_disk_space, "
        "(SELECT ROUND(SUM(blocks * blocks_size) * 10e-10, 2) FROM mounts WHERE "
        "device LIKE '/dev/%' AND type NOT IN ('squashfs', 'tmpfs', 'overlay')) AS gigs_all_disk_space "
        "FROM mounts WHERE path = '/' LIMIT 1;",
        LINUX_PLATFORMS,
        ingester="disk_space",
    ),
    DetailQuery(
        "disk_space_darwin",
        "SELECT (bytes_available * 100.0 / bytes_total) AS percent_disk_space_available, "
        "ROUND(bytes_available * 10e-10, 2) AS gigs_disk_space_available, "
        "ROUND(bytes_total * 10e-10, 2) AS gigs_total_disk_space FROM disk_space LIMIT 1;",
        DARWIN,
        requires_table="disk_space",
        ingester="disk_space",
    ),
    DetailQuery(
        "disk_space_windows",
        "SELECT ROUND((SUM(free_space) * 100 * 10e-10) / (SUM(size) * 10e-10)) AS percent_disk_space_available, "
        "ROUND(SUM(free_space) * 10e-10) AS gigs_disk_space_available, "
        "ROUND(SUM(size) * 10e-10) AS gigs_total_disk_space "
        "FROM logical_drives WHERE file_system = 'NTFS' LIMIT 1;",
        WINDOWS,
        ingester="disk_space",
    ),
    DetailQuery(
        "orbit_info",
        "SELECT version, desktop_version, scripts_enabled FROM orbit_info;",
        DESKTOP,
        requires_table="orbit_info",
        ingester="orbit_info",
        side_table=True,
    ),
    DetailQuery("users", _USERS, DESKTOP, ingester="users", side_table=True, feature="enable_host_users"),
    # Device mapping: the e-mails of signed-in Chrome profiles (ChromeOS: the signed-in users).
    DetailQuery(
        "google_chrome_profiles",
        "SELECT email FROM google_chrome_profiles WHERE NOT ephemeral AND email <> '';",
        requires_table="google_chrome_profiles",
        ingester="chrome_profiles",
        side_table=True,
    ),
    DetailQuery(
        "chromeos_profile_user_info",
        "SELECT email FROM users;",
        CHROME,
        ingester="chrome_profiles",
        side_table=True,
    ),
    DetailQuery(
        "software_linux",
        _SOFTWARE_LINUX,
        LINUX_PLATFORMS,
        ingester="software",
        side_table=True,
        feature="enable_software_inventory",
    ),
    DetailQuery(
        "software_macos",
        _SOFTWARE_MACOS,
        DARWIN,
        ingester="software",
        side_table=True,
        feature="enable_software_inventory",
    ),
    DetailQuery(
        "software_windows",
        _SOFTWARE_WINDOWS,
        WINDOWS,
        ingester="software",
        side_table=True,
        feature="enable_software_inventory",
    ),
)

BY_NAME: dict[str, DetailQuery] = {query.name: query for query in DETAIL_QUERIES}


def queries_for(platform: str, features: dict) -> list[DetailQuery]:
    """The detail queries a host of `platform` should run, given the enabled features."""
    return [
        query
        for query in DETAIL_QUERIES
        if query.runs_on(platform) and (not query.feature or features.get(query.feature, True))
    ]
