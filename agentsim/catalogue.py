"""Realistic per-platform osquery rows for a simulated host (detail queries and modelled tables).

Every value is a string because that is what osquery puts on the wire; servers must parse them.
"""

from __future__ import annotations

import random
import time
import uuid

from agentsim.identity import HostIdentity
from agentsim.software import COLUMNS as SOFTWARE_COLUMNS
from agentsim.software import pick_software

OSQUERY_VERSION = "5.12.1"
ORBIT_VERSION = "1.40.0"

_OS_COLUMNS = ("name", "version", "major", "minor", "patch", "build", "platform", "platform_like", "codename")
_OS_VALUES = {
    "ubuntu": ("Ubuntu", "22.04.3 LTS (Jammy Jellyfish)", "22", "4", "0", "", "ubuntu", "debian", "jammy"),
    "debian": ("Debian GNU/Linux", "12 (bookworm)", "12", "0", "0", "", "debian", "", "bookworm"),
    "rhel": ("Red Hat Enterprise Linux", "9.3 (Plow)", "9", "3", "0", "", "rhel", "fedora", ""),
    "darwin": ("macOS", "14.4.1", "14", "4", "1", "23E224", "darwin", "darwin", "Sonoma"),
    "windows": (
        "Microsoft Windows 11 Pro",
        "10.0.22631",
        "10",
        "0",
        "",
        "22631",
        "windows",
        "windows",
        "Microsoft Windows 11 Pro",
    ),
}
_OS_VERSION = {flavor: dict(zip(_OS_COLUMNS, values, strict=True)) for flavor, values in _OS_VALUES.items()}
_BUILD = {"linux": ("linux", "centos7"), "darwin": ("darwin", "10.14"), "windows": ("windows", "10")}

# Detail query names (after the "fleet_detail_query_" prefix) that get rows; anything else gets [].
DETAIL_QUERIES = (
    "network_interface_unix",
    "network_interface_windows",
    "os_version",
    "os_version_windows",
    "osquery_flags",
    "osquery_info",
    "system_info",
    "uptime",
    "disk_space_unix",
    "disk_space_darwin",
    "disk_space_darwin_legacy",
    "disk_space_windows",
    "users",
    "software_linux",
    "software_macos",
    "software_windows",
    "orbit_info",
)
# Tables that label/policy/live queries can read (see answers.py); software tables filter by source.
SOFTWARE_TABLES = (
    "programs",
    "deb_packages",
    "rpm_packages",
    "python_packages",
    "apps",
    "homebrew_packages",
    "chocolatey_packages",
)
MODELLED_TABLES = (
    "system_info",
    "os_version",
    "osquery_info",
    "uptime",
    "users",
    "processes",
    "orbit_info",
    *SOFTWARE_TABLES,
)


class HostData:
    """Facts about one host: its fixed identity plus the few things that change while it runs."""

    __slots__ = (
        "_disk",
        "_software",
        "boot_uptime",
        "config_refresh",
        "device_auth_token",
        "distributed_interval",
        "ident",
        "instance_id",
        "logger_tls_period",
        "pid",
        "started",
    )

    def __init__(self, ident: HostIdentity, now: float | None = None) -> None:
        rng = random.Random(ident.seed)
        self.ident = ident
        self.started = time.time() if now is None else now
        self.boot_uptime = rng.randint(3600, 30 * 86400)
        self.pid = rng.randint(300, 60000)
        self.instance_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        self.distributed_interval = 10
        self.logger_tls_period = 10
        self.config_refresh = 60
        self.device_auth_token = ident.device_auth_token
        total = rng.choice((250.0, 500.0, 1000.0))
        percent = rng.randint(10, 90)
        self._disk = (str(percent), f"{total * percent / 100:.1f}", f"{total:.1f}")
        self._software: list[dict[str, str]] | None = None

    # -- single rows ---------------------------------------------------------------------------------
    def os_version(self) -> dict[str, str]:
        row = dict(_OS_VERSION[self.ident.flavor])
        row["arch"] = "64-bit" if self.ident.platform == "windows" else self.ident.arch
        row["extra"] = ""
        return row

    def osquery_info(self) -> dict[str, str]:
        build_platform, build_distro = _BUILD[self.ident.platform]
        return {
            "pid": str(self.pid),
            "uuid": self.ident.hardware_uuid,
            "instance_id": self.instance_id,
            "version": OSQUERY_VERSION,
            "config_hash": "",
            "config_valid": "1",
            "extensions": "active",
            "build_platform": build_platform,
            "build_distro": build_distro,
            "start_time": str(int(self.started)),
            "watcher": str(self.pid - 1),
            "platform_mask": self.ident.platform_type,
        }

    def system_info(self) -> dict[str, str]:
        i = self.ident
        return {
            "hostname": i.hostname,
            "uuid": i.hardware_uuid,
            "cpu_type": i.arch,
            "cpu_subtype": "ARM64E" if i.arch == "arm64" else "-1",
            "cpu_brand": i.cpu_brand,
            "cpu_physical_cores": str(i.cpu_physical_cores),
            "cpu_logical_cores": str(i.cpu_logical_cores),
            "physical_memory": str(i.physical_memory),
            "hardware_vendor": i.hardware_vendor,
            "hardware_model": i.hardware_model,
            "hardware_version": "1.0",
            "hardware_serial": i.hardware_serial,
            "computer_name": i.computer_name,
            "local_hostname": i.hostname,
        }

    def host_details(self) -> dict[str, dict[str, str]]:
        """The ``host_details`` object of an osquery enroll request."""
        os_version = self.os_version()
        del os_version["extra"]
        return {
            "os_version": os_version,
            "osquery_info": self.osquery_info(),
            "system_info": self.system_info(),
            "platform_info": {},
        }

    def uptime_seconds(self) -> int:
        return self.boot_uptime + int(time.time() - self.started)

    def orbit_info(self) -> dict[str, str]:
        return {
            "version": ORBIT_VERSION,
            "device_auth_token": self.device_auth_token,
            "desktop_version": ORBIT_VERSION,
            "scripts_enabled": "1",
        }

    # -- multi-row tables ----------------------------------------------------------------------------
    def software(self) -> list[dict[str, str]]:
        if self._software is None:
            self._software = pick_software(self.ident.flavor, self.ident.seed)
        return self._software

    def users(self) -> list[dict[str, str]]:
        i = self.ident
        rng = random.Random(i.seed ^ 0x5EED)
        user_uuid = str(uuid.UUID(int=rng.getrandbits(128), version=4)).upper()
        if i.platform == "windows":
            sid = f"S-1-5-21-{rng.randint(10**9, 4 * 10**9)}-{rng.randint(10**9, 4 * 10**9)}"
            shell = "C:\\Windows\\system32\\cmd.exe"
            return [
                {
                    "uid": "500",
                    "uuid": f"{sid}-500",
                    "username": "Administrator",
                    "type": "local",
                    "groupname": "Administrators",
                    "shell": shell,
                },
                {
                    "uid": "18",
                    "uuid": "S-1-5-18",
                    "username": "SYSTEM",
                    "type": "special",
                    "groupname": "",
                    "shell": shell,
                },
                {
                    "uid": "1001",
                    "uuid": f"{sid}-1001",
                    "username": i.username,
                    "type": "local",
                    "groupname": "Users",
                    "shell": shell,
                },
            ]
        if i.platform == "darwin":
            return [
                {
                    "uid": "0",
                    "uuid": "FFFFEEEE-DDDD-CCCC-BBBB-AAAA00000000",
                    "username": "root",
                    "type": "",
                    "groupname": "wheel",
                    "shell": "/bin/sh",
                },
                {
                    "uid": "501",
                    "uuid": user_uuid,
                    "username": i.username,
                    "type": "",
                    "groupname": "staff",
                    "shell": "/bin/zsh",
                },
            ]
        return [
            {"uid": "0", "uuid": "", "username": "root", "type": "", "groupname": "root", "shell": "/bin/bash"},
            {
                "uid": "65534",
                "uuid": "",
                "username": "nobody",
                "type": "",
                "groupname": "nogroup",
                "shell": "/usr/sbin/nologin",
            },
            {
                "uid": "1000",
                "uuid": "",
                "username": i.username,
                "type": "",
                "groupname": i.username,
                "shell": "/bin/bash",
            },
        ]

    def processes(self) -> list[dict[str, str]]:
        plat = self.ident.platform
        if plat == "windows":
            names = (
                ("System", ""),
                ("svchost.exe", "C:\\Windows\\System32\\svchost.exe"),
                ("osqueryd.exe", "C:\\Program Files\\Orbit\\bin\\osqueryd\\windows\\stable\\osqueryd.exe"),
                ("orbit.exe", "C:\\Program Files\\Orbit\\bin\\orbit\\orbit.exe"),
            )
        elif plat == "darwin":
            names = (
                ("launchd", "/sbin/launchd"),
                ("WindowServer", "/System/Library/PrivateFrameworks/WindowServer"),
                ("osqueryd", "/opt/orbit/bin/osqueryd/macos-app/stable/osquery.app/Contents/MacOS/osqueryd"),
                ("orbit", "/opt/orbit/bin/orbit/macos/stable/orbit"),
            )
        else:
            names = (
                ("systemd", "/usr/lib/systemd/systemd"),
                ("sshd", "/usr/sbin/sshd"),
                ("osqueryd", "/opt/orbit/bin/osqueryd/linux/stable/osqueryd"),
                ("orbit", "/opt/orbit/bin/orbit/linux/stable/orbit"),
            )
        # A real host runs a hundred or more processes; the filler is stable per host.
        filler = {
            "windows": ("RuntimeBroker.exe", "C:\\Windows\\System32\\RuntimeBroker.exe"),
            "darwin": ("mdworker_shared", "/System/Library/Frameworks/CoreServices.framework/mdworker_shared"),
        }
        extra_name, extra_path = filler.get(plat, ("kworker", ""))
        count = 60 + random.Random(self.ident.seed).randint(0, 140)
        names = names + tuple((f"{extra_name}/{n}", extra_path) for n in range(count - len(names)))
        rows = []
        for n, (name, path) in enumerate(names):
            pid = 1 if n == 0 else self.pid + n - 2
            rows.append(
                {
                    "pid": str(pid),
                    "name": name,
                    "path": path,
                    "cmdline": path,
                    "state": "S",
                    "uid": "0",
                    "gid": "0",
                    "parent": "0" if n == 0 else "1",
                    "start_time": str(int(self.started)),
                    "resident_size": str(10_000_000 + n * 4096),
                    "user_time": str(100 * n),
                    "system_time": str(50 * n),
                }
            )
        return rows

    # -- dispatch ------------------------------------------------------------------------------------
    def detail(self, name: str) -> list[dict[str, str]] | None:
        """Rows for ``fleet_detail_query_<name>``, or None if the simulator does not model it."""
        if name in ("network_interface_unix", "network_interface_windows"):
            return [{"address": self.ident.ip, "mac": self.ident.mac}]
        if name == "os_version":
            return [self.os_version()]
        if name == "os_version_windows":
            os_name = _OS_VERSION["windows"]["name"]
            return [
                {
                    "name": os_name,
                    "display_version": "23H2",
                    "version": "10.0.22631.3155",
                    "installation_type": "Client",
                }
            ]
        if name == "osquery_flags":
            return [
                {"name": "distributed_interval", "value": str(self.distributed_interval)},
                {"name": "config_tls_refresh", "value": "0"},
                {"name": "config_refresh", "value": str(self.config_refresh)},
                {"name": "logger_tls_period", "value": str(self.logger_tls_period)},
            ]
        if name == "osquery_info":
            return [self.osquery_info()]
        if name == "system_info":
            return [self.system_info()]
        if name == "uptime":
            return [{"total_seconds": str(self.uptime_seconds())}]
        if name.startswith("disk_space_"):
            percent, available, total = self._disk
            row = {
                "percent_disk_space_available": percent,
                "gigs_disk_space_available": available,
                "gigs_total_disk_space": total,
            }
            if name == "disk_space_unix":
                row["gigs_all_disk_space"] = total
            return [row]
        if name == "users":
            return self.users()
        if name in ("software_linux", "software_macos", "software_windows"):
            return self.software()
        if name == "orbit_info":
            return [self.orbit_info()]
        return None

    def table(self, name: str) -> list[dict[str, str]] | None:
        """Rows of an osquery table referenced by free-form SQL, or None if not modelled."""
        if name in SOFTWARE_TABLES:
            return [row for row in self.software() if row["source"] == name]
        if name == "processes":
            return self.processes()
        if name in ("system_info", "os_version", "osquery_info", "uptime", "users", "orbit_info"):
            return self.detail(name)
        return None


def software_columns(platform: str) -> tuple[str, ...]:
    """Columns every software row carries on ``platform`` (linux adds release/arch, windows upgrade_code)."""
    return SOFTWARE_COLUMNS[platform]
