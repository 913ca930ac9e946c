"""Admin UI routes for the activity feed (read-only: there is nothing to edit)."""

from django.urls import path

from activities import views

urlpatterns = [
    path("activity/", views.activity_list, name="ui-activity"),
    path("activity/export.csv", views.activity_export, name="ui-activity-export"),
]
