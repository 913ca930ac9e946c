"""REST routes for policies: global (also v1's `/global/policies`) and per team (also `/team/{id}/...`)."""

from django.urls import path

from queries.api import policies

urlpatterns = []
for prefix in ("policies", "global/policies", "teams/<int:team_id>/policies", "team/<int:team_id>/policies"):
    urlpatterns += [
        path(prefix, policies.PolicyListView.as_view()),
        path(f"{prefix}/count", policies.PolicyCountView.as_view()),
        path(f"{prefix}/delete", policies.PolicyDeleteView.as_view()),
        path(f"{prefix}/<int:policy_id>", policies.PolicyDetailView.as_view()),
    ]

urlpatterns.append(path("automations/reset", policies.AutomationResetView.as_view(), name="automations-reset"))
