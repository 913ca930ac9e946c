"""The login page's single sign-on buttons (shown only for what is turned on)."""

from __future__ import annotations

from typing import Any

from django import template
from django.template.loader import render_to_string
from django.utils.http import urlencode
from django.utils.safestring import SafeString

register = template.Library()


@register.simple_tag
def sso_login_buttons(next_url: str = "/") -> SafeString:
    from sso.views import login_page_settings

    settings: dict[str, Any] = login_page_settings()
    if not (settings["sso_enabled"] or settings["oidc_enabled"]):
        return SafeString("")
    query = urlencode({"next": next_url or "/"})
    return SafeString(render_to_string("sso/_login_buttons.html", {**settings, "query": query}))
