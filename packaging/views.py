"""The build page: pick a type, options and an enroll secret; watch the build; download it.

It starts builds through `service.request_build`, the packager API's own code path, and polls
the same state the API's `status` reports (as an htmx partial rather than JSON).
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse

from accounts import permissions
from enrollment.models import EnrollSecret
from fleetsite import workers
from packaging.choices import BuildStatus, Stage
from packaging.exceptions import PackagingError
from packaging.forms import BuildForm
from packaging.models import PackageBuild
from packaging.options import PackageOptions
from packaging.service import request_build, state_of

STEPS = {Stage.QUEUED: 1, Stage.FETCHING: 2, Stage.BUILDING: 3, Stage.SIGNING: 4, Stage.DONE: 5}


def _require_admin(request: HttpRequest) -> None:
    user = request.user
    if not (user.is_staff or permissions.is_global_admin(user)):
        raise PermissionDenied


def _secrets(request: HttpRequest) -> list[EnrollSecret]:
    visible = EnrollSecret.objects.select_related("team")
    return [item for item in visible if permissions.can_manage_team_secrets(request.user, item.team_id)]


def _status_context(build: PackageBuild) -> dict:
    state = state_of(build)
    worker = workers.status("worker")
    return {
        "build": build,
        "state": state,
        "step": STEPS.get(build.stage, 1),
        "steps": len(STEPS),
        "download_url": reverse("packager-download", args=[build.package_id]),
        "poll_url": reverse("packaging-ui-status", args=[build.package_id]),
        "in_progress": state.status == BuildStatus.IN_PROGRESS,
        # Queued in Redis with nobody to take it: say so instead of a progress bar that never moves.
        "no_worker": build.stage == Stage.QUEUED and not worker.running,
        "worker_message": worker.message,
    }


@login_required
def build_page(request: HttpRequest) -> HttpResponse:
    """GET shows the form (and a build's status with ?package_id=); POST starts a build."""
    _require_admin(request)
    secrets = _secrets(request)
    choices = [(str(item.pk), f"{item.team.name if item.team_id else 'Global'} secret #{item.pk}") for item in secrets]
    default_url = settings.FLEETSITE_SERVER_URL or request.build_absolute_uri("/").rstrip("/")
    form = BuildForm(request.POST or None, secrets=choices, initial={"fleet_url": default_url})
    context: dict = {
        "form": form,
        "has_secrets": bool(secrets),
        "expiry_minutes": settings.PACKAGER_EXPIRY_SECONDS // 60,
        "worker_problems": workers.problems(),
    }
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        secret = next(item for item in secrets if str(item.pk) == data["secret"])
        options = PackageOptions(
            type=data["type"],
            arch=data["arch"],
            fleet_url=data["fleet_url"],
            enroll_secret=secret.secret,
            **{
                name: data[name]
                for name in ("fleet_desktop", "service", "insecure", "debug", "enable_scripts", "disable_updates")
            },
            **{
                name: data[name] for name in ("orbit_channel", "osqueryd_channel", "desktop_channel", "update_interval")
            },
        )
        try:
            build, _ = request_build(options, data["retry"], request.user, getattr(request, "client_ip", ""))
        except PackagingError as exc:
            form.add_error(None, exc.message)
        else:
            if request.htmx:
                return render(request, "packaging/_status.html", _status_context(build))
            return redirect(f"{reverse('packaging-ui')}?package_id={build.package_id}")
    package_id = request.GET.get("package_id")
    if package_id:
        build = PackageBuild.objects.filter(package_id=package_id).first() if _is_uuid(package_id) else None
        if build is not None:
            context.update(_status_context(build))
    if request.method == "POST" and request.htmx:
        # htmx swaps only 2xx answers: the reasons go where the user pressed "Build", not nowhere.
        return render(request, "packaging/_errors.html", {"form": form})
    status = 422 if request.method == "POST" else 200
    return render(request, "packaging/build.html", context, status=status)


@login_required
def build_status(request: HttpRequest, package_id: str) -> HttpResponse:
    """The htmx partial the page polls every second while a build is in progress."""
    _require_admin(request)
    build = get_object_or_404(PackageBuild, package_id=package_id)
    return render(request, "packaging/_status.html", _status_context(build))


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True
