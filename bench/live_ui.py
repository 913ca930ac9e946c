"""Live query results at fleet scale (issue 17): `python -m bench.live_ui`.

Seeds a fresh database with `--hosts` hosts, runs one campaign that every host answers with
`--rows` rows (through `campaigns.save`, as distributed/write does), then reopens the finished
campaign's page and exports its CSV through Django's test client, reporting sizes and times.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from datetime import timedelta
from pathlib import Path


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.live_ui")
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL", "sqlite://"))
    parser.add_argument("--hosts", type=int, default=1000)
    parser.add_argument("--rows", type=int, default=50)
    return parser.parse_args()


def setup_django(database_url: str, data_dir: Path) -> None:
    from fleetsite.liveserver import isolated_database_url

    os.environ["DJANGO_SETTINGS_MODULE"] = "fleetsite.settings"
    os.environ["FLEETSITE_DATA_DIR"] = str(data_dir)
    os.environ["DATABASE_URL"] = isolated_database_url(database_url, data_dir, suffix="liveuibench")
    os.environ.pop("REDIS_URL", None)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def main() -> None:
    args = parse_args()
    with tempfile.TemporaryDirectory(prefix="fleetsite-liveuibench-") as tmp:
        setup_django(args.database_url, Path(tmp))
        from django.conf import settings
        from django.core.management import call_command
        from django.test import Client
        from django.utils import timezone

        from accounts.choices import Role
        from accounts.models import User
        from hosts.models import Host
        from queries import campaigns
        from queries.choices import CampaignStatus
        from queries.models import Campaign, CampaignTarget, Query

        engine = settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1]
        print(f"live query UI: {args.hosts:,} hosts x {args.rows} rows, database {engine}")
        call_command("seed_hosts", str(args.hosts), software=0, quiet=True, stdout=open(os.devnull, "w"))  # noqa: SIM115
        admin = User.objects.create_user("bench@example.com", "bench-password-1!", global_role=Role.ADMIN)
        query = Query.objects.create(name="bench", query="SELECT * FROM processes;", saved=False)
        hosts = list(Host.objects.all())
        campaign = Campaign.objects.create(
            query=query, user=admin, expires_at=timezone.now() + timedelta(hours=1), selected={"hosts": []}
        )
        CampaignTarget.objects.bulk_create([CampaignTarget(campaign=campaign, host=host) for host in hosts])
        started = time.monotonic()
        for host in hosts:
            rows = [
                {"pid": str(n), "name": f"proc{n}", "path": f"/usr/bin/proc{n}", "uid": "0"} for n in range(args.rows)
            ]
            campaigns.save(host, [campaigns.CampaignAnswer(campaign.pk, rows, None, None)], timezone.now())
        writes = time.monotonic() - started
        print(
            f"  stored {args.hosts * args.rows:,} rows in {writes:.1f} s ({writes / len(hosts) * 1000:.1f} ms a host)"
        )
        Campaign.objects.filter(pk=campaign.pk).update(status=CampaignStatus.COMPLETE)
        client = Client()
        client.force_login(admin)
        for run in ("cold", "warm"):  # the first request also imports and compiles templates
            started = time.monotonic()
            page = client.get(f"/queries/live/{campaign.pk}/")
            took = time.monotonic() - started
            print(f"  reopen ({run}): {len(page.content) / 1024:.0f} KiB in {took:.2f} s (status {page.status_code})")
        started = time.monotonic()
        later = client.get(f"/queries/live/{campaign.pk}/rows/?sort=name&dir=desc&q=proc4")
        print(f"  sorted, filtered page: {len(later.content) / 1024:.0f} KiB in {time.monotonic() - started:.2f} s")
        started = time.monotonic()
        export = client.get(f"/queries/live/{campaign.pk}/results.csv")
        size = sum(len(chunk) for chunk in export.streaming_content)
        print(f"  CSV: {size / 1024 / 1024:.1f} MiB in {time.monotonic() - started:.2f} s")


if __name__ == "__main__":
    main()
