"""Saved and scheduled queries (Fleet's "reports"), their stored results, policies and live-query campaigns.

Global objects have no team. Names are unique per team; `team_key` (the team id, or 0 for
global) carries that constraint because MySQL cannot put a partial unique index on NULL teams.
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from queries.choices import CampaignStatus, Logging, TargetStatus


class TeamScoped(models.Model):
    """An object that belongs to one team or to everyone."""

    team = models.ForeignKey("accounts.Team", null=True, blank=True, on_delete=models.CASCADE)
    team_key = models.BigIntegerField(default=0, editable=False)

    class Meta:
        abstract = True

    def save(self, *args: object, **kwargs: object) -> None:
        self.team_key = self.team_id or 0
        super().save(*args, **kwargs)


class Query(TeamScoped):
    """A query admins saved, optionally scheduled on the hosts, whose results form a report."""

    name = models.CharField(max_length=255)
    description = models.TextField(blank=True)
    query = models.TextField()
    platform = models.CharField(max_length=255, blank=True, help_text="comma list of darwin,windows,linux,chrome")
    min_osquery_version = models.CharField(max_length=64, blank=True)
    interval = models.PositiveIntegerField(default=0, help_text="seconds; 0 means not scheduled")
    automations_enabled = models.BooleanField(default=False)
    logging = models.CharField(max_length=32, choices=Logging.choices, default=Logging.SNAPSHOT)
    observer_can_run = models.BooleanField(default=False)
    discard_data = models.BooleanField(default=False)
    # Ad-hoc live queries create unsaved queries; they are not listed or scheduled.
    saved = models.BooleanField(default=True)
    author = models.ForeignKey("accounts.User", null=True, blank=True, on_delete=models.SET_NULL)
    # Beyond Fleet's fixed 1,000-row cap: per-query report retention by rows and age.
    report_max_rows = models.PositiveIntegerField(default=1000)
    report_max_age_days = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "queries"
        ordering = ["name", "id"]
        constraints = [models.UniqueConstraint(fields=["team_key", "name"], name="unique_query_name_per_team")]

    def __str__(self) -> str:
        return self.name


class QueryReportRow(models.Model):
    """One result row of a scheduled query from one host: the query's report."""

    query = models.ForeignKey(Query, on_delete=models.CASCADE, related_name="report_rows")
    host = models.ForeignKey("hosts.Host", on_delete=models.CASCADE, related_name="report_rows")
    data = models.JSONField()
    last_fetched = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [
            models.Index(fields=["query", "host"], name="report_query_host"),
            models.Index(fields=["query", "last_fetched"], name="report_query_fetched"),
        ]


class Policy(TeamScoped):
    """A yes/no question asked of every host: rows mean the host passes."""

    name = models.CharField(max_length=255)
    query = models.TextField()
    description = models.TextField(blank=True)
    resolution = models.TextField(blank=True)
    platform = models.CharField(max_length=255, blank=True)
    critical = models.BooleanField(default=False)
    calendar_events_enabled = models.BooleanField(default=False)
    # The failing-policy automation: hosts that start failing are posted to the webhook.
    webhook_enabled = models.BooleanField(default=False)
    # Team policies' automations: a host that starts failing gets this script run or package installed.
    script = models.ForeignKey("scripts.Script", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    software_installer = models.ForeignKey(
        "software_installers.SoftwareInstaller", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    author = models.ForeignKey("accounts.User", null=True, blank=True, on_delete=models.SET_NULL)
    passing_host_count = models.PositiveIntegerField(default=0)
    failing_host_count = models.PositiveIntegerField(default=0)
    host_count_updated_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "policies"
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["team_key", "name"], name="unique_policy_name_per_team")]

    def __str__(self) -> str:
        return self.name


class PolicyMembership(models.Model):
    """A host's latest answer to a policy: passes True/False, or None when its query failed."""

    policy = models.ForeignKey(Policy, on_delete=models.CASCADE, related_name="memberships")
    host = models.ForeignKey("hosts.Host", on_delete=models.CASCADE, related_name="policy_memberships")
    passes = models.BooleanField(null=True)
    updated_at = models.DateTimeField(default=timezone.now)
    # Set when the host flips to failing; the webhook job sends and clears it.
    webhook_pending = models.BooleanField(default=False)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["policy", "host"], name="unique_policy_member")]
        indexes = [
            models.Index(fields=["host", "passes"], name="policy_member_host_passes"),
            # The host list filtered by a policy's answers reads its hosts in id order from here.
            models.Index(fields=["policy", "passes", "host"], name="policy_member_answer"),
        ]


class Campaign(models.Model):
    """A live query sent to a set of hosts; results stream to websockets and are kept."""

    query = models.ForeignKey(Query, on_delete=models.CASCADE, related_name="campaigns")
    user = models.ForeignKey("accounts.User", null=True, on_delete=models.SET_NULL, related_name="campaigns")
    status = models.PositiveSmallIntegerField(choices=CampaignStatus.choices, default=CampaignStatus.WAITING)
    # What the user picked: {"hosts": [ids], "labels": [ids], "teams": [ids]}.
    selected = models.JSONField(default=dict)
    # Beyond Fleet: a campaign may stay open for hours or days for hosts that come online later.
    keep_open_until = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(db_index=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"campaign {self.pk}"


class CampaignTarget(models.Model):
    """A host a campaign was sent to, and whether it answered."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="targets")
    host = models.ForeignKey("hosts.Host", on_delete=models.CASCADE, related_name="campaign_targets")
    status = models.PositiveSmallIntegerField(choices=TargetStatus.choices, default=TargetStatus.PENDING)
    answered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["campaign", "host"], name="unique_campaign_target")]
        indexes = [models.Index(fields=["host", "status"], name="campaign_target_host_status")]


class CampaignResult(models.Model):
    """One host's answer to a campaign, kept so results survive the websocket."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="results")
    host = models.ForeignKey("hosts.Host", null=True, on_delete=models.SET_NULL)
    host_display_name = models.CharField(max_length=255, blank=True)
    rows = models.JSONField(default=list)
    error = models.TextField(null=True, blank=True)
    stats = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["id"]


class CampaignRow(models.Model):
    """One result row of a campaign, stored as it arrives so the results page can page, filter and export in SQL."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="rows")
    host = models.ForeignKey("hosts.Host", null=True, on_delete=models.SET_NULL, related_name="+")
    host_display_name = models.CharField(max_length=255, blank=True)
    # The row's position in its host's answer, so a host's rows keep their order.
    row_number = models.PositiveIntegerField(default=0)
    data = models.JSONField(default=dict)
    # The row's values, lowercased and tab-joined: the column-text filter is a plain LIKE on every database.
    search = models.TextField(blank=True)

    class Meta:
        ordering = ["id"]
        # Keyset paging walks (campaign, id); the host filter walks (campaign, host, id).
        indexes = [
            models.Index(fields=["campaign", "id"], name="campaign_row_keyset"),
            models.Index(fields=["campaign", "host", "id"], name="campaign_row_host_keyset"),
        ]


class Pack(models.Model):
    """A legacy (2017) query pack: scheduled queries sent to the hosts it targets, directly or by label or team.

    Fleet's own "Global" and "team-<id>" packs are the scheduled queries themselves (queries.schedule); only
    user packs are stored here.
    """

    name = models.CharField(max_length=255, unique=True)
    description = models.TextField(blank=True)
    platform = models.CharField(max_length=255, blank=True)
    disabled = models.BooleanField(default=False)
    hosts = models.ManyToManyField("hosts.Host", blank=True, related_name="packs")
    labels = models.ManyToManyField("hosts.Label", blank=True, related_name="packs")
    teams = models.ManyToManyField("accounts.Team", blank=True, related_name="packs")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name


class PackQuery(models.Model):
    """A saved query scheduled in a pack, with osquery's per-query pack options (None: osquery's default)."""

    pack = models.ForeignKey(Pack, on_delete=models.CASCADE, related_name="scheduled")
    query = models.ForeignKey(Query, on_delete=models.CASCADE, related_name="pack_schedules")
    name = models.CharField(max_length=255)
    description = models.TextField(blank=True)
    interval = models.PositiveIntegerField()
    snapshot = models.BooleanField(null=True)
    removed = models.BooleanField(null=True)
    platform = models.CharField(max_length=255, null=True, blank=True)
    version = models.CharField(max_length=64, null=True, blank=True)
    shard = models.PositiveSmallIntegerField(null=True, blank=True)
    denylist = models.BooleanField(null=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["pack", "name"], name="unique_pack_query_name")]

    def __str__(self) -> str:
        return f"{self.pack_id}/{self.name}"
