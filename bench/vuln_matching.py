"""Vulnerability matching at fleet scale (issue 16): `python -m bench.vuln_matching`.

Seeds a fresh database with hosts (seed_hosts' platform mix), about 300 software items per host
drawn from catalogues of some 20,000 distinct versions, and a synthetic feed of OSV advisories
(Ubuntu, Red Hat, PyPI) and NVD CVEs with CPE ranges; then times the `match-vulnerabilities` job
in this process: a first run, and a re-run after 1% of the installed software changed version.
Targets: first run <= 60 s on one core, re-run <= 5 s.

Most advisories name packages no host has, as in the real feeds; `--hit-rate` sets the share
that names an installed package.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import re
import resource
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.database import sized_for_bench
from fleetsite.liveserver import drop_isolated_database

TARGET_FIRST_S = 60.0
TARGET_RERUN_S = 5.0
VERSIONS_PER_NAME = 3


@dataclass(frozen=True)
class Family:
    """Software a kind of host runs: its source, how many names, and how versions are spelled."""

    source: str
    names: int
    prefix: str

    def version(self, n: int, i: int) -> tuple[str, str]:
        """(version, release) of the i-th version of name n; versions ascend with i."""
        if self.source == "deb_packages":
            return f"1.{n % 10}.{i}-1ubuntu1", ""
        if self.source == "rpm_packages":
            return f"2.{n % 10}.{i}", "1.el9"
        if self.source == "python_packages":
            return f"0.{n % 20}.{i}", ""
        return f"{10 + n % 5}.{i}.0", ""


APPS = Family("apps", 1500, "app")
PROGRAMS = Family("programs", 1500, "program")
DEBS = Family("deb_packages", 2500, "libdeb")
RPMS = Family("rpm_packages", 1000, "librpm")
PYTHON = Family("python_packages", 400, "pypkg")
# What a host of each seed_hosts platform installs: (family, items per host).
INSTALLS = {
    "darwin": [(APPS, 300)],
    "windows": [(PROGRAMS, 300)],
    "ubuntu": [(DEBS, 250), (PYTHON, 50)],
    "rhel": [(RPMS, 250), (PYTHON, 50)],
    "centos": [(RPMS, 250), (PYTHON, 50)],
}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.vuln_matching")
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL", "mysql://root@127.0.0.1:3306/test"))
    parser.add_argument("--hosts", type=int, default=10_000)
    parser.add_argument("--advisories", type=int, default=50_000)
    parser.add_argument("--hit-rate", type=float, default=0.15, help="share of advisories naming installed software")
    parser.add_argument("--changed", type=float, default=0.01, help="share of installs upgraded before the re-run")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--profile", action="store_true", help="print the statements that took the most wall time")
    return parser.parse_args()


def setup_django(database_url: str, data_dir: Path) -> None:
    from fleetsite.liveserver import isolated_database_url

    os.environ["DJANGO_SETTINGS_MODULE"] = "fleetsite.settings"
    os.environ["FLEETSITE_DATA_DIR"] = str(data_dir)
    os.environ["DATABASE_URL"] = isolated_database_url(database_url, data_dir, suffix="vulnbench")
    os.environ.pop("REDIS_URL", None)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def checksum(name: str, version: str, source: str, release: str) -> str:
    return hashlib.sha256(f"{name}\0{version}\0{source}\0{release}".encode()).hexdigest()


def seed_software() -> dict[tuple[str, int], list[int]]:
    """Every catalogue version as a Software row; returns ids by (source, name number), oldest first."""
    from hosts.management.commands.seed_hosts import _insert
    from hosts.models import Software

    rows = []
    for family in (APPS, PROGRAMS, DEBS, RPMS, PYTHON):
        for n in range(family.names):
            name = f"{family.prefix}{n:05d}"
            for i in range(VERSIONS_PER_NAME):
                version, release = family.version(n, i)
                rows.append({"name": name, "version": version, "source": family.source, "release": release,
                             "checksum": checksum(name, version, family.source, release)})  # fmt: skip
    _insert(Software, rows)
    ids: dict[tuple[str, int], list[int]] = {}
    for pk, name, source in Software.objects.order_by("pk").values_list("pk", "name", "source"):
        if not name[-5:].isdigit():
            continue  # seed_hosts' own small catalogue
        ids.setdefault((source, int(name[-5:])), []).append(pk)
    return ids


def seed_installs(rng: random.Random, ids: dict[tuple[str, int], list[int]]) -> int:
    """About 300 installs per host from its platform's catalogues; older versions are commoner."""
    from django.db import transaction

    from hosts.management.commands.seed_hosts import _insert
    from hosts.models import Host, HostSoftware

    total = 0
    hosts = list(Host.objects.values_list("pk", "platform"))
    for start in range(0, len(hosts), 500):
        rows = []
        for pk, platform in hosts[start : start + 500]:
            for family, count in INSTALLS.get(platform, []):
                for n in rng.sample(range(family.names), min(count, family.names)):
                    versions = ids[(family.source, n)]
                    rows.append({"host_id": pk, "software_id": rng.choices(versions, weights=(3, 2, 1))[0]})
        with transaction.atomic():
            _insert(HostSoftware, rows)
        total += len(rows)
    return total


def advisories(rng: random.Random, count: int, hit_rate: float) -> Iterator[tuple[str, Family, str, int]]:
    """(kind, family, name, fixed index) per advisory: 40% NVD, 35% Ubuntu, 15% Red Hat, 10% PyPI."""
    plan = [("nvd", APPS, 0.2), ("nvd", PROGRAMS, 0.2), ("osv", DEBS, 0.35), ("osv", RPMS, 0.15), ("osv", PYTHON, 0.1)]
    for kind, family, share in plan:
        for k in range(int(count * share)):
            n = rng.randrange(family.names) if rng.random() < hit_rate else family.names + k
            yield kind, family, f"{family.prefix}{n:05d}", rng.randint(1, VERSIONS_PER_NAME)


def seed_feed(rng: random.Random, count: int, hit_rate: float) -> int:
    """Advisories in the rows the importers write (feeds.py), inserted in bulk."""
    from django.db import transaction
    from django.utils import timezone

    from hosts.management.commands.seed_hosts import _insert
    from vulnerabilities.models import CVE, Advisory, AdvisoryCVE, AffectedPackage, CPEMatch

    now = timezone.now()
    ecosystem = {DEBS.source: ("Ubuntu:22.04:LTS", "Ubuntu", "22.04"), RPMS.source: ("Red Hat:9", "Red Hat", "9"),
                 PYTHON.source: ("PyPI", "PyPI", "")}  # fmt: skip
    cves, cpes, advisory_rows, affected, aliases = [], [], [], [], []
    for index, (kind, family, name, fixed_index) in enumerate(advisories(rng, count, hit_rate)):
        cve_id = f"CVE-2026-{index + 100000}"
        fixed = family.version(int(name[-5:]), fixed_index)
        fixed_text = f"{fixed[0]}-{fixed[1]}" if fixed[1] else fixed[0]
        if kind == "nvd":
            score = round(rng.uniform(2, 10), 1)
            cves.append({"cve": cve_id, "cvss_score": score, "published": now, "references": "[]"})
            cpes.append((cve_id, {"criteria": f"cpe:2.3:a:vendor:{name}:*:*:*:*:*:*:*:*", "part": "a",
                                  "vendor": "vendor", "product": name, "end_excluding": fixed_text}))  # fmt: skip
        else:
            eco, base, release = ecosystem[family.source]
            osv_id = f"OSV-BENCH-{index}"
            advisory_rows.append({"osv_id": osv_id, "modified": now})
            ranges = [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": fixed_text}]}]
            row = {"ecosystem": eco, "ecosystem_base": base, "release": release, "name": name}
            affected.append((osv_id, {**row, "ranges": json.dumps(ranges), "versions": "[]", "fixed": fixed_text}))
            aliases.append((osv_id, cve_id))
    with transaction.atomic():
        _insert(CVE, cves)
        cve_pk = dict(CVE.objects.values_list("cve", "pk"))
        _insert(CPEMatch, [{**row, "cve_id": cve_pk[cve]} for cve, row in cpes])
        _insert(Advisory, advisory_rows)
        advisory_pk = dict(Advisory.objects.values_list("osv_id", "pk"))
        _insert(AffectedPackage, [{**row, "advisory_id": advisory_pk[osv]} for osv, row in affected])
        _insert(AdvisoryCVE, [{"advisory_id": advisory_pk[osv], "cve": cve} for osv, cve in aliases])
    return len(cves) + len(advisory_rows)


def upgrade_some(rng: random.Random, share: float) -> int:
    """Move `share` of all installs to another version of the same software, as upgrades would: the
    links change and hosts announce it (hosts.signals), as check-ins do."""
    from collections import defaultdict

    from django.db import transaction

    from hosts.models import HostSoftware, Software
    from hosts.signals import software_installs_changed

    siblings: dict[tuple[str, str], list[int]] = {}
    for pk, name, source in Software.objects.values_list("pk", "name", "source"):
        siblings.setdefault((name, source), []).append(pk)
    sibling_of = {pk: group for group in siblings.values() for pk in group}
    installs = list(HostSoftware.objects.values_list("pk", "host_id", "software_id"))
    picked = rng.sample(installs, int(len(installs) * share))
    changed: dict[int, tuple[set[int], set[int]]] = defaultdict(lambda: (set(), set()))
    with transaction.atomic():
        for pk, host_id, software_id in picked:
            other = rng.choice([s for s in sibling_of[software_id] if s != software_id])
            if HostSoftware.objects.filter(host_id=host_id, software_id=other).exists():
                continue
            HostSoftware.objects.filter(pk=pk).update(software_id=other)
            changed[host_id][0].add(other)
            changed[host_id][1].add(software_id)
        for host_id, (added, removed) in changed.items():
            software_installs_changed.send(sender=HostSoftware, host_id=host_id, added=added, removed=removed)
    return sum(len(added) for added, _ in changed.values())


class StatementProfile:
    """Wall time per statement shape (literals and IN lists folded), through Django's execute wrapper.

    With mysqlclient a result is read in full inside `execute`, so this is the time the database (and
    the wire) took, not the Python that used the rows.
    """

    def __init__(self) -> None:
        self.shapes: dict[str, list[float]] = {}

    def __call__(self, execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        started = time.monotonic()
        try:
            return execute(sql, params, many, context)
        finally:
            entry = self.shapes.setdefault(self.shape(sql), [0, 0, 0.0])
            entry[0] += 1
            entry[1] += len(params) if many and params is not None else 1
            entry[2] += time.monotonic() - started

    @staticmethod
    def shape(sql: str) -> str:
        sql = re.sub(r"\b\d+\b", "?", sql)
        sql = re.sub(r"\((?:%s|\?)(?:, (?:%s|\?))+\)", "(…)", sql)
        return re.sub(r"\(…\)(?:, \(…\))+", "(…), …", sql)

    def report(self, top: int = 12) -> str:
        total = sum(entry[2] for entry in self.shapes.values())
        lines = [f"    statements: {sum(int(e[0]) for e in self.shapes.values()):,} calls, {total:.1f} s wall"]
        for sql, (calls, rows, seconds) in sorted(self.shapes.items(), key=lambda item: -item[1][2])[:top]:
            lines.append(f"    {seconds:7.2f} s {int(calls):6,} calls {int(rows):9,} rows  {sql[:150]}")
        self.shapes.clear()
        return "\n".join(lines)


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def timed_match(profile: StatementProfile | None = None) -> tuple[float, float, object]:
    from django.db import connection

    from vulnerabilities import matching

    wall, cpu = time.monotonic(), cpu_seconds()
    if profile is None:
        report = matching.run()
    else:
        with connection.execute_wrapper(profile):
            report = matching.run()
    return time.monotonic() - wall, cpu_seconds() - cpu, report


def verdict(seconds: float, target: float) -> str:
    return f"ok (<= {target:g} s)" if seconds <= target else f"OVER {target:g} s"


def main() -> None:
    args = parse_args()
    rng = random.Random(args.seed)
    scratch = tempfile.TemporaryDirectory(prefix="fleetsite-vulnbench-")
    with sized_for_bench(args.database_url) as sizing, scratch as tmp:
        setup_django(args.database_url, Path(tmp))
        from django.conf import settings
        from django.core.management import call_command

        engine = settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1]
        print(f"vulnerability matching: {args.hosts:,} hosts, {args.advisories:,} advisories, database {engine}")
        print(f"  {sizing}")
        started = time.monotonic()
        call_command("seed_hosts", str(args.hosts), software=0, quiet=True, stdout=open(os.devnull, "w"))  # noqa: SIM115
        ids = seed_software()
        installs = seed_installs(rng, ids)
        feed = seed_feed(rng, args.advisories, args.hit_rate)
        print(f"  seeded {len(ids) * VERSIONS_PER_NAME:,} software versions, {installs:,} installs "
              f"({installs / max(args.hosts, 1):.0f} per host), {feed:,} advisories in "
              f"{time.monotonic() - started:.0f} s")  # fmt: skip
        profile = StatementProfile() if args.profile else None
        wall, cpu, report = timed_match(profile)
        print(f"  first run: {wall:6.1f} s wall, {cpu:6.1f} s CPU in this process  {verdict(wall, TARGET_FIRST_S)}")
        print(f"    {report}")
        if profile:
            print(profile.report())
        changed = upgrade_some(rng, args.changed)
        wall, cpu, report = timed_match(profile)
        print(f"  re-run after {changed:,} installs ({args.changed:.0%}) changed version: {wall:6.1f} s wall, "
              f"{cpu:6.1f} s CPU  {verdict(wall, TARGET_RERUN_S)}")  # fmt: skip
        print(f"    {report}")
        if profile:
            print(profile.report())
        from django.db import connections

        connections.close_all()
        drop_isolated_database(os.environ["DATABASE_URL"])  # about 600 MB at 10,000 hosts
    sys.stdout.flush()


if __name__ == "__main__":
    main()
