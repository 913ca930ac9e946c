"""Admin UI routes for scripts: the library, batch runs, outputs, the host page's Scripts tab."""

from django.urls import path

from scripts import views

urlpatterns = [
    path("scripts/", views.script_list, name="ui-scripts"),
    path("scripts/<int:pk>/", views.script_detail, name="ui-script"),
    path("scripts/<int:pk>/delete/", views.script_delete, name="ui-script-delete"),
    path("scripts/<int:pk>/run/", views.script_run, name="ui-script-run"),
    path("scripts/batches/<slug:batch_id>/", views.batch_detail, name="ui-script-batch"),
    path("scripts/batches/<slug:batch_id>/cancel/", views.batch_cancel, name="ui-script-batch-cancel"),
    path("scripts/results/<slug:execution_id>/", views.execution_result, name="ui-script-result"),
    path("hosts/<int:pk>/scripts/", views.host_scripts, name="ui-host-scripts"),
    path("hosts/<int:pk>/scripts/<int:script_id>/run/", views.host_script_run, name="ui-host-script-run"),
]
