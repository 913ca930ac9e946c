"""Fixtures: the loopback SAML IdP and OIDC provider process (one each per module), and settings pointing at them."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from saml2.metadata import create_metadata_string

from fleetsite.models import FleetConfig
from sso import saml
from sso.constants import OIDC_CALLBACK_PATH
from sso.models import SSOSettings
from sso.tests.oidc_idp.process import OidcProviderProcess
from sso.tests.providers import SamlIdP

SP_ENTITY_ID = "fleetsite-test-sp"
SERVER_URL = "http://testserver"


def sp_metadata(idp_metadata: str, server_url: str, entity_id: str = SP_ENTITY_ID) -> str:
    """Our SP's metadata, as an admin would hand it to the IdP (built from the same pysaml2 config)."""
    row = SSOSettings(entity_id=entity_id, metadata=idp_metadata)
    client = saml._client(row, server_url + "/api/v1/fleet/sso/callback", allow_unsolicited=False)
    return create_metadata_string(None, config=client.config).decode()


@pytest.fixture(scope="module")
def idp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SamlIdP]:
    provider = SamlIdP(tmp_path_factory.mktemp("idp"))
    provider.trust_sp(sp_metadata(provider.metadata(), SERVER_URL))
    provider.start()
    yield provider
    provider.stop()


@pytest.fixture(scope="module")
def oidc_provider(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OidcProviderProcess]:
    """django-oauth-toolkit in its own process, with Fleetsite (the test client's server) registered."""
    provider = OidcProviderProcess(tmp_path_factory.mktemp("oidc-idp"), [SERVER_URL + OIDC_CALLBACK_PATH])
    provider.start()
    yield provider
    provider.stop()


@pytest.fixture
def saml_settings(db: Any, idp: SamlIdP) -> SSOSettings:
    idp.reset()
    FleetConfig.objects.update_or_create(pk=1, defaults={"server_url": SERVER_URL})
    FleetConfig.load()
    from fleetsite.lib import memo

    memo.forget("fleet-config:v1")
    row = SSOSettings.load()
    row.enable_sso = True
    row.entity_id = SP_ENTITY_ID
    row.idp_name = "Test IdP"
    row.metadata = idp.metadata()
    row.save()
    return row


@pytest.fixture
def oidc_settings(db: Any, oidc_provider: OidcProviderProcess) -> SSOSettings:
    """OIDC on, configured through PATCH /config's code path, the provider fetched by the explicit action."""
    from sso import config

    FleetConfig.objects.update_or_create(pk=1, defaults={"server_url": SERVER_URL})
    from fleetsite.lib import memo

    memo.forget("fleet-config:v1")
    changed: list[str] = []
    config.apply(
        {
            "oidc": {
                "name": "Test OIDC",
                "discovery_url": oidc_provider.discovery_url,
                "client_id": oidc_provider.client_id,
                "client_secret": oidc_provider.client_secret,
            }
        },
        changed,
    )
    config.fetch_oidc_provider()
    config.apply({"oidc": {"enable_oidc": True}}, changed)
    return SSOSettings.load()
