"""Settings page forms; the checks themselves are in `fleetsite.appconfig`."""

from __future__ import annotations

from django import forms

from fleetsite.appconfig import FEATURE_FLAGS


class OrgSettingsForm(forms.Form):
    org_name = forms.CharField(max_length=255, label="Organization name")
    org_logo_url = forms.URLField(required=False, label="Logo URL", assume_scheme="https")
    contact_url = forms.URLField(
        required=False,
        label="Contact URL",
        assume_scheme="https",
        help_text="Where Fleet Desktop sends people who need help.",
    )
    server_url = forms.URLField(
        required=False,
        label="Fleetsite URL",
        assume_scheme="https",
        help_text="The address agents use to reach this server, e.g. https://fleet.example.com",
    )
    live_query_disabled = forms.BooleanField(required=False, label="Disable live queries")
    enable_host_users = forms.BooleanField(required=False, label=FEATURE_FLAGS["enable_host_users"])
    enable_software_inventory = forms.BooleanField(required=False, label=FEATURE_FLAGS["enable_software_inventory"])
