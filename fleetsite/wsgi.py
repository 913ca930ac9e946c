"""WSGI entry point: agent and REST HTTP are served here (cheaper per request than ASGI)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fleetsite.settings")

application = get_wsgi_application()
