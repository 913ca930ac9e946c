"""Fleet's 0-based `page` and `per_page` paging, applied in the database."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet
from rest_framework.request import Request

from fleetsite.api.errors import bad_request

DEFAULT_PER_PAGE = 100
MAX_PER_PAGE = 10_000


@dataclass(frozen=True)
class Page:
    page: int
    per_page: int

    def slice(self, queryset: QuerySet) -> tuple[list[Any], dict[str, bool]]:
        """One page of rows plus Fleet's `meta`; fetches one extra row to know if more follow."""
        start = self.page * self.per_page
        rows = list(queryset[start : start + self.per_page + 1])
        has_next = len(rows) > self.per_page
        return rows[: self.per_page], {"has_next_results": has_next, "has_previous_results": self.page > 0}


def _non_negative(request: Request, name: str, default: int) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise bad_request(f"invalid {name}: {raw!r} is not an integer") from exc
    if value < 0:
        raise bad_request(f"invalid {name}: must not be negative")
    return value


def page_from(request: Request) -> Page:
    """Fleet's rule with a bounded default: unpaged requests get the first DEFAULT_PER_PAGE rows."""
    per_page = _non_negative(request, "per_page", DEFAULT_PER_PAGE)
    if per_page == 0 or per_page > MAX_PER_PAGE:
        raise bad_request(f"invalid per_page: must be between 1 and {MAX_PER_PAGE}")
    return Page(page=_non_negative(request, "page", 0), per_page=per_page)
