"""Fleet 4.8's second names, in one place: `fleets`/`fleet_id` for teams, `reports` for queries.

Fleet renamed teams to fleets and queries to reports and answers both names everywhere. Here
every REST route that has `teams` or `queries` as a path segment is also mounted with the new
word, and a request's `fleet_id` (query string or JSON body) is read as `team_id`, so no view
can forget one of the names: a team-scoped script that says `fleet_id` is filtered, never
shown everything.
"""

from __future__ import annotations

from typing import Any

from django.http import QueryDict
from django.urls import URLPattern, URLResolver, path
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

# Path segment -> Fleet 4.8's name for it.
SEGMENT_ALIASES = {"teams": "fleets", "queries": "reports"}
# Request key (new name) -> the name the views read.
KEY_ALIASES = {"fleet_id": "team_id", "fleet_ids": "team_ids", "fleet_name": "team_name"}
# How deep into a JSON body keys are renamed (`filters.fleet_id` in hosts/transfer/filter).
_BODY_DEPTH = 2


def _aliased_route(route: str) -> str:
    return "/".join(SEGMENT_ALIASES.get(segment, segment) for segment in route.split("/"))


def with_route_aliases(patterns: list[URLPattern | URLResolver]) -> list[URLPattern | URLResolver]:
    """`patterns` plus, for each route with a `teams` or `queries` segment, the same view under the new word."""
    routes = {str(p.pattern) for p in patterns}
    aliases = []
    for pattern in patterns:
        if not isinstance(pattern, URLPattern):
            continue
        alias = _aliased_route(str(pattern.pattern))
        if alias not in routes:
            routes.add(alias)
            aliases.append(path(alias, pattern.callback, pattern.default_args))
    return [*patterns, *aliases]


def _conflict(new: str, old: str) -> ParseError:
    return ParseError(f"{new} and {old} name the same thing and differ; send one of them")


def alias_query(query: QueryDict) -> QueryDict:
    """The query string with `fleet_id` read as `team_id` (both given must agree)."""
    if not any(key in query for key in KEY_ALIASES):
        return query
    query = query.copy()
    for new, old in KEY_ALIASES.items():
        if new in query:
            values = query.pop(new)
            if old in query and query.getlist(old) != values:
                raise _conflict(new, old)
            query.setlist(old, values)
    query._mutable = False
    return query


def alias_body(data: Any, depth: int = _BODY_DEPTH) -> Any:
    """A JSON body with `fleet_id` and friends renamed, at the top level and in nested objects."""
    if not isinstance(data, dict) or depth <= 0:
        return data
    for new, old in KEY_ALIASES.items():
        if new in data:
            value = data.pop(new)
            if old in data and data[old] != value:
                raise _conflict(new, old)
            data[old] = value
    for value in data.values():
        if isinstance(value, dict):
            alias_body(value, depth - 1)
    return data


class FleetJSONParser(JSONParser):
    """DRF's JSON parser, with Fleet 4.8's key names read as the old ones."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        return alias_body(super().parse(stream, media_type, parser_context))
