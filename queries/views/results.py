"""A campaign's stored results as a server-side table, its CSV, and the list of past and running live queries."""

from __future__ import annotations

from django.db.models import Count, Q
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest, StreamingHttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from accounts import permissions
from fleetsite.ui import login_required
from queries import campaigns, results
from queries.choices import CampaignStatus, TargetStatus
from queries.models import Campaign

HISTORY_LIMIT = 200


def own_campaign(request: HttpRequest, campaign_id: int) -> Campaign:
    """The campaign if this user started it (global admins see every one); 404 otherwise."""
    campaign = Campaign.objects.select_related("query").filter(pk=campaign_id).first()
    if campaign is None or (campaign.user_id != request.user.pk and not permissions.is_global_admin(request.user)):
        raise Http404("no such campaign")
    return campaign


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except ValueError:
        return None


def table_context(request: HttpRequest, campaign: Campaign) -> dict:
    """The table's page for the request's cursor, sort (`sort`, `dir=desc`) and filters (`host`, `q`)."""
    host_id = _int(request.GET.get("host"))
    text = request.GET.get("q", "").strip()
    sort = request.GET.get("sort", "")
    descending = request.GET.get("dir") == "desc"
    rows = results.filtered(results.visible_rows(campaign, request.user), host_id, text)
    table = results.page(rows, sort, descending, _int(request.GET.get("after")), request.GET.get("after_value"))
    table.filters = {"host": "" if host_id is None else str(host_id), "q": text}
    return {"campaign": campaign, "table": table}


@login_required
@require_GET
def rows(request: HttpRequest, campaign_id: int) -> HttpResponse:
    """One page of rows (htmx swaps it in; a plain link opens it whole)."""
    campaign = own_campaign(request, campaign_id)
    try:
        context = table_context(request, campaign)
    except ValueError as exc:
        return HttpResponseBadRequest(str(exc))
    return render(request, "queries/_result_rows.html", context)


@login_required
@require_GET
def export_csv(request: HttpRequest, campaign_id: int) -> StreamingHttpResponse:
    """The whole result (with the page's filters), streamed so neither side holds it in memory."""
    campaign = own_campaign(request, campaign_id)
    selected = results.filtered(
        results.visible_rows(campaign, request.user), _int(request.GET.get("host")), request.GET.get("q", "").strip()
    )
    response = StreamingHttpResponse(results.csv_lines(selected), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="live-query-{campaign.pk}.csv"'
    return response


def finished_page(request: HttpRequest, campaign: Campaign) -> HttpResponse:
    """A finished campaign, complete from the first byte: summary, the first page of rows, no websocket."""
    try:
        context = table_context(request, campaign)
    except ValueError as exc:
        return HttpResponseBadRequest(str(exc))
    context.update(
        title=f"Live query {campaign.pk}",
        summary=results.summary(campaign, request.user),
        totals=campaigns.totals(campaign),
    )
    return render(request, "queries/live_results.html", context)


@login_required
@require_GET
def history(request: HttpRequest) -> HttpResponse:
    """Past and running live queries: who ran what, on how many hosts, when, and how many rows came back."""
    found = Campaign.objects.select_related("query", "user").annotate(
        targeted=Count("targets", distinct=True),
        answered=Count("targets", filter=Q(targets__status=TargetStatus.ANSWERED), distinct=True),
        failed=Count("targets", filter=Q(targets__status=TargetStatus.FAILED), distinct=True),
    )
    if not permissions.is_global_admin(request.user):
        found = found.filter(user=request.user)
    shown = list(found.order_by("-id")[:HISTORY_LIMIT])
    counts = dict(
        Campaign.objects.filter(pk__in=[c.pk for c in shown]).annotate(n=Count("rows")).values_list("pk", "n")
    )
    for campaign in shown:
        campaign.row_count = counts.get(campaign.pk, 0)
        campaign.running = campaign.status != CampaignStatus.COMPLETE
    return render(request, "queries/live_history.html", {"title": "Live query history", "campaigns": shown})
