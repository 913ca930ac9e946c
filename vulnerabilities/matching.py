"""Matching: software and OS versions against the imported feeds, and each host's CVE history.

Runs as the `match-vulnerabilities` Celery job (hourly and after each import), never on the agent
check-in path. Packages of an ecosystem OSV covers (deb/rpm by the host's distribution release,
PyPI, npm) are matched only by OSV's ranges, which know distribution back-ports; apps and programs
by NVD CPE configurations. The current matches are rewritten as a whole; host rows are opened and
resolved by difference, so `first_detected_at` survives re-runs.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from fleetsite.lib.rows import insert_many
from hosts.models import Host, HostSoftware, Software
from vulnerabilities import changes, ecosystems
from vulnerabilities.choices import MatchSource
from vulnerabilities.models import (
    CVE,
    AdvisoryCVE,
    AffectedPackage,
    CPEMatch,
    HostVulnerability,
    MatchedHost,
    MatchState,
    OSVersion,
    OSVulnerability,
    SoftwareVulnerability,
)

# NVD's product names for OSes, by the name hosts report without the version.
# Above this many unread change-log entries (a fleet enrolling), a full run is cheaper than the log.
FULL_RUN_CHANGES = 200_000
OS_CPES = {"macos": [("apple", "macos"), ("apple", "mac_os_x"), ("apple", "mac_os")]}
BATCH = 1000
# (host, software) pairs per statement, joined as a derived table (`_pairs_table`).
PAIRS_PER_QUERY = 500


@dataclass
class MatchReport:
    mode: str = "full"  # or "changes": only what the change log named
    changes: int = 0
    software_matches: int = 0
    os_matches: int = 0
    opened: int = 0
    resolved: int = 0


def split_os_name(name: str, platform: str = "") -> tuple[str, str]:
    """ "macOS 14.1.2" -> ("macOS", "14.1.2"); "Ubuntu 22.04.3 LTS" -> ("Ubuntu", "22.04.3 LTS").

    Windows names carry their number and edition ("Windows 11 Pro 23H2 10.0.22631.2861"): the
    version starts at the display version or the NT version, as in Fleet.
    """
    if platform == "windows":
        match = re.search(r"\s((?:\d{2}H\d|\d+\.\d+\.\d+).*)$", name)
    else:
        match = re.search(r"\s(\d[^\s]*.*)$", name)
    if match is None:
        return name, ""
    return name[: match.start()].strip(), match.group(1).strip()


def _eco_key(base: str, release: str) -> str:
    return f"{base}:{release}" if release else base


def run(now: datetime | None = None, full: bool | None = None) -> MatchReport:
    """Bring matches and host histories up to date; one transaction, so readers never see half a run.

    A full run recomputes everything: after a feed import (the feeds' generation moved), on the first
    run, on request, or when the change log has grown as large as a fleet's enrolment. Otherwise only
    the software that hosts installed or removed since the last run (the change log) and hosts that
    moved to another distribution release are matched: with the feeds unchanged, nothing else can
    have changed.
    """
    now = now or timezone.now()
    with transaction.atomic():
        state = _state()
        logged = changes.visible()
        if full is None:
            full = state.matched_generation != state.feeds_generation or changes.count(logged) > FULL_RUN_CHANGES
        report = _full_run(now) if full else _incremental_run(now, logged)
        changes.forget(logged)
        if full:
            state.matched_generation, state.full_run_at = state.feeds_generation, now
        state.run_at = now
        state.save()
        if report.opened:
            # One cached settings read; the vulnerability automations look at the rows after commit.
            from webhooks.triggers import matching_opened

            matching_opened(now)
    return report


def feeds_changed() -> None:
    """Called by imports in their transaction: the next matching run is a full one."""
    _state()
    MatchState.objects.filter(pk=1).update(feeds_generation=F("feeds_generation") + 1)


def _state() -> MatchState:
    state = MatchState.objects.select_for_update().filter(pk=1).first()
    if state is None:
        MatchState.objects.bulk_create([MatchState(pk=1)], ignore_conflicts=True)
        state = MatchState.objects.select_for_update().get(pk=1)
    return state


def _full_run(now: datetime) -> MatchReport:
    report = MatchReport(mode="full")
    os_ids = _sync_os_versions()
    distro = _host_distros()
    _remember_distros(distro, replace=True)
    software = _software_matches()
    _replace_software_matches(software)
    os_matches = _os_matches()
    _replace_os_matches(os_matches)
    report.software_matches = len(software)
    report.os_matches = len(os_matches)
    report.opened, report.resolved = _sync_software_history(distro, now)
    opened, resolved = _sync_os_history(os_ids, now)
    report.opened += opened
    report.resolved += resolved
    return report


def _incremental_run(now: datetime, logged: changes.Ranges) -> MatchReport:
    """Match what the change log names, and every install of hosts whose distribution release changed."""
    report = MatchReport(mode="changes")
    net = changes.read(logged)
    report.changes = len(net.installed) + len(net.removed)
    distro = _host_distros()
    known = dict(MatchedHost.objects.values_list("host_id", "ecosystem"))
    moved = {host for host, key in distro.items() if known.get(host) != key}
    installed = {pair for pair in net.installed if pair[0] in distro and pair[0] not in moved}
    removed = {pair for pair in net.removed if pair[0] not in moved}
    moved_installs = _pairs_of_hosts(moved)
    new_matches = _software_matches_for(installed | moved_installs, distro)
    _add_software_matches(new_matches)
    report.software_matches = len(new_matches)
    report.resolved = _resolve_pairs(removed, now)
    report.opened = _open_pairs(installed, now)
    if moved:
        _remember_distros({host: distro[host] for host in moved}, replace=False)
        opened, resolved = _sync_software_history(distro, now, hosts=moved)
        report.opened += opened
        report.resolved += resolved
    os_ids = _sync_os_versions()
    opened, resolved = _sync_os_history(os_ids, now)
    report.opened += opened
    report.resolved += resolved
    report.os_matches = OSVulnerability.objects.count()
    return report


def _host_distros() -> dict[int, str]:
    """Each host's package ecosystem key ("Ubuntu:22.04"; "" where packages are not OSV-matched)."""
    rows = Host.objects.values_list("pk", "platform", "os_version").iterator(BATCH * 10)
    return {pk: distro_key(platform, os_version) for pk, platform, os_version in rows}


def _remember_distros(distro: dict[int, str], replace: bool) -> None:
    if replace:
        MatchedHost.objects.all().delete()
    else:
        MatchedHost.objects.filter(host_id__in=list(distro)).delete()
    MatchedHost.objects.bulk_create(
        [MatchedHost(host_id=host, ecosystem=key) for host, key in distro.items()], batch_size=BATCH * 10
    )


def _pairs_of_hosts(hosts: set[int]) -> set[tuple[int, int]]:
    out: set[tuple[int, int]] = set()
    ids = sorted(hosts)
    for start in range(0, len(ids), BATCH):
        installs = HostSoftware.objects.filter(host_id__in=ids[start : start + BATCH])
        out.update(installs.values_list("host_id", "software_id"))
    return out


def _sync_os_versions() -> dict[tuple[str, str], int]:
    """OSVersion rows for every (os_version, platform) a host reports; returns their ids by that pair."""
    pairs = set(Host.objects.exclude(os_version="").values_list("os_version", "platform").distinct())
    known = {(o.name, o.platform): o.pk for o in OSVersion.objects.all()}
    new = []
    for name, platform in pairs - set(known):
        name_only, version = split_os_name(name, platform)
        new.append(OSVersion(name=name, name_only=name_only, version=version, platform=platform))
    OSVersion.objects.bulk_create(new, ignore_conflicts=True)
    if new:
        known = {(o.name, o.platform): o.pk for o in OSVersion.objects.all()}
    return known


def _withdrawn_cves() -> set[str]:
    return set(CVE.objects.filter(withdrawn=True).values_list("cve", flat=True))


Match = tuple[int, str, str, str, str]  # (software id, cve, source, ecosystem key, resolved_in_version)
# (ecosystem base, package name) -> {(software id, version as the ecosystem spells it, release)}
Wanted = dict[tuple[str, str], set[tuple[int, str, str]]]
# software id -> (version, [(vendor, product)])
Candidates = dict[int, tuple[str, list[tuple[str, str]]]]


def _want_package(wanted: Wanted, pk: int, name: str, version: str, release: str, source: str, eco: str) -> None:
    """Add a distribution package under its host's ecosystem key ("Ubuntu:22.04"; "" when not matched)."""
    if eco:
        base, _, distro_release = eco.partition(":")
        # rpm_packages reports version and release apart; OSV's RPM versions are version-release.
        full = f"{version}-{release}" if source == "rpm_packages" and release else version
        wanted[(base, name)].add((pk, full, distro_release))


def distro_key(platform: str, os_version: str) -> str:
    """The ecosystem key a host's distribution packages are matched under."""
    eco = ecosystems.ecosystem_for("deb_packages", platform, os_version)
    return _eco_key(*eco) if eco else ""


def _software_matches() -> set[Match]:
    """Every installed software item against the feeds. MatchedHost must hold each host's distribution."""
    wanted: Wanted = defaultdict(set)
    language = Software.objects.filter(source__in=list(ecosystems.LANGUAGE_ECOSYSTEMS), installs__isnull=False)
    for pk, name, version, source in language.values_list("pk", "name", "version", "source").distinct():
        wanted[(ecosystems.LANGUAGE_ECOSYSTEMS[source], name)].add((pk, version, ""))
    on_os = _distro_packages_installed()
    packages: dict[int, tuple[str, str, str, str]] = {}
    ids = sorted({pk for pk, _ in on_os})
    for start in range(0, len(ids), BATCH * 10):
        chunk = Software.objects.filter(pk__in=ids[start : start + BATCH * 10])
        packages.update((row[0], row[1:]) for row in chunk.values_list("pk", "name", "version", "release", "source"))
    for pk, eco in on_os:
        name, version, release, source = packages[pk]
        _want_package(wanted, pk, name, version, release, source, eco)
    apps = Software.objects.filter(source__in=list(ecosystems.CPE_SOURCES), installs__isnull=False).distinct()
    candidates: Candidates = {}
    for pk, name, version, bundle, vendor in apps.values_list("pk", "name", "version", "bundle_identifier", "vendor"):
        candidates[pk] = (version, ecosystems.cpe_candidates(name, bundle, vendor))
    withdrawn = _withdrawn_cves()
    return _osv_matches(wanted, withdrawn) | _cpe_software_matches(candidates, withdrawn)


def _distro_packages_installed() -> list[tuple[int, str]]:
    """(software id, ecosystem key) of each distribution package installed on a host of that release.

    Driven from MatchedHost (hosts of a matched release) through the (host, software) index: the
    same DISTINCT over every install joined to its host took 7 to 18 s at 10,000 hosts, 3 s this way.
    """
    sql = _history_sql()
    sources = list(ecosystems.DISTRO_SOURCES)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {sql['straight']}DISTINCT hs.software_id, mh.ecosystem FROM {sql['mh']} mh "
            f"JOIN {sql['hs']} hs ON hs.host_id = mh.host_id JOIN {sql['sw']} sw ON sw.id = hs.software_id "
            f"WHERE mh.ecosystem <> '' AND sw.source IN ({', '.join(['%s'] * len(sources))})",
            sources,
        )
        return cursor.fetchall()


def _software_matches_for(pairs: set[tuple[int, int]], distro: dict[int, str]) -> set[Match]:
    """The software of these (host, software) pairs against the feeds, in the pairs' hosts' ecosystems."""
    software_ids = sorted({software for _, software in pairs})
    rows: dict[int, tuple] = {}
    for start in range(0, len(software_ids), BATCH):
        chunk = Software.objects.filter(pk__in=software_ids[start : start + BATCH])
        for row in chunk.values_list("pk", "name", "version", "release", "source", "bundle_identifier", "vendor"):
            rows[row[0]] = row
    wanted: Wanted = defaultdict(set)
    candidates: Candidates = {}
    for host, software in pairs:
        row = rows.get(software)
        if row is None:
            continue
        pk, name, version, release, source, bundle, vendor = row
        if source in ecosystems.LANGUAGE_ECOSYSTEMS:
            wanted[(ecosystems.LANGUAGE_ECOSYSTEMS[source], name)].add((pk, version, ""))
        elif source in ecosystems.DISTRO_SOURCES:
            _want_package(wanted, pk, name, version, release, source, distro.get(host, ""))
        elif source in ecosystems.CPE_SOURCES and pk not in candidates:
            candidates[pk] = (version, ecosystems.cpe_candidates(name, bundle, vendor))
    withdrawn = _withdrawn_cves()
    return _osv_matches(wanted, withdrawn) | _cpe_software_matches(candidates, withdrawn)


def _osv_matches(wanted: Wanted, withdrawn: set[str]) -> set[Match]:
    out: set[Match] = set()
    names = sorted({name for _, name in wanted})
    packages: list[dict] = []
    for start in range(0, len(names), BATCH):
        affected = AffectedPackage.objects.filter(
            name__in=names[start : start + BATCH], advisory__withdrawn__isnull=True
        )
        packages += affected.values("advisory_id", "ecosystem_base", "release", "name", "ranges", "versions", "fixed")
    cves_of: dict[int, list[str]] = defaultdict(list)
    advisory_ids = sorted({p["advisory_id"] for p in packages})
    for start in range(0, len(advisory_ids), BATCH):
        chunk = AdvisoryCVE.objects.filter(advisory_id__in=advisory_ids[start : start + BATCH])
        for advisory_id, cve in chunk.values_list("advisory_id", "cve"):
            cves_of[advisory_id].append(cve)
    for package in packages:
        base = package["ecosystem_base"]
        for pk, version, release in wanted.get((base, package["name"]), ()):
            if package["release"] and release and package["release"] != release:
                continue
            if ecosystems.osv_affected(base, version, package["ranges"], package["versions"]):
                for cve in cves_of[package["advisory_id"]]:
                    if cve not in withdrawn:
                        out.add((pk, cve, MatchSource.OSV, _eco_key(base, release), package["fixed"]))
    return out


def _cpe_software_matches(candidates: Candidates, withdrawn: set[str]) -> set[Match]:
    products = sorted({product for _, pairs in candidates.values() for _, product in pairs})
    by_product: dict[str, list[dict]] = defaultdict(list)
    for start in range(0, len(products), BATCH):
        matches = CPEMatch.objects.filter(part="a", product__in=products[start : start + BATCH]).exclude(
            cve__withdrawn=True
        )
        for match in matches.values(
            "cve__cve", "vendor", "product", "version", "start_including", "start_excluding", "end_including",
            "end_excluding",
        ):  # fmt: skip
            by_product[match["product"]].append(match)
    out = set()
    for pk, (version, pairs) in candidates.items():
        for vendor, product in pairs:
            for match in by_product.get(product, ()):
                if vendor and match["vendor"] != vendor:
                    continue
                if match["cve__cve"] not in withdrawn and ecosystems.cpe_in_range(version, match):
                    fixed = match["end_excluding"]
                    out.add((pk, match["cve__cve"], MatchSource.NVD, "", fixed))
    return out


def _os_matches() -> set[tuple[int, str, str]]:
    """(os version id, cve, resolved_in_version) from NVD's operating-system CPEs (macOS for now)."""
    out = set()
    os_rows = list(OSVersion.objects.values("pk", "name_only", "version"))
    pairs = {pair for row in os_rows for pair in OS_CPES.get(row["name_only"].lower(), [])}
    if not pairs:
        return out
    query = Q()
    for vendor, product in pairs:
        query |= Q(vendor=vendor, product=product)
    matches = list(
        CPEMatch.objects.filter(query, part="o").exclude(cve__withdrawn=True).values(
            "cve__cve", "vendor", "product", "version", "start_including", "start_excluding", "end_including",
            "end_excluding",
        )
    )  # fmt: skip
    for row in os_rows:
        names = set(OS_CPES.get(row["name_only"].lower(), []))
        version = row["version"].split()[0] if row["version"] else ""
        for match in matches:
            if (match["vendor"], match["product"]) in names and ecosystems.cpe_in_range(version, match):
                out.add((row["pk"], match["cve__cve"], match["end_excluding"]))
    return out


def _replace_software_matches(matches: set[tuple[int, str, str, str, str]]) -> None:
    current = {
        (r.software_id, r.cve, r.source, r.ecosystem, r.resolved_in_version): r.pk
        for r in SoftwareVulnerability.objects.all()
    }
    stale = [pk for key, pk in current.items() if key not in matches]
    for start in range(0, len(stale), BATCH):
        SoftwareVulnerability.objects.filter(pk__in=stale[start : start + BATCH]).delete()
    SoftwareVulnerability.objects.bulk_create(
        [
            SoftwareVulnerability(software_id=s, cve=c, source=src, ecosystem=eco, resolved_in_version=fixed[:255])
            for s, c, src, eco, fixed in matches - set(current)
        ],
        batch_size=BATCH,
        ignore_conflicts=True,
    )


def _replace_os_matches(matches: set[tuple[int, str, str]]) -> None:
    current = {(r.os_version_id, r.cve, r.resolved_in_version): r.pk for r in OSVulnerability.objects.all()}
    OSVulnerability.objects.filter(pk__in=[pk for key, pk in current.items() if key not in matches]).delete()
    OSVulnerability.objects.bulk_create(
        [
            OSVulnerability(os_version_id=o, cve=c, resolved_in_version=fixed[:255])
            for o, c, fixed in matches - set(current)
        ],
        ignore_conflicts=True,
    )


def _add_software_matches(matches: set[Match]) -> None:
    """Matches for newly seen (software, ecosystem) pairs; with the feeds unchanged, existing ones stand.

    A re-run re-matches every newly installed package, nearly all matched before: the stored ones are
    read by software id and only the rest inserted (8,000 bulk_create instances for nothing cost 1 s).
    """
    software_ids = sorted({match[0] for match in matches})
    stored: set[tuple[int, str, str]] = set()
    for start in range(0, len(software_ids), BATCH):
        rows = SoftwareVulnerability.objects.filter(software_id__in=software_ids[start : start + BATCH])
        stored.update(rows.values_list("software_id", "cve", "ecosystem"))
    new = [(s, c, src, eco, fixed[:255]) for s, c, src, eco, fixed in matches if (s, c, eco) not in stored]
    columns = ("software_id", "cve", "source", "ecosystem", "resolved_in_version")
    insert_many(SoftwareVulnerability, columns, new, ignore_conflicts=True, batch_size=BATCH)


def _applies(source: str, match_ecosystem: str, host_distro: str) -> bool:
    """Whether a software match (made in `match_ecosystem`) holds on a host: a Debian 11 advisory says
    nothing about the same package on Ubuntu; CPE matches ("") hold everywhere."""
    if not match_ecosystem:
        return True
    return match_ecosystem == ecosystems.LANGUAGE_ECOSYSTEMS.get(source, host_distro)


HistoryKey = tuple[int, str, str]  # (host id, cve, via)
HISTORY_COLUMNS = ("host_id", "cve", "via", "software_id", "os_version_id", "first_detected_at")


def _sync_software_history(distro: dict[int, str], now: datetime, hosts: set[int] | None = None) -> tuple[int, int]:
    """Open a history row for each new (host, CVE, software) and resolve those no longer matched,
    for every host or only for `hosts`.

    Hosts with no open row yet (every host on a first run, a newly enrolled one later) get theirs in
    one INSERT ... SELECT the database runs on its own: at 2,000 hosts a first run opens 480,000 rows,
    and reading the installs out and sending the rows back cost 24 s of its 31. The other hosts are
    compared in Python: a set difference in SQL (NOT EXISTS per row, or EXCEPT through temporary
    tables) took 26 to 170 s where reading both sides took 3 s. MatchedHost must hold `distro` already.
    """
    scope = set(distro) if hosts is None else set(hosts)
    tracked: set[int] = set()
    open_rows = HostVulnerability.objects.filter(resolved_at__isnull=True)
    if hosts is None:
        tracked.update(open_rows.values_list("host_id", flat=True).distinct())
    else:
        for batch in _batches(hosts):
            tracked.update(open_rows.filter(host_id__in=batch).values_list("host_id", flat=True).distinct())
    fresh = scope - tracked
    opened = sum(_open_fresh_hosts(now, batch) for batch in _batches(fresh))
    if not scope & tracked:
        return opened, 0
    more_opened, resolved = _diff_software_history(
        distro, now, None if hosts is None and not fresh else _batches(scope & tracked)
    )
    return opened + more_opened, resolved


def _batches(ids: set[int]) -> list[list[int]]:
    ordered = sorted(ids)
    return [ordered[start : start + BATCH] for start in range(0, len(ordered), BATCH)]


def _diff_software_history(distro: dict[int, str], now: datetime, batches: list[list[int]] | None) -> tuple[int, int]:
    """Desired and open (host, CVE, software) rows read out and compared, for every host or per batch."""
    desired: dict[HistoryKey, tuple[int | None, int | None]] = {}
    open_rows: dict[HistoryKey, int] = {}
    for batch in batches or [None]:
        installs = HostSoftware.objects.filter(software__vulnerabilities__isnull=False)
        history = HostVulnerability.objects.filter(resolved_at__isnull=True, via__startswith="s")
        if batch is not None:
            installs, history = installs.filter(host_id__in=batch), history.filter(host_id__in=batch)
        rows = installs.values_list(
            "host_id", "software_id", "software__source", "software__vulnerabilities__cve",
            "software__vulnerabilities__ecosystem",
        )  # fmt: skip
        for host_id, software_id, source, cve, eco in rows.iterator(BATCH * 10):
            if _applies(source, eco, distro.get(host_id, "")):
                desired[(host_id, cve, f"s{software_id}")] = (software_id, None)
        open_rows.update(((h, c, v), pk) for pk, h, c, v in history.values_list("pk", "host_id", "cve", "via"))
    return _apply_history(desired, open_rows, now)


def _history_sql() -> dict[str, str]:
    """Table names, the `_applies` condition and the `via` expression for history SQL, in this database's dialect."""
    quote = connection.ops.quote_name
    names = {
        "hv": quote(HostVulnerability._meta.db_table),
        "hs": quote(HostSoftware._meta.db_table),
        "sw": quote(Software._meta.db_table),
        "sv": quote(SoftwareVulnerability._meta.db_table),
        "mh": quote(MatchedHost._meta.db_table),
    }
    # `_applies` in SQL: CPE matches ("") hold everywhere, language packages' matches (made only in
    # their language's ecosystem, "PyPI") everywhere, distribution packages' in the host's release
    # (MatchedHost) only. The match's ecosystem says which, so the software row is not joined.
    languages = ", ".join(["%s"] * len(ecosystems.LANGUAGE_ECOSYSTEMS))
    names["applies"] = f"(sv.ecosystem = '' OR sv.ecosystem IN ({languages}) OR sv.ecosystem = mh.ecosystem)"
    # MariaDB starts these joins from the matches and reads every install of each matched software,
    # for every batch of hosts; the installs' (host, software) index, read first, is 3x cheaper.
    names["straight"] = "STRAIGHT_JOIN " if connection.vendor == "mysql" else ""
    names["via"] = {"mysql": "CONCAT('s', hs.software_id)", "postgresql": "'s' || hs.software_id::text"}.get(
        connection.vendor, "'s' || hs.software_id"
    )
    return names


def _applies_params() -> list[str]:
    return list(ecosystems.LANGUAGE_ECOSYSTEMS.values())


def _open_fresh_hosts(now: datetime, hosts: list[int]) -> int:
    """Every history row of hosts that have none open, written by the database from the installs and matches."""
    where = "hs.host_id IN ({})".format(", ".join(["%s"] * len(hosts)))
    return _open_rows(now, f"{_history_sql()['hs']} hs", hosts, where=where)


def _open_rows(now: datetime, installs: str, params: list[int], where: str = "", skip_open: bool = False) -> int:
    """INSERT ... SELECT a history row for each CVE of the installs (`hs`) that `installs` (a FROM
    clause, joined first) and `where` select.

    `skip_open` leaves out installs that have an open row already: the change log may announce an
    install twice, and with the feeds unchanged an open install's rows are all there.
    """
    sql = _history_sql()
    unopened = (
        f" AND NOT EXISTS (SELECT 1 FROM {sql['hv']} hv WHERE hv.software_id = hs.software_id "
        "AND hv.host_id = hs.host_id AND hv.resolved_at IS NULL)"
        if skip_open
        else ""
    )
    with connection.cursor() as cursor:
        # An install has one (software, CVE) match per ecosystem, and only one ecosystem applies on a
        # host (CPE matches are apps', OSV ones packages'): no duplicates, so no DISTINCT.
        cursor.execute(
            f"INSERT INTO {sql['hv']} (host_id, cve, via, software_id, first_detected_at) "
            f"SELECT {sql['straight']}hs.host_id, sv.cve, {sql['via']}, hs.software_id, %s "
            f"FROM {installs} JOIN {sql['sv']} sv ON sv.software_id = hs.software_id "
            f"LEFT JOIN {sql['mh']} mh ON mh.host_id = hs.host_id "
            f"WHERE {where + ' AND ' if where else ''}{sql['applies']}{unopened}",
            [connection.ops.adapt_datetimefield_value(now), *params, *_applies_params()],
        )
        return cursor.rowcount


def _sync_os_history(os_ids: dict[tuple[str, str], int], now: datetime) -> tuple[int, int]:
    """The same for OS versions; there are few of them, so every host is checked each run."""
    desired: dict[HistoryKey, tuple[int | None, int | None]] = {}
    vulnerable_os: dict[int, list[str]] = defaultdict(list)
    for os_id, cve in OSVulnerability.objects.values_list("os_version_id", "cve"):
        vulnerable_os[os_id].append(cve)
    if vulnerable_os:
        hosts = Host.objects.exclude(os_version="").values_list("pk", "os_version", "platform")
        for host_id, os_version, platform in hosts.iterator(BATCH * 10):
            os_id = os_ids.get((os_version, platform))
            for cve in vulnerable_os.get(os_id, ()):
                desired[(host_id, cve, f"o{os_id}")] = (None, os_id)
    # OS rows have no software: the (software, host) index finds them, where `via LIKE 'o%'` read every
    # open row of the table on each hourly run. Software rows whose software was deleted come along too.
    history = HostVulnerability.objects.filter(software__isnull=True, resolved_at__isnull=True)
    open_rows = {
        (h, c, v): pk for pk, h, c, v in history.values_list("pk", "host_id", "cve", "via") if v.startswith("o")
    }
    return _apply_history(desired, open_rows, now)


def _apply_history(
    desired: dict[HistoryKey, tuple[int | None, int | None]], open_rows: dict[HistoryKey, int], now: datetime
) -> tuple[int, int]:
    gone = [pk for key, pk in open_rows.items() if key not in desired]
    for start in range(0, len(gone), BATCH):
        HostVulnerability.objects.filter(pk__in=gone[start : start + BATCH]).update(resolved_at=now)
    new = [key for key in desired if key not in open_rows]
    _insert_history(new, desired, now)
    return len(new), len(gone)


def _pairs_table(pairs: list[tuple[int, int]]) -> str:
    """The pairs as a derived table `p(h, s)` (host id, software id) to join on, integers written in.

    Not a row-value IN: MariaDB's range optimizer spent 12 ms on each list of 200 pairs (and chose a
    full scan past 200, its eq_range_index_dive_limit), where the join costs 1.7 ms; a 1% re-run at
    10,000 hosts made 300 such statements.
    """
    rows = " UNION ALL ".join(f"SELECT {int(host)} AS h, {int(software)} AS s" for host, software in pairs)
    return f"({rows}) p"


def _resolve_pairs(pairs: set[tuple[int, int]], now: datetime) -> int:
    """Resolve the open CVEs of software that left these hosts: one UPDATE per chunk of pairs."""
    table = connection.ops.quote_name(HostVulnerability._meta.db_table)
    ordered, resolved = sorted(pairs, key=lambda pair: (pair[1], pair[0])), 0
    at = connection.ops.adapt_datetimefield_value(now)
    with connection.cursor() as cursor:
        for start in range(0, len(ordered), PAIRS_PER_QUERY):
            pairs_sql = _pairs_table(ordered[start : start + PAIRS_PER_QUERY])
            if connection.vendor == "mysql":
                # The pairs first, through the (software, host) index, whatever the statistics say:
                # right after a first run filled the table they were stale, and MariaDB read each
                # pair's host's open rows instead (a 1% re-run: 13 s in this statement).
                statement = (
                    f"UPDATE {pairs_sql} STRAIGHT_JOIN {table} hv FORCE INDEX (host_vuln_software) "
                    "ON hv.software_id = p.s AND hv.host_id = p.h "
                    "SET hv.resolved_at = %s WHERE hv.resolved_at IS NULL"
                )
            else:  # PostgreSQL, SQLite 3.33+
                statement = (
                    f"UPDATE {table} SET resolved_at = %s FROM {pairs_sql} WHERE {table}.software_id = p.s "
                    f"AND {table}.host_id = p.h AND {table}.resolved_at IS NULL"
                )
            cursor.execute(statement, [at])
            resolved += cursor.rowcount
    return resolved


def _open_pairs(pairs: set[tuple[int, int]], now: datetime) -> int:
    """Open history rows for the CVEs of software newly on these hosts (unless a row is open already),
    written by the database: reading the matches out and sending 19,000 rows back cost a 1% re-run 1.5 s."""
    ordered, opened = sorted(pairs), 0
    hs = _history_sql()["hs"]
    for start in range(0, len(ordered), PAIRS_PER_QUERY):
        pairs_sql = _pairs_table(ordered[start : start + PAIRS_PER_QUERY])
        installs = f"{pairs_sql} JOIN {hs} hs ON hs.host_id = p.h AND hs.software_id = p.s"
        opened += _open_rows(now, installs, [], skip_open=True)
    return opened


def _insert_history(
    keys: list[HistoryKey], desired: dict[HistoryKey, tuple[int | None, int | None]], now: datetime
) -> None:
    """Insert new history rows with executemany: a first run opens hundreds of thousands, and building a
    model instance per row cost ten times the SQL (measured: 300,000 rows, 60 s through bulk_create)."""
    at = connection.ops.adapt_datetimefield_value(now)  # once, not per row
    rows = ((h, c, v, *desired[(h, c, v)], at) for h, c, v in keys)
    insert_many(HostVulnerability, HISTORY_COLUMNS, rows, prepared=True, batch_size=BATCH * 10)
