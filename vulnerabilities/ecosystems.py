"""Software sources and host OSes mapped to OSV ecosystems, package URLs and version rules.

Versions are compared with univers' class for the ecosystem (Debian epochs and tildes, RPM, PEP 440,
npm semver), never as strings. CPE versions (apps, programs, OSes) use Maven's ordering, which
compares dotted numbers numerically ("120.0.6099.71" < "120.0.6099.129").
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from packageurl import PackageURL
from univers import versions as uv

# osquery table (Software.source) -> OSV ecosystem, for sources that do not depend on the host's OS.
LANGUAGE_ECOSYSTEMS = {"python_packages": "PyPI", "npm_packages": "npm"}
# Distribution packages: matched in the host's distribution release's OSV ecosystem.
DISTRO_SOURCES = ("deb_packages", "rpm_packages", "apk_packages")
# Sources matched through NVD CPE configurations by name (Fleet's approach for apps and programs).
CPE_SOURCES = {"apps", "programs", "chrome_extensions", "firefox_addons", "homebrew_packages"}

# Host platform (osquery os_version.platform) -> OSV ecosystem base, for deb and rpm packages.
DISTRO_ECOSYSTEMS = {
    "debian": "Debian",
    "ubuntu": "Ubuntu",
    "rhel": "Red Hat",
    "rocky": "Rocky Linux",
    "almalinux": "AlmaLinux",
    "amzn": "Amazon Linux",
    "opensuse-leap": "openSUSE",
    "sles": "SUSE",
    "alpine": "Alpine",
}
_VERSION_CLASSES: dict[str, type[uv.Version]] = {
    "Debian": uv.DebianVersion,
    "Ubuntu": uv.DebianVersion,
    "Red Hat": uv.RpmVersion,
    "Rocky Linux": uv.RpmVersion,
    "AlmaLinux": uv.RpmVersion,
    "Amazon Linux": uv.RpmVersion,
    "openSUSE": uv.RpmVersion,
    "SUSE": uv.RpmVersion,
    "Alpine": uv.AlpineLinuxVersion,
    "PyPI": uv.PypiVersion,
    "npm": uv.SemverVersion,
    "cpe": uv.MavenVersion,
}
_PURL_TYPES = {"deb_packages": "deb", "rpm_packages": "rpm", "python_packages": "pypi", "npm_packages": "npm"}


# Distributions whose OSV releases name major.minor ("Ubuntu:22.04", "Alpine:v3.18"); the others name the major.
_MINOR_RELEASES = {"ubuntu", "alpine", "Ubuntu", "Alpine"}


def split_ecosystem(ecosystem: str) -> tuple[str, str]:
    """OSV's "Debian:11" / "Ubuntu:22.04:LTS" / "Red Hat:enterprise_linux:9::appstream" / "PyPI" as (base, release)."""
    base, _, rest = ecosystem.partition(":")
    return base, _release(base, rest)


def _release(family: str, text: str) -> str:
    match = re.search(r"(\d+)(?:\.(\d+))?", text)
    if match is None:
        return ""
    if family in _MINOR_RELEASES and match.group(2):
        return f"{match.group(1)}.{match.group(2)}"
    return match.group(1)


def host_release(platform: str, os_version: str) -> str:
    """The distribution release OSV names ("11" for Debian, "22.04" for Ubuntu, "9" for RHEL) from the OS text."""
    return _release(platform, os_version)


def ecosystem_for(source: str, platform: str = "", os_version: str = "") -> tuple[str, str] | None:
    """(ecosystem base, release) a software source is matched in on a host, or None for CPE/unknown sources."""
    if source in LANGUAGE_ECOSYSTEMS:
        return LANGUAGE_ECOSYSTEMS[source], ""
    if source in DISTRO_SOURCES:
        base = DISTRO_ECOSYSTEMS.get(platform)
        if base is None:
            return None
        return base, host_release(platform, os_version)
    return None


@lru_cache(maxsize=65536)
def parse_version(ecosystem_base: str, version: str) -> uv.Version | None:
    """The version in the ecosystem's own ordering; None when it does not parse (never matched then)."""
    cls = _VERSION_CLASSES.get(ecosystem_base)
    if cls is None or not version:
        return None
    try:
        return cls(version)
    except Exception:  # noqa: BLE001 - univers raises many types for malformed versions
        return None


def package_url(source: str, name: str, version: str, platform: str = "", arch: str = "") -> str:
    """The software's package URL (purl) where the source has a purl type; "" otherwise."""
    purl_type = _PURL_TYPES.get(source)
    if purl_type is None:
        return ""
    namespace = None
    if purl_type in ("deb", "rpm"):
        namespace = DISTRO_ECOSYSTEMS.get(platform, "").lower().replace(" ", "") or None
    qualifiers = {"arch": arch} if arch else None
    return PackageURL(
        type=purl_type, namespace=namespace, name=name, version=version or None, qualifiers=qualifiers
    ).to_string()


def osv_affected(ecosystem_base: str, version: str, ranges: list[dict[str, Any]], versions: list[str]) -> bool:
    """Whether `version` is affected per OSV's ranges (events walked in version order) or explicit list."""
    if version in versions:
        return True
    current = parse_version(ecosystem_base, version)
    if current is None:
        return False
    # osquery's rpm_packages reports the epoch in a column of its own, which is not kept: assume the
    # package's epoch is the advisory's, rather than flag every host of a package with epoch 1.
    drop_epoch = _VERSION_CLASSES.get(ecosystem_base) is uv.RpmVersion and ":" not in version
    for rng in ranges:
        if rng.get("type") not in ("ECOSYSTEM", "SEMVER"):
            continue  # GIT ranges name commits, not versions
        events = rng.get("events") or []
        if drop_epoch:
            events = [{k: _without_epoch(v) for k, v in e.items()} for e in events if isinstance(e, dict)]
        if _in_range(ecosystem_base, current, events):
            return True
    return False


def _without_epoch(value: str) -> str:
    return re.sub(r"^\d+:", "", value) if isinstance(value, str) else value


def _in_range(ecosystem_base: str, current: uv.Version, events: list[dict[str, str]]) -> bool:
    parsed: list[tuple[Any, str]] = []
    for event in events:
        for kind in ("introduced", "fixed", "last_affected", "limit"):
            value = event.get(kind)
            if value is None:
                continue
            if kind == "introduced" and value == "0":
                parsed.append((None, kind))
                continue
            at = parse_version(ecosystem_base, value)
            if at is not None:
                parsed.append((at, kind))
    affected = False
    for at, kind in sorted(parsed, key=_event_key):
        if kind == "introduced":
            if at is None or at <= current:
                affected = True
        elif kind == "fixed":
            if at <= current:
                affected = False
        elif kind == "last_affected":
            if at < current:
                affected = False
        elif kind == "limit" and at <= current:
            affected = False
    return affected


class _Key:
    """Sort key for range events: "introduced 0" first, then by version."""

    def __init__(self, at: Any) -> None:
        self.at = at

    def __lt__(self, other: _Key) -> bool:
        if self.at is None:
            return other.at is not None
        if other.at is None:
            return False
        return self.at < other.at


def _event_key(item: tuple[Any, str]) -> _Key:
    return _Key(item[0])


def cpe_in_range(version: str, match: dict[str, str]) -> bool:
    """Whether a CPE version lies in an NVD cpeMatch's versionStart/End Including/Excluding bounds."""
    current = parse_version("cpe", version)
    if current is None:
        return False
    if match["version"]:
        exact = parse_version("cpe", match["version"])
        return exact is not None and exact == current
    checks = (
        ("start_including", lambda at: current >= at),
        ("start_excluding", lambda at: current > at),
        ("end_including", lambda at: current <= at),
        ("end_excluding", lambda at: current < at),
    )
    for key, check in checks:
        if match[key]:
            at = parse_version("cpe", match[key])
            if at is None or not check(at):
                return False
    # A cpeMatch with "*" and no bounds means every version: NVD writes that for whole products.
    return True


_STOP = re.compile(r"\.app$|\s+\(.*\)$", re.I)


def cpe_candidates(name: str, bundle_identifier: str = "", vendor: str = "") -> list[tuple[str, str]]:
    """(vendor, product) pairs an app or program could be listed under in NVD; "" vendor means any vendor.

    Deliberately narrow (exact normalised names, vendor from the bundle id or the name's first word)
    to avoid Fleet's false positives from fuzzy CPE guessing.
    """
    base = _STOP.sub("", name).strip().lower()
    words = re.split(r"[\s_\-]+", base)
    out = [("", "_".join(words))]
    if len(words) > 1:
        out.append((words[0], "_".join(words[1:])))
    if bundle_identifier.count(".") >= 2:
        parts = bundle_identifier.lower().split(".")
        out.append((parts[1], "_".join(parts[2:])))
    if vendor:
        out.append((vendor.lower().split()[0].strip(",."), "_".join(words)))
    return out
