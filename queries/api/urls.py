"""REST routes of the queries app: one plain list, added to `fleetsite.urls.rest_patterns`.

Fleet 4.8's `reports/…` names are added for all of them by `fleetsite.api.aliases`. `queries/<name>` and `labels/<name>`
(Fleet's delete-by-name) must not swallow fixed words such as `run` or `delete`, whatever the order of
the lists, hence the `queryname` converter.
"""

from django.urls import path, register_converter

from queries.api import labels, packs, queries, reports, schedule, specs


class QueryNameConverter:
    regex = "[^/]+"
    reserved = frozenset({"run", "run_by_identifiers", "run_by_names", "delete", "id", "live", "summary"})

    def to_python(self, value: str) -> str:
        if value in self.reserved:
            raise ValueError(value)
        return value

    def to_url(self, value: str) -> str:
        return value


class PackNameConverter(QueryNameConverter):
    reserved = frozenset({"schedule", "id"})


register_converter(QueryNameConverter, "queryname")
register_converter(PackNameConverter, "packname")

urlpatterns = [
    path("queries", queries.QueryListView.as_view()),
    path("queries/delete", queries.QueryBatchDeleteView.as_view()),
    path("queries/id/<int:query_id>", queries.QueryDeleteByIdView.as_view()),
    path("queries/<int:query_id>/report", reports.QueryReportView.as_view()),
    path("queries/<queryname:key>", queries.QueryDetailView.as_view()),
    path("hosts/<int:host_id>/queries/<int:query_id>", reports.HostQueryReportView.as_view()),
    path("labels/summary", labels.LabelSummaryView.as_view()),
    path("labels/id/<int:label_id>", labels.LabelDeleteByIdView.as_view()),
    path("labels/<queryname:key>", labels.LabelDetailView.as_view()),
    path("spec/labels", labels.LabelSpecView.as_view()),
    path("spec/labels/<str:name>", specs.LabelSpecDetailView.as_view()),
    path("spec/queries", specs.QuerySpecsView.as_view()),
    path("spec/queries/<str:name>", specs.QuerySpecView.as_view()),
    path("spec/policies", specs.PolicySpecsView.as_view()),
    path("packs", packs.PackListView.as_view()),
    path("packs/schedule", packs.PackScheduleView.as_view()),
    path("packs/schedule/<int:scheduled_id>", packs.PackScheduleDetailView.as_view()),
    path("packs/id/<int:pack_id>", packs.PackDeleteByIdView.as_view()),
    path("packs/<int:pack_id>/scheduled", packs.PackScheduledListView.as_view()),
    path("packs/<packname:key>", packs.PackDetailView.as_view()),
    path("spec/packs", packs.PackSpecsView.as_view()),
    path("spec/packs/<str:name>", packs.PackSpecView.as_view()),
    path("schedule", schedule.GlobalScheduleView.as_view()),
    path("schedule/<int:scheduled_id>", schedule.GlobalScheduleDetailView.as_view()),
    path("global/schedule", schedule.GlobalScheduleView.as_view()),
    path("global/schedule/<int:scheduled_id>", schedule.GlobalScheduleDetailView.as_view()),
    path("teams/<int:fleet_id>/schedule", schedule.TeamScheduleView.as_view()),
    path("team/<int:fleet_id>/schedule", schedule.TeamScheduleView.as_view()),
    path("teams/<int:fleet_id>/schedule/<int:report_id>", schedule.TeamScheduleDetailView.as_view()),
    path("team/<int:fleet_id>/schedule/<int:report_id>", schedule.TeamScheduleDetailView.as_view()),
]
