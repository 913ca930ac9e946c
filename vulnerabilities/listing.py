"""The CVE, OS version and host-history lists in SQL, from plain arguments, for the UI pages and the REST API.

Every function takes the hosts the reader may see (already scoped to their teams), so no count or row
ever reaches another team's hosts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db.models import Count, F, Min, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from fleetsite.lib.keyset import NULL, Keyset
from vulnerabilities.models import CVE, HostVulnerability, OSVersion, OSVulnerability

# Sortable columns of the CVE list: the UI's order_key → the annotated column.
CVE_SORTS = {
    "cve": "cve",
    "cvss_score": "cvss_score",
    "epss_probability": "epss_probability",
    "cisa_known_exploit": "cisa_known_exploit",
    "cve_published": "cve_published",
    "hosts_count": "hosts_count",
    "created_at": "created_at",
}
# Columns a CVE may lack (no feed scored or dated it): NULLs sort first ascending, last descending.
NULLABLE_COLUMNS = {"cvss_score", "epss_probability", "cve_published"}
SEVERITIES = ["CRITICAL", "HIGH", "MEDIUM", "LOW"]
OS_SORTS = {"name": "name", "version": "version", "platform": "platform", "hosts_count": "hosts_count",
            "vulnerabilities_count": "vulnerabilities_count"}  # fmt: skip


@dataclass(frozen=True)
class CVEFilters:
    """The CVE list's filters, applied alike to its rows, its count and its chart."""

    exploit: bool = False
    min_cvss: float | None = None
    severity: str = ""  # NVD's baseSeverity: CRITICAL, HIGH, MEDIUM or LOW
    query: str = ""

    def apply(self, rows: QuerySet) -> QuerySet:
        """`rows` (HostVulnerability) narrowed to CVEs that pass, by a semi-join on the CVE table."""
        if self.exploit or self.min_cvss is not None or self.severity:
            cves = CVE.objects.all()
            if self.exploit:
                cves = cves.filter(cisa_known_exploit=True)
            if self.min_cvss is not None:
                cves = cves.filter(cvss_score__gte=self.min_cvss)
            if self.severity:
                cves = cves.filter(severity__iexact=self.severity)
            rows = rows.filter(cve__in=cves.values("cve"))
        if self.query:
            rows = rows.filter(cve__icontains=self.query)
        return rows


def cve_keyset(column: str, descending: bool) -> Keyset:
    """The CVE list's order: `column`, then the CVE id, both in the same direction."""
    return Keyset(column, "cve", descending, nullable=column in NULLABLE_COLUMNS)


def cursor_value(column: str, raw: str) -> Any:
    """A cursor's text as a value of `column` (`null` only where the column can be NULL); ValueError if none."""
    if raw == NULL and column in NULLABLE_COLUMNS:
        return None
    if column == "cve":
        if not raw or len(raw) > 64:
            raise ValueError(raw)
        return raw
    if column == "hosts_count":
        number = int(raw)
        if number < 0:
            raise ValueError(raw)
        return number
    if column in ("cvss_score", "epss_probability"):
        number = float(raw)
        if not math.isfinite(number):
            raise ValueError(raw)
        return number
    if column == "cisa_known_exploit":
        if raw.lower() in ("true", "1"):
            return True
        if raw.lower() in ("false", "0"):
            return False
        raise ValueError(raw)
    if column in ("created_at", "cve_published"):
        moment = parse_datetime(raw)
        if moment is None:
            raise ValueError(raw)
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    raise ValueError(column)


def _cve_column(name: str) -> Subquery:
    return Subquery(CVE.objects.filter(cve=OuterRef("cve")).values(name)[:1])


# The list's columns that come from the CVE table, by the CVE field they read.
CVE_COLUMNS = {
    "cvss_score": "cvss_score",
    "epss_probability": "epss_probability",
    "cisa_known_exploit": "cisa_known_exploit",
    "cve_published": "published",
}


def open_cve_rows(hosts: QuerySet, filters: CVEFilters, keyset: Keyset) -> QuerySet:
    """One row per CVE open on one of `hosts` that passes `filters`: hosts_count and first detection, in
    `keyset` order. Page it by OFFSET, or filter by `keyset.after(...)` for deep pages.

    Of the CVE table's columns only the one sorted by is computed here: a scalar subquery in the select
    list runs once per CVE of the whole list before the sort, so each one more would cost a lookup per
    listed CVE. `with_cve_columns` adds the others to a page's rows.
    """
    rows = filters.apply(HostVulnerability.objects.filter(resolved_at__isnull=True, host__in=hosts))
    annotations: dict[str, Any] = {
        "hosts_count": Count("host_id", distinct=True),
        "created_at": Min("first_detected_at"),
    }
    if keyset.column == "cisa_known_exploit":
        # A CVE no feed has a row for yet is not a known exploit: never NULL, so no NULL cursor either.
        annotations[keyset.column] = Coalesce(_cve_column("cisa_known_exploit"), Value(False))
    elif keyset.column in CVE_COLUMNS:
        annotations[keyset.column] = _cve_column(CVE_COLUMNS[keyset.column])
    grouped = rows.values("cve").annotate(**annotations).order_by()
    return grouped.order_by(*keyset.ordering())


def with_cve_columns(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A page of `open_cve_rows` with every CVE column (scores, KEV, published), in one query."""
    fields = list(CVE_COLUMNS.values())
    meta = {row["cve"]: row for row in CVE.objects.filter(cve__in=[r["cve"] for r in rows]).values("cve", *fields)}
    for row in rows:
        known = meta.get(row["cve"], {})
        for column, field in CVE_COLUMNS.items():
            row.setdefault(column, known.get(field))
        row["cisa_known_exploit"] = bool(row["cisa_known_exploit"])
    return rows


def cve_history(hosts: QuerySet, cve: str) -> QuerySet:
    """Every detection of `cve` on `hosts` (open ones first, newest first), with the host and what carried it."""
    return (
        HostVulnerability.objects.filter(cve=cve, host__in=hosts)
        .select_related("host", "software", "os_version")
        .order_by(F("resolved_at").desc(nulls_first=True), "-first_detected_at", "pk")
    )


def os_version_rows(hosts: QuerySet, column: str = "hosts_count", descending: bool = True) -> QuerySet:
    """OS versions with at least one of `hosts`, its host count and its number of matched CVEs, sorted in SQL."""
    counted = (
        hosts.filter(os_version=OuterRef("name"), platform=OuterRef("platform"))
        .order_by()
        .values("os_version")
        .annotate(n=Count("pk"))
        .values("n")
    )
    cves = (
        OSVulnerability.objects.filter(os_version_id=OuterRef("pk"))
        .order_by()
        .values("os_version_id")
        .annotate(n=Count("cve", distinct=True))
        .values("n")
    )
    rows = OSVersion.objects.annotate(
        hosts_count=Subquery(counted[:1]), vulnerabilities_count=Subquery(cves[:1])
    ).filter(hosts_count__gt=0)
    ordering = F(column).desc(nulls_last=True) if descending else F(column).asc(nulls_first=True)
    return rows.order_by(ordering, "name", "pk")


def open_counts_by_day(
    hosts: QuerySet, days: int = 30, now: datetime | None = None, filters: CVEFilters | None = None
) -> list[tuple[datetime, int]]:
    """How many host-vulnerabilities (of CVEs passing `filters`) were open at the end of each of the last
    `days` days (today: now), so the chart shows the same set as the list beside it.

    One query: a filtered COUNT per day over the rows that could be open in the window (still open,
    or resolved after it began), so the cost does not grow with the length of the history.
    """
    now = now or timezone.now()
    today = timezone.localtime(now).replace(hour=0, minute=0, second=0, microsecond=0)
    # The end of each day, the last one cut at now (so a fix made this morning already shows).
    ends = [min(today + timedelta(days=1 - back), now) for back in range(days - 1, -1, -1)]
    start = ends[0] - timedelta(days=1)
    rows = (filters or CVEFilters()).apply(HostVulnerability.objects.filter(host__in=hosts))
    rows = rows.filter(Q(resolved_at__isnull=True) | Q(resolved_at__gt=start))
    counts = rows.aggregate(
        **{
            f"d{i}": Count(
                "pk",
                filter=Q(first_detected_at__lte=end) & (Q(resolved_at__isnull=True) | Q(resolved_at__gt=end)),
            )
            for i, end in enumerate(ends)
        }
    )
    return [(end, counts[f"d{i}"] or 0) for i, end in enumerate(ends)]
