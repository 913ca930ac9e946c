"""The "Add hosts" page: the enroll secret, osquery flags and `fleetctl package` lines per platform."""

from __future__ import annotations

from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from accounts import permissions
from accounts.models import Team
from enrollment.models import EnrollSecret
from fleetsite.models import FleetConfig
from fleetsite.ui import login_required
from hosts.forms import team_choices

# fleet-protocol §4.9: Fleet's flagfile for plain osquery.
FLAGFILE = """--enroll_secret_path=secret.txt
--tls_server_certs=fleet.pem
--tls_hostname={tls_hostname}
--host_identifier=uuid
--enroll_tls_endpoint=/api/osquery/enroll
--config_plugin=tls
--config_tls_endpoint=/api/osquery/config
--config_refresh=10
--disable_distributed=false
--distributed_plugin=tls
--distributed_interval=10
--distributed_tls_max_attempts=3
--distributed_tls_read_endpoint=/api/osquery/distributed/read
--distributed_tls_write_endpoint=/api/osquery/distributed/write
--logger_plugin=tls
--logger_tls_endpoint=/api/osquery/log
--logger_tls_period=10"""

PACKAGE_TYPES = [("macOS", "pkg"), ("Windows", "msi"), ("Linux (deb)", "deb"), ("Linux (rpm)", "rpm")]


def server_url(request: HttpRequest) -> str:
    """The URL agents should use: the configured one, else the one this page was opened with."""
    return (FleetConfig.load().server_url or settings.FLEETSITE_SERVER_URL or request.build_absolute_uri("/")).rstrip(
        "/"
    )


@login_required
def add_hosts(request: HttpRequest) -> HttpResponse:
    team_id = request.GET.get("team_id", "")
    team = Team.objects.filter(pk=team_id).first() if team_id.isdigit() and team_id != "0" else None
    if team_id.isdigit() and team_id != "0" and (team is None or not permissions.can_read_team(request.user, team.pk)):
        team = None
    if not permissions.can_manage_team_secrets(request.user, team.pk if team else None):
        if team is None and not permissions.is_global(request.user):
            writable = permissions.writable_team_ids(request.user, permissions.Kind.SECRET) or set()
            team = Team.objects.filter(pk__in=writable).order_by("name").first()
        if team is None or not permissions.can_manage_team_secrets(request.user, team.pk):
            raise PermissionDenied
    secret = EnrollSecret.objects.filter(team=team).order_by("-created_at").first()
    url = server_url(request)
    value = secret.secret if secret else "<add an enroll secret first>"
    commands = [
        (name, f"fleetctl package --type={kind} --fleet-url={url} --enroll-secret={value}")
        for name, kind in PACKAGE_TYPES
    ]
    context = {
        "title": "Add hosts",
        "team": team,
        "team_choices": [c for c in team_choices(request.user) if c[0] != ""],
        "secret": secret,
        "server_url": url,
        "commands": commands,
        "flagfile": FLAGFILE.format(tls_hostname=urlsplit(url).netloc or url),
        "manage_url": f"/teams/{team.pk}/#secrets" if team else "/settings/secrets/",
    }
    return render(request, "fleetsite/add_hosts.html", context)
