"""What deb and rpm share (packaging.md §3): the tree, /etc/default/orbit, the unit and scripts.

Maintainer scripts prefix every path with `$DPKG_ROOT` and skip systemctl when it is set, so a
test install into another root (`dpkg --root … --force-script-chrootless`) never touches the
build host. On a real install DPKG_ROOT is empty and the scripts behave as Fleet's.
"""

from __future__ import annotations

from packaging import constants as C
from packaging.options import PackageOptions
from packaging.payload import TargetSet, Tree, add_orbit_root
from packaging.targets import FetchedTargets

SYSTEMD_UNIT = """[Unit]
Description=Orbit osquery
After=network.service syslog.service
StartLimitIntervalSec=0

[Service]
TimeoutStartSec=0
EnvironmentFile=/etc/default/orbit
ExecStart=/opt/orbit/bin/orbit/orbit
Restart=always
RestartSec=1
KillMode=control-group
KillSignal=SIGTERM
CPUQuota=20%

[Install]
WantedBy=multi-user.target
"""


def env_lines(options: PackageOptions) -> list[tuple[str, str]]:
    """/etc/default/orbit as (name, value) pairs, in Fleet's order; flags add lines (packaging.md §2)."""
    lines = [
        ("ORBIT_UPDATE_URL", options.update_url),
        ("ORBIT_ORBIT_CHANNEL", options.orbit_channel),
        ("ORBIT_OSQUERYD_CHANNEL", options.osqueryd_channel),
        ("ORBIT_UPDATE_INTERVAL", options.update_interval),
    ]
    if options.fleet_url:
        lines.append(("ORBIT_FLEET_URL", options.fleet_url))
    if options.enroll_secret:
        lines.append(("ORBIT_ENROLL_SECRET", options.enroll_secret))
    if options.fleet_certificate:
        lines.append(("ORBIT_FLEET_CERTIFICATE", f"{C.ORBIT_ROOT}/fleet.pem"))
    if options.update_tls_certificate:
        lines.append(("ORBIT_UPDATE_TLS_CERTIFICATE", f"{C.ORBIT_ROOT}/update.pem"))
    if options.fleet_desktop:
        lines.append(("ORBIT_FLEET_DESKTOP", "true"))
        lines.append(("ORBIT_DESKTOP_CHANNEL", options.desktop_channel))
        host = options.fleet_desktop_alternative_browser_host
        if host:
            lines.append(("ORBIT_FLEET_DESKTOP_ALTERNATIVE_BROWSER_HOST", host))
    flags = (
        ("insecure", "ORBIT_INSECURE"),
        ("debug", "ORBIT_DEBUG"),
        ("disable_updates", "ORBIT_DISABLE_UPDATES"),
        ("enable_scripts", "ORBIT_ENABLE_SCRIPTS"),
    )
    lines.extend((name, "true") for attr, name in flags if getattr(options, attr))
    if options.host_identifier != "uuid":
        lines.append(("ORBIT_HOST_IDENTIFIER", options.host_identifier))
    if options.end_user_email:
        lines.append(("ORBIT_END_USER_EMAIL", options.end_user_email))
    if options.osquery_db:
        lines.append(("ORBIT_OSQUERY_DB", options.osquery_db))
    return lines


def env_file(options: PackageOptions) -> bytes:
    return "".join(f"{name}={value}\n" for name, value in env_lines(options)).encode()


def linux_tree(options: PackageOptions, fetched: FetchedTargets, targets: TargetSet) -> Tree:
    tree = Tree()
    add_orbit_root(tree, C.ORBIT_ROOT, options, fetched, targets, secret_file=False)
    platform = C.LINUX_PLATFORM[options.arch]
    tree.link(f"{C.ORBIT_ROOT}/bin/orbit/orbit", f"{C.ORBIT_ROOT}/bin/orbit/{platform}/{options.orbit_channel}/orbit")
    tree.link("/usr/local/bin/orbit", f"{C.ORBIT_ROOT}/bin/orbit/orbit")
    tree.dir("/var/log/orbit")
    tree.dir("/var/log/osquery")
    tree.file(C.SYSTEMD_UNIT, data=SYSTEMD_UNIT.encode(), mode=0o644)
    tree.file(C.ENV_FILE, data=env_file(options), mode=0o600)
    return tree


# --- maintainer scripts -----------------------------------------------------------------------
_HAS_SYSTEMD = 'if [ -z "${DPKG_ROOT:-}" ] && command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]'


def postinstall(options: PackageOptions) -> str:
    start = (
        "  systemctl restart orbit.service 2>&1 || true\n  systemctl enable orbit.service 2>&1 || true\n"
        if options.service
        else "  : # --service=false: the unit is installed, not started\n"
    )
    return f"""#!/bin/sh
set -e
{_HAS_SYSTEMD}; then
  systemctl daemon-reload >/dev/null 2>&1 || true
{start}fi
exit 0
"""


def preremove(stop_cases: str) -> str:
    """Stop orbit on removal only; an upgrade keeps it running (deb `upgrade`, rpm `1`)."""
    return f"""#!/bin/sh
case "$1" in
  {stop_cases})
    {_HAS_SYSTEMD}; then
      systemctl disable --now orbit.service >/dev/null 2>&1 || true
    fi
    if [ -z "${{DPKG_ROOT:-}}" ]; then pkill fleet-desktop >/dev/null 2>&1 || true; fi
    ;;
esac
exit 0
"""


def postremove(remove_cases: str) -> str:
    removed = ("/var/lib/orbit", "/var/log/orbit", "/usr/local/bin/orbit", C.ENV_FILE, C.SYSTEMD_UNIT, C.ORBIT_ROOT)
    paths = " ".join(f'"${{DPKG_ROOT:-}}{path}"' for path in removed)
    return f"""#!/bin/sh
case "$1" in
  {remove_cases})
    rm -rf {paths}
    ;;
esac
exit 0
"""


def posttrans(options: PackageOptions) -> str:
    """rpm only: RPM < 4.12 passes an unreliable $1, so make sure orbit ends up enabled."""
    start = "    systemctl restart orbit.service 2>&1 || true\n    systemctl enable orbit.service 2>&1 || true\n"
    return f"""#!/bin/sh
{_HAS_SYSTEMD}; then
  if ! systemctl is-enabled orbit.service >/dev/null 2>&1; then
    systemctl daemon-reload >/dev/null 2>&1 || true
{start if options.service else ""}    :
  fi
fi
exit 0
"""
