"""macOS flat packages in pure Python (packaging.md §4, §8.3): Distribution + base.pkg in a xar.

base.pkg holds PackageInfo, Bom, Payload (gzip cpio odc of the root) and Scripts (postinstall).
Never installed on a real Mac from here: run `pkgutil --expand` and `installer` there first.
"""

from __future__ import annotations

import plistlib
from pathlib import Path
from xml.sax.saxutils import quoteattr

from packaging import constants as C
from packaging.builders.bom import write_bom
from packaging.builders.cpio import write_gzipped_odc
from packaging.builders.xar import XarNode, write_xar
from packaging.options import PackageOptions
from packaging.payload import Entry, Tree, add_orbit_root, package_version, target_set
from packaging.targets import FetchedTargets


def environment(options: PackageOptions) -> dict[str, str]:
    """The launchd plist's EnvironmentVariables (packaging.md §4.3); flags add keys."""
    env = {
        "ORBIT_ORBIT_CHANNEL": options.orbit_channel,
        "ORBIT_OSQUERYD_CHANNEL": options.osqueryd_channel,
        "ORBIT_UPDATE_URL": options.update_url,
        "ORBIT_UPDATE_INTERVAL": options.update_interval,
    }
    if options.enroll_secret:
        env["ORBIT_ENROLL_SECRET_PATH"] = f"{C.ORBIT_ROOT}/secret.txt"
    if options.fleet_url:
        env["ORBIT_FLEET_URL"] = options.fleet_url
    if options.fleet_certificate:
        env["ORBIT_FLEET_CERTIFICATE"] = f"{C.ORBIT_ROOT}/fleet.pem"
    if options.update_tls_certificate:
        env["ORBIT_UPDATE_TLS_CERTIFICATE"] = f"{C.ORBIT_ROOT}/update.pem"
    if options.fleet_desktop:
        env["ORBIT_FLEET_DESKTOP"] = "true"
        env["ORBIT_DESKTOP_CHANNEL"] = options.desktop_channel
    flags = {
        "use_system_configuration": "ORBIT_USE_SYSTEM_CONFIGURATION",
        "enable_scripts": "ORBIT_ENABLE_SCRIPTS",
        "disable_updates": "ORBIT_DISABLE_UPDATES",
        "debug": "ORBIT_DEBUG",
        "insecure": "ORBIT_INSECURE",
        "disable_keystore": "ORBIT_DISABLE_KEYSTORE",
    }
    env.update({name: "true" for attr, name in flags.items() if getattr(options, attr)})
    if options.host_identifier != "uuid":
        env["ORBIT_HOST_IDENTIFIER"] = options.host_identifier
    if options.osquery_db:
        env["ORBIT_OSQUERY_DB"] = options.osquery_db
    return env


def launchd_plist(options: PackageOptions) -> bytes:
    return plistlib.dumps(
        {
            "Label": C.LAUNCHD_LABEL,
            "ProgramArguments": [f"{C.ORBIT_ROOT}/bin/orbit/orbit"],
            "EnvironmentVariables": environment(options),
            "KeepAlive": True,
            "RunAtLoad": True,
            "ThrottleInterval": 10,
            "StandardOutPath": "/var/log/orbit/orbit.stdout.log",
            "StandardErrorPath": "/var/log/orbit/orbit.stderr.log",
        },
        sort_keys=False,
    )


def postinstall(options: PackageOptions) -> str:
    start = f"""
DAEMON_LABEL="{C.LAUNCHD_LABEL}"
DAEMON_PLIST="{C.LAUNCHD_PLIST}"
if [ -f "$INBAND_MARKER" ]; then
  # orbit upgraded itself: let it restart on its own schedule.
  rm -f "$INBAND_MARKER"
  exit 0
fi
launchctl bootout "system/$DAEMON_LABEL" >/dev/null 2>&1 || true
launchctl enable "system/$DAEMON_LABEL"
count=0
until launchctl bootstrap system "$DAEMON_PLIST"; do
  count=$((count + 1))
  if [ "$count" -ge 30 ]; then echo "could not bootstrap $DAEMON_LABEL" >&2; exit 1; fi
  sleep 1
done
launchctl kickstart "system/$DAEMON_LABEL"
"""
    return f"""#!/bin/bash
set -e
INBAND_MARKER="{C.ORBIT_ROOT}/.inband_upgrade"
mkdir -p /var/log/orbit /usr/local/bin
ln -sf "{C.ORBIT_ROOT}/bin/orbit/macos/{options.orbit_channel}/orbit" "{C.ORBIT_ROOT}/bin/orbit/orbit"
ln -sf "{C.ORBIT_ROOT}/bin/orbit/orbit" /usr/local/bin/orbit
{start if options.service else ""}exit 0
"""


def distribution(identifier: str, version: str, install_kib: int) -> str:
    ref = quoteattr(f"{identifier}.base.pkg")
    return f"""<?xml version="1.0" encoding="utf-8"?>
<installer-gui-script minSpecVersion="2">
    <title>{C.MSI_PRODUCT_NAME}</title>
    <choices-outline>
        <line choice="choiceBase"/>
    </choices-outline>
    <choice id="choiceBase" title="{C.MSI_PRODUCT_NAME}" visible="false" enabled="false" selected="true">
        <pkg-ref id={ref}/>
    </choice>
    <pkg-ref id={ref} version={quoteattr(version)} auth="root" installKBytes="{install_kib}">#base.pkg</pkg-ref>
    <options customize="never" require-scripts="false" hostArchitectures="arm64,x86_64"/>
</installer-gui-script>
"""


def package_info(identifier: str, version: str, files: int, install_kib: int) -> str:
    return f"""<?xml version="1.0" encoding="utf-8"?>
<pkg-info format-version="2" identifier={quoteattr(identifier + ".base.pkg")} version={quoteattr(version)} \
install-location="/" auth="root">
    <payload numberOfFiles="{files}" installKBytes="{install_kib}"/>
    <scripts>
        <postinstall file="./postinstall"/>
    </scripts>
</pkg-info>
"""


def macos_tree(options: PackageOptions, fetched: FetchedTargets) -> Tree:
    tree = Tree()
    add_orbit_root(tree, C.ORBIT_ROOT, options, fetched, target_set(options), secret_file=True)
    if options.service:
        tree.file(C.LAUNCHD_PLIST, data=launchd_plist(options), mode=0o644)
    return tree


def build(options: PackageOptions, fetched: FetchedTargets, work: Path) -> Path:
    """`fleet-osquery.pkg` in `work`: Distribution and base.pkg/{PackageInfo,Bom,Payload,Scripts}."""
    version = package_version(options, fetched, target_set(options))
    entries = macos_tree(options, fetched).sorted()
    install_kib = max(1, sum(entry.size for entry in entries) // 1024)
    flat = work / "flat"
    flat.mkdir()
    files = {
        "Distribution": distribution(options.identifier, version, install_kib).encode(),
        "PackageInfo": package_info(options.identifier, version, len(entries) + 1, install_kib).encode(),
        "Bom": write_bom(entries),
    }
    for name, data in files.items():
        (flat / name).write_bytes(data)
    write_gzipped_odc(entries, flat / "Payload")
    script = Entry("/postinstall", "file", 0o744, data=postinstall(options).encode())
    write_gzipped_odc([script], flat / "Scripts")
    base = XarNode(
        "base.pkg",
        mode=0o755,
        children=[XarNode(name, source=flat / name) for name in ("Bom", "PackageInfo", "Payload", "Scripts")],
    )
    out = work / f"{C.PACKAGE_NAME}.pkg"
    write_xar([XarNode("Distribution", source=flat / "Distribution"), base], out)
    return out
