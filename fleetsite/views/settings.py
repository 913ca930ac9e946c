"""Settings pages: organization and features, global agent options, global enroll secrets."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse

from accounts import permissions
from accounts.permissions import Action, Kind
from accounts.services import InvalidInput
from enrollment.models import EnrollSecret
from fleetsite import appconfig
from fleetsite.forms import OrgSettingsForm
from fleetsite.lib import agent_options_check
from fleetsite.models import FleetConfig
from fleetsite.ui import field_errors_from, login_required, require
from fleetsite.views.secrets import handle_secret_post


@login_required
def org_settings(request: HttpRequest) -> HttpResponse:
    config = FleetConfig.load()
    features = {**{k: True for k in appconfig.FEATURE_FLAGS}, **(config.features or {})}
    initial = {
        "org_name": config.org_name, "org_logo_url": config.org_logo_url, "contact_url": config.contact_url,
        "server_url": config.server_url, "live_query_disabled": config.live_query_disabled, **features,
    }  # fmt: skip
    can_edit = permissions.can(request.user, Action.WRITE, Kind.CONFIG)
    form = OrgSettingsForm(request.POST or None, initial=initial)
    if request.method == "POST":
        require(request, Action.WRITE, Kind.CONFIG)
        if form.is_valid():
            data = form.cleaned_data
            changes = {
                "org_info": {k: data[k] for k in ("org_name", "org_logo_url", "contact_url")},
                "server_settings": {
                    "server_url": data["server_url"],
                    "live_query_disabled": data["live_query_disabled"],
                },
                "features": {k: data[k] for k in appconfig.FEATURE_FLAGS},
            }
            try:
                appconfig.update_config(request.user, changes)
            except InvalidInput as exc:
                exc.field = exc.field.split(".")[-1]
                field_errors_from(form, exc)
            else:
                messages.success(request, "Settings saved.")
                return redirect("ui-settings")
    if not can_edit:
        for field in form.fields.values():
            field.disabled = True
    return render(request, "fleetsite/settings.html", {"title": "Settings", "form": form, "can_edit": can_edit})


@login_required
def agent_options(request: HttpRequest) -> HttpResponse:
    """The global agent options as YAML (JSON accepted), checked before they reach any host."""
    require(request, Action.WRITE, Kind.CONFIG)
    text = agent_options_check.to_yaml(FleetConfig.load().agent_options)
    error = None
    if request.method == "POST":
        text = request.POST.get("agent_options", "")
        try:
            options = agent_options_check.parse(text)
            appconfig.update_config(request.user, {"agent_options": options})
        except agent_options_check.AgentOptionsError as exc:
            error = str(exc)
        except InvalidInput as exc:
            error = exc.reason
        else:
            messages.success(request, "Agent options saved; hosts pick them up at their next config check-in.")
            return redirect("ui-agent-options")
    return render(
        request,
        "fleetsite/agent_options.html",
        {"title": "Agent options", "options_text": text, "options_error": error},
        status=422 if error else 200,
    )


@login_required
def global_secrets(request: HttpRequest) -> HttpResponse:
    """Secrets that enroll hosts with no team."""
    if not (permissions.is_global(request.user) and permissions.can_manage_team_secrets(request.user, None)):
        require(request, Action.WRITE, Kind.CONFIG)
    if request.method == "POST":
        done = handle_secret_post(request, None, reverse("ui-secrets"))
        if isinstance(done, HttpResponse):
            return done
        if done:
            return redirect("ui-secrets")
    context = {"title": "Enroll secrets", "secrets": EnrollSecret.objects.filter(team__isnull=True)}
    return render(request, "fleetsite/secrets.html", context)
