from django.urls import path

from fleetsite.api import config, server, translate

urlpatterns = [
    path("config", config.ConfigView.as_view(), name="config"),
    path("config/certificate", config.CertificateView.as_view(), name="config-certificate"),
    path("translate", translate.TranslateView.as_view(), name="translate"),
    path("trigger", server.TriggerView.as_view(), name="trigger"),
    path("version", server.VersionView.as_view(), name="api-version"),
]
