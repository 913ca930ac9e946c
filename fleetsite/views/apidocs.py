"""The Redoc API docs page under the site's Content-Security-Policy.

Redoc renders with styled-components, which inserts <style> elements it cannot give a nonce to,
and parses the schema in a Web Worker made from a blob: URL. So this page alone allows inline
styles and blob: workers; scripts stay 'self' only (Redoc starts from its <redoc> element, with
no inline script).
"""

from __future__ import annotations

from csp.constants import SELF, UNSAFE_INLINE
from csp.decorators import csp_update
from drf_spectacular.views import SpectacularRedocView


class RedocView(SpectacularRedocView):
    """drf-spectacular's Redoc view with a template that has no inline code and no web fonts."""

    template_name = "fleetsite/redoc.html"


redoc = csp_update({"style-src": [UNSAFE_INLINE], "worker-src": [SELF, "blob:"]})(RedocView.as_view(url_name="schema"))
