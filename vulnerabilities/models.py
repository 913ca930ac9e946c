"""CVEs and advisories from the feeds, OS versions, and which hosts have (had) which CVE.

CVE ids are kept as text on the match tables (not foreign keys) so that an OSV advisory whose CVE
is not in the NVD feed yet, or a GHSA without a CVE, still matches and shows up.
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from vulnerabilities.choices import MatchSource


class CVE(models.Model):
    """One vulnerability by its id (CVE-2024-1234, or an advisory id when it has no CVE), with NVD/EPSS/KEV data."""

    cve = models.CharField(max_length=64, unique=True)
    description = models.TextField(blank=True)
    published = models.DateTimeField(null=True, blank=True)
    modified = models.DateTimeField(null=True, blank=True)
    cvss_score = models.FloatField(null=True, blank=True)
    severity = models.CharField(max_length=16, blank=True)
    epss_probability = models.FloatField(null=True, blank=True)
    cisa_known_exploit = models.BooleanField(default=False)
    # NVD "Rejected" or every OSV advisory naming it withdrawn: no longer matched, history kept.
    withdrawn = models.BooleanField(default=False)
    # NVD's references, checked on import (feeds.nvd_references): [{"url", "source", "tags"}], at most 20.
    references = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["cve"]

    def __str__(self) -> str:
        return self.cve


class Advisory(models.Model):
    """One OSV record (GHSA-…, PYSEC-…, DSA-…, DEBIAN-CVE-…)."""

    osv_id = models.CharField(max_length=128, unique=True)
    modified = models.DateTimeField()
    withdrawn = models.DateTimeField(null=True, blank=True)
    summary = models.TextField(blank=True)

    def __str__(self) -> str:
        return self.osv_id


class AdvisoryCVE(models.Model):
    """A CVE an advisory is about (its CVE aliases or upstream ids; its own id when it names none)."""

    advisory = models.ForeignKey(Advisory, on_delete=models.CASCADE, related_name="cves")
    cve = models.CharField(max_length=64, db_index=True)


class AffectedPackage(models.Model):
    """An advisory's affected package in one ecosystem, with OSV's range events and explicit versions."""

    advisory = models.ForeignKey(Advisory, on_delete=models.CASCADE, related_name="affected")
    ecosystem = models.CharField(max_length=128)  # as OSV writes it: "Debian:11", "Ubuntu:22.04:LTS", "PyPI"
    ecosystem_base = models.CharField(max_length=64)  # "Debian", "Ubuntu", "PyPI", "npm", "Red Hat", …
    release = models.CharField(max_length=32, blank=True)  # "11", "22.04"; blank for language ecosystems
    name = models.CharField(max_length=255)
    ranges = models.JSONField(default=list)  # OSV ranges of type ECOSYSTEM/SEMVER: [{"type", "events"}]
    versions = models.JSONField(default=list)
    fixed = models.CharField(max_length=255, blank=True)  # the last "fixed" event: Fleet's resolved_in_version

    class Meta:
        indexes = [models.Index(fields=["ecosystem_base", "name"], name="affected_pkg")]


class CPEMatch(models.Model):
    """One vulnerable cpeMatch of an NVD CVE's configurations, with its version range."""

    cve = models.ForeignKey(CVE, on_delete=models.CASCADE, related_name="cpe_matches")
    criteria = models.CharField(max_length=512)
    part = models.CharField(max_length=1)  # a: application, o: operating system
    vendor = models.CharField(max_length=255)
    product = models.CharField(max_length=255)
    version = models.CharField(max_length=255, blank=True)  # "*" or "-" become blank: any version
    start_including = models.CharField(max_length=255, blank=True)
    start_excluding = models.CharField(max_length=255, blank=True)
    end_including = models.CharField(max_length=255, blank=True)
    end_excluding = models.CharField(max_length=255, blank=True)

    class Meta:
        indexes = [models.Index(fields=["product", "vendor"], name="cpe_product")]


class OSVersion(models.Model):
    """An operating system version as hosts report it (Fleet's os_versions), found by the matching job."""

    name = models.CharField(max_length=255)  # the host's os_version: "macOS 14.1.2"
    name_only = models.CharField(max_length=255)
    version = models.CharField(max_length=255, blank=True)
    platform = models.CharField(max_length=64)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["name", "platform"], name="unique_os_version")]


class SoftwareVulnerability(models.Model):
    """A software version's current match to a CVE (Fleet's software_cve), replaced by each matching run."""

    software = models.ForeignKey("hosts.Software", on_delete=models.CASCADE, related_name="vulnerabilities")
    cve = models.CharField(max_length=64, db_index=True)
    source = models.CharField(max_length=8, choices=MatchSource.choices)
    # deb/rpm matches depend on the host's distribution release: blank for everything else.
    ecosystem = models.CharField(max_length=64, blank=True)
    resolved_in_version = models.CharField(max_length=255, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["software", "cve", "ecosystem"], name="unique_software_cve"),
        ]


class OSVulnerability(models.Model):
    """An OS version's current match to a CVE (from NVD's `o` CPEs)."""

    os_version = models.ForeignKey(OSVersion, on_delete=models.CASCADE, related_name="vulnerabilities")
    cve = models.CharField(max_length=64, db_index=True)
    resolved_in_version = models.CharField(max_length=255, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["os_version", "cve"], name="unique_os_cve")]


class HostVulnerability(models.Model):
    """When a host was first found with a CVE (through one software or OS version) and when that ended.

    `resolved_at` null means still open. A CVE that comes back later opens a new row, so the history
    of open vulnerabilities over time can be drawn from these rows alone.
    """

    host = models.ForeignKey("hosts.Host", on_delete=models.CASCADE, related_name="vulnerabilities")
    cve = models.CharField(max_length=64)
    # Indexed with the host below: change-log runs look rows up by (host, software) pair.
    software = models.ForeignKey("hosts.Software", null=True, blank=True, on_delete=models.SET_NULL, db_index=False)
    os_version = models.ForeignKey(OSVersion, null=True, blank=True, on_delete=models.SET_NULL)
    # "s<software id>" or "o<os version id>": one key for both, since a nullable pair cannot be unique on MariaDB.
    via = models.CharField(max_length=32)
    first_detected_at = models.DateTimeField(default=timezone.now)
    # No index of its own: every query that filters on it also filters on the host or the CVE, and a
    # fifth index on a table of millions of rows made the first matching run a third slower.
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["host", "resolved_at"], name="host_vuln_open"),
            models.Index(fields=["cve", "resolved_at"], name="cve_vuln_open"),
            models.Index(fields=["software", "host"], name="host_vuln_software"),
        ]


class SoftwareChange(models.Model):
    """A software install (or removal) on a host since the last matching run read the log.

    Written by the `hosts.signals.software_installs_changed` receiver in the host's transaction;
    plain ids, no foreign keys, so a check-in never waits on locks here and a deleted host's rows
    are simply skipped. Matching deletes the rows it has read.
    """

    host_id = models.BigIntegerField()
    software_id = models.BigIntegerField()
    installed = models.BooleanField()


class MatchedHost(models.Model):
    """The package ecosystem (e.g. "Ubuntu:22.04") a host's packages were last matched under.

    A host that moves to another distribution release keeps its package rows but needs them matched
    again; comparing this column with the host's current OS finds it without a change-log entry.
    """

    host_id = models.BigIntegerField(primary_key=True)
    ecosystem = models.CharField(max_length=64, blank=True)


class MatchState(models.Model):
    """One row: the feed generation the last full match used, so an hourly run knows whether
    the feeds changed (full run) or only hosts' software did (a run over the change log)."""

    feeds_generation = models.PositiveBigIntegerField(default=0)
    matched_generation = models.PositiveBigIntegerField(null=True, blank=True)
    full_run_at = models.DateTimeField(null=True, blank=True)
    run_at = models.DateTimeField(null=True, blank=True)
