"""The live-query page: pick targets, write SQL, watch results arrive (and read them again later)."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from django.db.models import Count
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from accounts import permissions
from accounts.models import Team
from fleetsite.api.errors import FleetAPIError, error_body
from fleetsite.ui import login_required
from hosts.api.host_extras import search_condition
from hosts.labels import host_counts
from hosts.models import Host
from queries import campaigns, running
from queries import results as results_table
from queries.api.targets import query_for_targets, target_metrics
from queries.choices import CampaignStatus, TargetStatus
from queries.labels import visible_labels
from queries.models import Query
from queries.saved import readable_queries
from queries.sql import SQLError
from queries.views import results as result_views

# "Keep open" choices: closing the page ends the campaign unless one of these is picked.
# Results embedded in a running campaign's page; the websocket replays the others when it joins.
STORED_RESULTS_IN_PAGE = 20
KEEP_OPEN_CHOICES = [(0, "Until I close this page"), (3600, "1 hour"), (8 * 3600, "8 hours"), (86400, "1 day"),
                     (7 * 86400, "7 days")]  # fmt: skip
HOST_SEARCH_LIMIT = 20


def _visible_hosts(request: HttpRequest) -> Any:
    return permissions.scope_to_teams(Host.objects.all(), request.user)


@login_required
@require_GET
def live_query(request: HttpRequest) -> HttpResponse:
    """The page; `?query_id=` preloads a saved query, `?host_ids=1,2` preselects hosts."""
    query = None
    if request.GET.get("query_id", "").isdigit():
        query = readable_queries(request.user).filter(pk=int(request.GET["query_id"])).first()
    host_ids = [int(part) for part in request.GET.get("host_ids", "").split(",") if part.strip().isdigit()]
    if request.GET.get("rerun", "").isdigit():  # the history page's "Rerun": same SQL, same hosts
        earlier = _own_campaign(request, int(request.GET["rerun"]))
        # An ad-hoc query is rerun as SQL (a transient copy, so no query_id is sent for it).
        query = earlier.query if earlier.query.saved else Query(query=earlier.query.query)
        host_ids = [int(pk) for pk in earlier.selected.get("hosts", []) if str(pk).isdigit()]
    visible = _visible_hosts(request)
    labels = list(visible_labels(request.user).order_by("label_type", "name"))
    counts = host_counts(request.user, [label.pk for label in labels])
    for label in labels:
        label.n = counts.get(label.pk, 0)
    teams = _visible_teams(request)
    context = {
        "title": "Live query",
        "query": query,
        "preselected_hosts": list(visible.filter(pk__in=host_ids).values("id", "hostname", "computer_name")),
        "labels": labels,
        "teams": teams,
        "keep_open_choices": KEEP_OPEN_CHOICES,
        "page_rows": results_table.PAGE_SIZE,
        "can_run_adhoc": running.may_run(request.user, None),
    }
    return render(request, "queries/live.html", context)


@login_required
@require_GET
def host_search(request: HttpRequest) -> HttpResponse:
    """Hosts, labels and teams matching `q` for the target picker, searched in the database.

    Hosts match on display name, hostname, UUID, serial or IP and carry team, platform, last seen
    and serial so that hosts with one name can be told apart. Three queries at most (hosts with
    their team, labels with one grouped count, teams with their host counts), each limited.
    """
    text = request.GET.get("q", "").strip()
    context: dict[str, Any] = {"text": text, "hosts": [], "labels": [], "teams": [], "limit": HOST_SEARCH_LIMIT}
    if text:
        matches = _visible_hosts(request).filter(search_condition(text))
        context["hosts"] = [
            {**row, "name": row["computer_name"] or row["hostname"]}
            for row in matches.order_by("hostname", "id").values(
                "id", "hostname", "computer_name", "platform", "seen_time", "hardware_serial", "team__name"
            )[:HOST_SEARCH_LIMIT]
        ]
        labels = list(visible_labels(request.user).filter(name__icontains=text).order_by("name")[:HOST_SEARCH_LIMIT])
        counts = host_counts(request.user, [label.pk for label in labels]) if labels else {}
        for label in labels:
            label.n = counts.get(label.pk, 0)
        context["labels"] = labels
        context["teams"] = list(
            _visible_teams(request).filter(name__icontains=text).order_by("name")[:HOST_SEARCH_LIMIT]
        )
    return render(request, "queries/_host_options.html", context)


def _visible_teams(request: HttpRequest) -> Any:
    return permissions.scope_to_teams(Team.objects.all(), request.user, "id").annotate(n=Count("hosts"))


@login_required
@require_GET
def target_count(request: HttpRequest) -> JsonResponse:
    """How many hosts the ticked targets reach (`/targets/count`'s logic), for the picker's live count.

    `?hosts=1,2&labels=3&teams=4&query_id=5`: the same rules as starting the campaign, so the number
    shown is the number the run then targets.
    """
    selected = {
        key: [int(part) for part in request.GET.get(key, "").split(",") if part.strip().isdigit()][:10_000]
        for key in ("hosts", "labels", "teams")
    }
    query_id = request.GET.get("query_id", "")
    try:
        query = query_for_targets(request.user, int(query_id) if query_id.isdigit() else None)
    except FleetAPIError:  # a query this user may not see counts as ad-hoc SQL: the stricter rule
        query = query_for_targets(request.user, None)
    metrics = target_metrics(campaigns.target_hosts(request.user, selected, query), timezone.now())
    return JsonResponse(metrics)


def _json_error(message: str, status: int, field: str = "base") -> JsonResponse:
    return JsonResponse(error_body(message, [{"name": field, "reason": message}]), status=status)


def _int_list(values: Any) -> list[int] | None:
    if not isinstance(values, list) or not all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        return None
    return values


@login_required
@require_POST
def start(request: HttpRequest) -> JsonResponse:
    """Start a campaign from the page (session + CSRF); the page then watches it over the websocket."""
    try:
        body = json.loads(request.body or b"{}")
    except ValueError:
        return _json_error("request body is not valid JSON", 400)
    if not isinstance(body, dict):
        return _json_error("request body must be a JSON object", 400)
    selected = {key: _int_list(body.get(key, [])) for key in ("hosts", "labels", "teams")}
    if any(value is None for value in selected.values()):
        return _json_error("hosts, labels and teams must be lists of ids", 422, "selected")
    keep_open = body.get("keep_open_seconds") or 0
    if not isinstance(keep_open, int) or not 0 <= keep_open <= running.MAX_KEEP_OPEN.total_seconds():
        return _json_error("keep_open_seconds must be between 0 and 604800", 422, "keep_open_seconds")
    query_id = body.get("query_id") if isinstance(body.get("query_id"), int) else None
    sql = body.get("query") if isinstance(body.get("query"), str) else None
    if not query_id and not (sql or "").strip():
        return _json_error("one of query or query_id must be specified", 422, "query")
    try:
        running.ensure_enabled()
        query = running.query_to_run(request.user, query_id, sql)
        running.ensure_streamable()
        campaign = running.start(request.user, query, selected, timedelta(seconds=keep_open) if keep_open else None)
    except SQLError as exc:
        return _json_error(str(exc), 422, "query")
    except running.RunRefused as exc:
        return _json_error(str(exc), exc.status)
    except campaigns.NoHostsTargeted:
        return _json_error("no hosts targeted", 400)
    except running.LiveQueryUnavailable as exc:
        return _json_error(str(exc), 503)
    return JsonResponse({"campaign": {"id": campaign.pk, "totals": campaigns.totals(campaign)}})


_own_campaign = result_views.own_campaign


@login_required
@require_POST
def stop(request: HttpRequest, campaign_id: int) -> JsonResponse:
    campaigns.stop(_own_campaign(request, campaign_id))
    return JsonResponse({})


@login_required
@require_GET
def campaign_page(request: HttpRequest, campaign_id: int) -> HttpResponse:
    """A campaign's results, kept after its page closed; it keeps filling while the campaign is open."""
    campaign = _own_campaign(request, campaign_id)
    every_answer_in = not campaign.targets.filter(status=TargetStatus.PENDING).exists()
    if campaign.status == CampaignStatus.COMPLETE or every_answer_in:
        return result_views.finished_page(request, campaign)
    context = {
        "title": f"Live query {campaign.pk}",
        "campaign": campaign,
        # The first results only: the page shows one page of rows, and the socket replays the rest.
        "stored": campaigns.stored_frames(campaign, max_results=STORED_RESULTS_IN_PAGE)[0],
        "page_rows": results_table.PAGE_SIZE,
        "totals": campaigns.totals(campaign),
        "keep_open_choices": KEEP_OPEN_CHOICES,
    }
    return render(request, "queries/live.html", context)
