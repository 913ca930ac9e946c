"""`sso_settings` in GET/PATCH /config with Fleet's validation, the explicit metadata fetch, the
settings page, and the per-user `sso_enabled` flag (issue 18 items 1, 2, 4)."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from rest_framework.test import APIClient

from accounts.models import User
from activities.models import Activity
from sso import config
from sso.models import SSOSettings
from sso.tests.oidc_idp.process import OidcProviderProcess
from sso.tests.providers import SamlIdP

URL = "/api/latest/fleet/config"


def test_config_shows_fleets_sso_keys_and_masks_the_client_secret(api: APIClient, oidc_settings: SSOSettings) -> None:
    sso = api.get(URL).json()["sso_settings"]
    for key in ("entity_id", "idp_name", "idp_image_url", "metadata", "metadata_url", "enable_sso",
                "enable_sso_idp_login", "enable_jit_provisioning"):  # fmt: skip
        assert key in sso
    assert sso["oidc"]["client_secret"] == "********"
    assert "s3cret" not in api.get(URL).content.decode()
    # Sending the mask back keeps the secret.
    assert api.patch(URL, {"sso_settings": {"oidc": {"client_secret": "********"}}}).status_code == 200
    assert config.client_secret(SSOSettings.load()) == OidcProviderProcess.client_secret


@pytest.mark.parametrize(
    ("body", "field", "reason"),
    [
        (
            {"enable_sso": True, "entity_id": "fleet-sp", "idp_name": "Okta"},
            "metadata",
            "either metadata or metadata_url",
        ),
        (
            {"enable_sso": True, "entity_id": "flt", "idp_name": "Okta", "metadata_url": "https://idp.example/md"},
            "entity_id",
            "5 or more",
        ),
        (
            {"enable_sso": True, "entity_id": "fleet-sp", "metadata_url": "https://idp.example/md"},
            "idp_name",
            "required",
        ),
        (
            {
                "enable_sso": True,
                "entity_id": "fleet-sp",
                "idp_name": "Okta",
                "metadata": "<x/>",
                "metadata_url": "https://i/m",
            },
            "metadata",
            "both",
        ),
        ({"metadata_url": "ftp://idp.example/md"}, "metadata_url", "https or http"),
        ({"metadata": "<not-metadata/>"}, "metadata", "identity provider"),
        ({"enable_sso": "yes"}, "enable_sso", "true or false"),
        ({"bogus": 1}, "sso_settings.bogus", "unknown"),
        ({"oidc": {"enable_oidc": True}}, "oidc.discovery_url", "required"),
    ],
)
def test_patch_validates_like_fleet(api: APIClient, body: dict, field: str, reason: str) -> None:
    response = api.patch(URL, {"sso_settings": body})
    assert response.status_code == 422, response.content
    error = response.json()["errors"][0]
    assert error["name"] == field and reason in error["reason"]
    assert not SSOSettings.load().enable_sso


def test_saml_metadata_without_xmlsec1_on_the_server_is_a_clear_422(
    api: APIClient, idp: SamlIdP, monkeypatch: pytest.MonkeyPatch
) -> None:
    """pysaml2 cannot read metadata without xmlsec1; the admin is told what to install, not given a 500."""
    monkeypatch.setattr("sso.saml.shutil.which", lambda name: None)
    body = {"enable_sso": True, "entity_id": "fleet-sp", "idp_name": "Okta", "metadata": idp.metadata()}
    response = api.patch(URL, {"sso_settings": body})
    assert response.status_code == 422, response.content
    error = response.json()["errors"][0]
    assert error["name"] == "metadata" and "xmlsec1" in error["reason"]


def test_patch_enables_saml_with_pasted_metadata_and_records_the_change(api: APIClient, idp: SamlIdP) -> None:
    body = {"enable_sso": True, "entity_id": "fleet-sp", "idp_name": "Okta", "metadata": idp.metadata()}
    response = api.patch(URL, {"sso_settings": body})
    assert response.status_code == 200, response.content
    assert response.json()["sso_settings"]["enable_sso"] is True
    fields = Activity.objects.filter(type="edited_app_config").latest("id").details["fields"]
    assert "sso_settings.enable_sso" in fields and "sso_settings.metadata" in fields
    assert Client().get("/api/v1/fleet/sso").json()["settings"] == {
        "idp_name": "Okta", "idp_image_url": "", "sso_enabled": True, "oidc_enabled": False, "oidc_name": "",
    }  # fmt: skip


def test_metadata_url_is_fetched_only_by_the_explicit_action(api: APIClient, idp: SamlIdP) -> None:
    body = {"entity_id": "fleet-sp", "idp_name": "Okta", "metadata_url": f"{idp.server.url}/metadata"}
    assert api.patch(URL, {"sso_settings": body}).status_code == 200
    assert SSOSettings.load().fetched_metadata == ""  # saving did not reach out
    refused = api.patch(URL, {"sso_settings": {"enable_sso": True}})
    assert refused.status_code == 422 and "not been fetched" in refused.json()["errors"][0]["reason"]
    config.fetch_saml_metadata()
    assert "IDPSSODescriptor" in SSOSettings.load().fetched_metadata
    assert api.patch(URL, {"sso_settings": {"enable_sso": True}}).status_code == 200


def test_settings_page_for_admins_only(admin: User, observer: User, idp: SamlIdP) -> None:
    client = Client()
    client.force_login(observer)
    assert client.get("/settings/sso/").status_code == 403
    client.force_login(admin)
    page = client.get("/settings/sso/")
    assert page.status_code == 200 and "/api/v1/fleet/sso/callback" in page.content.decode()
    assert "/sso/saml/metadata/" in page.content.decode()
    form = {
        "action": "save",
        "enable_sso": "on",
        "idp_name": "Okta",
        "entity_id": "fleet-sp",
        "metadata": idp.metadata(),
    }
    assert client.post("/settings/sso/", form).status_code == 302
    assert SSOSettings.load().enable_sso
    bad = client.post("/settings/sso/", {**form, "entity_id": "abc"})
    assert bad.status_code == 422 and "must be 5 or more characters" in bad.content.decode()
    login = Client().get("/login/").content.decode()
    assert "Sign in with Okta" in login


def test_users_api_sso_flag(api: APIClient, observer: User, saml_settings: SSOSettings) -> None:
    response = api.patch(f"/api/latest/fleet/users/{observer.pk}", {"sso_enabled": True})
    assert response.status_code == 200, response.content
    assert response.json()["user"]["sso_enabled"] is True


def test_users_api_sso_flag_needs_sso_configured(api: APIClient, observer: User, db: Any) -> None:
    response = api.patch(f"/api/latest/fleet/users/{observer.pk}", {"sso_enabled": True})
    assert response.status_code == 422
