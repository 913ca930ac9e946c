"""Hosts and what their agents report about them."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.db import models
from django.db.models import Q, Value
from django.db.models.functions import Coalesce, NullIf
from django.utils import timezone

from hosts import checkin_cache
from hosts.choices import DeviceMappingSource, LabelMembershipType, LabelType
from hosts.constants import NEVER_UPDATED, ONLINE_INTERVAL_BUFFER


def online_window(distributed_interval: int, config_tls_refresh: int) -> timedelta:
    """fleet-protocol §5: how long after a check-in a host still counts as online."""
    return timedelta(seconds=min(distributed_interval or 0, config_tls_refresh or 0) + ONLINE_INTERVAL_BUFFER)


def _never() -> datetime:
    return NEVER_UPDATED


# Sort columns with no index of their own otherwise (hostname, times, platform, IP and serial have one).
SORT_INDEXED = (
    "computer_name", "display_name_sort", "updated_at", "os_version", "osquery_version", "memory",
    "uptime_seconds", "gigs_disk_space_available",
)  # fmt: skip


class HostQuerySet(models.QuerySet):
    """Host rows written through a queryset are forgotten by the check-in cache (hosts/checkin_cache.py)."""

    def update(self, **kwargs: Any) -> int:
        updated = super().update(**kwargs)
        checkin_cache.forget_queryset(self)  # after the write: a reader before it may have kept the old row
        return updated

    def delete(self) -> tuple[int, dict[str, int]]:
        deleted = super().delete()
        checkin_cache.forget_queryset(self)
        return deleted


class Host(models.Model):
    """One computer, whichever of its agents (osquery, orbit) enrolled first.

    Node keys are stored as SHA-256 digests. `online_until` is `seen_time` plus the online window,
    kept beside it so that status filters are plain indexed comparisons on every database.
    """

    team = models.ForeignKey("accounts.Team", null=True, blank=True, on_delete=models.SET_NULL, related_name="hosts")
    osquery_host_id = models.CharField(max_length=255, unique=True, null=True, blank=True)
    node_key_digest = models.CharField(max_length=64, unique=True, null=True, blank=True)
    orbit_node_key_digest = models.CharField(max_length=64, unique=True, null=True, blank=True)
    device_token_digest = models.CharField(max_length=64, unique=True, null=True, blank=True)
    device_token_updated_at = models.DateTimeField(null=True, blank=True)

    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)
    detail_updated_at = models.DateTimeField(default=_never)
    label_updated_at = models.DateTimeField(default=_never)
    policy_updated_at = models.DateTimeField(default=_never)
    last_enrolled_at = models.DateTimeField(default=timezone.now)
    last_restarted_at = models.DateTimeField(null=True, blank=True)
    seen_time = models.DateTimeField(default=timezone.now, db_index=True)
    online_until = models.DateTimeField(default=timezone.now, db_index=True)
    refetch_requested = models.BooleanField(default=True)
    refetch_critical_queries_until = models.DateTimeField(null=True, blank=True)

    hostname = models.CharField(max_length=255, blank=True, db_index=True)
    computer_name = models.CharField(max_length=255, blank=True)
    uuid = models.CharField(max_length=255, blank=True, db_index=True)
    platform = models.CharField(max_length=64, blank=True, db_index=True)
    platform_like = models.CharField(max_length=64, blank=True)
    osquery_version = models.CharField(max_length=64, blank=True)
    orbit_version = models.CharField(max_length=64, blank=True, null=True)
    fleet_desktop_version = models.CharField(max_length=64, blank=True, null=True)
    scripts_enabled = models.BooleanField(null=True, blank=True)
    # When scripts or installs were last queued for fleetd; None once orbit config found none (hosts/upcoming.py).
    work_queued_at = models.DateTimeField(null=True, blank=True)
    # Digests of the side-table sections last stored (software, users, ...): hosts/digests.py.
    detail_digests = models.CharField(max_length=255, blank=True, default="")
    os_version = models.CharField(max_length=255, blank=True)
    build = models.CharField(max_length=64, blank=True)
    code_name = models.CharField(max_length=64, blank=True)
    timezone = models.CharField(max_length=64, blank=True, null=True)

    uptime_seconds = models.BigIntegerField(default=0)
    memory = models.BigIntegerField(default=0)
    cpu_type = models.CharField(max_length=255, blank=True)
    cpu_subtype = models.CharField(max_length=255, blank=True)
    cpu_brand = models.CharField(max_length=255, blank=True)
    cpu_physical_cores = models.IntegerField(default=0)
    cpu_logical_cores = models.IntegerField(default=0)
    hardware_vendor = models.CharField(max_length=255, blank=True)
    hardware_model = models.CharField(max_length=255, blank=True)
    hardware_version = models.CharField(max_length=255, blank=True)
    hardware_serial = models.CharField(max_length=255, blank=True, db_index=True)

    primary_ip = models.CharField(max_length=45, blank=True, db_index=True)
    primary_mac = models.CharField(max_length=17, blank=True)
    public_ip = models.CharField(max_length=45, blank=True)

    distributed_interval = models.IntegerField(default=0)
    config_tls_refresh = models.IntegerField(default=0)
    logger_tls_period = models.IntegerField(default=0)

    gigs_disk_space_available = models.FloatField(default=0)
    percent_disk_space_available = models.FloatField(default=0)
    gigs_total_disk_space = models.FloatField(default=0)
    gigs_all_disk_space = models.FloatField(null=True, blank=True)
    disk_encryption_enabled = models.BooleanField(null=True, blank=True)

    additional = models.JSONField(null=True, blank=True)

    # Host.display_name as a column, so the list sorts by it through an index (see `display_name`).
    display_name_sort = models.GeneratedField(
        expression=Coalesce(NullIf("computer_name", Value("")), "hostname"),
        output_field=models.CharField(max_length=255),
        db_persist=True,
    )

    objects = HostQuerySet.as_manager()

    class Meta:
        indexes = [
            models.Index(fields=["team", "online_until"], name="host_team_online"),
            # Every sort key of the host list (hosts.filtersets.ORDER_KEYS) has an index, so its
            # first page, and a page after a cursor, read 100 entries instead of sorting a million rows.
            *(models.Index(fields=[column], name=f"host_sort_{column}"[:30]) for column in SORT_INDEXED),
            # The list in id order, narrow: a page nobody reached is read by OFFSET, and walking the
            # primary key on MySQL reads whole rows (hosts.paging.ID_ORDER_INDEX, which names it).
            # It holds the team so a team-scoped user's list is read from it alone. Only inserts,
            # deletes and team transfers write it (ids never change).
            models.Index(fields=["id", "team"], name="host_id_team"),
            # A team's hosts in id order: the team filter's pages and the team-name sort read one range
            # each (with only (team, online_until), MariaDB sorted a team's 250,000 ids for a page).
            models.Index(fields=["team", "id"], name="host_team_id"),
        ]

    def __str__(self) -> str:
        return self.display_name or f"host {self.pk}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        super().save(*args, **kwargs)
        checkin_cache.forget_hosts([self.pk])

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        pk = self.pk
        deleted = super().delete(*args, **kwargs)
        checkin_cache.forget_hosts([pk])
        return deleted

    @property
    def display_name(self) -> str:
        """Fleet shows the computer name when the agent reported one, else the hostname."""
        return self.computer_name or self.hostname

    def belongs_here(self, path: str = "") -> Q:
        """Labels, policies or queries (at `path`, e.g. "policy__") of every host or of this host's team.

        A host moved to another team keeps rows from its old team's policies, labels and
        reports; what is shown of a host is limited to these, so the new team sees nothing
        of the old one.
        """
        return Q(**{f"{path}team__isnull": True}) | Q(**{f"{path}team_id": self.team_id})

    @property
    def online_interval(self) -> timedelta:
        return online_window(self.distributed_interval, self.config_tls_refresh)


class HostUser(models.Model):
    """A local account on a host, from the `users` detail query."""

    host = models.ForeignKey(Host, on_delete=models.CASCADE, related_name="users")
    uid = models.BigIntegerField()
    username = models.CharField(max_length=255)
    type = models.CharField(max_length=64, blank=True)
    groupname = models.CharField(max_length=255, blank=True)
    shell = models.CharField(max_length=255, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["host", "uid", "username"], name="unique_host_user")]


class Software(models.Model):
    """One software title at one version, shared across the hosts that have it."""

    name = models.CharField(max_length=255)
    version = models.CharField(max_length=255, blank=True)
    source = models.CharField(max_length=64)
    bundle_identifier = models.CharField(max_length=255, blank=True)
    extension_for = models.CharField(max_length=64, blank=True)
    vendor = models.CharField(max_length=255, blank=True)
    release = models.CharField(max_length=64, blank=True)
    arch = models.CharField(max_length=32, blank=True)
    # A digest of the identifying columns: MariaDB cannot put a unique index on all of them. On
    # MySQL the column is ASCII with a binary collation (migration 0008), set outside Django's
    # field: an AlterField of it must keep that.
    checksum = models.CharField(max_length=64, unique=True)

    class Meta:
        verbose_name_plural = "software"
        indexes = [models.Index(fields=["name", "source"], name="software_title")]

    def __str__(self) -> str:
        return f"{self.name} {self.version}"


class HostSoftware(models.Model):
    """Which software a host has installed, as of its last software detail query."""

    host = models.ForeignKey(Host, on_delete=models.CASCADE, related_name="software_installs")
    # No database constraint (as in Fleet's host_software): checking the catalogue row of each link
    # inserted was a third of a 30,000-package first answer's INSERT. Catalogue rows are only ever
    # deleted through the ORM, whose cascade removes their links.
    software = models.ForeignKey(Software, on_delete=models.CASCADE, related_name="installs", db_constraint=False)
    last_opened_at = models.DateTimeField(null=True, blank=True)
    installed_path = models.CharField(max_length=1024, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["host", "software"], name="unique_host_software")]
        # The host list filtered by a software version reads its hosts in id order from here.
        indexes = [models.Index(fields=["software", "host"], name="host_software_by_version")]


class Label(models.Model):
    """A set of hosts: built in, dynamic (an SQL query the hosts run) or manual."""

    name = models.CharField(max_length=255, unique=True)
    description = models.TextField(blank=True)
    query = models.TextField(blank=True)
    platform = models.CharField(max_length=255, blank=True)
    label_type = models.CharField(max_length=16, choices=LabelType.choices, default=LabelType.REGULAR)
    label_membership_type = models.CharField(
        max_length=16, choices=LabelMembershipType.choices, default=LabelMembershipType.DYNAMIC
    )
    author = models.ForeignKey("accounts.User", null=True, blank=True, on_delete=models.SET_NULL)
    team = models.ForeignKey("accounts.Team", null=True, blank=True, on_delete=models.CASCADE)
    hosts = models.ManyToManyField(Host, through="LabelMembership", related_name="labels")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.name


class LabelMembership(models.Model):
    """A host is in a label; absence means it is not (or not known to be)."""

    label = models.ForeignKey(Label, on_delete=models.CASCADE)
    host = models.ForeignKey(Host, on_delete=models.CASCADE)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["label", "host"], name="unique_label_member")]


class HostDeviceMapping(models.Model):
    """An e-mail address of a host's user, with where it came from (Fleet's `host_emails`).

    Custom sources are stored apart (`custom_installer` from fleetd, `custom_override` from a
    user) and both answered as "custom", as Fleet does.
    """

    host = models.ForeignKey(Host, on_delete=models.CASCADE, related_name="device_mappings")
    email = models.CharField(max_length=255)
    source = models.CharField(max_length=32, choices=DeviceMappingSource.choices)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["host", "email", "source"], name="unique_host_device_mapping")]

    def __str__(self) -> str:
        return f"{self.email} ({self.source})"
