"""Software installer pages: a team's installers with per-host status counts, one installer's hosts,
an install's output, the upload form, and the host page's upcoming and past activities (the queue
scripts and installs share). Permissions are the REST API's (Kind.INSTALLER, Kind.SCRIPT)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Max, Q, Subquery, Value
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.safestring import SafeString
from django.views.decorators.http import require_POST

from accounts import permissions, teampicker
from accounts.permissions import Kind
from accounts.teampicker import team_library, team_query
from fleetsite.api.errors import FleetAPIError
from fleetsite.templatetags.fleetsite_ui import when_html
from fleetsite.ui import Column, Table, badge, link, login_required, paginate, render_list
from hosts.models import Host
from scripts import service as scripts_service
from scripts.models import ScriptExecution
from software_installers import queue, service
from software_installers.choices import InstallStatus
from software_installers.forms import InstallerUploadForm
from software_installers.models import SoftwareInstall, SoftwareInstaller

ACTIVITIES_PER_PAGE = 10
_TONES = {
    InstallStatus.INSTALLED: "pass",
    InstallStatus.FAILED_INSTALL: "fail",
    InstallStatus.FAILED_UNINSTALL: "fail",
    InstallStatus.PENDING_INSTALL: "warn",
    InstallStatus.PENDING_UNINSTALL: "warn",
}


def status_counts(installer_ids: list[int]) -> dict[int, dict[str, int]]:
    """Hosts per status of their latest run, for every installer of a page, in one query."""
    runs = SoftwareInstall.objects.filter(installer_id__in=installer_ids, canceled=False, uninstall=False)
    latest = runs.values("installer_id", "host_id").annotate(last=Max("pk")).values("last")
    rows = (
        SoftwareInstall.objects.filter(pk__in=Subquery(latest))
        .values("installer_id")
        .annotate(
            installed=Count("pk", filter=Q(status=InstallStatus.INSTALLED)),
            pending=Count("pk", filter=Q(status=InstallStatus.PENDING_INSTALL)),
            failed=Count("pk", filter=Q(status=InstallStatus.FAILED_INSTALL)),
        )
    )
    return {row.pop("installer_id"): row for row in rows}


def _count_link(installer: SoftwareInstaller, status: str, counts: dict[str, int]) -> Any:
    return link(f"{reverse('ui-installer', args=[installer.pk])}?status={status}", counts[status])


@login_required
def installer_list(request: HttpRequest) -> HttpResponse:
    library = team_library(request, Kind.INSTALLER)
    team_id = library.team_id
    form = InstallerUploadForm(team_id=team_id) if library.can_write else None
    if request.method == "POST":
        if not library.can_write:
            raise PermissionDenied
        form = InstallerUploadForm(request.POST, request.FILES, team_id=team_id)
        if form.is_valid():
            upload = form.cleaned_data["software"]
            try:
                # Django hands over a temporary file past FILE_UPLOAD_MAX_MEMORY_SIZE; the service
                # hashes, reads metadata and stores it in chunks.
                installer = service.upload(request.user, team_id, upload, upload.name, form.fields_for_service())
            except FleetAPIError as exc:
                form.add_service_error(exc)
            else:
                messages.success(request, f"{installer.name} was added.")
                return redirect(reverse("ui-installers") + team_query(team_id))
    queryset = SoftwareInstaller.objects.filter(team_key=team_id or 0).select_related("title").order_by("id")
    installers, page = paginate(request, queryset)
    counts = status_counts([i.pk for i in installers])
    empty = {"installed": 0, "pending": 0, "failed": 0}
    table = Table(
        columns=[
            Column("Name", lambda i: link(reverse("ui-installer", args=[i.pk]), i.name)),
            Column("Package", lambda i: i.filename),
            Column("Version", lambda i: i.version or "—"),
            Column("Platform", lambda i: i.platform),
            Column("Installed", lambda i: _count_link(i, "installed", counts.get(i.pk, empty)), numeric=True),
            Column("Pending", lambda i: _count_link(i, "pending", counts.get(i.pk, empty)), numeric=True),
            Column("Failed", lambda i: _count_link(i, "failed", counts.get(i.pk, empty)), numeric=True),
        ],
        rows=installers,
        empty="No installers on this team yet.",
    )
    context = {
        "title": "Software installers",
        **library.context(),
        "table": table,
        "page": page,
        "form": form,
    }
    if form is not None and form.errors:
        return render(request, "software_installers/list.html", context, status=400)
    return render_list(request, "software_installers/list.html", context)


_STATUS_FILTERS = {
    "installed": InstallStatus.INSTALLED,
    "pending": InstallStatus.PENDING_INSTALL,
    "failed": InstallStatus.FAILED_INSTALL,
}


@login_required
def installer_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """One installer and its hosts: each host's latest install, status and output link."""
    installer = SoftwareInstaller.objects.select_related("title", "team").filter(pk=pk).first()
    if installer is None:
        raise Http404
    teampicker.require(request.user, Kind.INSTALLER, "read", installer.team_id)
    runs = SoftwareInstall.objects.filter(installer=installer, canceled=False, uninstall=False)
    latest = runs.values("host_id").annotate(last=Max("pk")).values("last")
    queryset = SoftwareInstall.objects.filter(pk__in=Subquery(latest)).select_related("host").order_by("-id")
    status = request.GET.get("status", "")
    if status in _STATUS_FILTERS:
        queryset = queryset.filter(status=_STATUS_FILTERS[status])
    rows, page = paginate(request, queryset)
    table = Table(
        columns=[
            Column("Host", lambda r: link(reverse("ui-host", args=[r.host_id]), r.host.display_name)),
            Column("Status", lambda r: badge(r.status, _TONES.get(r.status, ""))),
            Column("Updated", lambda r: SafeString(when_html(r.updated_at))),
            Column("Output", lambda r: link(reverse("ui-install-result", args=[r.install_uuid]), "Output")),
        ],
        rows=rows,
        empty="No installs of this package yet.",
    )
    context = {
        "title": installer.name,
        "installer": installer,
        "counts": status_counts([installer.pk]).get(installer.pk, {"installed": 0, "pending": 0, "failed": 0}),
        "table": table,
        "page": page,
        "status": status,
        "back": reverse("ui-installers") + team_query(installer.team_id),
    }
    return render_list(request, "software_installers/detail.html", context)


@login_required
def install_result(request: HttpRequest, install_uuid: str) -> HttpResponse:
    """An install's outputs, dressed as Fleet shows them (service.result_json)."""
    run = SoftwareInstall.objects.select_related("host", "user").filter(install_uuid=install_uuid).first()
    if run is None or not permissions.can(request.user, "read", Kind.INSTALLER, run.host.team_id):
        raise Http404
    context = {
        "title": f"{run.software_title} on {run.host.display_name}",
        "run": run,
        "result": service.result_json(run) if not run.uninstall else None,
    }
    return render(request, "software_installers/result.html", context)


# --- The host page: upcoming and past activities ---------------------------------------------------


def _visible_host(request: HttpRequest, pk: int) -> Host:
    host = permissions.scope_to_teams(Host.objects.select_related("team"), request.user).filter(pk=pk).first()
    if host is None:
        raise Http404
    return host


def past_keys(host_id: int) -> Any:
    """(updated_at, kind, pk) of a host's finished script runs and installs, newest first: one union, paged in SQL."""
    scripts = ScriptExecution.objects.filter(host_id=host_id, exit_code__isnull=False).values_list(
        "updated_at", Value("script"), "id"
    )
    installs = (
        SoftwareInstall.objects.filter(host_id=host_id, uninstall=False, canceled=False)
        .exclude(status=InstallStatus.PENDING_INSTALL)
        .values_list("updated_at", Value("install"), "id")
    )
    return scripts.order_by().union(installs.order_by(), all=True).order_by("-updated_at", "-id")


def _past_rows(keys: list[tuple[Any, str, int]]) -> list[dict[str, Any]]:
    """A page of past keys as rows, in two queries whatever the page size."""
    executions = ScriptExecution.objects.select_related("script", "user").in_bulk(
        [pk for _, kind, pk in keys if kind == "script"]
    )
    installs = SoftwareInstall.objects.select_related("user").in_bulk([pk for _, kind, pk in keys if kind == "install"])
    rows = []
    for _, kind, pk in keys:
        if kind == "script":
            e = executions[pk]
            rows.append({
                "kind": "script", "name": e.script.name if e.script else "Script", "when": e.updated_at,
                "status": e.status, "exit_code": e.exit_code, "output": e.output,
                "url": reverse("ui-script-result", args=[e.execution_id]), "user": e.user,
            })  # fmt: skip
        else:
            r = installs[pk]
            rows.append({
                "kind": "install", "name": r.software_title, "when": r.updated_at, "status": r.status,
                "exit_code": r.install_script_exit_code, "output": r.install_script_output or "",
                "url": reverse("ui-install-result", args=[r.install_uuid]), "user": r.user,
            })  # fmt: skip
    for row in rows:
        row["tone"] = {"ran": "pass", "error": "fail", **_TONES}.get(row["status"], "")
    return rows


@login_required
def host_activities(request: HttpRequest, pk: int) -> HttpResponse:
    """The host page's upcoming activities (cancellable) and past ones with their output, both paged in SQL."""
    host = _visible_host(request, pk)
    which = request.GET.get("list", "upcoming")
    can_cancel = permissions.can(request.user, "write", Kind.SCRIPT, host.team_id)
    context: dict[str, Any] = {"host": host, "can_cancel": can_cancel, "title": f"Activities of {host.display_name}"}
    if which == "past":
        keys, page = paginate(request, past_keys(host.pk), per_page=ACTIVITIES_PER_PAGE)
        context.update(
            rows=_past_rows(keys), page=page, fragment="software_installers/_host_past.html", pager_query="list=past&"
        )
    else:
        keys, page = paginate(request, queue.upcoming_keys(host.pk), per_page=ACTIVITIES_PER_PAGE)
        rows = queue.render_upcoming(keys, _upcoming_script)
        for row in rows:  # installs come as Fleet's JSON, with text times
            if isinstance(row["created_at"], str):
                row["created_at"] = datetime.fromisoformat(row["created_at"].replace("Z", "+00:00"))
        context.update(rows=rows, page=page, fragment="software_installers/_host_upcoming.html")
    return render(request, context["fragment"] if request.htmx else "generic/fragment_page.html", context)


def _upcoming_script(execution: ScriptExecution) -> dict[str, Any]:
    return {
        "uuid": execution.execution_id,
        "type": "ran_script",
        "created_at": execution.created_at,
        "actor_full_name": getattr(execution.user, "name", None) or getattr(execution.user, "email", None),
        "details": {"script_name": execution.script.name if execution.script else "Script"},
    }


@login_required
@require_POST
def host_upcoming_cancel(request: HttpRequest, pk: int, activity_id: str) -> HttpResponse:
    """Cancel a queued script or install (the REST API's DELETE /hosts/{id}/activities/upcoming/{id})."""
    host = _visible_host(request, pk)
    if not permissions.can(request.user, "write", Kind.SCRIPT, host.team_id):
        raise PermissionDenied
    if not request.POST.get("confirm"):
        return render(
            request,
            "generic/object_delete.html",
            {
                "title": "Cancel an upcoming activity",
                "message": f"Cancel this upcoming activity on {host.display_name}?",
                "cancel_url": reverse("ui-host", args=[host.pk]) + "#activities",
                "confirm_label": "Cancel activity",
            },
        )
    try:
        if not queue.cancel_install(request.user, host, activity_id):
            scripts_service.cancel(request.user, host, activity_id)
    except FleetAPIError as exc:
        messages.error(request, str(exc.reason))
    else:
        messages.success(request, "The activity was canceled.")
    return redirect(reverse("ui-host", args=[host.pk]) + "#activities")
