"""The SSO settings form; the checks themselves are in `sso.config` (the same as PATCH /config)."""

from __future__ import annotations

from django import forms


class SSOSettingsForm(forms.Form):
    enable_sso = forms.BooleanField(required=False, label="Enable SAML single sign-on")
    idp_name = forms.CharField(required=False, max_length=255, label="Identity provider name")
    entity_id = forms.CharField(
        required=False, max_length=255, label="Entity ID", help_text="This server's SAML entity ID, as set in the IdP."
    )
    idp_image_url = forms.CharField(required=False, max_length=512, label="IdP image URL")
    metadata = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 6}), label="Metadata (XML)")
    metadata_url = forms.CharField(
        required=False, max_length=512, label="Metadata URL", help_text="Fetched only when you press Fetch metadata."
    )
    enable_sso_idp_login = forms.BooleanField(required=False, label="Allow IdP-initiated login")
    enable_jit_provisioning = forms.BooleanField(
        required=False, label="Create users on first login (JIT) and take roles from the IdP"
    )
    require_sso = forms.BooleanField(
        required=False, label="Require single sign-on (password login only for global admins and API-only users)"
    )
    enable_oidc = forms.BooleanField(required=False, label="Enable OpenID Connect")
    oidc_name = forms.CharField(required=False, max_length=255, label="OIDC provider name")
    oidc_discovery_url = forms.CharField(required=False, max_length=512, label="OIDC discovery URL")
    oidc_client_id = forms.CharField(required=False, max_length=255, label="OIDC client ID")
    oidc_client_secret = forms.CharField(
        required=False, label="OIDC client secret", widget=forms.PasswordInput, help_text="Leave empty to keep it."
    )
    oidc_scopes = forms.CharField(required=False, max_length=512, label="OIDC scopes")
