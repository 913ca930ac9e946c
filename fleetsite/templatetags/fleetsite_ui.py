"""Template helpers for the admin UI: sortable headers, time display, query strings."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django import template
from django.http import QueryDict
from django.utils import timezone
from django.utils.html import format_html
from django.utils.timesince import timesince

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


@register.filter
def ago(value: datetime | None) -> str:
    """'3 minutes ago', or 'never' for Fleet's 1970 placeholder."""
    if value is None or value.year < 1971:
        return "never"
    if value > timezone.now() - timedelta(minutes=1):
        return "just now"
    return timesince(value).split(",")[0] + " ago"


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
