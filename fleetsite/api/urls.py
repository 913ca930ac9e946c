from django.urls import path

from fleetsite.api import config

urlpatterns = [
    path("config", config.ConfigView.as_view(), name="config"),
]
