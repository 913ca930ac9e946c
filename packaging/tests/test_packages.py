"""Each installer read back with Debian's own tools: the flags must land exactly where Fleet puts them."""

from __future__ import annotations

import gzip
import json
import os
import plistlib
import shutil
import subprocess
from pathlib import Path

import pytest

from packaging.builders.bom import cksum, read_bom
from packaging.tests.conftest import FLEET_URL, SECRET, Built, Served

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def run(*command: str, cwd: Path | None = None, env: dict | None = None) -> str:
    result = subprocess.run(command, capture_output=True, text=True, cwd=cwd, env=env, check=False)
    assert result.returncode == 0, (command, result.stdout, result.stderr)
    return result.stdout


def needs(*tools: str) -> None:
    missing = [tool for tool in tools if shutil.which(tool) is None]
    if missing:
        pytest.fail(f"missing tools {missing}: .ci/run installs them")


# --- deb ----------------------------------------------------------------------------------------
def test_deb_metadata_and_layout(built: Built) -> None:
    needs("dpkg-deb")
    deb = built("deb")
    assert deb.name == "fleet-osquery_1.40.0_amd64.deb"
    assert oct(deb.stat().st_mode & 0o777) == "0o600"
    info = run("dpkg-deb", "-I", str(deb))
    assert "Package: fleet-osquery" in info and "Version: 1.40.0" in info and "Architecture: amd64" in info
    assert "Description: Fleet osquery -- runtime and autoupdater" in info
    for script in ("postinst", "prerm", "postrm"):
        assert script in info
    listing = run("dpkg-deb", "-c", str(deb))
    assert "-rw------- root/root" in next(line for line in listing.splitlines() if line.endswith("./etc/default/orbit"))
    expected = [
        "./opt/orbit/bin/orbit/linux/1.40/orbit",
        "./opt/orbit/bin/osqueryd/linux/stable/osqueryd",
        "./opt/orbit/bin/desktop/linux/stable/desktop.tar.gz",
        "./opt/orbit/bin/desktop/linux/stable/fleet-desktop/fleet-desktop",
        "./opt/orbit/tuf-metadata.json",
        "./opt/orbit/updates-metadata.json",
        "./opt/orbit/osquery.flags",
        "./opt/orbit/certs.pem",
        "./usr/lib/systemd/system/orbit.service",
        "./opt/orbit/bin/orbit/orbit -> /opt/orbit/bin/orbit/linux/1.40/orbit",
        "./usr/local/bin/orbit -> /opt/orbit/bin/orbit/orbit",
        "./var/log/orbit/",
        "./var/log/osquery/",
    ]
    for path in expected:
        assert path in listing, path
    assert "secret.txt" not in listing  # Linux carries the secret in the env file only


def test_deb_installs_into_a_test_root_with_the_exact_env_file(built: Built, tmp_path: Path) -> None:
    """dpkg --root runs the maintainer scripts here with DPKG_ROOT set; they must only touch the root."""
    needs("dpkg")
    root = tmp_path / "root"
    for sub in ("var/lib/dpkg/info", "var/lib/dpkg/updates", "var/lib/dpkg/triggers"):
        (root / sub).mkdir(parents=True)
    (root / "var/lib/dpkg/status").touch()
    host_had_orbit = Path("/opt/orbit").exists()
    dpkg = ["dpkg", f"--root={root}", "--force-not-root", "--force-script-chrootless", "--log=/dev/null"]
    run(*dpkg, "-i", str(built("deb")))
    env_file = root / "etc/default/orbit"
    assert oct(env_file.stat().st_mode & 0o777) == "0o600"
    assert env_file.read_text().splitlines() == [
        f"ORBIT_UPDATE_URL={built.url}",
        "ORBIT_ORBIT_CHANNEL=1.40",
        "ORBIT_OSQUERYD_CHANNEL=stable",
        "ORBIT_UPDATE_INTERVAL=30m0s",
        f"ORBIT_FLEET_URL={FLEET_URL}",
        f"ORBIT_ENROLL_SECRET={SECRET}",
        "ORBIT_FLEET_DESKTOP=true",
        "ORBIT_DESKTOP_CHANNEL=stable",
        "ORBIT_DEBUG=true",
        "ORBIT_ENABLE_SCRIPTS=true",
        "ORBIT_HOST_IDENTIFIER=instance",
        "ORBIT_END_USER_EMAIL=user@example.com",
    ]
    orbit = root / "opt/orbit/bin/orbit/orbit"
    assert os.readlink(orbit) == "/opt/orbit/bin/orbit/linux/1.40/orbit"
    assert (root / "opt/orbit/bin/orbit/linux/1.40/orbit").read_bytes().startswith(b"#!/bin/sh\necho 'orbit-linux")
    unit = (root / "usr/lib/systemd/system/orbit.service").read_text()
    assert "EnvironmentFile=/etc/default/orbit" in unit and "ExecStart=/opt/orbit/bin/orbit/orbit" in unit
    assert (root / "opt/orbit/osquery.flags").read_text() == "--verbose\n--logger_min_status=1\n"
    metadata = json.loads((root / "opt/orbit/tuf-metadata.json").read_text())
    assert set(metadata) == {"root.json", "targets.json", "snapshot.json", "timestamp.json"}
    assert "orbit/linux/1.40/orbit" in metadata["targets.json"]["signed"]["targets"]
    assert (root / "opt/orbit/updates-metadata.json").read_bytes() == (
        root / "opt/orbit/tuf-metadata.json"
    ).read_bytes()
    status = run("dpkg", f"--root={root}", "-s", "fleet-osquery")
    assert "Status: install ok installed" in status
    # Purge runs prerm/postrm: they remove the test root's files, not the host's.
    run(*dpkg, "-P", "fleet-osquery")
    assert not (root / "opt/orbit").exists() and not env_file.exists()
    assert Path("/opt/orbit").exists() == host_had_orbit


# --- rpm ----------------------------------------------------------------------------------------
def test_rpm_metadata_files_scripts_and_digests(built: Built) -> None:
    needs("rpm")
    package = built("rpm")
    assert package.name == "fleet-osquery-1.40.0.x86_64.rpm"
    info = run("rpm", "-qpi", str(package))
    assert "Name        : fleet-osquery" in info and "Version     : 1.40.0" in info
    assert "Architecture: x86_64" in info and "Vendor      : Fleet Device Management" in info
    files = run("rpm", "-qplv", str(package))
    env_line = next(line for line in files.splitlines() if line.endswith(" /etc/default/orbit"))
    assert env_line.startswith("-rw-------") and " root " in env_line
    assert "/opt/orbit/bin/orbit/orbit -> /opt/orbit/bin/orbit/linux/1.40/orbit" in files
    assert "/opt/orbit/bin/desktop/linux/stable/fleet-desktop/fleet-desktop" in files
    scripts = run("rpm", "-qp", "--scripts", str(package))
    for section in (
        "postinstall scriptlet",
        "preuninstall scriptlet",
        "postuninstall scriptlet",
        "posttrans scriptlet",
    ):
        assert section in scripts
    assert "systemctl enable orbit.service" in scripts and '"${DPKG_ROOT:-}/opt/orbit"' in scripts
    assert "digests OK" in run("rpm", "-K", str(package))
    requires = run("rpm", "-qp", "--requires", str(package))
    assert "osquery" not in requires  # AutoReqProv off: no dependencies on the build host's libraries


def test_rpm_installs_into_a_test_root(built: Built, tmp_path: Path) -> None:
    needs("rpm")
    root = tmp_path / "rpmroot"
    run("rpm", "--root", str(root), "--initdb")
    run("rpm", "--root", str(root), "-ivh", "--nodeps", "--noscripts", str(built("rpm")))
    content = (root / "etc/default/orbit").read_text()
    assert f"ORBIT_FLEET_URL={FLEET_URL}\n" in content and f"ORBIT_ENROLL_SECRET={SECRET}\n" in content
    run("rpm", "--root", str(root), "-V", "--nodeps", "fleet-osquery")


# --- msi ----------------------------------------------------------------------------------------
def _table(msi: Path, table: str) -> list[list[str]]:
    return [line.split("\t") for line in run("msiinfo", "export", str(msi), table).splitlines()[3:]]


def test_msi_tables_properties_service_and_files(built: Built) -> None:
    needs("msiinfo")
    msi = built("msi")
    assert msi.name == "fleet-osquery.msi"
    tables = run("msiinfo", "tables", str(msi)).split()
    for table in ("ServiceInstall", "ServiceControl", "Environment", "MsiServiceConfigFailureActions", "File"):
        assert table in tables
    properties = dict(row[:2] for row in _table(msi, "Property"))
    assert properties["FLEET_URL"] == FLEET_URL and properties["FLEET_SECRET"] == "dummy"
    assert properties["ENABLE_SCRIPTS"] == "True" and properties["FLEET_DESKTOP"] == "True"
    assert properties["END_USER_EMAIL"] == "user@example.com"
    assert properties["UpgradeCode"] == "{B681CB20-107E-428A-9B14-2D3C1AFED244}"
    assert properties["ProductVersion"] == "1.40.0"
    (service,) = _table(msi, "ServiceInstall")
    assert service[1] == "Fleet osquery" and service[3:6] == ["16", "2", "0"] and service[8] == "LocalSystem"
    arguments = service[10]
    for arg in (
        '--root-dir "[ORBITROOT]."',
        '--fleet-url "[FLEET_URL]"',
        '--enroll-secret-path "[ORBITROOT]secret.txt"',
        "--debug",
        '--fleet-desktop="[FLEET_DESKTOP]"',
        '--orbit-channel "1.40"',
        '--osqueryd-channel "stable"',
        '--enable-scripts="[ENABLE_SCRIPTS]"',
        "--host-identifier=instance",
        '--end-user-email="[END_USER_EMAIL]"',
        f'--update-url "{built.url}"',
    ):
        assert arg in arguments, arg
    assert "--insecure" not in arguments and SECRET not in arguments
    assert _table(msi, "Environment") == [["ORBIT_UPDATE_INTERVAL", "=-*ORBIT_UPDATE_INTERVAL", "30m0s", "C_ORBITBIN"]]
    assert [row[2] for row in _table(msi, "ServiceControl")] == ["163"]
    files = {row[2].split("|")[-1] for row in _table(msi, "File")}
    expected = {"orbit.exe", "osqueryd.exe", "fleet-desktop.exe", "secret.txt", "osquery.flags", "certs.pem"}
    assert expected | {"tuf-metadata.json", "updates-metadata.json", "osquery.man", "installer_utils.ps1"} <= files
    components = {row[0] for row in _table(msi, "Component")}
    assert {"C_ORBITBIN", "C_ORBITROOT"} <= components
    sequence = {row[0]: int(row[2]) for row in _table(msi, "InstallExecuteSequence")}
    assert 1500 < sequence["CA_UpdateSecret"] < sequence["InstallServices"] < 6600
    assert sequence["WriteEnvironmentStrings"] == 5200


def test_msi_payload_extracts_with_the_secret(built: Built, tmp_path: Path) -> None:
    needs("msiextract")
    out = run("msiextract", "-C", str(tmp_path), str(built("msi")))
    extracted = set(out.split())
    assert {"Orbit/secret.txt", "Orbit/bin/orbit/orbit.exe", "Orbit/bin/orbit/windows/1.40/orbit.exe"} <= extracted
    assert (tmp_path / "Orbit/secret.txt").read_text() == SECRET
    assert (tmp_path / "Orbit/bin/orbit/orbit.exe").read_bytes().startswith(b"MZ")


# --- pkg ----------------------------------------------------------------------------------------
def test_pkg_is_a_flat_package_with_payload_scripts_and_bom(built: Built, tmp_path: Path) -> None:
    needs("bsdtar", "cpio")
    package = built("pkg")
    assert package.name == "fleet-osquery.pkg"
    listing = run("bsdtar", "-tf", str(package)).split()
    assert {"Distribution", "base.pkg/PackageInfo", "base.pkg/Bom", "base.pkg/Payload", "base.pkg/Scripts"} <= set(
        listing
    )
    run("bsdtar", "-xf", str(package), cwd=tmp_path)  # libarchive checks every SHA-1 in the TOC
    distribution = (tmp_path / "Distribution").read_text()
    assert 'pkg-ref id="com.fleetdm.orbit.base.pkg"' in distribution and "#base.pkg" in distribution
    assert 'hostArchitectures="arm64,x86_64"' in distribution and 'customize="never"' in distribution
    info = (tmp_path / "base.pkg/PackageInfo").read_text()
    assert 'identifier="com.fleetdm.orbit.base.pkg"' in info and 'install-location="/"' in info

    payload = tmp_path / "payload"
    payload.mkdir()
    raw = gzip.decompress((tmp_path / "base.pkg/Payload").read_bytes())
    cpio = subprocess.run(["cpio", "-itv"], input=raw, capture_output=True, check=True).stdout.decode()
    secret_line = next(line for line in cpio.splitlines() if line.endswith("./opt/orbit/secret.txt"))
    assert secret_line.split()[:4] == ["-rw-------", "1", "root", "80"]
    subprocess.run(["cpio", "-idm", "--quiet"], input=raw, cwd=payload, check=True)
    assert (payload / "opt/orbit/secret.txt").read_text() == SECRET
    assert (payload / "opt/orbit/bin/osqueryd/macos-app/stable/osquery.app/Contents/MacOS/osqueryd").is_file()
    assert (payload / "opt/orbit/bin/desktop/macos/stable/Fleet Desktop.app/Contents/MacOS/fleet-desktop").is_file()
    plist = plistlib.loads((payload / "Library/LaunchDaemons/com.fleetdm.orbit.plist").read_bytes())
    assert plist["Label"] == "com.fleetdm.orbit"
    assert plist["ProgramArguments"] == ["/opt/orbit/bin/orbit/orbit"]
    assert plist["EnvironmentVariables"] == {
        "ORBIT_ORBIT_CHANNEL": "1.40",
        "ORBIT_OSQUERYD_CHANNEL": "stable",
        "ORBIT_UPDATE_URL": built.url,
        "ORBIT_UPDATE_INTERVAL": "30m0s",
        "ORBIT_ENROLL_SECRET_PATH": "/opt/orbit/secret.txt",
        "ORBIT_FLEET_URL": FLEET_URL,
        "ORBIT_FLEET_DESKTOP": "true",
        "ORBIT_DESKTOP_CHANNEL": "stable",
        "ORBIT_ENABLE_SCRIPTS": "true",
        "ORBIT_DEBUG": "true",
        "ORBIT_HOST_IDENTIFIER": "instance",
    }

    scripts = gzip.decompress((tmp_path / "base.pkg/Scripts").read_bytes())
    script_list = subprocess.run(["cpio", "-itv"], input=scripts, capture_output=True, check=True).stdout.decode()
    assert "-rwxr--r--" in script_list and "./postinstall" in script_list
    script_dir = tmp_path / "scripts"
    script_dir.mkdir()
    subprocess.run(["cpio", "-idm", "--quiet"], input=scripts, cwd=script_dir, check=True)
    postinstall = (script_dir / "postinstall").read_text()
    assert 'launchctl bootstrap system "$DAEMON_PLIST"' in postinstall
    assert "/opt/orbit/bin/orbit/macos/1.40/orbit" in postinstall

    # The Bom lists exactly the payload, owned 0/80, with the POSIX cksum of each file.
    bom = {line.path: line for line in read_bom((tmp_path / "base.pkg/Bom").read_bytes())}
    cpio_paths = {line.split()[-1] for line in cpio.splitlines() if "Fleet Desktop" not in line}
    assert {path for path in bom if "Fleet Desktop" not in path} == cpio_paths
    secret = bom["./opt/orbit/secret.txt"]
    assert (secret.mode, secret.uid, secret.gid) == (0o100600, 0, 80)
    assert (secret.checksum, secret.size) == cksum([SECRET.encode()])
    assert bom["."].mode == 0o40755


def test_bom_lists_every_path_past_one_leaf(tmp_path: Path) -> None:
    """More than 256 paths need a branch node over chained leaves; the reader must still see them all."""
    from packaging.builders.bom import write_bom
    from packaging.payload import Tree

    tree = Tree()
    for index in range(600):
        tree.file(f"/opt/orbit/many/file{index:04d}", data=f"{index}".encode(), mode=0o644)
    lines = read_bom(write_bom(tree.sorted()))
    assert len(lines) == 1 + 3 + 600  # ".", opt, orbit, many, and the files
    assert {line.path for line in lines} >= {f"./opt/orbit/many/file{index:04d}" for index in (0, 255, 256, 599)}


def test_arm64_linux_packages_use_the_arm64_targets(repo_settings: Served, tmp_path: Path) -> None:
    from packaging.build import build_package
    from packaging.tests.conftest import full_options

    deb = build_package(full_options("deb", repo_settings.url, arch="arm64"), tmp_path)
    assert deb.name == "fleet-osquery_1.40.0_arm64.deb"
    listing = run("dpkg-deb", "-c", str(deb))
    assert "./opt/orbit/bin/orbit/linux-arm64/1.40/orbit" in listing
    assert "Architecture: arm64" in run("dpkg-deb", "-I", str(deb))
