"""A campaign's stored rows as a table: keyset pages, sort by a column, filters, per-host summary, CSV."""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count, F, Q, QuerySet, TextField, Value
from django.db.models.fields.json import KT
from django.db.models.functions import Coalesce

from accounts import permissions
from accounts.models import User
from queries.choices import TargetStatus
from queries.models import Campaign, CampaignResult, CampaignRow, CampaignTarget

PAGE_SIZE = 100
# Rows fetched per database round trip while streaming CSV.
CSV_CHUNK = 2000
# Column names osquery returns; anything else is refused rather than put in a JSON path.
COLUMN_RE = re.compile(r"^[A-Za-z0-9_]{1,64}$")


@dataclass
class Page:
    """One page of rows and the cursor of the next (None on the last page)."""

    rows: list[CampaignRow]
    columns: list[str]
    next_cursor: dict[str, str] | None
    sort: str = ""
    descending: bool = False
    filters: dict[str, str] = field(default_factory=dict)


def visible_rows(campaign: Campaign, user: User) -> QuerySet:
    """The campaign's rows from hosts this user may see (team users see only their teams' hosts)."""
    rows = CampaignRow.objects.filter(campaign=campaign)
    if permissions.visible_team_ids(user) is not None:
        rows = permissions.scope_to_teams(rows, user, "host__team_id")
    return rows


def filtered(rows: QuerySet, host_id: int | None = None, text: str = "") -> QuerySet:
    """Narrow to one host and/or rows whose values contain `text` (case-insensitive on every database)."""
    if host_id is not None:
        rows = rows.filter(host_id=host_id)
    if text:
        rows = rows.filter(search__contains=text.lower())
    return rows


def page(
    rows: QuerySet,
    sort: str = "",
    descending: bool = False,
    after_id: int | None = None,
    after_value: str | None = None,
    size: int | None = None,
) -> Page:
    """A keyset page: rows after (sort value, id), never OFFSET, so the hundredth page costs what the first does.

    Sorting is by the column's text (osquery returns every value as text).
    """
    size = size or PAGE_SIZE
    if sort and not COLUMN_RE.match(sort):
        raise ValueError(f"unknown column {sort!r}")
    if sort:
        rows = rows.annotate(sort_value=Coalesce(KT(f"data__{sort}"), Value(""), output_field=TextField()))
        if after_id is not None:
            value = after_value or ""
            if descending:
                rows = rows.filter(Q(sort_value__lt=value) | Q(sort_value=value, id__lt=after_id))
            else:
                rows = rows.filter(Q(sort_value__gt=value) | Q(sort_value=value, id__gt=after_id))
        order = [F("sort_value").desc(), F("id").desc()] if descending else [F("sort_value").asc(), F("id").asc()]
    else:
        if after_id is not None:
            rows = rows.filter(id__lt=after_id) if descending else rows.filter(id__gt=after_id)
        order = ["-id"] if descending else ["id"]
    found = list(rows.order_by(*order)[: size + 1])
    cursor = None
    if len(found) > size:
        found = found[:size]
        last = found[-1]
        cursor = {"after": str(last.pk)}
        if sort:
            cursor["after_value"] = last.sort_value
    columns: list[str] = []
    for row in found:
        for key in row.data:
            if key not in columns:
                columns.append(key)
    return Page(found, columns, cursor, sort, descending)


def summary(campaign: Campaign, user: User) -> dict[str, Any]:
    """Per-host outcome: answered (with row counts), errored (with the error text), pending."""
    targets = CampaignTarget.objects.filter(campaign=campaign)
    if permissions.visible_team_ids(user) is not None:
        targets = permissions.scope_to_teams(targets, user, "host__team_id")
    targets = targets.select_related("host").order_by("host__hostname", "host_id")
    errors = dict(CampaignResult.objects.filter(campaign=campaign, error__isnull=False).values_list("host_id", "error"))
    counts: dict[int, int] = dict(
        visible_rows(campaign, user).order_by().values("host_id").annotate(n=Count("id")).values_list("host_id", "n")
    )
    answered, errored, pending = [], [], []
    for target in targets:
        entry = {
            "host_id": target.host_id,
            "hostname": target.host.computer_name or target.host.hostname,
            "rows": counts.get(target.host_id, 0),
        }
        if target.status == TargetStatus.ANSWERED:
            answered.append(entry)
        elif target.status == TargetStatus.FAILED:
            errored.append({**entry, "error": errors.get(target.host_id) or "query failed"})
        else:
            pending.append(entry)
    return {"answered": answered, "errored": errored, "pending": pending, "rows": sum(counts.values())}


class _Echo:
    def write(self, value: str) -> str:
        return value


def csv_columns(rows: QuerySet) -> list[str]:
    """Every column in the result, read from each host's first row.

    osquery gives all rows of one answer the same columns, so this reads one row per host.
    """
    columns: list[str] = []
    for data in rows.filter(row_number=0).order_by("id").values_list("data", flat=True).iterator(chunk_size=CSV_CHUNK):
        for key in data:
            if key not in columns:
                columns.append(key)
    return columns


def csv_lines(rows: QuerySet) -> Iterator[str]:
    """The whole result as CSV, host columns first, read in keyset chunks so memory stays flat."""
    writer = csv.writer(_Echo())
    columns = csv_columns(rows)
    yield writer.writerow(["host_id", "host_display_name", *columns])
    after = 0
    while True:
        chunk = list(
            rows.filter(id__gt=after)
            .order_by("id")
            .values_list("id", "host_id", "host_display_name", "data")[:CSV_CHUNK]
        )
        for _, host_id, display_name, data in chunk:
            yield writer.writerow([host_id, display_name, *(data.get(key, "") for key in columns)])
        if len(chunk) < CSV_CHUNK:
            return
        after = chunk[-1][0]
