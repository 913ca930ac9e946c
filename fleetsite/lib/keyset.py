"""Keyset ("seek") paging: the rows after (or before) the last row seen, in one index range instead of OFFSET.

A list's order is its sort column, then a unique tie-breaker in the same direction; NULLs of the sort
column come first ascending and last descending, on every database. A cursor is the sort value and the
tie-breaker of the row it continues from; without the tie-breaker, rows equal to the value are skipped,
as Fleet's `after` does.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import F, OrderBy, Q

# How a NULL sort value travels in a cursor (`after=null`): no number, date or CVE id is spelled so.
NULL = "null"


@dataclass(frozen=True)
class Keyset:
    """The order of a list: `column` (NULLs first ascending), then the unique `tie` column, both `descending` or not."""

    column: str
    tie: str
    descending: bool = False
    nullable: bool = True

    def ordering(self) -> list[OrderBy]:
        if self.descending:
            return [F(self.column).desc(nulls_last=True), F(self.tie).desc()]
        return [F(self.column).asc(nulls_first=True), F(self.tie).asc()]

    def reversed(self) -> Keyset:
        """The same order backwards (ascending NULLs-first reversed is descending NULLs-last)."""
        return Keyset(self.column, self.tie, not self.descending, self.nullable)

    def after(self, value: Any, tie: Any = None) -> Q:
        """Rows strictly after (`value`, `tie`) in this order; with no `tie`, after every row equal to `value`."""
        beyond = "lt" if self.descending else "gt"
        column, nulls = self.column, Q(**{f"{self.column}__isnull": True})
        if value is None:
            if self.descending:  # NULLs are last: only NULLs further along remain
                return nulls & Q(**{f"{self.tie}__{beyond}": tie}) if tie is not None else Q(pk__in=[])
            rest = Q(**{f"{column}__isnull": False})
            return rest | (nulls & Q(**{f"{self.tie}__{beyond}": tie})) if tie is not None else rest
        condition = Q(**{f"{column}__{beyond}": value})
        if tie is not None:
            condition |= Q(**{column: value, f"{self.tie}__{beyond}": tie})
        if self.descending and self.nullable:
            condition |= nulls
        return condition

    def before(self, value: Any, tie: Any = None) -> Q:
        """Rows strictly before (`value`, `tie`): fetch them in `reversed().ordering()` and flip the page."""
        return self.reversed().after(value, tie)


def cursor_text(value: Any) -> str:
    """A sort value as a cursor in an address: ISO times, `true`/`false`, `null`, numbers as Python prints them."""
    if value is None:
        return NULL
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)
