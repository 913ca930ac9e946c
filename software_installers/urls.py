"""Admin UI routes for software installers and the host page's upcoming and past activities."""

from django.urls import path

from software_installers import views

urlpatterns = [
    path("software/installers/", views.installer_list, name="ui-installers"),
    path("software/installers/<int:pk>/", views.installer_detail, name="ui-installer"),
    path("software/installs/<slug:install_uuid>/", views.install_result, name="ui-install-result"),
    path("hosts/<int:pk>/activities/", views.host_activities, name="ui-host-activities"),
    path(
        "hosts/<int:pk>/activities/upcoming/<slug:activity_id>/cancel/",
        views.host_upcoming_cancel,
        name="ui-host-upcoming-cancel",
    ),
]
