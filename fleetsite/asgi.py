"""ASGI entry points.

`application` is the plain Channels router (Django's ASGI handler for HTTP), for daphne or
uvicorn deployments that want it. `combined` is what `manage.py serve` runs: websockets go to
Channels, while HTTP goes to Django's WSGI handler through `fleetsite.wsgi_bridge`, because
Django's ASGI handler costs several times the CPU per request (see `make bench`).
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fleetsite.settings")

django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402 - Django must be set up first
from django.conf import settings  # noqa: E402

from fleetsite.routing import websocket_application, websocket_urlpatterns  # noqa: E402
from fleetsite.wsgi import application as wsgi_application  # noqa: E402
from fleetsite.wsgi_bridge import WSGIBridge  # noqa: E402
from queries import live  # noqa: E402

websocket_app = websocket_application(URLRouter(websocket_urlpatterns))

application = ProtocolTypeRouter({"http": django_asgi_app, "websocket": websocket_app})

# Bodies past the agent cap plus slack are refused before Django; Django answers smaller
# oversize bodies itself, in the error shape of the endpoint.
_wsgi_bridge = WSGIBridge(
    wsgi_application,
    threads=settings.FLEETSITE_WSGI_THREADS,
    max_body=max(settings.FLEETSITE_AGENT_MAX_BODY, settings.DATA_UPLOAD_MAX_MEMORY_SIZE) + 1024 * 1024,
)


async def combined(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """One port for everything: HTTP through WSGI, websockets through Channels."""
    if scope["type"] == "http":
        await _wsgi_bridge(scope, receive, send)
    elif scope["type"] == "websocket":
        await websocket_app(scope, receive, send)
    elif scope["type"] == "lifespan":
        message = await receive()
        while message["type"] != "lifespan.shutdown":
            if message["type"] == "lifespan.startup":
                # Results received in WSGI threads are handed to this loop's websockets.
                live.register_loop(asyncio.get_running_loop())
                await send({"type": "lifespan.startup.complete"})
            message = await receive()
        await send({"type": "lifespan.shutdown.complete"})
