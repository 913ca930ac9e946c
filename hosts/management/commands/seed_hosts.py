"""`manage.py seed_hosts N`: N realistic fake hosts for the UI and the hosts-list benchmark.

Rows go in with bulk_create in batches, so 100,000 hosts take seconds, not minutes. Hosts get
a platform mix, vitals, disk, network, a team (if any exist), label memberships (the built-in
labels by platform) and a few software titles from a shared catalogue.
"""

from __future__ import annotations

import json
import random
import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db import connection, models, transaction
from django.utils import timezone

from accounts.models import Team
from fleetsite.lib.tokens import digest
from hosts.choices import LabelType
from hosts.models import Host, HostSoftware, Label, LabelMembership, Software
from queries.models import Policy, PolicyMembership

BATCH = 5000
PLATFORMS = [
    # (platform, platform_like, os_version, weight, hardware)
    ("darwin", "darwin", "macOS 14.5", 40, ("Apple Inc.", "MacBookPro18,3", "Apple M1 Pro")),
    ("darwin", "darwin", "macOS 15.1", 15, ("Apple Inc.", "Mac14,2", "Apple M2")),
    ("windows", "windows", "Windows 11 Enterprise 23H2", 25, ("Dell Inc.", "Latitude 7440", "Intel Core i7-1365U")),
    ("ubuntu", "debian", "Ubuntu 22.04.4 LTS", 12, ("LENOVO", "ThinkPad T14 Gen 3", "AMD Ryzen 7 PRO 6850U")),
    ("rhel", "rhel", "Red Hat Enterprise Linux 9.3", 5, ("HPE", "ProLiant DL360 Gen10", "Intel Xeon Gold 6230")),
    ("centos", "rhel", "CentOS Stream 9", 3, ("QEMU", "Standard PC (Q35 + ICH9, 2009)", "Intel Xeon Processor")),
]
CATALOGUE = {
    "darwin": [("Google Chrome.app", "apps"), ("Slack.app", "apps"), ("zoom.us.app", "apps"), ("Firefox.app", "apps"),
               ("Visual Studio Code.app", "apps"), ("1Password.app", "apps"), ("git", "homebrew_packages")],
    "windows": [("Google Chrome", "programs"), ("Microsoft Edge", "programs"), ("Slack", "programs"),
                ("Zoom", "programs"), ("7-Zip", "programs"), ("Microsoft Office", "programs")],
    "linux": [("openssl", "deb_packages"), ("curl", "deb_packages"), ("bash", "deb_packages"),
              ("python3", "deb_packages"), ("openssh-server", "deb_packages"), ("systemd", "rpm_packages"),
              ("kernel", "rpm_packages")],
}  # fmt: skip
VERSIONS = ["1.0.0", "1.2.3", "2.0.1", "3.4.0", "120.0.6099", "121.0.6167", "5.17.4", "8.5.0"]
ONLINE_FOR = timedelta(hours=6)
POLICY_PASS_RATES = [0.9, 0.6, 0.97, 0.75, 0.5]
NAMES = ["mbp", "win", "dev", "web", "db", "build", "kiosk", "lab", "ops", "sales", "eng", "ci"]


class _Literals:
    """SQL literals for the seed's own values, written without the driver's per-value quoting.

    The driver's `executemany` quotes every value through a Python call (three quarters of the
    client's time at a million hosts); the seed's values are numbers, datetimes and strings it
    made itself, so one formatter per column type is enough. Strings are still escaped.
    """

    def __init__(self) -> None:
        vendor = connection.vendor
        self.backslashes = vendor == "mysql"  # MySQL/MariaDB read backslash escapes in literals
        # Django keeps naive UTC on MySQL and SQLite; PostgreSQL's timestamptz wants the offset.
        self.zone = "+00:00" if vendor == "postgresql" else ""

    def text(self, value: str) -> str:
        if self.backslashes:
            value = value.replace("\\", "\\\\")
        return "'" + value.replace("'", "''") + "'"

    def value(self, value: Any) -> str:
        if value is None:
            return "NULL"
        if value is True or value is False:
            return "TRUE" if value else "FALSE"
        if isinstance(value, (int, float)):
            return repr(value)
        if isinstance(value, datetime):
            if value.tzinfo is not None:
                value = value.astimezone(UTC).replace(tzinfo=None)
            return f"'{value.isoformat(' ')}{self.zone}'"
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, (date, Decimal)):
            return self.text(str(value))
        return self.text(json.dumps(value))  # JSONField defaults


def _insert(model: type[models.Model], rows: list[dict[str, Any]], per_statement: int = 1000) -> None:
    """Plain multi-row INSERTs, `per_statement` rows each: no model instances, no per-value driver calls.

    Columns a row leaves out get the field's default.
    """
    if not rows:
        return
    fields = [f for f in model._meta.concrete_fields if not f.primary_key and not f.generated]
    names = [f.attname for f in fields]
    defaults = {f.attname: f.get_default() for f in fields}
    literals = _Literals()
    literal = literals.value
    ops = connection.ops
    columns = ", ".join(ops.quote_name(f.column) for f in fields)
    head = f"INSERT INTO {ops.quote_name(model._meta.db_table)} ({columns}) VALUES "
    with connection.cursor() as cursor:
        for start in range(0, len(rows), per_statement):
            values = ",".join(
                "(" + ",".join([literal(row.get(name, defaults[name])) for name in names]) + ")"
                for row in rows[start : start + per_statement]
            )
            cursor.execute(head + values)


class Command(BaseCommand):
    help = "Create N realistic fake hosts (bulk inserts; 100,000 in well under a minute)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("count", type=int)
        parser.add_argument("--software", type=int, default=4, help="software installs per host")
        parser.add_argument("--teams", type=int, default=0, help="teams to spread hosts over (made if missing)")
        parser.add_argument("--policies", type=int, default=0, help="global policies every host answers")
        parser.add_argument("--seed", type=int, default=1)
        parser.add_argument("--quiet", action="store_true")

    def handle(
        self, *args: Any, count: int, software: int, teams: int, policies: int, seed: int, quiet: bool, **options: Any
    ) -> None:
        now = timezone.now()
        for number in range(Team.objects.count() + 1, teams + 1):
            Team.objects.get_or_create(name=f"Seed team {number}")
        team_ids = list(Team.objects.values_list("pk", flat=True)) + [None]
        answers = self._policies(policies)
        labels = self._builtin_labels()
        catalogue = self._catalogue()
        start_id = (Host.objects.order_by("-pk").values_list("pk", flat=True).first() or 0) + 1
        # Seeding twice adds different hosts: the random stream depends on what is already there.
        rng = random.Random(seed * 1_000_003 + start_id)
        weights = [p[3] for p in PLATFORMS]
        created = 0
        while created < count:
            size = min(BATCH, count - created)
            rows = [self._host(rng, now, start_id + created + i, team_ids, weights) for i in range(size)]
            with transaction.atomic():
                before = Host.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
                _insert(Host, rows)
                ids = list(Host.objects.filter(pk__gt=before).values_list("pk", "platform"))
                _insert(
                    LabelMembership,
                    [
                        {"label_id": label, "host_id": pk, "updated_at": now}
                        for pk, platform in ids
                        for label in labels(platform)
                    ],
                )
                installs = []
                for pk, platform in ids:
                    family = "darwin" if platform == "darwin" else "windows" if platform == "windows" else "linux"
                    for software_id in rng.sample(catalogue[family], min(software, len(catalogue[family]))):
                        installs.append({"host_id": pk, "software_id": software_id})
                _insert(HostSoftware, installs)
                _insert(
                    PolicyMembership,
                    [
                        {"policy_id": policy, "host_id": pk, "passes": rng.random() < rate, "updated_at": now}
                        for pk, _ in ids
                        for policy, rate in answers
                    ],
                )
            created += size
            if not quiet:
                self.stdout.write(f"{created}/{count} hosts")
        self.stdout.write(self.style.SUCCESS(f"created {count} hosts"))

    def _host(self, rng: random.Random, now: Any, n: int, teams: list, weights: list[int]) -> dict[str, Any]:
        platform, like, os_version, _, (vendor, model, cpu) = rng.choices(PLATFORMS, weights)[0]
        # Most hosts are online; some went quiet recently; a few are missing (> 30 days).
        roll = rng.random()
        if roll < 0.7:
            seen = now - timedelta(seconds=rng.randint(0, 60))
        elif roll < 0.95:
            seen = now - timedelta(hours=rng.randint(1, 24 * 20))
        else:
            seen = now - timedelta(days=rng.randint(31, 120))
        total = rng.choice([256.0, 512.0, 1000.0, 2000.0])
        free = round(rng.uniform(0.02, 0.8) * total, 1)
        name = f"{rng.choice(NAMES)}-{n:06d}"
        # Unique values grow with `n` (a UUID led by it, a serial and an address from it): a random
        # key lands on a random page of its index, and at a million hosts those indexes outgrow a
        # small buffer pool, so every row would cost disk reads (1,600 hosts/s falling to 500).
        host_uuid = str(uuid.UUID(int=(n << 96) | rng.getrandbits(96)))
        return dict(
            osquery_host_id=f"seed-{host_uuid}",
            node_key_digest=f"{n:016x}{rng.getrandbits(192):048x}",  # no agent holds a seeded host's key
            team_id=rng.choice(teams),
            hostname=f"{name}.corp.example.com",
            computer_name=name,
            uuid=host_uuid,
            platform=platform,
            platform_like=like,
            os_version=os_version,
            osquery_version=rng.choice(["5.11.0", "5.12.1", "5.13.1"]),
            orbit_version=rng.choice(["1.28.0", "1.30.0", None]),
            hardware_vendor=vendor,
            hardware_model=model,
            hardware_serial=f"SN{n:07X}{rng.getrandbits(12):03X}",
            cpu_brand=cpu,
            cpu_type="arm64e" if cpu.startswith("Apple") else "x86_64",
            cpu_physical_cores=rng.choice([4, 8, 10, 16]),
            cpu_logical_cores=rng.choice([8, 10, 16, 32]),
            memory=rng.choice([8, 16, 32, 64]) * 1024**3,
            uptime_seconds=rng.randint(600, 40 * 86400),
            primary_ip=f"10.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}",
            primary_mac=":".join(f"{rng.randint(0, 255):02x}" for _ in range(6)),
            public_ip=f"203.0.113.{rng.randint(1, 254)}",
            distributed_interval=10,
            config_tls_refresh=60,
            logger_tls_period=10,
            gigs_total_disk_space=total,
            gigs_disk_space_available=free,
            percent_disk_space_available=round(100 * free / total, 1),
            disk_encryption_enabled=rng.random() < 0.85,
            seen_time=seen,
            # Online hosts stay online for a few hours, as if they kept checking in while the bench runs.
            online_until=now + ONLINE_FOR if roll < 0.7 else seen + timedelta(seconds=70),
            created_at=seen - timedelta(days=rng.randint(0, 400)),
            last_enrolled_at=seen - timedelta(days=rng.randint(0, 30)),
            detail_updated_at=seen,
            updated_at=seen,
            label_updated_at=seen,
            refetch_requested=False,
        )

    def _builtin_labels(self) -> Any:
        """Which built-in labels a platform's hosts join (All Hosts, and the OS label when it exists)."""
        by_name = dict(Label.objects.filter(label_type=LabelType.BUILTIN).values_list("name", "pk"))
        all_hosts = by_name.get("All Hosts")
        per_platform = {
            "darwin": ["macOS"], "windows": ["MS Windows"], "ubuntu": ["Ubuntu Linux", "All Linux"],
            "rhel": ["Red Hat Linux", "All Linux"], "centos": ["CentOS Linux", "All Linux"],
        }  # fmt: skip
        cache = {
            platform: [pk for pk in [all_hosts, *(by_name.get(n) for n in names)] if pk]
            for platform, names in per_platform.items()
        }
        return lambda platform: cache.get(platform, [all_hosts] if all_hosts else [])

    def _policies(self, count: int) -> list[tuple[int, float]]:
        """`count` global policies (made once) with the share of hosts that pass each."""
        out = []
        for number in range(count):
            name = f"Seed policy {number + 1}"
            policy = Policy.objects.filter(team_key=0, name=name).first() or Policy.objects.create(
                name=name, query="SELECT 1 FROM os_version;", description="seed_hosts"
            )
            out.append((policy.pk, POLICY_PASS_RATES[number % len(POLICY_PASS_RATES)]))
        return out

    def _catalogue(self) -> dict[str, list[int]]:
        """A shared set of software versions per platform family (created once, reused)."""
        out: dict[str, list[int]] = {}
        for family, titles in CATALOGUE.items():
            rows = []
            for name, source in titles:
                for version in VERSIONS[:3]:
                    checksum = digest(f"seed|{name}|{version}|{source}")
                    rows.append(Software(name=name, version=version, source=source, checksum=checksum))
            Software.objects.bulk_create(rows, ignore_conflicts=True)
            checksums = [row.checksum for row in rows]
            out[family] = list(Software.objects.filter(checksum__in=checksums).values_list("pk", flat=True))
        return out
