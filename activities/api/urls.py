from django.urls import path

from activities.api import views

urlpatterns = [
    path("activities", views.ActivityListView.as_view(), name="activities"),
]
