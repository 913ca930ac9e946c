"""REST routes for live queries (mounted beside the saved-query routes)."""

from django.urls import path

from queries.api import live

urlpatterns = [
    path("queries/run", live.RunCampaignView.as_view(), name="queries-run"),
    path("queries/run_by_identifiers", live.RunByIdentifiersView.as_view(), name="queries-run-by-identifiers"),
    path("queries/run_by_names", live.RunByIdentifiersView.as_view()),
    path("queries/<int:query_id>/run", live.RunSavedQueryView.as_view(), name="query-run"),
    path("campaigns/<int:campaign_id>/results", live.CampaignResultsView.as_view(), name="campaign-results"),
    path("campaigns/<int:campaign_id>/stop", live.CampaignStopView.as_view(), name="campaign-stop"),
]
