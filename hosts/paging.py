"""Fleet's `page`/`per_page` at any depth: where each page starts is remembered, so the next read seeks there.

OFFSET makes the database walk every row before the page: page 500 of 100 reads 50,000 index
entries, and a script paging through a million hosts reads half a billion. Each page served
remembers, for `FLEETSITE_HOST_COUNTS_SECONDS`, the (sort value, id) of the row just before it and
of its own last row, so the next page (or the same page again, as the UI reloads it) is one index
range after that row, as `after=` is. A page nobody reached yet is read by OFFSET once.

Rows that move while someone pages (a host seen, enrolled or deleted) shift an OFFSET page
anyway; a remembered start continues right after the last row shown instead, which skips and
repeats nothing.

An OFFSET read in id order walks the primary key, and on MySQL that is the clustered index: every
row skipped is read whole (500 bytes a host). `offset_rows` walks the narrow `ID_ORDER_INDEX`
instead, 4-5x faster at page 500, when the list's filters need no other column.
"""

from __future__ import annotations

import contextlib
import hashlib
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import EmptyResultSet
from django.db import connection, connections
from django.db.models import QuerySet
from django.db.models.expressions import Col
from django.db.models.lookups import Lookup
from django.db.models.sql.where import WhereNode
from django.http import HttpRequest

from accounts import permissions
from accounts.models import User
from accounts.teamnames import team_names
from fleetsite.lib import sharedcache
from hosts.filtersets import DISPLAY_NAME, ORDER_KEYS, after_condition
from hosts.models import Host

# Past this many teams a page sorted by team name is one sorted query again, not one read per team.
MAX_TEAM_GROUPS = 100

# Query parameters that choose a position in a list rather than the list itself.
POSITION_PARAMS = {"page", "after", "after_id"}


def list_identity(request: HttpRequest, user: User, ignore: tuple[str, ...] = ()) -> str:
    """What makes two requests the same list: the path, its filters, sort and page size, and the hosts the user sees.

    `ignore` names more parameters that do not matter to the caller (a count ignores the sort).
    """
    skip = POSITION_PARAMS.union(ignore)
    params = sorted((key, value) for key, values in request.GET.lists() if key not in skip for value in values)
    teams = permissions.visible_team_ids(user)
    scope = "all" if teams is None else ",".join(str(team) for team in sorted(teams))
    return hashlib.sha256(repr((request.path, params, scope)).encode()).hexdigest()[:32]


def _seekable() -> set[str]:
    """Sort columns that never hold NULL: each database puts NULLs elsewhere, so a page past them is read by OFFSET."""
    columns = {column for column in ORDER_KEYS.values() if "__" not in column}  # a team's name is NULL without one
    return {column for column in columns if column == DISPLAY_NAME or not Host._meta.get_field(column).null}


SEEKABLE = _seekable()


def _order(queryset: QuerySet) -> tuple[str, bool] | None:
    """The sort column of a HostFilterSet queryset (`column`, then `id`, same direction) and its direction."""
    order = list(queryset.query.order_by)
    if len(order) != 2 or not all(isinstance(name, str) for name in order):
        return None
    column, tie = order
    descending = column.startswith("-")
    column = column.removeprefix("-")
    if tie != ("-id" if descending else "id") or column not in SEEKABLE:
        return None
    return column, descending


# The narrow index of Host in id order (hosts.models) and the columns it holds.
ID_ORDER_INDEX = "host_id_team"
ID_ORDER_COLUMNS = {"id", "team_id"}


def _index_covers(query: Any) -> bool:
    """Whether the query, sorted by id, reads nothing ID_ORDER_INDEX lacks: no join, every filter on its columns."""
    if list(query.order_by) not in (["id", "id"], ["-id", "-id"], ["id"], ["-id"]):
        return False
    # A filter through the team (`team_id IN`, `team IS NULL`) leaves its join behind, unused (no references).
    if any(query.alias_refcount[alias] for alias in query.alias_map if alias != query.base_table):
        return False
    nodes = [query.where]
    while nodes:
        node = nodes.pop()
        if isinstance(node, WhereNode):
            nodes.extend(node.children)
            continue
        if not isinstance(node, Lookup) or not isinstance(node.lhs, Col):
            return False
        if node.lhs.target.column not in ID_ORDER_COLUMNS or hasattr(node.rhs, "resolve_expression"):
            return False
    return True


def offset_rows(queryset: QuerySet, fields: tuple[str, ...], start: int, stop: int) -> list[tuple]:
    """`queryset.values_list(*fields)[start:stop]` as tuples, read through ID_ORDER_INDEX on MySQL when it covers.

    MySQL never picks that index for ORDER BY id by itself (the primary key gives the order too, and
    its cost model does not see that each primary-key entry is a whole row), so it is named in the
    one place it helps: ids in id order, filtered at most by team. PostgreSQL's and SQLite's
    primary keys are narrow already; they run the plain query.
    """
    rows = queryset.values_list(*fields)[start:stop]
    database = connections[rows.db]
    if database.vendor != "mysql" or not _index_covers(rows.query):
        return list(rows)
    try:
        sql, params = rows.query.get_compiler(rows.db).as_sql()
    except EmptyResultSet:  # e.g. a user on no team: `team_id IN ()`
        return []
    table = database.ops.quote_name(Host._meta.db_table)
    hint = f"FROM {table} FORCE INDEX ({database.ops.quote_name(ID_ORDER_INDEX)})"
    with database.cursor() as cursor:
        cursor.execute(sql.replace(f"FROM {table}", hint, 1), params)
        return [tuple(row) for row in cursor.fetchall()]


def _key(identity: str, page: int) -> str:
    return f"hosts:page-start:{identity}:{page}"


def _remember(identity: str, page: int, row: tuple[Any, int], seconds: float) -> None:
    with contextlib.suppress(sharedcache.Unavailable):
        sharedcache.call(cache.set, _key(identity, page), row, max(1, int(seconds)))


def _recall(identity: str, page: int) -> tuple[Any, int] | None:
    try:
        return sharedcache.call(cache.get, _key(identity, page))
    except sharedcache.Unavailable:
        return None


def page_ids(queryset: QuerySet, page: int, per_page: int, identity: str = "") -> tuple[list[int], bool]:
    """The ids of page `page` (0-based) of `queryset` and whether more rows follow.

    `identity` (`list_identity`) names the list; without it, or with remembering turned off,
    every page is a plain OFFSET read.
    """
    seconds = settings.FLEETSITE_HOST_COUNTS_SECONDS
    remembering = bool(identity) and seconds > 0
    # With sharing off (`0`) every page is plain SQL, as the tests' query counts assume.
    if remembering and list(queryset.query.order_by) in (["team__name", "id"], ["-team__name", "-id"]):
        by_team = _team_page(queryset, page, per_page, identity, seconds)
        if by_team is not None:
            return by_team
    order = _order(queryset) if remembering else None
    if order is None:
        start = page * per_page
        ids = [host_id for (host_id,) in offset_rows(queryset, ("id",), start, start + per_page + 1)]
        return ids[:per_page], len(ids) > per_page
    column, descending = order
    start_after = _recall(identity, page) if page else None
    if start_after is not None:
        value, last_id = start_after
        after = queryset.filter(after_condition(column, value, last_id, descending))
        rows = list(after.values_list(column, "id")[: per_page + 1])
    elif page == 0:
        rows = list(queryset.values_list(column, "id")[: per_page + 1])
    else:
        # One row before the page too: it is where this page starts, for the next time it is asked for.
        start = page * per_page - 1
        rows = offset_rows(queryset, (column, "id"), start, start + per_page + 2)
        if not rows:
            return [], False
        _remember(identity, page, rows[0], seconds)
        rows = rows[1:]
    more = len(rows) > per_page
    rows = rows[:per_page]
    if more:
        _remember(identity, page + 1, rows[-1], seconds)
    return [host_id for _, host_id in rows], more


def _team_page(
    queryset: QuerySet, page: int, per_page: int, identity: str, seconds: float
) -> tuple[list[int], bool] | None:
    """A page of the list sorted by team name, read team by team; None when only OFFSET can find it.

    Sorting a million hosts by a joined name reads and sorts every row (1.3 s). Teams are few and
    each team's hosts come in id order from the (team, id) index, so a page is at most one short read
    per team, in the order the database sorts their names (its collation), hosts without a team
    where the database puts NULLs.
    """
    descending = queryset.query.order_by[0].startswith("-")
    groups: list[int | None] = [pk for pk, _ in team_names()]  # by name, in the database's collation
    if len(groups) > MAX_TEAM_GROUPS:
        return None
    nulls_first = not connection.features.nulls_order_largest
    groups = [None, *groups] if nulls_first else [*groups, None]
    if descending:
        groups.reverse()
    first, after_id = 0, None
    if page:
        start = _recall(identity, page)
        if start is None or start[0] not in groups:
            return None
        first, after_id = groups.index(start[0]), start[1]
    hosts = queryset.order_by("-id" if descending else "id")
    rows: list[tuple[int | None, int]] = []
    for team_id in groups[first:]:
        group = hosts.filter(team__isnull=True) if team_id is None else hosts.filter(team_id=team_id)
        if after_id is not None:
            group = group.filter(id__lt=after_id) if descending else group.filter(id__gt=after_id)
            after_id = None
        rows += [(team_id, host_id) for host_id in group.values_list("id", flat=True)[: per_page + 1 - len(rows)]]
        if len(rows) > per_page:
            break
    more = len(rows) > per_page
    rows = rows[:per_page]
    if more:
        _remember(identity, page + 1, rows[-1], seconds)
    return [host_id for _, host_id in rows], more
