"""Per-platform software catalogue.

Rows are built once at import and shared (never copied) between hosts: each host only keeps a list of
references, which keeps thousands of hosts cheap and makes the fleet-wide catalogue a few hundred entries.
"""

from __future__ import annotations

import random
import uuid

# "name version version ..." -- the first entries of each list are installed on every host of the kind.
_LINUX = """
bash 5.1.16 5.2.15|coreutils 8.32 9.1|curl 7.81.0 8.5.0|openssl 3.0.2 3.0.13|systemd 249.11 252.22
sudo 1.9.9 1.9.13|tar 1.34|gzip 1.10 1.12|ca-certificates 20230311|openssh-server 8.9p1 9.2p1
openssh-client 8.9p1 9.2p1|vim 8.2.3995 9.0.1378|git 2.34.1 2.39.2|python3 3.10.6 3.11.2|wget 1.21.2 1.21.3
libc6 2.35 2.36|zlib1g 1.2.11 1.2.13|libssl3 3.0.2 3.0.13|tzdata 2024a|util-linux 2.37.2 2.38.1
nginx 1.18.0 1.24.0|docker-ce 24.0.7 25.0.3|containerd.io 1.6.28|htop 3.0.5 3.2.2|jq 1.6 1.7.1
rsync 3.2.7|unzip 6.0|zip 3.0|less 590 643|nano 6.2 7.2|cron 3.0pl1|logrotate 3.19.0 3.21.0
apparmor 3.0.4|iptables 1.8.7 1.8.9|net-tools 1.60|dnsutils 9.18.18|tmux 3.2a 3.3a|zsh 5.8.1 5.9
postgresql-14 14.11 14.12|mysql-server 8.0.36|redis-server 6.0.16 7.0.15|nodejs 18.19.0 20.11.1
openjdk-17-jre 17.0.10|golang-go 1.18.1 1.21.6|build-essential 12.9|gcc 11.4.0 12.2.0|make 4.3
snapd 2.61.2|firefox 123.0 124.0.1|libreoffice-core 7.3.7|google-chrome-stable 122.0.6261.128 123.0.6312.86
code 1.87.2 1.88.0|slack-desktop 4.36.140|zoom 5.17.11|osquery 5.12.1|fleet-osquery 1.40.0
"""
_PYTHON = """
pip 22.0.2 23.0.1|setuptools 59.6.0 66.1.1|requests 2.25.1 2.31.0|urllib3 1.26.5 2.0.7|PyYAML 5.4.1 6.0.1
certifi 2020.6.20 2023.11.17|idna 3.3 3.6|six 1.16.0|cryptography 3.4.8 41.0.7|Jinja2 3.0.3 3.1.3
"""
_DARWIN_APPS = """
Safari.app|com.apple.Safari|Apple Inc.|17.4.1
Google Chrome.app|com.google.Chrome|Google LLC|122.0.6261.128 123.0.6312.86
Slack.app|com.tinyspeck.slackmacgap|Slack Technologies|4.36.140 4.37.94
zoom.us.app|us.zoom.xos|Zoom Video Communications|5.17.11
Visual Studio Code.app|com.microsoft.VSCode|Microsoft Corporation|1.87.2 1.88.0
Firefox.app|org.mozilla.firefox|Mozilla|123.0 124.0.1
Microsoft Word.app|com.microsoft.Word|Microsoft Corporation|16.83 16.84
Microsoft Excel.app|com.microsoft.Excel|Microsoft Corporation|16.83 16.84
Microsoft Outlook.app|com.microsoft.Outlook|Microsoft Corporation|16.83 16.84
Microsoft PowerPoint.app|com.microsoft.Powerpoint|Microsoft Corporation|16.83 16.84
Microsoft Teams.app|com.microsoft.teams2|Microsoft Corporation|24033.811
1Password.app|com.1password.1password|AgileBits Inc.|8.10.26 8.10.28
Docker.app|com.docker.docker|Docker Inc.|4.27.2 4.28.0
iTerm.app|com.googlecode.iterm2|George Nachman|3.4.23 3.5.0
Spotify.app|com.spotify.client|Spotify|1.2.31
Notion.app|notion.id|Notion Labs|3.3.0
Figma.app|com.figma.Desktop|Figma Inc.|124.0.2
Postman.app|com.postmanlabs.mac|Postman|10.23.5
Keynote.app|com.apple.iWork.Keynote|Apple Inc.|13.2
Pages.app|com.apple.iWork.Pages|Apple Inc.|13.2
Numbers.app|com.apple.iWork.Numbers|Apple Inc.|13.2
Xcode.app|com.apple.dt.Xcode|Apple Inc.|15.2 15.3
Fleet Desktop.app|com.fleetdm.desktop|Fleet Device Management|1.40.0
Rectangle.app|com.knollsoft.Rectangle|Ryan Hanson|0.77
Signal.app|org.whispersystems.signal-desktop|Signal Messenger|7.1.1
Google Drive.app|com.google.drivefs|Google LLC|88.0.1
Dropbox.app|com.getdropbox.dropbox|Dropbox, Inc.|195.4.4995
Discord.app|com.hnc.Discord|Discord Inc.|0.0.296
Zed.app|dev.zed.Zed|Zed Industries|0.128.3
Sublime Text.app|com.sublimetext.4|Sublime HQ Pty Ltd|4169
PyCharm CE.app|com.jetbrains.pycharm.ce|JetBrains s.r.o.|2023.3.4 2024.1
IntelliJ IDEA CE.app|com.jetbrains.intellij.ce|JetBrains s.r.o.|2023.3.4 2024.1
GitHub Desktop.app|com.github.GitHubClient|GitHub, Inc.|3.3.12
Tunnelblick.app|net.tunnelblick.tunnelblick|Jonathan K. Bullard|4.0.0
VLC.app|org.videolan.vlc|VideoLAN|3.0.20
The Unarchiver.app|com.macpaw.site.theunarchiver|MacPaw Inc.|4.3.6
Microsoft Edge.app|com.microsoft.edgemac|Microsoft Corporation|123.0.2420.65
Brave Browser.app|com.brave.Browser|Brave Software, Inc.|1.64.113
Loom.app|com.loom.desktop|Loom, Inc.|0.210.1
Raycast.app|com.raycast.macos|Raycast Technologies Inc.|1.70.2
"""
_BREW = """
git 2.44.0|wget 1.24.5|jq 1.7.1|node 21.7.1|python@3.12 3.12.2|go 1.22.1|openssl@3 3.2.1|readline 8.2.10
gh 2.45.0|awscli 2.15.30|kubernetes-cli 1.29.3|terraform 1.7.5|htop 3.3.0|tmux 3.4|ripgrep 14.1.0|fzf 0.48.1
"""
_WINDOWS = """
Google Chrome|Google LLC|122.0.6261.129 123.0.6312.86
Mozilla Firefox (x64 en-US)|Mozilla|123.0 124.0.1
Microsoft Edge|Microsoft Corporation|122.0.2365.92 123.0.2420.65
Microsoft 365 Apps for enterprise - en-us|Microsoft Corporation|16.0.17328.20184
Microsoft Teams|Microsoft Corporation|24033.811.2738.2546
Zoom Workplace (64-bit)|Zoom Video Communications, Inc.|5.17.11
Slack|Slack Technologies Inc.|4.36.140
7-Zip 23.01 (x64)|Igor Pavlov|23.01
Notepad++ (64-bit x64)|Notepad++ Team|8.6.4 8.6.5
Git|The Git Development Community|2.44.0
Python 3.12.2 (64-bit)|Python Software Foundation|3.12.2150.0
Microsoft Visual C++ 2015-2022 Redistributable (x64)|Microsoft Corporation|14.38.33130.0
Microsoft Visual C++ 2015-2022 Redistributable (x86)|Microsoft Corporation|14.38.33130.0
Microsoft Visual Studio Code|Microsoft Corporation|1.87.2 1.88.0
Adobe Acrobat (64-bit)|Adobe|24.001.20643
VLC media player|VideoLAN|3.0.20
PuTTY release 0.80 (64-bit)|Simon Tatham|0.80.0.0
WinSCP 6.3.2|Martin Prikryl|6.3.2
Docker Desktop|Docker Inc.|4.27.2 4.28.0
Java 8 Update 401 (64-bit)|Oracle Corporation|8.0.4010.10
Microsoft OneDrive|Microsoft Corporation|24.040.0225.0001
Cisco Secure Client - AnyConnect VPN|Cisco Systems, Inc.|5.1.2.42
Fleet osquery|Fleet Device Management (fleetdm.com)|1.40.0
CrowdStrike Windows Sensor|CrowdStrike, Inc.|7.10.17706.0
Microsoft Update Health Tools|Microsoft Corporation|5.72.0.0
Microsoft .NET Runtime - 8.0.3 (x64)|Microsoft Corporation|64.12.7289
Microsoft Windows Desktop Runtime - 6.0.28 (x64)|Microsoft Corporation|48.112.12295
Dell Command Update|Dell Inc.|5.2.0
Lenovo Vantage Service|Lenovo Group Ltd.|4.0.23.0
HP Wolf Security|HP Inc.|4.5.8.386
Intel(R) Wireless Bluetooth(R)|Intel Corporation|23.30.0.3
Realtek Audio Driver|Realtek Semiconductor Corp.|6.0.9549.1
Greenshot 1.2.10.6|Greenshot|1.2.10.6
KeePass Password Safe 2.56|Dominik Reichl|2.56
Wireshark 4.2.4 x64|The Wireshark developer community|4.2.4
Node.js|Node.js Foundation|20.11.1 21.7.1
GitHub Desktop|GitHub, Inc.|3.3.12
Postman x86_64 10.23.5|Postman|10.23.5
TeamViewer|TeamViewer|15.51.5
Windows PC Health Check|Microsoft Corporation|3.7.2204.15001
"""
_CHOCO = """
chocolatey 2.2.2|googlechrome 123.0.6312.86|git 2.44.0|7zip 23.1.0|vscode 1.88.0|nodejs 21.7.1|python3 3.12.2
"""

_LAST_OPENED = "1711000000.0"


def _words(blob: str) -> list[list[str]]:
    return [item.split() for line in blob.strip().splitlines() for item in line.split("|")]


def _fields(blob: str) -> list[list[str]]:
    """One package per line, fields separated by '|' (the last field lists the versions)."""
    return [line.split("|") for line in blob.strip().splitlines()]


def _row(name: str, version: str, source: str, **extra: str) -> dict[str, str]:
    row = {
        "name": name,
        "version": version,
        "source": source,
        "bundle_identifier": "",
        "extension_id": "",
        "extension_for": "",
        "vendor": "",
        "last_opened_at": "",
        "installed_path": "",
    }
    row.update(extra)
    return row


# Each catalogue is a list of "packages"; a package is a list of version variants (shared row dicts).
Package = list[dict[str, str]]


def _linux(flavor: str) -> list[Package]:
    out: list[Package] = []
    for name, *versions in _words(_LINUX):
        variants = []
        for k, ver in enumerate(versions, start=1):
            if flavor == "rhel":
                variants.append(
                    _row(name, ver, "rpm_packages", vendor="Red Hat, Inc.", release=f"{k}.el9", arch="x86_64")
                )
            else:
                full = f"{ver}-{k}ubuntu{k}" if flavor == "ubuntu" else f"{ver}-{k}"
                variants.append(_row(name, full, "deb_packages", release="", arch="amd64"))
        out.append(variants)
    for name, *versions in _words(_PYTHON):
        path = "/usr/lib/python3/dist-packages" if flavor != "rhel" else "/usr/lib/python3.9/site-packages"
        out.append([_row(name, v, "python_packages", installed_path=path, release="", arch="") for v in versions])
    return out


def _darwin() -> list[Package]:
    out: list[Package] = []
    for name, bundle, vendor, versions in _fields(_DARWIN_APPS):
        out.append(
            [
                _row(
                    name,
                    v,
                    "apps",
                    bundle_identifier=bundle,
                    vendor=vendor,
                    last_opened_at=_LAST_OPENED,
                    installed_path=f"/Applications/{name}",
                )
                for v in versions.split()
            ]
        )
    for name, *versions in _words(_BREW):
        out.append(
            [_row(name, v, "homebrew_packages", installed_path=f"/opt/homebrew/Cellar/{name}/{v}") for v in versions]
        )
    return out


def _windows() -> list[Package]:
    out: list[Package] = []
    for name, vendor, versions in _fields(_WINDOWS):
        code = "{" + str(uuid.uuid5(uuid.NAMESPACE_URL, "agentsim:" + name)).upper() + "}"
        out.append(
            [
                _row(
                    name,
                    v,
                    "programs",
                    vendor=vendor,
                    upgrade_code=code,
                    installed_path=f"C:\\Program Files\\{name.split(' (')[0]}",
                )
                for v in versions.split()
            ]
        )
    for name, *versions in _words(_CHOCO):
        out.append(
            [
                _row(
                    name,
                    v,
                    "chocolatey_packages",
                    upgrade_code="",
                    installed_path=f"C:\\ProgramData\\chocolatey\\lib\\{name}",
                )
                for v in versions
            ]
        )
    return out


CATALOGUE: dict[str, list[Package]] = {
    "ubuntu": _linux("ubuntu"),
    "debian": _linux("debian"),
    "rhel": _linux("rhel"),
    "darwin": _darwin(),
    "windows": _windows(),
}
CORE_PACKAGES = 12  # the first N packages of a flavor are on every host of that flavor

COLUMNS = {
    "linux": (*_row("", "", "").keys(), "release", "arch"),
    "darwin": tuple(_row("", "", "").keys()),
    "windows": (*_row("", "", "").keys(), "upgrade_code"),
}


def pick_software(flavor: str, seed: int) -> list[dict[str, str]]:
    """Choose 20-60 installed packages (one version each) for a host, deterministically from its seed."""
    packages = CATALOGUE[flavor]
    rng = random.Random(seed)
    count = min(rng.randint(20, 60), len(packages))
    chosen = packages[:CORE_PACKAGES] + rng.sample(packages[CORE_PACKAGES:], count - CORE_PACKAGES)
    # Newer versions are more common, like in a real fleet.
    return [variants[-1] if rng.random() < 0.7 else rng.choice(variants) for variants in chosen]


def catalogue_size() -> int:
    """Number of distinct (name, version, source) entries the whole fleet can report."""
    return len({(r["name"], r["version"], r["source"]) for pkgs in CATALOGUE.values() for p in pkgs for r in p})
