"""Generated files of the Windows package: installer_utils.ps1 and the osquery event-log manifest."""

from __future__ import annotations

from xml.sax.saxutils import quoteattr

# Run by the msi's deferred custom actions as SYSTEM (packaging.md §5.4).
INSTALLER_UTILS = r"""param(
  [switch] $uninstallOrbit = $false,
  [switch] $uninstallOsquery = $false,
  [string] $updateSecret = ""
)
$ErrorActionPreference = "Continue"
$orbitRoot = Join-Path $env:ProgramFiles "Orbit"

function Stop-Orbit {
  Stop-Service -Name "Fleet osquery" -ErrorAction SilentlyContinue
  Get-Process -Name orbit, osqueryd, fleet-desktop -ErrorAction SilentlyContinue | Stop-Process -Force
}

function Remove-Orbit {
  Stop-Orbit
  Remove-Item -LiteralPath $orbitRoot -Recurse -Force -ErrorAction SilentlyContinue
  Remove-Item -LiteralPath "HKLM:\SOFTWARE\FleetDM\Orbit" -Recurse -Force -ErrorAction SilentlyContinue
}

function Remove-StandaloneOsquery {
  $keys = Get-ChildItem "HKLM:\SOFTWARE\Microsoft\Windows\CurrentVersion\Uninstall" -ErrorAction SilentlyContinue
  foreach ($key in $keys) {
    $props = Get-ItemProperty $key.PSPath
    if ($props.DisplayName -eq "osquery") {
      Start-Process msiexec.exe -ArgumentList "/x", $key.PSChildName, "/qn" -Wait
    }
  }
}

function Update-Secret([string] $secret) {
  if ($secret -eq "" -or $secret -eq "dummy") { return }
  Set-Content -LiteralPath (Join-Path $orbitRoot "secret.txt") -Value $secret -NoNewline
}

if ($uninstallOrbit) { Remove-Orbit }
if ($uninstallOsquery) { Remove-StandaloneOsquery }
if ($updateSecret -ne "") { Update-Secret $updateSecret }
exit 0
"""

PROVIDER_GUID = "{F7740E18-3259-434F-9759-976319968900}"


def osquery_manifest(osqueryd_path: str) -> str:
    """An event-log manifest for the "FleetDM" provider whose messages live in the channel's osqueryd.exe."""
    path = quoteattr(osqueryd_path)
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<instrumentationManifest xmlns="http://schemas.microsoft.com/win/2004/08/events"
    xmlns:win="http://manifests.microsoft.com/win/2004/08/windows/events">
  <instrumentation>
    <events>
      <provider name="FleetDM" guid="{PROVIDER_GUID}" symbol="FleetDM"
          resourceFileName={path} messageFileName={path}>
        <channels>
          <channel chid="osquery" name="Osquery" type="Operational" enabled="true"/>
        </channels>
        <templates>
          <template tid="message"><data name="Message" inType="win:UnicodeString"/></template>
        </templates>
        <events>
          <event value="1" channel="osquery" level="win:Informational" template="message"/>
          <event value="2" channel="osquery" level="win:Warning" template="message"/>
          <event value="3" channel="osquery" level="win:Error" template="message"/>
        </events>
      </provider>
    </events>
  </instrumentation>
</instrumentationManifest>
"""
