"""REST routes of the queries app: one plain list, added to `fleetsite.urls.rest_patterns`.

Every route exists under `queries/…` and Fleet 4.8x's `reports/…`. `queries/<name>` and `labels/<name>`
(Fleet's delete-by-name) must not swallow fixed words such as `run` or `delete`, whatever the order of
the lists, hence the `queryname` converter.
"""

from django.urls import path, register_converter

from queries.api import labels, queries, reports


class QueryNameConverter:
    regex = "[^/]+"
    reserved = frozenset({"run", "run_by_identifiers", "run_by_names", "delete", "id", "live", "summary"})

    def to_python(self, value: str) -> str:
        if value in self.reserved:
            raise ValueError(value)
        return value

    def to_url(self, value: str) -> str:
        return value


register_converter(QueryNameConverter, "queryname")

urlpatterns = []
for prefix in ("queries", "reports"):
    urlpatterns += [
        path(prefix, queries.QueryListView.as_view()),
        path(f"{prefix}/delete", queries.QueryBatchDeleteView.as_view()),
        path(f"{prefix}/id/<int:query_id>", queries.QueryDeleteByIdView.as_view()),
        path(f"{prefix}/<int:query_id>/report", reports.QueryReportView.as_view()),
        path(f"{prefix}/<queryname:key>", queries.QueryDetailView.as_view()),
    ]
urlpatterns += [
    path("hosts/<int:host_id>/queries/<int:query_id>", reports.HostQueryReportView.as_view()),
    path("hosts/<int:host_id>/reports/<int:query_id>", reports.HostQueryReportView.as_view()),
    path("labels/summary", labels.LabelSummaryView.as_view()),
    path("labels/id/<int:label_id>", labels.LabelDeleteByIdView.as_view()),
    path("labels/<queryname:key>", labels.LabelDetailView.as_view()),
    path("spec/labels", labels.LabelSpecView.as_view()),
]
