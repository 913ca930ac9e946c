"""WSGI entry point under the bench settings."""

import os

os.environ["DJANGO_SETTINGS_MODULE"] = "bench.settings"

from fleetsite.wsgi import application  # noqa: E402, F401
