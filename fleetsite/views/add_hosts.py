"""The "Add hosts" page: the secret, the certificate, osqueryd flags and `manage.py package` lines per platform."""

from __future__ import annotations

from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from accounts import permissions
from accounts.models import Team
from enrollment.models import EnrollSecret
from fleetsite import servercert, workers
from fleetsite.lib.publicurl import public_base_url
from fleetsite.ui import login_required
from hosts.forms import team_choices
from packaging.options import PackageOptions
from packaging.repository import Repository

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
--logger_tls_period=10
--disable_carver=false
--carver_start_endpoint=/api/osquery/carve/begin
--carver_continue_endpoint=/api/osquery/carve/block
--carver_block_size=2000000"""

PACKAGE_TYPES = [("macOS", "pkg"), ("Windows", "msi"), ("Linux (deb)", "deb"), ("Linux (rpm)", "rpm")]


def server_url(request: HttpRequest) -> str:
    """The URL agents should use: the configured one, else the one this page was opened with."""
    return public_base_url(request.build_absolute_uri("/"))


def update_url(fleet_url: str) -> str:
    """This server's TUF repository, as `manage.py package` defaults it (packaging.options)."""
    return PackageOptions(type="deb", fleet_url=fleet_url).default_update_url()


def package_command(kind: str, url: str, secret: str, has_chain: bool, has_roots: bool) -> str:
    """A complete `manage.py package` line: run on the server, it builds an installer for this server."""
    parts = [f"python manage.py package --type={kind}", f"--fleet-url={url}", f"--enroll-secret={secret}"]
    if has_chain:
        parts.append("--fleet-certificate=fleet.pem")
    parts.append(f"--update-url={update_url(url)}")
    if has_roots:
        parts.append("--update-roots=root.json")
    return " \\\n  ".join(parts)


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
    has_chain = servercert.served_certificate_path() is not None or url.startswith("https://")
    has_roots = Repository.from_settings().exists()
    commands = [(name, package_command(kind, url, value, has_chain, has_roots)) for name, kind in PACKAGE_TYPES]
    context = {
        "title": "Add hosts",
        "team": team,
        "team_choices": [c for c in team_choices(request.user) if c[0] != ""],
        "secret": secret,
        "server_url": url,
        "https": url.startswith("https://"),
        "has_chain": has_chain,
        "has_roots": has_roots,
        "update_url": update_url(url),
        "roots_url": f"/{settings.FLEETSITE_TUF_URL_PATH.strip('/')}/root.json",
        "commands": commands,
        "osqueryd": "osqueryd --flagfile=fleet.flags",
        "flagfile": FLAGFILE.format(tls_hostname=urlsplit(url).netloc or url),
        "manage_url": f"/teams/{team.pk}/#secrets" if team else "/settings/secrets/",
        "worker_problems": workers.problems(),
    }
    return render(request, "fleetsite/add_hosts.html", context)


@login_required
def certificate_pem(request: HttpRequest) -> HttpResponse:
    """The chain agents must trust, as the file osquery's --tls_server_certs and --fleet-certificate take."""
    chain = servercert.certificate_chain()
    if chain is None:
        raise Http404("no TLS certificate is served: start `manage.py serve --tls`")
    response = HttpResponse(chain, content_type="application/x-pem-file")
    response["Content-Disposition"] = 'attachment; filename="fleet.pem"'
    return response
