"""The SAML 2.0 service provider, built on pysaml2 (signatures checked by xmlsec1).

Only Fleet's flow: HTTP-Redirect AuthnRequest to the IdP, HTTP-POST response to the ACS.
Signed assertions are required; the audience must be our entity id; times are checked with
`CLOCK_SKEW_SECONDS` of slack; an SP-initiated response must answer the request this browser
started (its id is kept in `PendingLogin`), and an unsolicited one is accepted only when
`enable_sso_idp_login` is on. Replays are refused by `replay.consume` on the assertion id.
"""

from __future__ import annotations

import base64
import binascii
import calendar
import shutil
from dataclasses import dataclass, field
from datetime import UTC, datetime

from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT, saml, time_util
from saml2.client import Saml2Client
from saml2.config import SPConfig
from saml2.mdstore import MetadataStore
from saml2.metadata import create_metadata_string
from saml2.response import IncorrectlySigned, StatusError, UnsolicitedResponse
from saml2.sigver import SignatureError
from saml2.validate import ResponseLifetimeExceed, ToEarly

from sso import constants
from sso.errors import SSOError
from sso.models import SSOSettings


def xmlsec_binary() -> str:
    found = shutil.which("xmlsec1")
    if not found:
        raise SSOError("SAML needs the xmlsec1 program on the server (Debian package xmlsec1)")
    return found


def idp_entity(metadata_xml: str) -> str:
    """The IdP's entity id in `metadata_xml`; ValueError with a readable reason when it is not usable."""
    from saml2 import config as saml_config

    xmlsec_binary()  # pysaml2 needs it to read metadata at all; say so instead of failing inside it
    store = MetadataStore(attrc=None, config=saml_config.Config())
    try:
        store.load("inline", metadata_xml)
    except Exception as exc:  # pysaml2 raises bare exceptions for XML it cannot read
        raise ValueError(f"not valid SAML metadata: {exc}") from exc
    idps = list(store.identity_providers())
    if not idps:
        raise ValueError("the metadata names no identity provider (IDPSSODescriptor)")
    entity = idps[0]
    if not store.certs(entity, "idpsso", use="signing"):
        raise ValueError("the metadata has no signing certificate for the identity provider")
    if not store.single_sign_on_service(entity, BINDING_HTTP_REDIRECT):
        raise ValueError("the identity provider offers no HTTP-Redirect single sign-on service")
    return entity


def _sp_config(row: SSOSettings, acs_url: str, allow_unsolicited: bool, with_idp: bool = True) -> SPConfig:
    config = SPConfig()
    config.load(
        {
            "entityid": row.entity_id,
            "xmlsec_binary": xmlsec_binary(),
            **({"metadata": {"inline": [row.idp_metadata()]}} if with_idp else {}),
            "accepted_time_diff": constants.CLOCK_SKEW_SECONDS,
            "allow_unknown_attributes": True,
            "service": {
                "sp": {
                    "endpoints": {"assertion_consumer_service": [(acs_url, BINDING_HTTP_POST)]},
                    "allow_unsolicited": allow_unsolicited,
                    "want_assertions_signed": True,
                    "want_response_signed": False,
                    "authn_requests_signed": False,
                    "name_id_format": saml.NAMEID_FORMAT_EMAILADDRESS,
                    "name_id_format_allow_create": False,
                }
            },
        }
    )
    return config


def _client(row: SSOSettings, acs_url: str, allow_unsolicited: bool) -> Saml2Client:
    return Saml2Client(config=_sp_config(row, acs_url, allow_unsolicited))


def sp_metadata(row: SSOSettings, acs_url: str) -> str:
    """Our SP's metadata XML (entity ID, ACS, NameID format, signed assertions wanted) for the IdP's admin.

    Built from the same pysaml2 configuration that checks responses, so it cannot disagree with it;
    it needs only the entity ID, not the IdP's metadata (many IdPs want the SP's first).
    """
    config = _sp_config(row, acs_url, allow_unsolicited=False, with_idp=False)
    return create_metadata_string(None, config=config, sign=False).decode()


def authn_request_url(row: SSOSettings, acs_url: str, relay_state: str) -> tuple[str, str]:
    """(request id, IdP URL carrying the AuthnRequest): what Fleet's POST /sso answers."""
    client = _client(row, acs_url, allow_unsolicited=False)
    request_id, info = client.prepare_for_authenticate(
        entityid=idp_entity(row.idp_metadata()), relay_state=relay_state, binding=BINDING_HTTP_REDIRECT
    )
    location = dict(info["headers"])["Location"]
    return request_id, location


@dataclass
class Assertion:
    """What a verified response says: who, their attributes, and the assertion's id and expiry."""

    email: str
    name: str
    attributes: dict[str, list[str]] = field(default_factory=dict)
    assertion_id: str = ""
    expires_at: datetime | None = None


def _expiry(response: object) -> datetime | None:
    stamp = getattr(response, "not_on_or_after", 0)
    if stamp:
        return datetime.fromtimestamp(stamp, tz=UTC)
    conditions = getattr(response.assertion, "conditions", None)  # type: ignore[attr-defined]
    if conditions is not None and conditions.not_on_or_after:
        return datetime.fromtimestamp(calendar.timegm(time_util.str_to_time(conditions.not_on_or_after)), tz=UTC)
    return None


def _explain(exc: Exception) -> str:
    """A sentence for each way pysaml2 refuses a response."""
    text = str(exc)
    if isinstance(exc, ResponseLifetimeExceed):
        return "The identity provider's assertion has expired. Sign in again; if it keeps happening, check the clocks."
    if isinstance(exc, ToEarly):
        return "The identity provider's assertion is not valid yet: check the clocks of this server and the IdP."
    if isinstance(exc, SignatureError) and "missing" in text.lower():
        return "The identity provider's assertion is not signed; Fleetsite accepts only signed assertions."
    if isinstance(exc, SignatureError | IncorrectlySigned):
        return (
            "The assertion's signature does not match the identity provider's certificate in the metadata "
            "(signed by another key, or changed on the way)."
        )
    if "AudienceRestrictions" in text:
        return "The assertion is meant for another service (wrong audience): check the entity ID in both places."
    if isinstance(exc, UnsolicitedResponse):
        return "This response does not answer a sign-in started from this browser; start the sign-in again."
    if isinstance(exc, StatusError):
        return f"The identity provider refused the sign-in: {text}"
    if "destination" in text.lower() or "recipient" in text.lower() or "Not valid" in text:
        return "The assertion was sent to another address than this server's ACS URL."
    return f"The SAML response could not be verified: {text or type(exc).__name__}"


def verify_response(row: SSOSettings, acs_url: str, saml_response_b64: str, request_id: str | None) -> Assertion:
    """Check a base64 SAMLResponse; `request_id` is the AuthnRequest this browser started, if any."""
    try:
        base64.b64decode(saml_response_b64, validate=False)  # pysaml2 decodes it again for the HTTP-POST binding
    except (binascii.Error, ValueError) as exc:
        raise SSOError("failed to decode SAMLResponse") from exc
    unsolicited = request_id is None
    if unsolicited and not row.enable_sso_idp_login:
        raise SSOError(
            "IdP-initiated sign-in is off: start the sign-in from the Fleetsite login page "
            "(or an admin turns on enable_sso_idp_login)."
        )
    client = _client(row, acs_url, allow_unsolicited=unsolicited)
    outstanding = {request_id: "/"} if request_id else {}
    try:
        response = client.parse_authn_request_response(saml_response_b64, BINDING_HTTP_POST, outstanding)
    except Exception as exc:  # pysaml2 raises many unrelated types; each is a refusal
        raise SSOError(_explain(exc)) from exc
    if response is None or response.assertion is None:
        raise SSOError("The SAML response carries no assertion.")
    name_id = response.name_id.text.strip() if response.name_id is not None and response.name_id.text else ""
    if not name_id:
        raise SSOError("The assertion names no user (NameID): configure the IdP to send the email as NameID.")
    attributes = {str(k): [str(v) for v in values] for k, values in (response.ava or {}).items()}
    name = next((attributes[n][-1] for n in constants.NAME_ATTRIBUTES if attributes.get(n)), "")
    return Assertion(
        email=name_id.lower(),
        name=name,
        attributes=attributes,
        assertion_id=response.assertion.id or "",
        expires_at=_expiry(response),
    )
