"""Template helpers for the admin UI: sortable headers, time display, query strings."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django import template
from django.http import QueryDict
from django.utils import timezone
from django.utils.html import format_html

register = template.Library()


@register.simple_tag(takes_context=True)
def sort_header(context: dict[str, Any], column: Any) -> str:
    """A column header that sorts by it; a second click reverses the direction."""
    if not column.sort:
        return column.label
    request = context["request"]
    params = request.GET.copy()
    current, direction = params.get("order_key"), params.get("order_direction", "asc")
    next_direction = "desc" if current == column.sort and direction == "asc" else "asc"
    params["order_key"], params["order_direction"] = column.sort, next_direction
    params.pop("page", None)
    arrow = ""
    if current == column.sort:
        arrow = " ▲" if direction == "asc" else " ▼"
    return format_html(
        '<a href="?{q}" hx-get="?{q}" hx-target="#results" hx-push-url="true" aria-sort="{s}">{label}{arrow}</a>',
        q=params.urlencode(),
        s={"": "none", " ▲": "ascending", " ▼": "descending"}[arrow],
        label=column.label,
        arrow=arrow,
    )


@register.simple_tag(takes_context=True)
def with_params(context: dict[str, Any], **changes: Any) -> str:
    """The current query string with some parameters changed (None removes one)."""
    params: QueryDict = context["request"].GET.copy()
    for key, value in changes.items():
        if value is None:
            params.pop(key, None)
        else:
            params[key] = value
    return "?" + params.urlencode()


# Largest unit first; months and years are rounded lengths, close enough for "seen 3 months ago".
_AGO_UNITS = (
    (365 * 86400, "year"), (30 * 86400, "month"), (7 * 86400, "week"), (86400, "day"), (3600, "hour"), (60, "minute"),
)  # fmt: skip


@register.filter
def ago(value: datetime | None) -> str:
    """'3 minutes ago' (the largest whole unit), or 'never' for Fleet's 1970 placeholder.

    Plain arithmetic rather than Django's `timesince`, which cost ten times as much and runs
    once per row of the hosts list.
    """
    if value is None or value.year < 1971:
        return "never"
    seconds = (timezone.now() - value).total_seconds()
    for size, unit in _AGO_UNITS:
        if seconds >= size:
            count = int(seconds // size)
            return f"{count}\N{NO-BREAK SPACE}{unit}{'' if count == 1 else 's'} ago"
    return "just now"


@register.filter
def gib(value: float | int | None) -> str:
    if not value:
        return "—"
    return f"{value:,.1f} GB"


@register.filter
def bytes_gib(value: int | None) -> str:
    if not value:
        return "—"
    return f"{value / 1024**3:,.1f} GB"


@register.filter
def duration(seconds: int | None) -> str:
    if not seconds:
        return "—"
    days, rest = divmod(int(seconds), 86400)
    hours, rest = divmod(rest, 3600)
    if days:
        return f"{days} d {hours} h"
    return f"{hours} h {rest // 60} min"


@register.filter
def describe(activity: Any) -> str:
    from activities.feed import describe as describe_activity

    return describe_activity(activity)
