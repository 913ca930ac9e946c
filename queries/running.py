"""Starting live queries for people: who may run what, ad-hoc queries, activity records.

Shared by the REST API and the admin UI so both enforce the same rules.
"""

from __future__ import annotations

import time
from datetime import timedelta

from accounts import permissions
from accounts.models import User
from activities.record import record
from fleetsite.models import FleetConfig
from queries import campaigns, live
from queries.models import Campaign, Query
from queries.sql import validate_read_only

# Beyond Fleet: how long a campaign may be kept open for hosts that come online later.
MAX_KEEP_OPEN = timedelta(days=7)


class RunRefused(Exception):
    """A live query the user may not run (403) or that names no visible query (404)."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


class LiveQueryUnavailable(Exception):
    """Results of a new campaign could not be streamed now (Redis is down): 503, try again shortly."""


def may_run(user: User, query: Query | None) -> bool:
    """Admins and maintainers run anything; observer+ too; observers only saved queries they are allowed."""
    # Roles after any API-token cap; live queries need a live-query role somewhere.
    roles = {permissions.global_role(user), *permissions.team_roles(user).values()}
    if roles & permissions.RULES[permissions.Kind.LIVE_QUERY][1]:
        return True
    return query is not None and query.saved and query.observer_can_run


def ensure_enabled() -> None:
    if FleetConfig.load().live_query_disabled:
        raise RunRefused("live queries are disabled in the settings", 403)


def ensure_streamable() -> None:
    """Refuse a websocket-streamed campaign while the channel layer cannot carry its results."""
    if not live.available():
        raise LiveQueryUnavailable(
            "live queries are unavailable: their results travel through Redis, which is unreachable; try again shortly"
        )


def visible_query(user: User, query_id: int) -> Query:
    """A saved query the user may see. Ad-hoc queries are stored unsaved and stay their author's."""
    from queries.saved import readable_queries

    query = readable_queries(user).filter(pk=query_id).first()
    if query is None:
        raise RunRefused(f"Query {query_id} was not found in the datastore", 404)
    return query


def query_to_run(user: User, query_id: int | None = None, sql: str | None = None) -> Query:
    """The saved query, or a new unsaved one for ad-hoc SQL (raises SQLError for bad SQL)."""
    if query_id:
        query = visible_query(user, query_id)
    else:
        validate_read_only(sql or "")
        query = Query.objects.create(
            name=f"distributed_{user.email}_{time.time_ns()}", query=sql, saved=False, author=user
        )
    if not may_run(user, query):
        raise RunRefused("forbidden", 403)
    return query


def start(user: User, query: Query, selected: dict, keep_open: timedelta | None = None) -> Campaign:
    """Start the campaign (raises campaigns.NoHostsTargeted) and record the run in the activity feed."""
    campaign = campaigns.start(user, query, selected, keep_open)
    details = {
        "query_id": query.pk if query.saved else None,
        "query_name": query.name if query.saved else None,  # Fleet's, for a saved query
        "query_sql": query.query,
        "targets_count": campaign.targets.count(),
    }
    record(user, "live_query", details)
    return campaign
