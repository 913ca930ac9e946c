"""Template helpers for the admin UI: sortable headers, time display, query strings."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from django import template
from django.http import QueryDict
from django.utils import timezone
from django.utils.safestring import SafeString

from accounts.choices import role_name
from fleetsite.ui import CURSOR_PARAMS, PageInfo, count_html, html_text

register = template.Library()


# The top bar's sections: label, address, the paths under which the section is current, and who
# may use it (a `nav_audience` key). Scripts and software installers are read by every role, as in
# Fleet; their write controls follow accounts.permissions. The longest matching prefix wins, so /queries/live/ is
# "Live queries", not "Queries".
MAIN_NAV = (
    ("Hosts", "/hosts/", ("/hosts/",), "everyone"),
    ("Queries", "/queries/", ("/queries/",), "everyone"),
    ("Live queries", "/queries/live/", ("/queries/live/",), "live_query"),
    ("Labels", "/labels/", ("/labels/",), "everyone"),
    ("Policies", "/policies/", ("/policies/",), "everyone"),
    ("Software", "/software/", ("/software/",), "everyone"),
    ("Vulnerabilities", "/vulnerabilities/", ("/vulnerabilities/", "/os-versions/"), "everyone"),
    ("Software installers", "/software/installers/", ("/software/installers/", "/software/installs/"), "everyone"),
    ("Scripts", "/scripts/", ("/scripts/",), "everyone"),
    # The fleetd installer builder; "Software installers" above is the packages hosts install.
    ("fleetd installers", "/packages/", ("/packages/",), "installers"),
    ("Activity", "/activity/", ("/activity/",), "everyone"),
    ("Settings", "/settings/", ("/settings/", "/teams/", "/users/"), "everyone"),
)

register.filter("role_name", role_name)


def nav_entries(user: Any) -> list[tuple[str, str, tuple[str, ...]]]:
    """The sections `user` may use: live queries need a role that may run them somewhere, the
    installer builder a global admin (its own rule in packaging.views)."""
    from accounts import permissions
    from accounts.choices import Role

    strongest = permissions.highest_role(user)
    allowed = {
        "everyone": strongest is not None or user.is_staff,
        "live_query": strongest in {Role.ADMIN, Role.MAINTAINER, Role.OBSERVER_PLUS},
        "installers": user.is_staff or permissions.is_global_admin(user),
    }
    return [(label, url, prefixes) for label, url, prefixes, audience in MAIN_NAV if allowed[audience]]


@register.simple_tag(takes_context=True)
def main_nav(context: dict[str, Any]) -> SafeString:
    """The top bar's links for this user's role, the current section marked (for the style sheet and
    screen readers).

    In Python because the template's eight `slice` comparisons cost a tenth of a millisecond on every page.
    """
    request = context["request"]
    path = request.path
    entries = nav_entries(request.user)
    matching = [prefix for _, _, prefixes in entries for prefix in prefixes if path.startswith(prefix)]
    best = max(matching, key=len, default=None)
    current = ' aria-current="page"'
    return SafeString(
        "\n".join(
            f'<a href="{url}"{current if best in prefixes else ""}>{label}</a>' for label, url, prefixes in entries
        )
    )


@register.simple_tag(takes_context=True)
def settings_tabs(context: dict[str, Any], current: str) -> SafeString:
    """The settings tabs this user may open (the same rules as fleetsite.views.settings and accounts.views)."""
    from accounts import permissions

    user = context["request"].user
    admin = permissions.can(user, "write", "config")
    secrets = admin or (permissions.is_global(user) and permissions.can_manage_team_secrets(user, None))
    tabs = [
        ("org", "/settings/", "Organization", True),
        ("agent", "/settings/agent-options/", "Agent options", admin),
        ("secrets", "/settings/secrets/", "Enroll secrets", secrets),
        ("sso", "/settings/sso/", "Single sign-on", admin),
        ("mfa", "/settings/mfa/", "Second factor", admin),
        ("teams", "/teams/", "Teams", True),
        ("users", "/users/", "Users", permissions.can(user, "read", "user")),
        ("api", "/api/reference/", "REST API", True),
    ]
    mark = ' aria-current="page"'
    links = "\n  ".join(
        f'<a href="{url}"{mark if key == current else ""}>{label}</a>' for key, url, label, allowed in tabs if allowed
    )
    return SafeString(f'<nav class="tabs" aria-label="Settings">\n  {links}\n</nav>')


@register.simple_tag(takes_context=True)
def table_head(context: dict[str, Any], table: Any) -> SafeString:
    """The header row of a `fleetsite.ui.Table`: each sortable column links to sorting by it.

    A second click on the sorted column reverses the direction; sorting starts again at page 0.
    Written in Python for the same reason as `Table.body`.
    """
    params = context["request"].GET
    current, direction = params.get("order_key"), params.get("order_direction", "asc")
    base = query_without(params, "page", "order_key", "order_direction", *CURSOR_PARAMS)
    cells = []
    if table.selectable:
        cells.append(
            '<th class="check"><input type="checkbox" data-select-all aria-label="Select all on this page"></th>'
        )
    for column in table.columns:
        sorted_here = bool(column.sort) and current == column.sort
        # aria-sort belongs on the header cell (ARIA allows it nowhere else), and only on the sorted one.
        aria = f' aria-sort="{"ascending" if direction == "asc" else "descending"}"' if sorted_here else ""
        opening = f'<th class="num"{aria}>' if column.numeric else f"<th{aria}>"
        cells.append(f"{opening}{_sort_link(base, column, sorted_here, direction)}</th>")
    return SafeString("".join(cells))


def _sort_link(base: str, column: Any, sorted_here: bool, direction: str) -> str:
    if not column.sort:
        return html_text(column.label)
    next_direction = "desc" if sorted_here and direction == "asc" else "asc"
    query = html_text(f"{base}{urlencode({'order_key': column.sort, 'order_direction': next_direction})}")
    arrow = (" ▲" if direction == "asc" else " ▼") if sorted_here else ""
    return _results_link(query, f"{html_text(column.label)}{arrow}")


def _results_link(query: str, text: str, attributes: str = "") -> str:
    """A link htmx follows by swapping only the results block (and the address); `query` is escaped already."""
    return f'<a href="{query}" hx-get="{query}" hx-target="#results" hx-push-url="true"{attributes}>{text}</a>'


def query_without(params: QueryDict, *names: str) -> str:
    """`?` and the query string without `names`, ready for a link to append them: `?a=1&` or `?`.

    The query is encoded once per table instead of once per link (a page has a dozen links).
    """
    kept = params.copy()
    for name in names:
        kept.pop(name, None)
    encoded = kept.urlencode()
    return f"?{encoded}&" if encoded else "?"


@register.simple_tag(takes_context=True)
def pagination(context: dict[str, Any], page: PageInfo | None) -> SafeString:
    """The pager under a list: where the page is, and links to the first, previous, next and last pages.

    With `page.count_url` the position is a placeholder that htmx swaps for the exact count.
    """
    if not page:
        return SafeString("")
    # Keyset pages (`fleetsite.ui.keyset_paginate`) link Next and Previous by cursor; other links by number.
    base = html_text(query_without(context["request"].GET, "page", *CURSOR_PARAMS))

    def page_link(number: int, text: str, rel: str = "", cursor: dict[str, str] | None = None) -> str:
        extra = f"&amp;{html_text(urlencode(cursor))}" if cursor else ""
        return _results_link(f"{base}page={number}{extra}", text, f' rel="{rel}"' if rel else "")

    if page.count_url:
        position = (
            f'<span class="count" hx-get="{html_text(page.count_url)}" hx-trigger="load" hx-swap="outerHTML">'
            f"{page.start}–{page.end}, page {page.number + 1}</span>"
        )
    else:
        position = count_html(page)
    parts = [position]
    if page.has_previous:
        parts += [
            page_link(0, "« First"),
            page_link(page.number - 1, "‹ Previous", "prev", page.previous_cursor),
        ]
    if page.has_next:
        parts.append(page_link(page.number + 1, "Next ›", "next", page.next_cursor))
        if not page.capped:
            parts.append(page_link(page.last, "Last »"))
    links = "\n".join(parts)
    return SafeString(f'<nav class="pagination" aria-label="Pages">\n{links}\n</nav>')


# Largest unit first; months and years are rounded lengths, close enough for "seen 3 months ago".
_AGO_UNITS = (
    (365 * 86400, "year"), (30 * 86400, "month"), (7 * 86400, "week"), (86400, "day"), (3600, "hour"), (60, "minute"),
)  # fmt: skip


@register.filter
def ago(value: datetime | None, now: datetime | None = None) -> str:
    """'3 minutes ago' (the largest whole unit), 'in 5 days' for a future time (an expiry), or
    'never' for Fleet's 1970 placeholder.

    Plain arithmetic rather than Django's `timesince`, which cost ten times as much and runs
    once per row of the hosts list (which passes `now`, read once per page).
    """
    if value is None or value.year < 1971:
        return "never"
    seconds = ((now or timezone.now()) - value).total_seconds()
    future = seconds < -59
    if future:
        seconds = -seconds
    for size, unit in _AGO_UNITS:
        if seconds >= size:
            count = int(seconds // size)
            amount = f"{count}\N{NO-BREAK SPACE}{unit}{'' if count == 1 else 's'}"
            return f"in {amount}" if future else f"{amount} ago"
    return "just now"


def when_html(value: datetime | None, now: datetime | None = None) -> str:
    """The one timestamp format of the UI: relative text in a `<time>` whose `datetime` and title hold the
    exact time (UTC here; fleetsite.js rewrites the title into the reader's own time zone)."""
    return when_html_from_text(value, value.astimezone(UTC).isoformat() if value else "", now)


def when_html_from_text(value: datetime | None, text: str, now: datetime | None = None) -> str:
    """`when_html` of a time also written as RFC 3339 UTC text (by the database: `fleetsite.lib.sqltime`):
    the markup is cut from that text, where two `strftime` calls were most of the cost per row of the hosts table."""
    if value is None or value.year < 1971:
        return "never"
    return f'<time datetime="{text[:19]}Z" title="{text[:10]} {text[11:19]} UTC">{ago(value, now)}</time>'


@register.filter
def when(value: datetime | None, now: datetime | None = None) -> SafeString:
    return SafeString(when_html(value, now))


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


@register.simple_tag
def activity_lines(activities: Any) -> list[tuple[Any, SafeString]]:
    """Each activity with its line as HTML, names linked to the objects that still exist (checked once for all)."""
    from activities.feed import describe_html, existing_objects

    shown = list(activities)
    existing = existing_objects(shown)
    return [(activity, describe_html(activity, existing)) for activity in shown]
