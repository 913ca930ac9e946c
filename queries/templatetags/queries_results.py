"""Addresses and cells of the live-query results table."""

from __future__ import annotations

from typing import Any

from django import template
from django.utils.http import urlencode

from queries.results import Page

register = template.Library()


def _base(table: Page) -> dict[str, str]:
    return {key: value for key, value in table.filters.items() if value}


@register.simple_tag
def sort_query(table: Page, column: str) -> str:
    """Sort by `column`, flipping the direction when it is already the sort; filters kept, cursor dropped."""
    params = {**_base(table), "sort": column}
    if table.sort == column and not table.descending:
        params["dir"] = "desc"
    return urlencode(params)


@register.simple_tag
def next_query(table: Page) -> str:
    """The next page's address: filters, sort and the keyset cursor."""
    params = _base(table)
    if table.sort:
        params["sort"] = table.sort
    if table.descending:
        params["dir"] = "desc"
    params.update(table.next_cursor or {})
    return urlencode(params)


@register.filter
def cell(data: dict[str, Any], column: str) -> Any:
    return data.get(column, "")
