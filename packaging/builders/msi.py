"""Windows msi with wixl, plus msibuild for the tables wixl cannot write (packaging.md §5, §8.4).

wixl builds the product, properties, per-file components, the `Fleet osquery` service and the
PowerShell custom actions. msibuild then adds the system environment variable
ORBIT_UPDATE_INTERVAL, the service's restart-on-failure actions and the folder/file ACLs
(MsiLockPermissionsEx) that WiX's Environment, util:ServiceConfig and PermissionEx would write.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import uuid
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

from packaging import constants as C
from packaging.builders import windows_files
from packaging.builders.rpm import stage
from packaging.exceptions import PackagingError
from packaging.options import PackageOptions
from packaging.payload import Tree, add_orbit_root, package_version, target_set
from packaging.targets import FetchedTargets

NAMESPACE = uuid.UUID("6f0c6f5e-5a53-4f5b-9d43-7e0f2b8f1d11")  # stable component GUIDs per path
LOG_FILE = r"[System64Folder]config\systemprofile\AppData\Local\FleetDM\Orbit\Logs\orbit-osquery.log"
PS = "-NoLogo -NonInteractive -NoProfile -ExecutionPolicy Bypass -File &quot;[ORBITROOT]installer_utils.ps1&quot;"


def _id(prefix: str, path: str) -> str:
    return f"{prefix}_{hashlib.sha1(path.encode(), usedforsecurity=False).hexdigest()[:20]}"


def service_arguments(options: PackageOptions) -> str:
    """The service's Arguments: Fleet's fixed ones, then one per flag (packaging.md §2, §5.3)."""
    args = [r'--root-dir "[ORBITROOT]."', f'--log-file "{LOG_FILE}"', '--fleet-url "[FLEET_URL]"']
    if options.enroll_secret:
        args.append('--enroll-secret-path "[ORBITROOT]secret.txt"')
    if options.fleet_certificate:
        args.append('--fleet-certificate "[ORBITROOT]fleet.pem"')
    if options.update_tls_certificate:
        args.append('--update-tls-certificate "[ORBITROOT]update.pem"')
    for attr, flag in (("insecure", "--insecure"), ("debug", "--debug"), ("disable_updates", "--disable-updates")):
        if getattr(options, attr):
            args.append(flag)
    args.append('--fleet-desktop="[FLEET_DESKTOP]"')
    args.append(f"--desktop-channel {options.desktop_channel}")
    if options.fleet_desktop_alternative_browser_host:
        args.append(f"--fleet-desktop-alternative-browser-host {options.fleet_desktop_alternative_browser_host}")
    args.append(f'--update-url "{options.update_url}"')
    args.append(f'--orbit-channel "{options.orbit_channel}"')
    args.append(f'--osqueryd-channel "{options.osqueryd_channel}"')
    args.append('--enable-scripts="[ENABLE_SCRIPTS]"')
    if options.host_identifier != "uuid":
        args.append(f"--host-identifier={options.host_identifier}")
    if options.end_user_email:
        args.append('--end-user-email="[END_USER_EMAIL]"')
    if options.osquery_db:
        args.append(f'--osquery-db="{options.osquery_db}"')
    if options.disable_keystore:
        args.append("--disable-keystore")
    return " ".join(args)


def windows_tree(options: PackageOptions, fetched: FetchedTargets) -> Tree:
    """The ORBITROOT tree, paths relative to it ("/secret.txt", "/bin/orbit/windows/stable/orbit.exe")."""
    targets = target_set(options)
    tree = Tree()
    add_orbit_root(tree, "", options, fetched, targets, secret_file=True)
    osqueryd = f"C:\\Program Files\\Orbit\\bin\\{targets.osqueryd.replace('/', chr(92))}"
    tree.file("/osquery.man", data=windows_files.osquery_manifest(osqueryd).encode(), mode=0o644)
    tree.file("/installer_utils.ps1", data=windows_files.INSTALLER_UTILS.encode(), mode=0o644)
    return tree


def _directory_xml(tree: Tree, staged: str, path: str, service: str, depth: int) -> tuple[str, list[str]]:
    """Nested <Directory>/<Component> elements for the tree below `path`; returns the component ids."""
    pad = "  " * depth
    xml, components = [], []
    children = sorted(p for p in tree.entries if p.rsplit("/", 1)[0] == path)
    for child in children:
        entry = tree.entries[child]
        name = child.rsplit("/", 1)[1]
        if entry.kind == "dir":
            inner, ids = _directory_xml(tree, staged, child, service, depth + 1)
            if child == "/bin/orbit":
                inner = service + inner
                ids.append("C_ORBITBIN")
            directory_id = quoteattr(_id("D", child))
            xml.append(f"{pad}<Directory Id={directory_id} Name={quoteattr(name)}>\n{inner}{pad}</Directory>\n")
            components.extend(ids)
        elif entry.kind == "file":
            component = _id("C", child)
            guid = str(uuid.uuid5(NAMESPACE, child)).upper()
            source = quoteattr(f"{staged}/{child.lstrip('/')}")
            xml.append(
                f'{pad}<Component Id="{component}" Guid="{guid}" Win64="yes">'
                f'<File Id={quoteattr(_id("F", child))} Name={quoteattr(name)} Source={source} KeyPath="yes"/>'
                "</Component>\n"
            )
            components.append(component)
    return "".join(xml), components


def wxs(options: PackageOptions, tree: Tree, staged: str, version: str) -> str:
    """The product definition; sources are relative to the work directory (wixl wants relative paths)."""
    service = f"""<Component Id="C_ORBITBIN" Guid="{C.MSI_GUID_ORBITBIN}" Win64="yes">
  <File Id="orbit.exe" Name="orbit.exe" Source="service/orbit.exe" KeyPath="yes"/>
  <ServiceInstall Id="OrbitService" Name="{C.MSI_SERVICE_NAME}" Account="LocalSystem" ErrorControl="ignore"
    Start="auto" Type="ownProcess"
    Description="This service runs Fleet's osquery runtime and autoupdater (Orbit)."
    Arguments={quoteattr(service_arguments(options))}/>
  <ServiceControl Id="StartOrbitService" Name="{C.MSI_SERVICE_NAME}" Start="install" Stop="both" Remove="uninstall"/>
</Component>
"""
    directories, components = _directory_xml(tree, staged, "", service, 4)
    refs = "".join(f'<ComponentRef Id="{component}"/>' for component in ["C_ORBITROOT", *components])
    email = ""
    if options.end_user_email:
        email = f'<Property Id="END_USER_EMAIL" Value={quoteattr(options.end_user_email)}/>'
    bool_text = {True: "True", False: "False"}
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<Wix xmlns="http://schemas.microsoft.com/wix/2006/wi">
  <Product Id="*" Name="{C.MSI_PRODUCT_NAME}" Language="1033" Version="{escape(version)}"
    Manufacturer="{C.MSI_MANUFACTURER}" UpgradeCode="{C.MSI_UPGRADE_CODE}">
    <Package Keywords="Installer" Description="{C.MSI_PRODUCT_NAME}" Manufacturer="{C.MSI_MANUFACTURER}"
      InstallerVersion="500" Compressed="yes" InstallScope="perMachine" Languages="1033"/>
    <Media Id="1" Cabinet="orbit.cab" EmbedCab="yes"/>
    <Upgrade Id="{C.MSI_UPGRADE_CODE}">
      <UpgradeVersion Minimum="0.0.0" IncludeMinimum="yes" Property="WIX_UPGRADE_DETECTED"/>
    </Upgrade>
    <Property Id="FLEET_URL" Value={quoteattr(options.fleet_url or "")}/>
    <Property Id="FLEET_SECRET" Value="dummy"/>
    <Property Id="ENABLE_SCRIPTS" Value="{bool_text[options.enable_scripts]}"/>
    <Property Id="FLEET_DESKTOP" Value="{bool_text[options.fleet_desktop]}"/>
    {email}
    <Property Id="REINSTALLMODE" Value="amus"/>
    <Property Id="ARPNOREPAIR" Value="yes"/>
    <Property Id="ARPNOMODIFY" Value="yes"/>
    <Property Id="APPLICATIONFOLDER">
      <RegistrySearch Id="OrbitPath" Root="HKLM" Key="SOFTWARE\\FleetDM\\Orbit" Name="Path" Type="raw"/>
    </Property>
    <Property Id="POWERSHELLEXE">
      <RegistrySearch Id="PowerShellPath" Root="HKLM" Type="raw" Name="Path"
        Key="SOFTWARE\\Microsoft\\PowerShell\\1\\ShellIds\\Microsoft.PowerShell"/>
    </Property>
    <Directory Id="TARGETDIR" Name="SourceDir">
      <Directory Id="ProgramFiles64Folder">
        <Directory Id="ORBITROOT" Name="Orbit">
          <Component Id="C_ORBITROOT" Guid="{C.MSI_GUID_ORBITROOT}" Win64="yes"><CreateFolder/></Component>
{directories}        </Directory>
      </Directory>
    </Directory>
    <CustomAction Id="CA_UpdateSecret" Property="POWERSHELLEXE" Execute="deferred" Impersonate="no" Return="ignore"
      ExeCommand="{PS} -updateSecret &quot;[FLEET_SECRET]&quot;"/>
    <CustomAction Id="CA_UninstallOsquery" Property="POWERSHELLEXE" Execute="deferred" Impersonate="no"
      Return="ignore" ExeCommand="{PS} -uninstallOsquery"/>
    <CustomAction Id="CA_RemoveOrbit" Property="POWERSHELLEXE" Execute="deferred" Impersonate="no" Return="ignore"
      ExeCommand="{PS} -uninstallOrbit"/>
    <!-- Explicit sequences: wixl 0.101 misplaces Before/After once other rows move. Deferred
         actions must sit between InstallInitialize (1500) and InstallFinalize (6600). -->
    <InstallExecuteSequence>
      <RemoveExistingProducts Sequence="1401"/>
      <Custom Action="CA_RemoveOrbit" Sequence="3450">REMOVE="ALL" AND NOT UPGRADINGPRODUCTCODE</Custom>
      <Custom Action="CA_UninstallOsquery" Sequence="4010">NOT Installed AND NOT WIX_UPGRADE_DETECTED</Custom>
      <Custom Action="CA_UpdateSecret" Sequence="5790">NOT Installed</Custom>
    </InstallExecuteSequence>
    <Feature Id="Orbit" Title="Orbit" Level="1" Display="hidden">{refs}</Feature>
  </Product>
</Wix>
"""


def _idt(columns: list[str], types: list[str], table: str, keys: list[str], rows: list[list[str]]) -> str:
    lines = ["\t".join(columns), "\t".join(types), "\t".join([table, *keys])]
    lines.extend("\t".join(row) for row in rows)
    return "\r\n".join(lines) + "\r\n"


def add_tables(msi: Path, options: PackageOptions, work: Path) -> None:
    """The Environment, MsiServiceConfigFailureActions and MsiLockPermissionsEx tables, and their actions."""
    tables = {
        "Environment": _idt(
            ["Environment", "Name", "Value", "Component_"],
            ["s72", "l255", "L255", "s72"],
            "Environment",
            ["Environment"],
            [["ORBIT_UPDATE_INTERVAL", "=-*ORBIT_UPDATE_INTERVAL", options.update_interval, "C_ORBITBIN"]],
        ),
        "MsiServiceConfigFailureActions": _idt(
            [
                "MsiServiceConfigFailureActions",
                "Name",
                "Event",
                "ResetPeriod",
                "RebootMessage",
                "Command",
                "Actions",
                "DelayActions",
                "Component_",
            ],
            ["s72", "l255", "i2", "I4", "L255", "L255", "S255", "S255", "s72"],
            "MsiServiceConfigFailureActions",
            ["MsiServiceConfigFailureActions"],
            [
                [
                    "OrbitRestart",
                    C.MSI_SERVICE_NAME,
                    "1",
                    "86400",
                    "",
                    "",
                    "1[~]1[~]1",
                    "1000[~]1000[~]1000",
                    "C_ORBITBIN",
                ]
            ],
        ),  # fmt: skip
        "MsiLockPermissionsEx": _idt(
            ["MsiLockPermissionsEx", "LockObject", "Table", "SDDLText", "Condition"],
            ["s72", "s72", "s32", "l0", "S255"],
            "MsiLockPermissionsEx",
            ["MsiLockPermissionsEx"],
            [
                ["LockOrbitRoot", "ORBITROOT", "CreateFolder", C.MSI_SDDL, ""],
                ["LockOrbitExe", "orbit.exe", "File", C.MSI_SDDL, ""],
            ],
        ),  # fmt: skip
    }
    commands = []
    for name, text in tables.items():
        path = work / f"{name}.idt"
        path.write_text(text)
        commands.append(["msibuild", str(msi), "-i", str(path)])
    for action, sequence in (("RemoveEnvironmentStrings", 3300), ("WriteEnvironmentStrings", 5200),
                             ("MsiConfigureServices", 5850)):  # fmt: skip
        query = f"INSERT INTO `InstallExecuteSequence` (`Action`, `Sequence`) VALUES ('{action}', {sequence})"
        commands.append(["msibuild", str(msi), "-q", query])
    for command in commands:
        _run(command, work)


def _run(command: list[str], work: Path) -> None:
    result = subprocess.run(command, cwd=work, capture_output=True, text=True, check=False, timeout=600)
    if result.returncode != 0:
        raise PackagingError(f"{command[0]} failed: {(result.stderr or result.stdout).strip()[-2000:]}")


def build(options: PackageOptions, fetched: FetchedTargets, work: Path) -> Path:
    """`fleet-osquery.msi` in `work`, built by wixl and completed by msibuild."""
    for tool in ("wixl", "msibuild"):
        if shutil.which(tool) is None:
            raise PackagingError(f"building msi packages needs {tool} (Debian packages wixl and msitools)")
    targets = target_set(options)
    version = package_version(options, fetched, targets)
    tree = windows_tree(options, fetched)
    stage(tree, work / "root")
    (work / "service").mkdir()
    shutil.copyfile(fetched.files[targets.orbit], work / "service" / "orbit.exe")
    wxs_path = work / "main.wxs"
    wxs_path.write_text(wxs(options, tree, "root", version))
    out = work / f"{C.PACKAGE_NAME}.msi"
    _run(["wixl", "-a", "x64", "-o", out.name, wxs_path.name], work)
    add_tables(out, options, work)
    return out
