"""ASGI entry points under the bench settings."""

import os

os.environ["DJANGO_SETTINGS_MODULE"] = "bench.settings"

from fleetsite.asgi import application, combined  # noqa: E402, F401
