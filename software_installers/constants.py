"""Fleet's fixed strings for software installers: messages, activity types, default scripts."""

# Activity types (Fleet's names).
ADDED_SOFTWARE = "added_software"
EDITED_SOFTWARE = "edited_software"
DELETED_SOFTWARE = "deleted_software"
INSTALLED_SOFTWARE = "installed_software"
UNINSTALLED_SOFTWARE = "uninstalled_software"

NO_PACKAGE = "Software title has no package added. Please add software package to install."
ONLY_ALT_MEDIA = "only alt=media is supported"
INSTALL_NEEDS_FLEETD = "Couldn't install software. Host isn't enrolled with fleetd."
SCRIPTS_DISABLED = "Couldn't uninstall software. Scripts are disabled for this host. To run scripts, deploy the fleetd agent with --scripts-enabled."  # noqa: E501
ALREADY_PENDING = "Couldn't install. This host already has a pending install or uninstall of this software."
NOT_SELF_SERVICE = "Software title is not available through self-service"
EXE_NEEDS_SCRIPTS = "Couldn't add. Install script is required for .exe packages."
EXE_NEEDS_UNINSTALL = "Couldn't add. Uninstall script is required for .exe packages."
UNSUPPORTED_TYPE = "Couldn't add. File type not supported. The file should be .pkg, .msi, .exe, .deb or .rpm."
# A package whose metadata names no package id (an msi without ProductCode, a deb without Package).
NO_METADATA = "Couldn't add. Unable to extract necessary metadata."
NO_UPGRADE_CODE = "$UPGRADE_CODE variable was used in uninstall script but package does not have an UpgradeCode"

NO_SUCH_LABEL = "Couldn't update. Label \"{name}\" doesn't exist. Please remove the label from the software."

# Result outputs as Fleet dresses them (HostSoftwareInstallerResult.EnhanceOutputDetails).
QUERY_PASSED = "Query returned result\nProceeding to install..."
QUERY_FAILED = "Query didn't return result or failed\nInstall stopped"
INSTALL_SCRIPTS_DISABLED = (
    "Installing software...\nError: Scripts are disabled for this host. "
    "To run scripts, deploy the fleetd agent with --scripts-enabled."
)
INSTALL_OK = "Installing software...\nSuccess\n{output}"
INSTALL_FAILED = "Installing software...\nFailed\n{output}"
POST_OK = "Running script...\nExit code: 0 (Success)\n{output}"
POST_FAILED = "Running script...\nExit code: {code} (Failed)\n{output}\n"

# The placeholders Fleet substitutes in install and uninstall scripts: the downloaded file, the
# package ids read from the package (an msi's product code) and an msi's upgrade code.
INSTALLER_PATH = "$INSTALLER_PATH"
PACKAGE_ID = "$PACKAGE_ID"
UPGRADE_CODE = "$UPGRADE_CODE"

# Fleet's default scripts per package type (pkg/file/scripts): install from $INSTALLER_PATH,
# uninstall by the package ids read from the package.
DEFAULT_INSTALL = {
    "pkg": 'installer -pkg "$INSTALLER_PATH" -target /\n',
    "msi": (
        '$logFile = "${env:TEMP}/fleet-install-software.log"\n'
        "try {\n"
        '$installProcess = Start-Process msiexec.exe -ArgumentList "/quiet /norestart /lv ${logFile} '
        '/i `"${env:INSTALLER_PATH}`"" -PassThru -Verb RunAs -Wait\n'
        "Get-Content $logFile -Tail 500\n"
        "Exit $installProcess.ExitCode\n"
        "} catch {\n"
        'Write-Host "Error: $_"\n'
        "Exit 1\n"
        "}\n"
    ),
    "deb": (
        "#!/bin/sh\n\n"
        "# Fleet's default: apt resolves the package's dependencies.\n"
        "export DEBIAN_FRONTEND=noninteractive\n"
        'apt-get update\napt-get install --assume-yes -f "$INSTALLER_PATH"\n'
    ),
    "rpm": (
        "#!/bin/sh\n\n"
        "# Fleet's default: dnf when present, else yum.\n"
        "if command -v dnf >/dev/null 2>&1; then\n"
        '  dnf install --assumeyes "$INSTALLER_PATH"\n'
        "else\n"
        '  yum install --assumeyes "$INSTALLER_PATH"\n'
        "fi\n"
    ),
}

DEFAULT_UNINSTALL = {
    "pkg": (
        "#!/bin/sh\n\n"
        "package_app_location=\"$(pkgutil --pkg-info $PACKAGE_ID 2>/dev/null | awk '/location:/ {print $2}')\"\n"
        "for pkg_id in $PACKAGE_ID; do\n"
        '  pkgutil --files "$pkg_id" | sed -e "s@^@/${package_app_location}/@" | xargs -I{} rm -rf "{}"\n'
        '  pkgutil --forget "$pkg_id"\n'
        "done\n"
    ),
    "msi": (
        '$product_code = "$PACKAGE_ID"\n'
        '$process = Start-Process msiexec -ArgumentList @("/quiet", "/x", $product_code, "/norestart") '
        "-PassThru -Verb RunAs -Wait\n"
        "Exit $process.ExitCode\n"
    ),
    "deb": "#!/bin/sh\n\nexport DEBIAN_FRONTEND=noninteractive\napt-get remove --assume-yes $PACKAGE_ID\n",
    "rpm": (
        "#!/bin/sh\n\n"
        "if command -v dnf >/dev/null 2>&1; then\n"
        "  dnf remove --assumeyes $PACKAGE_ID\n"
        "else\n"
        "  yum remove --assumeyes $PACKAGE_ID\n"
        "fi\n"
    ),
}

# An msi with an upgrade code: uninstall every product of that family (the installed one may be an
# older or newer version than the package uploaded), stopping at the first failure.
UNINSTALL_MSI_BY_UPGRADE_CODE = (
    "# Fleet uninstalls every product that shares the package's upgrade code.\n"
    '$windowsInstaller = New-Object -ComObject "WindowsInstaller.Installer"\n'
    'foreach ($product_code in $windowsInstaller.RelatedProducts("$UPGRADE_CODE")) {\n'
    '    $process = Start-Process msiexec -ArgumentList @("/quiet", "/x", $product_code, "/norestart") '
    "-Wait -PassThru\n"
    "    if ($process.ExitCode -ne 0) {\n"
    '        Write-Output "Uninstall of $($product_code) exited with $($process.ExitCode)"\n'
    "        Exit $process.ExitCode\n"
    "    }\n"
    "}\n"
    "Exit 0\n"
)

# Outputs are stored up to this many characters (the end is kept), like script outputs.
MAX_OUTPUT_CHARS = 10_000
