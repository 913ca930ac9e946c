"""Websocket routes; the live-query results socket joins them with the queries work."""

from django.urls import URLPattern

websocket_urlpatterns: list[URLPattern] = []
