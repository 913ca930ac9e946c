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
from rest_framework.response import Response

# Path segment -> Fleet 4.8's name for it.
SEGMENT_ALIASES = {"teams": "fleets", "queries": "reports"}
# Request key (new name) -> the name the views read.
KEY_ALIASES = {
    "fleet_id": "team_id",
    "fleet_ids": "team_ids",
    "fleet_name": "team_name",
    "report_id": "query_id",
    "report_ids": "query_ids",
}
# Response key (old name) -> Fleet 4.8's name, written beside it (Fleet's `renameto` tags).
RESPONSE_KEY_ALIASES = {
    "team_id": "fleet_id",
    "team_name": "fleet_name",
    "team": "fleet",
    "teams": "fleets",
    "query_id": "report_id",
    "query_name": "report_name",
    "query_count": "report_count",
    "queries": "reports",
    "inherited_query_count": "inherited_report_count",
    "team_ids_by_name": "fleet_ids_by_name",
}
# Renamed only when they hold an object: `query` is also the SQL text inside a query.
_CONTAINER_ALIASES = {"query": "report"}
# Subtrees never renamed: the user's own data (osquery options, result rows), and specs, which
# are documents a user applies again as they were given (`fleetctl get` then `apply`).
_OPAQUE_KEYS = frozenset({"agent_options", "config", "overrides", "columns", "rows", "data", "results", "specs"})
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


def with_new_names(data: Any) -> Any:
    """A response with each renamed key also under Fleet 4.8's name, as Fleet 4.8 answers.

    A renamed leaf (`team_id`) is repeated in place (`fleet_id`); a renamed container (`teams`)
    gets a sibling (`fleets`) whose subtree uses only the new names, while the old one keeps
    the old names, so a client reading either vocabulary sees one consistent tree. A new name
    the view already wrote wins.
    """
    return _rename(data, both=True)


def names_written(response: Response) -> Response:
    """Mark an answer whose rows already carry both names, so the renderer need not walk it.

    Walking costs about 14 us a host row; a host list page writes `fleet_id` itself instead.
    """
    response.fleet_names_written = True  # type: ignore[attr-defined]
    return response


def _rename(data: Any, both: bool) -> Any:
    """`data` with renamed keys: beside the old ones when `both`, instead of them otherwise."""
    if isinstance(data, list):
        if data and isinstance(data[0], (dict, list)):
            return [_rename(item, both) for item in data]
        return data
    if not isinstance(data, dict):
        return data
    result: dict[Any, Any] = {}
    for key, value in data.items():
        if key in _OPAQUE_KEYS:
            result[key] = value
            continue
        nested = isinstance(value, (dict, list))
        new = RESPONSE_KEY_ALIASES.get(key) or (_CONTAINER_ALIASES.get(key) if isinstance(value, dict) else None)
        if new is None:
            result[key] = _rename(value, both) if nested else value
            continue
        if both:
            result[key] = value
        if new not in data:
            result[new] = _rename(value, False) if nested else value
    return result


class FleetJSONParser(JSONParser):
    """DRF's JSON parser, with Fleet 4.8's key names read as the old ones."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        return alias_body(super().parse(stream, media_type, parser_context))
