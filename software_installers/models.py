"""Uploaded software installers, their installs on hosts, and title icons."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from software_installers.choices import InstallStatus


class SoftwareInstaller(models.Model):
    """A package a team offers for install (Fleet's software_installers row), one per title per team.

    `title` is the software row whose id is the title id (hosts/software.py: the smallest id of a
    name and source). `team_key` is the team id or 0, so "no team" also holds one per title.
    """

    team = models.ForeignKey("accounts.Team", null=True, blank=True, on_delete=models.CASCADE)
    team_key = models.BigIntegerField(default=0, editable=False)
    title = models.ForeignKey("hosts.Software", on_delete=models.PROTECT, related_name="installers")
    display_name = models.CharField(max_length=255, blank=True)
    filename = models.CharField(max_length=255)
    extension = models.CharField(max_length=8)
    version = models.CharField(max_length=255, blank=True)
    platform = models.CharField(max_length=16)
    package_ids = models.TextField(blank=True)  # comma-separated, substituted for $PACKAGE_ID
    upgrade_code = models.CharField(max_length=64, blank=True)  # an msi's UpgradeCode, for $UPGRADE_CODE
    storage_id = models.CharField(max_length=64)  # sha256 of the bytes: the stored object's name
    size = models.BigIntegerField(default=0)
    install_script = models.TextField(blank=True)
    uninstall_script = models.TextField(blank=True)
    post_install_script = models.TextField(blank=True)
    pre_install_query = models.TextField(blank=True)
    self_service = models.BooleanField(default=False)
    url = models.CharField(max_length=4000, blank=True)
    labels_include_any = models.ManyToManyField("hosts.Label", blank=True, related_name="+")
    labels_exclude_any = models.ManyToManyField("hosts.Label", blank=True, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    uploaded_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["team_key", "title"], name="one_installer_per_title_team")]

    def __str__(self) -> str:
        return self.filename

    def save(self, *args: object, **kwargs: object) -> None:
        self.team_key = self.team_id or 0
        super().save(*args, **kwargs)

    @property
    def name(self) -> str:
        return self.display_name or self.title.name


class SoftwareInstall(models.Model):
    """One install (or uninstall) of an installer on a host (Fleet's host_software_installs row).

    Pending installs are part of the host's upcoming queue together with pending script
    executions, oldest first (software_installers/queue.py). An uninstall runs the installer's
    uninstall script as a script execution (`execution`), as Fleet does.
    """

    install_uuid = models.CharField(max_length=36, unique=True)
    host = models.ForeignKey("hosts.Host", on_delete=models.CASCADE, related_name="software_installer_runs")
    installer = models.ForeignKey(SoftwareInstaller, null=True, blank=True, on_delete=models.SET_NULL)
    title_id = models.BigIntegerField()
    software_title = models.CharField(max_length=255)
    software_package = models.CharField(max_length=255)
    uninstall = models.BooleanField(default=False)
    execution = models.OneToOneField(
        "scripts.ScriptExecution", null=True, blank=True, on_delete=models.SET_NULL, related_name="uninstall"
    )
    status = models.CharField(max_length=24, choices=InstallStatus.choices)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    self_service = models.BooleanField(default=False)
    policy_id = models.BigIntegerField(null=True, blank=True)  # no FK: queries.Policy points here
    pre_install_condition_output = models.TextField(null=True, blank=True)
    install_script_exit_code = models.IntegerField(null=True, blank=True)
    install_script_output = models.TextField(null=True, blank=True)
    post_install_script_exit_code = models.IntegerField(null=True, blank=True)
    post_install_script_output = models.TextField(null=True, blank=True)
    canceled = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [
            models.Index(fields=["host", "status", "canceled", "created_at"], name="sw_install_queue"),
            models.Index(fields=["host", "title_id", "created_at"], name="sw_install_latest"),
        ]

    def __str__(self) -> str:
        return self.install_uuid


class SoftwareTitleIcon(models.Model):
    """A custom icon a team set for a title (PUT /software/titles/{id}/icon), stored in the database."""

    team_key = models.BigIntegerField(default=0)
    title_id = models.BigIntegerField()
    filename = models.CharField(max_length=255)
    content = models.BinaryField()
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["team_key", "title_id"], name="one_icon_per_title_team")]
