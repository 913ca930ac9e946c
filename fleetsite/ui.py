"""Shared pieces of the admin UI: login rules, permission checks, tables, paging and sorting.

Views stay thin: they build a queryset with the same FilterSet as the REST API, hand it to
`render_list`, and the generic templates do the rest (STYLE 2.3).
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import wraps
from typing import Any

from django.contrib.auth import logout
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.html import format_html
from django.utils.safestring import SafeData, SafeString

from accounts import permissions
from fleetsite.lib.keyset import Keyset, cursor_text

UI_PER_PAGE = 50
UI_MAX_PER_PAGE = 500
# Counting stops here: an exact count of 100,000 filtered rows costs more than the page itself.
COUNT_CAP = 10_000


def login_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Logged-in people only; API-only accounts are sent back to the login page (Fleet's rule)."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        user = request.user
        if not user.is_authenticated and request.method in ("GET", "HEAD"):
            user = _bearer_user(request) or user
            request.user = user
        if not user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        # API-only accounts, and people an admin asked for a new password (they set it from the login page).
        if user.api_only or user.force_password_reset:
            logout(request)
            return redirect_to_login(request.get_full_path())
        return view(request, *args, **kwargs)

    return wrapper


def _bearer_user(request: HttpRequest) -> Any:
    """Read-only pages also accept an API token (scripts, `bench/hosts_list.py`); changes need a session."""
    from accounts import tokens
    from accounts.authentication import bearer_key

    token = tokens.resolve(bearer_key(request))
    return token.user if token is not None else None


def require(request: HttpRequest, action: str, kind: str, team_id: int | None = None) -> None:
    """403 page unless the permission table allows it."""
    if not permissions.can(request.user, action, kind, team_id):
        raise PermissionDenied


@dataclass
class Column:
    """One table column: `value(row)` is the cell; `sort` is the order_key the header sets."""

    label: str
    value: Callable[[Any], Any]
    sort: str = ""
    numeric: bool = False


@dataclass
class Table:
    columns: list[Column]
    rows: list[Any]
    # Show a checkbox per row (bulk actions) with the row's id.
    selectable: bool = False
    row_id: Callable[[Any], Any] = field(default=lambda row: getattr(row, "pk", None))
    empty: str = "Nothing here yet."
    # A list's own writer of one row's `<td>` cells, the same HTML as `cells` builds from the
    # columns, for lists that must stay fast at 100 rows a page (tests compare the two).
    fast_cells: Callable[[Any], str] | None = None

    def body(self) -> SafeString:
        """The `<tbody>` rows as HTML, escaped like `{{ cell }}`.

        Built in Python because the template loop cost about 0.3 ms per row of ten cells: a
        page of 100 hosts spent more time there than in everything else together.
        """
        if not self.rows:
            return format_html('<tr><td class="empty" colspan="{}">{}</td></tr>', len(self.columns) + 1, self.empty)
        cells = self.fast_cells or self.cells
        lines = []
        for row in self.rows:
            if self.selectable:
                row_id = html_text(self.row_id(row))
                check = (
                    f'<td class="check"><input type="checkbox" name="ids" value="{row_id}" form="bulk" '
                    f'aria-label="Select row {row_id}"></td>'
                )
            else:
                check = ""
            lines.append(f"<tr>{check}{cells(row)}</tr>\n")
        return SafeString("".join(lines))

    def cells(self, row: Any) -> str:
        """One row's `<td>` cells from the columns' values."""
        return "".join([f"{_TD[column.numeric]}{html_text(column.value(row))}</td>" for column in self.columns])


_TD = {False: "<td>", True: '<td class="num">'}


# Characters `html.escape` replaces: most cells (host names, IPs, versions) have none.
_needs_escape = re.compile(r"[&<>\"']").search


def html_text(value: Any) -> str:
    """What `{{ value }}` prints: safe HTML as it is, anything else escaped.

    Django's `conditional_escape` gives the same text, but its lazy-string wrapper made it the
    largest cost of a 100-row table; tables call this once per cell, so plain text without
    special characters and numbers skip the escaping altogether.
    """
    kind = value.__class__
    if kind is str:
        return value if _needs_escape(value) is None else html.escape(value)
    if kind is int or kind is float:
        return str(value)
    if isinstance(value, SafeData):
        return str(value)
    return html.escape(str(value))


def link(url: str, text: Any) -> SafeString:
    return SafeString(f'<a href="{html_text(url)}">{html_text(text if text not in (None, "") else "—")}</a>')


def badge(text: str, tone: str = "") -> SafeString:
    return SafeString(f'<span class="badge {html_text(tone)}">{html_text(text)}</span>')


@dataclass
class PageInfo:
    number: int
    per_page: int
    total: int
    capped: bool = False
    # Where the exact total is fetched when the page did not count (see `paginate`).
    count_url: str = ""
    # Keyset pages (see `keyset_paginate`): the query-string cursors of the next and previous pages,
    # and whether rows follow (known from the rows read, not from the count).
    next_cursor: dict[str, str] | None = None
    previous_cursor: dict[str, str] | None = None
    more: bool | None = None

    @property
    def start(self) -> int:
        skipped = self.number * self.per_page
        return skipped + 1 if self.total > skipped else 0

    @property
    def end(self) -> int:
        return min((self.number + 1) * self.per_page, self.total) if self.start else 0

    @property
    def has_previous(self) -> bool:
        return self.number > 0

    @property
    def has_next(self) -> bool:
        return self.more if self.more is not None else self.end < self.total

    @property
    def last(self) -> int:
        return max((self.total - 1) // self.per_page, 0)


def _page_params(request: HttpRequest, default_per_page: int) -> tuple[int, int]:
    """(page, per_page) from the query string; bad numbers fall back to the defaults."""

    def number(name: str, default: int) -> int:
        try:
            return max(int(request.GET.get(name, default)), 0)
        except ValueError:
            return default

    per_page = min(number("per_page", default_per_page) or default_per_page, UI_MAX_PER_PAGE)
    return number("page", 0), per_page


def paginate(
    request: HttpRequest,
    queryset: QuerySet,
    per_page: int = UI_PER_PAGE,
    fetch: Callable[[QuerySet], list[Any]] = list,
    count_url: str = "",
    window: Callable[[int, int], tuple[list[Any], bool]] | None = None,
) -> tuple[list[Any], PageInfo]:
    """Fleet-style 0-based `page` and `per_page` as LIMIT/OFFSET, plus one bounded COUNT.

    `fetch` turns the sliced queryset into rows (say, ids first, then a prepared query for
    their columns). With `count_url` (a view calling `count_fragment`) the page does not count
    at all: it reads one row more to know whether a next page exists, and the total arrives
    in a second request, as Fleet's UI asks for `/hosts/count` beside `/hosts`. At 100,000
    hosts even a count capped at 1,000 filtered rows cost as much as the page's rows. A list
    that reads its own pages (deep ones without OFFSET, say) passes `window(page, per_page)`.
    """
    page, per_page = _page_params(request, per_page)
    start = page * per_page
    if count_url:
        if window is not None:  # the list reads its own page: (rows, whether more follow)
            rows, more = window(page, per_page)
        else:
            rows = fetch(queryset[start : start + per_page + 1])
            more = len(rows) > per_page
        # A lower bound for the pager until the exact count arrives: "capped" means "more follow".
        total = start + min(len(rows), per_page) + more
        info = PageInfo(page, per_page, total, more, f"{count_url}?{request.GET.urlencode()}")
        return rows[:per_page], info
    cap = max(COUNT_CAP, (page + 2) * per_page)
    total = queryset.order_by()[: cap + 1].count()
    capped = total > cap
    if not capped:
        page = min(page, max((total - 1) // per_page, 0))
        start = page * per_page
    rows = fetch(queryset[start : start + per_page])
    return rows, PageInfo(page, per_page, min(total, cap), capped)


# The address parameters of a keyset cursor; sorting, filtering and "First" drop them.
CURSOR_PARAMS = ("after", "after_id", "before", "before_id")


def keyset_paginate(
    request: HttpRequest,
    queryset: QuerySet,
    keyset: Keyset,
    parse: Callable[[str], Any],
    cursor_of: Callable[[Any], tuple[Any, Any]],
    per_page: int = UI_PER_PAGE,
    fetch: Callable[[QuerySet], list[Any]] = list,
) -> tuple[list[Any], PageInfo]:
    """`paginate`, but the pager's Next and Previous links carry the edge row's (value, tie) instead of a page
    number, so a deep page is one index range rather than an OFFSET over every row before it.

    `queryset` is in `keyset.ordering()`; `parse` reads a cursor value from the address (ValueError if it is
    no value of the sort column: the cursor is then ignored); `cursor_of(row)` gives a row's (value, tie).
    `page` still comes along, for "page 7 of 40" and the row numbers, and plain `page=` links still work.
    """
    page, per_page = _page_params(request, per_page)
    params = request.GET
    direction, raw, tie = "", "", ""
    for name in ("after", "before"):
        if params.get(name, "") != "":
            direction, raw, tie = name, params[name], params.get(f"{name}_id", "")
            break
    condition = None
    if direction:
        try:
            value = parse(raw)
        except ValueError:
            direction = ""
        else:
            tie_value = tie or None
            condition = keyset.after(value, tie_value) if direction == "after" else keyset.before(value, tie_value)
    if condition is None:
        rows, info = paginate(request, queryset, per_page, fetch)
        more = info.has_next
    else:
        cap = max(COUNT_CAP, (page + 2) * per_page)
        total = queryset.order_by()[: cap + 1].count()
        info = PageInfo(page, per_page, min(total, cap), total > cap)
        if direction == "after":
            rows = fetch(queryset.filter(condition)[: per_page + 1])
            more = len(rows) > per_page
            rows = rows[:per_page]
        else:
            # The rows just before, read backwards from the cursor and put back in the list's order.
            rows = fetch(queryset.filter(condition).order_by(*keyset.reversed().ordering())[: per_page + 1])
            if len(rows) <= per_page:  # nothing before these: this is the first page
                info.number = 0
            rows = rows[:per_page][::-1]
            more = True
    info.more = more
    if rows and more:
        value, tie_value = cursor_of(rows[-1])
        info.next_cursor = {"after": cursor_text(value), "after_id": cursor_text(tie_value)}
    if rows and info.number > 0:
        value, tie_value = cursor_of(rows[0])
        info.previous_cursor = {"before": cursor_text(value), "before_id": cursor_text(tie_value)}
    return rows, info


def count_fragment(
    request: HttpRequest, queryset: QuerySet, per_page: int = UI_PER_PAGE, count: Callable[[], int] | None = None
) -> HttpResponse:
    """The exact total of a list whose page did not count (loaded by the `pagination` tag's placeholder).

    `count` replaces counting `queryset` (a list whose counts are shared, say).
    """
    page, per_page = _page_params(request, per_page)
    total = count() if count is not None else queryset.order_by().count()
    return HttpResponse(count_html(PageInfo(page, per_page, total)))


def count_html(page: PageInfo) -> SafeString:
    """Where the page is in the list: "51–100 of 240, page 2 of 5" (or "of more than" a capped count)."""
    if page.capped:
        of = f"more than {page.total}, page {page.number + 1}"
    else:
        of = f"{page.total}, page {page.number + 1} of {page.last + 1}"
    return SafeString(f'<span class="count">{page.start}–{page.end} of {of}</span>')


def render_list(
    request: HttpRequest,
    template: str,
    context: dict[str, Any],
    page_context: Callable[[], dict[str, Any]] | None = None,
    results_template: str = "generic/_results.html",
) -> HttpResponse:
    """The full page, or only its results block when htmx asks for it (filters, sorting, paging).

    `page_context` adds what only the full page shows (filter and bulk forms, whose choices
    cost queries), so the results block that every filter change fetches skips it. A list whose
    results block holds more than the table (a chart of the same rows) names its own template.
    """
    if request.htmx and request.htmx.target == "results":
        return render(request, results_template, context)
    context = {**context, "results_template": results_template}
    return render(request, template, {**context, **(page_context() if page_context else {})})


def field_errors_from(form: Any, exc: Any) -> None:
    """Put a service-layer `InvalidInput` on the form field it names (or on the form)."""
    name = exc.field if exc.field in form.fields else None
    form.add_error(name, exc.reason)
