"""Scripts pages: a team's saved scripts (upload, edit, delete, run on hosts), batch progress, outputs,
and the host page's Scripts tab. Permissions are the REST API's (accounts.permissions, Kind.SCRIPT)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db.models import OuterRef, Q, QuerySet, Subquery
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import SafeString
from django.views.decorators.http import require_POST

from accounts import permissions, teampicker
from accounts.permissions import Kind
from accounts.teampicker import team_library, team_query
from fleetsite.api.errors import FleetAPIError
from fleetsite.templatetags.fleetsite_ui import when_html
from fleetsite.ui import Column, Table, badge, link, login_required, paginate, render_list
from hosts.models import Host, Label
from scripts import constants as c
from scripts import service
from scripts.choices import BatchHostStatus, BatchStatus
from scripts.forms import ScriptEditForm, ScriptUploadForm
from scripts.models import BatchExecution, BatchHost, Script, ScriptExecution
from scripts.validation import names_for_platform

# Hosts the run page lists for picking; past that, narrow the search or pick a label.
HOST_PICK_LIMIT = 100
HOST_SCRIPTS_PER_PAGE = 20

# --- Who may see and change what -------------------------------------------------------------------


def _script(request: HttpRequest, pk: int, action: str = "read") -> Script:
    script = Script.objects.select_related("team").filter(pk=pk).first()
    if script is None:
        raise Http404
    teampicker.require(request.user, Kind.SCRIPT, action, script.team_id)
    return script


def friendly(exc: FleetAPIError) -> str:
    return str(exc.reason)


# --- The library ---------------------------------------------------------------------------------


def _script_table(scripts: list[Script], can_write: bool) -> Table:
    def actions(script: Script) -> Any:
        if not can_write:
            return ""
        run = link(reverse("ui-script-run", args=[script.pk]), "Run on hosts")
        delete = link(reverse("ui-script-delete", args=[script.pk]), "Delete")
        return SafeString(f"{run} · {delete}")

    return Table(
        columns=[
            Column("Name", lambda s: link(reverse("ui-script", args=[s.pk]), s.name)),
            Column("Updated", lambda s: SafeString(when_html(s.updated_at))),
            Column("Actions", actions),
        ],
        rows=scripts,
        empty="No scripts yet. Upload a .sh, .py or .ps1 file to run it on hosts.",
    )


def _add_script(user: Any, team_id: int | None, data: dict[str, Any]) -> str:
    return service.create(user, team_id, *data["script"]).name


@login_required
def script_list(request: HttpRequest) -> HttpResponse:
    """A team's saved scripts, its recent batch runs, and (for writers) the upload form."""
    library = team_library(request, Kind.SCRIPT)
    team_id = library.team_id
    form, added = library.upload(request, ScriptUploadForm, "script", _add_script, "ui-scripts")
    if added:
        return added
    scripts, page = paginate(request, Script.objects.filter(team_key=team_id or 0).order_by("name", "id"))
    batches = BatchExecution.objects.filter(team_id=team_id).order_by("-created_at", "-id")[:10]
    context = {
        "title": "Scripts",
        **library.context(),
        "table": _script_table(scripts, library.can_write),
        "page": page,
        "form": form,
        "batches": batches,
    }
    if form.errors:
        return render(request, "scripts/list.html", context, status=400)
    return render_list(request, "scripts/list.html", context)


@login_required
def script_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """A script's contents; writers edit them here (same name, new text)."""
    script = _script(request, pk)
    can_write = permissions.can(request.user, "write", Kind.SCRIPT, script.team_id)
    form = ScriptEditForm(initial={"contents": script.contents})
    status = 200
    if request.method == "POST":
        if not can_write:
            raise PermissionDenied
        form = ScriptEditForm(request.POST)
        if form.is_valid():
            try:
                service.update(request.user, script, form.cleaned_data["contents"].replace("\r\n", "\n"))
            except FleetAPIError as exc:
                form.add_error("contents", friendly(exc))
            else:
                messages.success(request, f"{script.name} was saved.")
                return redirect("ui-script", pk=script.pk)
        status = 400
    if not can_write:
        form.fields["contents"].disabled = True
    context = {
        "title": script.name,
        "script": script,
        "form": form,
        "read_only": not can_write,
        "cancel_url": reverse("ui-scripts") + team_query(script.team_id),
        "submit_label": "Save",
    }
    return render(request, "scripts/detail.html", context, status=status)


@login_required
def script_download(request: HttpRequest, pk: int) -> HttpResponse:
    """The script as a file, named as Fleet names the download (date and script name)."""
    script = _script(request, pk)
    response = HttpResponse(script.contents.encode("utf-8"), content_type="application/octet-stream")
    response["Content-Disposition"] = f'attachment; filename="{timezone.now().date().isoformat()} {script.name}"'
    response["X-Content-Type-Options"] = "nosniff"
    return response


@login_required
def script_delete(request: HttpRequest, pk: int) -> HttpResponse:
    script = _script(request, pk, "write")
    back = reverse("ui-scripts") + team_query(script.team_id)
    if request.method == "POST" and request.POST.get("confirm"):
        name = script.name
        service.delete(request.user, script)
        messages.success(request, f"{name} was deleted.")
        return redirect(back)
    context = {
        "title": f"Delete {script.name}",
        "message": f"Delete the script {script.name}?",
        "consequences": ["Runs already queued on hosts still run; their results stay."],
        "cancel_url": back,
    }
    return render(request, "generic/object_delete.html", context)


# --- Running on many hosts -------------------------------------------------------------------------


def _candidates(script: Script, params: Any) -> QuerySet:
    """The script's team's hosts matching the search text and label of `params`."""
    hosts = Host.objects.filter(team_id=script.team_id) if script.team_id else Host.objects.filter(team__isnull=True)
    text = (params.get("q") or "").strip()
    if text:
        hosts = hosts.filter(
            Q(hostname__icontains=text) | Q(computer_name__icontains=text) | Q(uuid__icontains=text)
            | Q(hardware_serial__icontains=text) | Q(primary_ip__icontains=text)
        )  # fmt: skip
    label = params.get("label_id") or ""
    if label:
        hosts = hosts.filter(labels__id=int(label)) if label.isdigit() else hosts.none()
    return hosts.order_by("hostname", "id")


def _labels(user: Any) -> QuerySet:
    labels = Label.objects.all()
    teams = permissions.visible_team_ids(user)
    if teams is not None:
        labels = labels.filter(Q(team__isnull=True) | Q(team_id__in=teams))
    return labels.order_by("name")


@login_required
def script_run(request: HttpRequest, pk: int) -> HttpResponse:
    """Pick hosts of the script's team (search, label, or all that match) and start a batch run."""
    script = _script(request, pk, "write")
    params = request.POST if request.method == "POST" else request.GET
    error = ""
    if request.method == "POST":
        if request.POST.get("target") == "all":
            hosts = list(_candidates(script, params)[: c.MAX_BATCH_HOSTS + 1])
        else:
            ids = [int(v) for v in request.POST.getlist("ids") if v.isdigit()]
            hosts = list(_candidates(script, {}).filter(pk__in=ids)[: c.MAX_BATCH_HOSTS + 1])
            if len(hosts) != len(set(ids)):
                hosts, error = [], "One or more hosts were not found on this script's team."
        if not error and not hosts:
            error = "Choose at least one host to run the script on."
        elif len(hosts) > c.MAX_BATCH_HOSTS:
            error = f"A batch run targets at most {c.MAX_BATCH_HOSTS} hosts."
        if not error:
            try:
                batch = service.run_batch(request.user, script, hosts)
            except FleetAPIError as exc:
                error = friendly(exc)
            else:
                messages.success(request, f"{script.name} is queued on {len(hosts)} hosts.")
                return redirect("ui-script-batch", batch_id=batch.batch_execution_id)
    matching = _candidates(script, params)
    shown = list(matching.values("id", "hostname", "computer_name", "platform")[:HOST_PICK_LIMIT])
    context = {
        "title": f"Run {script.name}",
        "script": script,
        "hosts": shown,
        "more": len(shown) == HOST_PICK_LIMIT,
        "labels": _labels(request.user),
        "q": params.get("q", ""),
        "label_id": params.get("label_id", ""),
        "error": error,
        "max_hosts": c.MAX_BATCH_HOSTS,
    }
    return render(request, "scripts/run.html", context, status=400 if error else 200)


def _batch(request: HttpRequest, batch_id: str, action: str = "read") -> BatchExecution:
    batch = BatchExecution.objects.select_related("team", "user").filter(batch_execution_id=batch_id).first()
    if batch is None:
        raise Http404
    teampicker.require(request.user, Kind.SCRIPT, action, batch.team_id)
    return batch


def batch_host_status(target: BatchHost) -> str:
    """Fleet's per-host batch state, from the row the page already read (scripts.service.host_status_filter)."""
    if target.error:
        return BatchHostStatus.INCOMPATIBLE
    execution = target.execution
    if execution is None:
        return BatchHostStatus.CANCELED if target.batch.canceled else BatchHostStatus.PENDING
    if execution.exit_code is None:
        return BatchHostStatus.CANCELED if execution.canceled else BatchHostStatus.PENDING
    return BatchHostStatus.RAN if execution.exit_code == 0 else BatchHostStatus.ERRORED


_TONES = {"ran": "pass", "errored": "fail", "error": "fail", "pending": "warn", "canceled": "", "incompatible": ""}


def _batch_table(rows: list[BatchHost]) -> Table:
    def host(target: BatchHost) -> Any:
        if target.host_id is None:
            return "(deleted host)"
        return link(reverse("ui-host", args=[target.host_id]), target.host.display_name)

    def output(target: BatchHost) -> Any:
        if target.execution is None:
            return target.error or ""
        return link(reverse("ui-script-result", args=[target.execution.execution_id]), "Output")

    def status(target: BatchHost) -> Any:
        state = batch_host_status(target)
        return badge(state, _TONES.get(state, ""))

    return Table(
        columns=[Column("Host", host), Column("Status", status), Column("Output", output)],
        rows=rows,
        empty="No hosts in this batch.",
    )


@login_required
def batch_detail(request: HttpRequest, batch_id: str) -> HttpResponse:
    """A batch run's counts and per-host states; while it runs, htmx polls this page's progress block."""
    batch = _batch(request, batch_id)
    counts = service.batch_counts(batch)
    targets = batch.hosts.select_related("host", "execution", "batch").order_by("id")
    rows, page = paginate(request, targets)
    context = {
        "title": f"Batch run of {batch.script_name}",
        "batch": batch,
        "counts": counts,
        "table": _batch_table(rows),
        "page": page,
        "running": batch.status != BatchStatus.FINISHED,
        "can_cancel": batch.status != BatchStatus.FINISHED
        and permissions.can(request.user, "write", Kind.SCRIPT, batch.team_id),
    }
    if request.htmx and request.htmx.target == "progress":
        return render(request, "scripts/_batch_progress.html", context)
    return render(request, "scripts/batch.html", context)


@login_required
def batch_cancel(request: HttpRequest, batch_id: str) -> HttpResponse:
    batch = _batch(request, batch_id, "write")
    back = reverse("ui-script-batch", args=[batch.batch_execution_id])
    if request.method == "POST" and request.POST.get("confirm"):
        if batch.status != BatchStatus.FINISHED:
            service.cancel_batch(request.user, batch)
            messages.success(request, f"The batch run of {batch.script_name} was canceled.")
        return redirect(back)
    context = {
        "title": f"Cancel the batch run of {batch.script_name}",
        "message": f"Cancel the batch run of {batch.script_name}?",
        "consequences": ["Hosts that have not run it yet will not; results already in stay."],
        "cancel_url": back,
        "confirm_label": "Cancel the batch run",
    }
    return render(request, "generic/object_delete.html", context)


# --- One execution's output, and the host page's Scripts tab -----------------------------------------


@login_required
def execution_result(request: HttpRequest, execution_id: str) -> HttpResponse:
    """A script run's output, exit code and the text that ran."""
    execution = (
        ScriptExecution.objects.select_related("host", "script", "user", "batch")
        .filter(execution_id=execution_id)
        .first()
    )
    if execution is None or not permissions.can(request.user, "read", Kind.SCRIPT, execution.host.team_id):
        raise Http404
    timed_out = service.host_timeout(execution)
    context = {
        "title": f"{execution.script.name if execution.script else 'Script'} on {execution.host.display_name}",
        "execution": execution,
        "message": service.user_message(execution, timed_out),
        "status": execution.status if not execution.canceled else "canceled",
    }
    return render(request, "scripts/result.html", context)


def _visible_host(request: HttpRequest, pk: int) -> Host:
    host = permissions.scope_to_teams(Host.objects.select_related("team"), request.user).filter(pk=pk).first()
    if host is None or not permissions.can(request.user, "read", Kind.SCRIPT, host.team_id):
        raise Http404
    return host


def _last(field: str, host_id: int) -> Subquery:
    latest = ScriptExecution.objects.filter(script=OuterRef("pk"), host_id=host_id).order_by("-created_at", "-id")
    return Subquery(latest.values(field)[:1])


@login_required
def host_scripts(request: HttpRequest, pk: int) -> HttpResponse:
    """The host page's Scripts tab: the team's scripts this host can run, each with its last run here."""
    host = _visible_host(request, pk)
    endings = Q(pk__in=[])
    for ending in names_for_platform(host.platform):
        endings |= Q(name__iendswith=ending)
    queryset = (
        Script.objects.filter(endings, team_key=host.team_id or 0)
        .annotate(
            last_execution_id=_last("execution_id", host.pk),
            last_created_at=_last("created_at", host.pk),
            last_exit_code=_last("exit_code", host.pk),
            last_canceled=_last("canceled", host.pk),
        )
        .order_by("name", "id")
    )
    scripts, page = paginate(request, queryset, per_page=HOST_SCRIPTS_PER_PAGE)
    for script in scripts:
        code = script.last_exit_code
        script.last_status = (
            None if not script.last_execution_id else
            "canceled" if code is None and script.last_canceled else
            "pending" if code is None else "ran" if code == 0 else "error"
        )  # fmt: skip
        script.tone = _TONES.get(script.last_status or "", "")
    context = {
        "title": f"Scripts of {host.display_name}",
        "host": host,
        "scripts": scripts,
        "page": page,
        "fragment": "scripts/_host_scripts.html",
        "can_run": permissions.can(request.user, "write", Kind.SCRIPT, host.team_id),
    }
    return render(request, context["fragment"] if request.htmx else "generic/fragment_page.html", context)


@login_required
@require_POST
def host_script_run(request: HttpRequest, pk: int, script_id: int) -> HttpResponse:
    """Run button of the Scripts tab: queue a saved script on this host (Fleet's checks in scripts.service)."""
    host = _visible_host(request, pk)
    if not permissions.can(request.user, "write", Kind.SCRIPT, host.team_id):
        raise PermissionDenied
    try:
        execution = service.run(request.user, {"host_id": host.pk, "script_id": script_id}, sync=False)
    except FleetAPIError as exc:
        if exc.status_code == 403:
            raise PermissionDenied from exc
        messages.error(request, friendly(exc))
    else:
        messages.success(request, f"{execution.script.name} is queued: {c.ENQUEUED}")
    return redirect(reverse("ui-host", args=[host.pk]) + "#scripts")
