"""WSGI entry point: agent and REST HTTP are served here (cheaper per request than ASGI).

The agent routes with a fixed path skip Django's middleware and URL resolving
(`fleetsite.agent_wsgi`); everything else is Django's own handler.
"""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fleetsite.settings")

django_application = get_wsgi_application()

from fleetsite.agent_wsgi import AgentWSGI  # noqa: E402 - Django must be set up first

application = AgentWSGI(django_application)
