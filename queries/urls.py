"""Admin UI routes for saved queries, their reports and labels (live queries and policies: live_ui_urls)."""

from django.urls import path

from queries.views import labels, queries, reports

urlpatterns = [
    path("queries/", queries.query_list, name="ui-queries"),
    path("queries/new/", queries.query_edit, name="ui-query-new"),
    path("queries/check-sql/", queries.check_sql, name="ui-check-sql"),
    path("queries/<int:query_id>/", queries.query_edit, name="ui-query"),
    path("queries/<int:query_id>/delete/", queries.query_delete, name="ui-query-delete"),
    path("queries/<int:query_id>/report/", reports.query_report, name="ui-query-report"),
    path("queries/<int:query_id>/report.csv", reports.query_report_csv, name="ui-query-report-csv"),
    path("labels/", labels.label_list, name="ui-labels"),
    path("labels/new/", labels.label_edit, name="ui-label-new"),
    path("labels/<int:label_id>/", labels.label_edit, name="ui-label"),
    path("labels/<int:label_id>/delete/", labels.label_delete, name="ui-label-delete"),
]
