from django.urls import path

from scripts.api import batches, views

# Batch ids are uuids (Fleet's route allows [a-zA-Z0-9-]+).
urlpatterns = [
    path("scripts", views.ScriptListView.as_view(), name="scripts"),
    path("scripts/run", views.RunView.as_view(), name="scripts-run"),
    path("scripts/run/sync", views.RunSyncView.as_view(), name="scripts-run-sync"),
    path("scripts/run/batch", batches.BatchRunView.as_view(), name="scripts-run-batch"),
    path("scripts/results/<str:execution_id>", views.ResultView.as_view(), name="script-result"),
    path("scripts/batch", batches.ScriptBatchView.as_view(), name="scripts-batch"),
    path("scripts/batch/summary/<slug:batch_execution_id>", batches.BatchSummaryView.as_view()),
    path("scripts/batch/<slug:batch_execution_id>", batches.BatchDetailView.as_view(), name="script-batch"),
    path("scripts/batch/<slug:batch_execution_id>/host-results", batches.BatchHostResultsView.as_view()),
    path("scripts/batch/<slug:batch_execution_id>/cancel", batches.BatchCancelView.as_view()),
    path("scripts/<int:script_id>", views.ScriptDetailView.as_view(), name="script"),
    path("hosts/<int:host_id>/scripts", views.HostScriptsView.as_view(), name="host-scripts"),
    path("hosts/<int:host_id>/activities/upcoming", views.HostUpcomingView.as_view(), name="host-upcoming"),
    path("hosts/<int:host_id>/activities/upcoming/<str:activity_id>", views.HostUpcomingDetailView.as_view()),
]
