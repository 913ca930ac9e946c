"""Shared pieces of the admin UI: login rules, permission checks, tables, paging and sorting.

Views stay thin: they build a queryset with the same FilterSet as the REST API, hand it to
`render_list`, and the generic templates do the rest (STYLE 2.3).
"""

from __future__ import annotations

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

from accounts import permissions

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
        if user.api_only:
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

    def cells(self) -> list[tuple[Any, list[tuple[Any, bool]]]]:
        """(row id, [(cell, numeric)]) per row, ready for the generic template."""
        return [
            (self.row_id(row), [(column.value(row), column.numeric) for column in self.columns]) for row in self.rows
        ]


def link(url: str, text: Any) -> str:
    return format_html('<a href="{}">{}</a>', url, text if text not in (None, "") else "—")


def badge(text: str, tone: str = "") -> str:
    return format_html('<span class="badge {}">{}</span>', tone, text)


@dataclass
class PageInfo:
    number: int
    per_page: int
    total: int
    capped: bool = False

    @property
    def start(self) -> int:
        return self.number * self.per_page + 1 if self.total else 0

    @property
    def end(self) -> int:
        return min((self.number + 1) * self.per_page, self.total)

    @property
    def has_previous(self) -> bool:
        return self.number > 0

    @property
    def has_next(self) -> bool:
        return self.end < self.total

    @property
    def last(self) -> int:
        return max((self.total - 1) // self.per_page, 0)


def paginate(request: HttpRequest, queryset: QuerySet, per_page: int = UI_PER_PAGE) -> tuple[list[Any], PageInfo]:
    """Fleet-style 0-based `page` and `per_page`, as LIMIT/OFFSET plus one COUNT."""

    def number(name: str, default: int) -> int:
        try:
            return max(int(request.GET.get(name, default)), 0)
        except ValueError:
            return default

    per_page = min(number("per_page", per_page) or per_page, UI_MAX_PER_PAGE)
    page = number("page", 0)
    cap = max(COUNT_CAP, (page + 2) * per_page)
    total = queryset.order_by()[: cap + 1].count()
    capped = total > cap
    if not capped:
        page = min(page, max((total - 1) // per_page, 0))
    start = page * per_page
    return list(queryset[start : start + per_page]), PageInfo(page, per_page, min(total, cap), capped)


def render_list(
    request: HttpRequest,
    template: str,
    context: dict[str, Any],
) -> HttpResponse:
    """The full page, or only its results block when htmx asks for it (filters, sorting, paging)."""
    if request.htmx and request.htmx.target == "results":
        return render(request, "generic/_results.html", context)
    return render(request, template, context)


def field_errors_from(form: Any, exc: Any) -> None:
    """Put a service-layer `InvalidInput` on the form field it names (or on the form)."""
    name = exc.field if exc.field in form.fields else None
    form.add_error(name, exc.reason)
