"""Settings > Single sign-on: SAML and OIDC settings, and the explicit metadata fetches."""

from __future__ import annotations

from django.contrib import messages
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse

from accounts.permissions import Action, Kind
from accounts.services import InvalidInput
from fleetsite import appconfig
from fleetsite.ui import field_errors_from, login_required, require
from sso import config, constants, flow
from sso.forms import SSOSettingsForm
from sso.models import SSOSettings

_FIELD_OF = {"oidc.name": "oidc_name", "oidc.discovery_url": "oidc_discovery_url", "oidc.client_id": "oidc_client_id"}


def _initial(row: SSOSettings) -> dict:
    return {
        **{k: getattr(row, k) for k in (*config.SAML_TEXT_FIELDS, *config.SAML_BOOL_FIELDS)},
        "enable_oidc": row.enable_oidc,
        "oidc_name": row.oidc_name,
        "oidc_discovery_url": row.oidc_discovery_url,
        "oidc_client_id": row.oidc_client_id,
        "oidc_scopes": row.oidc_scopes,
    }


def _changes(data: dict) -> dict:
    sso = {k: data[k] for k in (*config.SAML_TEXT_FIELDS, *config.SAML_BOOL_FIELDS)}
    sso["oidc"] = {
        "enable_oidc": data["enable_oidc"],
        "name": data["oidc_name"],
        "discovery_url": data["oidc_discovery_url"],
        "client_id": data["oidc_client_id"],
        "client_secret": data["oidc_client_secret"] or constants.MASKED,
        "scopes": data["oidc_scopes"] or "openid email profile",
    }
    return {"sso_settings": sso}


@login_required
def sso_settings(request: HttpRequest) -> HttpResponse:
    require(request, Action.WRITE, Kind.CONFIG)
    row = SSOSettings.load()
    form = SSOSettingsForm(request.POST or None, initial=_initial(row))
    if request.method == "POST":
        action = request.POST.get("action", "save")
        try:
            if action == "fetch_metadata":
                config.fetch_saml_metadata()
                messages.success(request, "IdP metadata fetched and kept.")
                return redirect("ui-sso-settings")
            if action == "fetch_oidc":
                config.fetch_oidc_provider()
                messages.success(request, "OpenID Connect discovery document and keys fetched and kept.")
                return redirect("ui-sso-settings")
            if form.is_valid():
                with transaction.atomic():
                    appconfig.update_config(request.user, _changes(form.cleaned_data))
                messages.success(request, "Single sign-on settings saved.")
                return redirect("ui-sso-settings")
        except InvalidInput as exc:
            exc.field = _FIELD_OF.get(exc.field, exc.field.split(".")[-1])
            if exc.field not in form.fields:
                exc.field = None  # type: ignore[assignment]
            if action == "save":
                field_errors_from(form, exc)
            else:
                messages.error(request, exc.reason)
                return redirect("ui-sso-settings")
    context = {
        "title": "Single sign-on",
        "form": form,
        "acs_url": flow.acs_url(),
        "sp_metadata_url": flow.server_url() + reverse("sso-saml-metadata"),
        "oidc_redirect_uri": flow.oidc_redirect_uri(),
        "metadata_fetched": bool(row.fetched_metadata),
        "oidc_fetched": bool(row.oidc_provider),
    }
    return render(request, "sso/settings.html", context, status=422 if form.errors else 200)
