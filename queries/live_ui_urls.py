"""Admin UI routes for live queries (policies' pages sit beside them)."""

from django.urls import path

from queries.views import live, policies, results

urlpatterns = [
    path("queries/live/", live.live_query, name="ui-live-query"),
    path("queries/live/hosts/", live.host_search, name="ui-live-hosts"),
    path("queries/live/count/", live.target_count, name="ui-live-count"),
    path("queries/live/start/", live.start, name="ui-live-start"),
    path("queries/live/<int:campaign_id>/", live.campaign_page, name="ui-live-campaign"),
    path("queries/live/<int:campaign_id>/stop/", live.stop, name="ui-live-stop"),
    path("queries/live/<int:campaign_id>/rows/", results.rows, name="ui-live-rows"),
    path("queries/live/<int:campaign_id>/results.csv", results.export_csv, name="ui-live-csv"),
    path("queries/live/history/", results.history, name="ui-live-history"),
    path("policies/", policies.policy_list, name="ui-policies"),
    path("policies/new/", policies.policy_edit, name="ui-policy-new"),
    path("policies/<int:policy_id>/", policies.policy_edit, name="ui-policy"),
    path("policies/<int:policy_id>/delete/", policies.policy_delete, name="ui-policy-delete"),
]
