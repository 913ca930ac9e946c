"""My Device: the page Fleet Desktop opens at `/device/{token}` in the end user's browser.

No admin login: the device token is the only credential, checked exactly as the My Device REST
routes check it (`enrollment.agent.device.authenticate_device`: the presented token is hashed and
looked up by its digest, so timing says nothing about it; rotated within the TTL). A wrong or
expired token gets one plain 401 page that names no host. Every query below is scoped to the
token's host, so no other host's data can appear.
"""

from __future__ import annotations

from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from enrollment.agent.base import AuthRequired
from enrollment.agent.device import authenticate_device
from fleetsite.api.errors import FleetAPIError
from fleetsite.models import FleetConfig
from fleetsite.ui import paginate
from hosts.api.serializers import host_policies
from hosts.models import Host
from hosts.tables import PLATFORM_NAMES, status_badge

SOFTWARE_PER_PAGE = 50
# Fleet's My Device tabs; each opens the same page, scrolled to its section.
TABS = {"software": "software", "self-service": "self-service", "policies": "policies"}
# What the page says after a POST, chosen by a fixed key in the address (never free text).
NOTICES = {
    "refetch": "Refetch requested: fresh details arrive at your device's next check-in.",
    "install": "Install requested: it starts at your device's next check-in.",
}

# Fleet's install states in words, with the badge tone.
INSTALL_STATUS = {
    "pending_install": ("Install pending", "warn"),
    "installed": ("Installed", "pass"),
    "failed_install": ("Install failed", "fail"),
    "pending_uninstall": ("Uninstall pending", "warn"),
    "failed_uninstall": ("Uninstall failed", "fail"),
}


def _no_store(response: HttpResponse) -> HttpResponse:
    """The token is in the address: keep it out of caches and out of Referer headers to other sites.

    `same-origin`, not `no-referrer`: with no-referrer browsers send `Origin: null` on the page's
    own form posts, which Django's CSRF check rightly refuses.
    """
    response["Cache-Control"] = "no-store"
    response["Referrer-Policy"] = "same-origin"
    response["X-Robots-Tag"] = "noindex"
    return response


def _denied(request: HttpRequest) -> HttpResponse:
    return _no_store(render(request, "hosts/device_denied.html", {"title": "Link expired"}, status=401))


def _host(token: str) -> Host | None:
    try:
        return authenticate_device(token)
    except AuthRequired:
        return None


def _failing_first(policies: list[dict[str, Any]]) -> list[dict[str, Any]]:
    order = {"fail": 0, "": 1, "pass": 2}
    return sorted(policies, key=lambda p: (order.get(p["response"], 1), p["name"].lower()))


def _self_service(host: Host) -> list[dict[str, Any]]:
    """The team's self-service packages with this host's install status (none when the app has no rows)."""
    from software_installers import host_software
    from software_installers.models import SoftwareInstaller

    if not SoftwareInstaller.objects.filter(team_key=host.team_id or 0, self_service=True).exists():
        return []
    rows = list(host_software.rows(host, self_service=True)[:200])
    entries = host_software.page_json(host, rows)
    for entry in entries:
        entry["status_label"], entry["tone"] = INSTALL_STATUS.get(entry["status"] or "", ("", ""))
        entry["pending"] = (entry["status"] or "").startswith("pending")
    return entries


@require_http_methods(["GET", "HEAD"])
def device_page(request: HttpRequest, token: str, tab: str = "") -> HttpResponse:
    if tab and tab not in TABS:
        raise Http404
    host = _host(token)
    if host is None:
        return _denied(request)
    now = timezone.now()
    installs = host.software_installs.select_related("software").order_by("software__name", "software__version", "pk")
    software, page = paginate(request, installs, SOFTWARE_PER_PAGE)
    context = {
        "host": host,
        "software": software,
        "page": page,
    }
    if request.htmx and request.htmx.target == "results":
        return _no_store(render(request, "hosts/_device_software.html", context))
    policies = _failing_first(host_policies(host))
    config = FleetConfig.load()
    context.update(
        {
            "title": "My device",
            "token": token,
            "org_name": config.org_name,
            "org_contact_url": config.contact_url,
            "status": status_badge(host.seen_time, host.online_until > now, now),
            "platform_name": PLATFORM_NAMES.get(host.platform, host.platform),
            "policies": policies,
            "failing_count": sum(1 for p in policies if p["response"] == "fail"),
            "self_service": _self_service(host),
            "notice": NOTICES.get(request.GET.get("done", "")),
        }
    )
    return _no_store(render(request, "hosts/device.html", context))


@require_POST
def device_refetch(request: HttpRequest, token: str) -> HttpResponse:
    """What `POST /api/latest/fleet/device/{token}/refetch` does: ask for fresh details at the next check-in."""
    host = _host(token)
    if host is None:
        return _denied(request)
    Host.objects.filter(pk=host.pk).update(refetch_requested=True)
    return _no_store(redirect(f"{reverse('ui-device', args=[token])}?done=refetch"))


@require_POST
def device_install(request: HttpRequest, token: str, title_id: int) -> HttpResponse:
    """What `POST /api/latest/fleet/device/{token}/software/install/{id}` does, for a self-service package."""
    from software_installers import service

    host = _host(token)
    if host is None:
        return _denied(request)
    address = reverse("ui-device", args=[token])
    try:
        installer = service.find_installer(title_id, host.team_id)
        if installer is None or not installer.self_service:
            raise Http404
        service.install(None, host, title_id, self_service=True)
    except FleetAPIError as exc:
        # Fleet's own refusal (already pending, wrong platform, no fleetd) is shown where the user acted.
        response = render(
            request,
            "hosts/device_denied.html",
            {"title": "Not installed", "heading": "Not installed", "message": exc.message, "back": address},
            status=400,
        )
        return _no_store(response)
    return _no_store(redirect(f"{address}?done=install#self-service"))
