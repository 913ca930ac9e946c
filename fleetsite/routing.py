"""Websocket routes: the live-query results socket under every API version (fleet-protocol §4.5).

Scripts authenticate in the first message with a bearer token, as with Fleet; the admin UI's
pages may instead rely on their login session, so the socket also gets session auth. The
consumer accepts a session only from a same-origin page (a cookie alone must not let another
site in, and ALLOWED_HOSTS is `*` by default, so Channels' host-based origin check would not).
"""

from channels.auth import AuthMiddlewareStack
from django.urls import URLPattern, re_path

from queries.consumers import ResultsConsumer

websocket_urlpatterns: list[URLPattern] = [
    re_path(r"^api/(?:v1|2022-04|latest)/fleet/results/websocket/?$", ResultsConsumer.as_asgi()),
]


def websocket_application(inner: object) -> object:
    """The session-aware websocket stack around the URL router."""
    return AuthMiddlewareStack(inner)
