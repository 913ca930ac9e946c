"""`sso_settings` in the app config: Fleet's keys, Fleet's validation, and our OIDC and require-SSO keys.

`appconfig.config_json` shows `section()`; `appconfig.update_config` hands the PATCH body's
`sso_settings` to `apply()` inside its transaction. Fetching metadata is a separate, explicit
action (`fetch_saml_metadata`, `fetch_oidc_provider`): nothing here reaches out while a request
for the config or a login is served.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import httpx

from accounts.services import InvalidInput
from sso import constants
from sso.errors import SSOError
from sso.models import SSOSettings
from variables import crypto

SAML_TEXT_FIELDS = ("entity_id", "idp_name", "idp_image_url", "metadata", "metadata_url")
SAML_BOOL_FIELDS = ("enable_sso", "enable_sso_idp_login", "enable_jit_provisioning", "require_sso")
OIDC_TEXT_FIELDS = {"name": "oidc_name", "discovery_url": "oidc_discovery_url", "client_id": "oidc_client_id"}
FETCH_TIMEOUT = 10.0


def section(row: SSOSettings | None = None) -> dict[str, Any]:
    """Fleet's SSOSettings JSON plus `require_sso` and `oidc` (its client secret masked)."""
    row = row or SSOSettings.load()
    return {
        "entity_id": row.entity_id,
        "issuer_uri": "",
        "idp_image_url": row.idp_image_url,
        "metadata": row.metadata,
        "metadata_url": row.metadata_url,
        "idp_name": row.idp_name,
        "enable_sso": row.enable_sso,
        "enable_sso_idp_login": row.enable_sso_idp_login,
        "enable_jit_provisioning": row.enable_jit_provisioning,
        "enable_jit_role_sync": False,
        "sso_server_url": "",
        "require_sso": row.require_sso,
        "oidc": {
            "enable_oidc": row.enable_oidc,
            "name": row.oidc_name,
            "discovery_url": row.oidc_discovery_url,
            "client_id": row.oidc_client_id,
            "client_secret": constants.MASKED if row.oidc_client_secret else "",
            "scopes": row.oidc_scopes,
            "issuer": row.oidc_provider.get("issuer", ""),
        },
    }


def _http_url(value: str, field: str) -> None:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise InvalidInput(field, "must be either https or http")


def _text(changes: dict[str, Any], key: str, field: str) -> str:
    value = changes[key]
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InvalidInput(field, "expected a string")
    return value.strip()


def _bool(changes: dict[str, Any], key: str, field: str) -> bool:
    value = changes[key]
    if not isinstance(value, bool):
        raise InvalidInput(field, "expected true or false")
    return value


def validate_idp_metadata(xml: str) -> None:
    """The pasted or fetched document must be SAML metadata naming an IdP with a signing certificate."""
    from sso import saml

    try:
        saml.idp_entity(xml)
    except (ValueError, SSOError) as exc:
        raise InvalidInput("metadata", str(exc)) from exc


def apply(changes: Any, changed: list[str]) -> SSOSettings:
    """Merge a PATCH's `sso_settings` into the row (Fleet merges key by key) and validate as Fleet does."""
    if changes is None:
        changes = {}  # gitops may send the key empty: nothing to change
    if not isinstance(changes, dict):
        raise InvalidInput("sso_settings", "expected an object")
    row = SSOSettings.objects.select_for_update().filter(pk=1).first() or SSOSettings.load()
    before = section(row)
    secret_before = client_secret(row)
    known = {*SAML_TEXT_FIELDS, *SAML_BOOL_FIELDS, "oidc", "issuer_uri", "enable_jit_role_sync", "sso_server_url"}
    for key in changes:
        if key not in known:
            raise InvalidInput(f"sso_settings.{key}", f"unknown setting {key!r}")
    incoming: dict[str, Any] = {}
    for key in SAML_TEXT_FIELDS:
        if key in changes:
            incoming[key] = _text(changes, key, key)
    for key in SAML_BOOL_FIELDS:
        if key in changes:
            incoming[key] = _bool(changes, key, key)
    for key in ("issuer_uri", "sso_server_url"):
        if changes.get(key):
            raise InvalidInput(key, "is not supported by Fleetsite; leave it empty")
    if changes.get("enable_jit_role_sync"):
        raise InvalidInput("enable_jit_role_sync", "deprecated: roles are updated at each login when JIT is on")
    if incoming.get("enable_sso", False):
        # Fleet's validateSSOProviderSettings: what the payload leaves empty may come from before.
        metadata, metadata_url = incoming.get("metadata", ""), incoming.get("metadata_url", "")
        if not metadata and not metadata_url and not row.metadata and not row.metadata_url:
            raise InvalidInput("metadata", "either metadata or metadata_url must be defined")
        if metadata and metadata_url:
            raise InvalidInput("metadata", "both metadata and metadata_url are defined, only one is allowed")
        entity_id = incoming.get("entity_id", "")
        if not entity_id and not row.entity_id:
            raise InvalidInput("entity_id", "required")
        if entity_id and len(entity_id) < 5:
            raise InvalidInput("entity_id", "must be 5 or more characters")
        if not incoming.get("idp_name") and not row.idp_name:
            raise InvalidInput("idp_name", "required")
    if incoming.get("metadata_url"):
        _http_url(incoming["metadata_url"], "metadata_url")
    if incoming.get("idp_image_url") and not incoming["idp_image_url"].startswith(("data:image/", "/")):
        _http_url(incoming["idp_image_url"], "idp_image_url")
    if incoming.get("metadata"):
        validate_idp_metadata(incoming["metadata"])
    for key, value in incoming.items():
        setattr(row, key, value)
    if "metadata" in incoming and incoming["metadata"]:
        row.metadata_url = "" if "metadata_url" not in incoming else row.metadata_url
    if "metadata_url" in incoming and incoming["metadata_url"] != before["metadata_url"]:
        row.fetched_metadata = ""  # a new URL: its document must be fetched again
    if "oidc" in changes:
        _apply_oidc(row, changes["oidc"])
    if row.enable_sso and not row.idp_metadata():
        raise InvalidInput(
            "metadata",
            "the metadata from metadata_url has not been fetched yet: fetch it (Settings > Single sign-on) "
            "or paste the metadata",
        )
    row.save()
    after = section(row)
    changed.extend(f"sso_settings.{k}" for k in after if k != "oidc" and after[k] != before[k])
    changed.extend(
        f"sso_settings.oidc.{k}"
        for k in after["oidc"]
        if k != "client_secret" and after["oidc"][k] != before["oidc"][k]
    )
    if client_secret(row) != secret_before:
        changed.append("sso_settings.oidc.client_secret")
    return row


def _apply_oidc(row: SSOSettings, oidc: Any) -> None:
    if not isinstance(oidc, dict):
        raise InvalidInput("sso_settings.oidc", "expected an object")
    known = {"enable_oidc", "name", "discovery_url", "client_id", "client_secret", "scopes", "issuer"}
    for key in oidc:
        if key not in known:
            raise InvalidInput(f"sso_settings.oidc.{key}", f"unknown setting {key!r}")
    for key, attr in OIDC_TEXT_FIELDS.items():
        if key in oidc:
            setattr(row, attr, _text(oidc, key, f"oidc.{key}"))
    if "scopes" in oidc:
        scopes = _text(oidc, "scopes", "oidc.scopes")
        if "openid" not in scopes.split():
            raise InvalidInput("oidc.scopes", "must include openid")
        row.oidc_scopes = scopes
    if "client_secret" in oidc:
        secret = _text(oidc, "client_secret", "oidc.client_secret")
        if secret != constants.MASKED:
            row.oidc_client_secret = crypto.encrypt(secret) if secret else ""
    if row.oidc_discovery_url:
        _http_url(row.oidc_discovery_url, "oidc.discovery_url")
    if "enable_oidc" in oidc:
        row.enable_oidc = _bool(oidc, "enable_oidc", "oidc.enable_oidc")
    if row.enable_oidc:
        for attr, field in (("oidc_discovery_url", "discovery_url"), ("oidc_client_id", "client_id")):
            if not getattr(row, attr):
                raise InvalidInput(f"oidc.{field}", "required")
        if not row.oidc_name:
            raise InvalidInput("oidc.name", "required")
        if not row.oidc_provider:
            raise InvalidInput(
                "oidc.discovery_url", "the provider's discovery document has not been fetched yet: fetch it first"
            )


def client_secret(row: SSOSettings) -> str:
    return crypto.decrypt(row.oidc_client_secret) if row.oidc_client_secret else ""


def _get(url: str) -> httpx.Response:
    try:
        response = httpx.get(url, timeout=FETCH_TIMEOUT, follow_redirects=True)
        response.raise_for_status()
    except httpx.HTTPError as exc:
        raise InvalidInput("metadata_url", f"could not fetch {url}: {exc}") from exc
    return response


def fetch_saml_metadata() -> SSOSettings:
    """An admin's explicit "fetch": download metadata_url now and keep the document."""
    row = SSOSettings.load()
    if not row.metadata_url:
        raise InvalidInput("metadata_url", "set metadata_url first")
    text = _get(row.metadata_url).text
    validate_idp_metadata(text)
    row.fetched_metadata = text
    row.save()
    return row


def fetch_oidc_provider() -> SSOSettings:
    """An admin's explicit "fetch": the discovery document and its JWKS, kept for logins."""
    row = SSOSettings.load()
    if not row.oidc_discovery_url:
        raise InvalidInput("oidc.discovery_url", "set the discovery URL first")
    try:
        discovery = _get(row.oidc_discovery_url).json()
        jwks = _get(discovery["jwks_uri"]).json()
        provider = {key: discovery[key] for key in ("issuer", "authorization_endpoint", "token_endpoint")}
    except (ValueError, KeyError, TypeError) as exc:
        raise InvalidInput("oidc.discovery_url", f"not an OpenID Connect discovery document: {exc}") from exc
    if "S256" not in discovery.get("code_challenge_methods_supported", ["S256"]):
        raise InvalidInput("oidc.discovery_url", "the provider does not support PKCE with S256")
    row.oidc_provider = {**provider, "jwks": jwks}
    row.save()
    return row
