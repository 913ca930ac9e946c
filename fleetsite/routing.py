"""Websocket routes: the live-query results socket under every API version (fleet-protocol §4.5)."""

from django.urls import URLPattern, re_path

from queries.consumers import ResultsConsumer

websocket_urlpatterns: list[URLPattern] = [
    re_path(r"^api/(?:v1|2022-04|latest)/fleet/results/websocket/?$", ResultsConsumer.as_asgi()),
]
