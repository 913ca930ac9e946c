"""The API docs page works offline: its scripts come from this server, not a CDN."""

import re

from django.test import Client


def test_redoc_page_loads_only_local_scripts(admin):
    client = Client()
    client.force_login(admin)
    html = client.get("/api/docs/").content.decode()
    sources = re.findall(r'<script[^>]+src="([^"]+)"', html)
    assert sources, html[:500]
    assert all(source.startswith("/static/") for source in sources), sources
