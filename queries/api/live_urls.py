"""REST routes for live queries (mounted beside the saved-query routes)."""

from django.urls import path

from queries.api import host_query, live, targets

urlpatterns = [
    path("queries/run", live.RunCampaignView.as_view(), name="queries-run"),
    path("queries/run_by_identifiers", live.RunByIdentifiersView.as_view(), name="queries-run-by-identifiers"),
    path("queries/run_by_names", live.RunByIdentifiersView.as_view()),
    path("queries/<int:query_id>/run", live.RunSavedQueryView.as_view(), name="query-run"),
    path("campaigns/<int:campaign_id>/results", live.CampaignResultsView.as_view(), name="campaign-results"),
    path("campaigns/<int:campaign_id>/stop", live.CampaignStopView.as_view(), name="campaign-stop"),
    path("hosts/<int:host_id>/query", host_query.HostQueryView.as_view(), name="host-query"),
    path(
        "hosts/identifier/<str:identifier>/query",
        host_query.HostIdentifierQueryView.as_view(),
        name="host-identifier-query",
    ),
    path("status/result_store", host_query.ResultStoreStatusView.as_view(), name="status-result-store"),
    path("status/live_query", host_query.LiveQueryStatusView.as_view(), name="status-live-query"),
    path("targets", targets.TargetsView.as_view(), name="targets"),
    path("targets/count", targets.TargetsCountView.as_view(), name="targets-count"),
]
