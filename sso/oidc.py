"""OpenID Connect sign-in (beyond Fleet): authorization code flow with PKCE, state and nonce.

Authlib builds the authorization URL and redeems the code (with the PKCE verifier); joserfc
verifies the ID token against the provider's JWKS kept by `config.fetch_oidc_provider`
(issuer, audience = our client id, expiry with `CLOCK_SKEW_SECONDS` of slack, nonce). The state
travels in the URL; only its digest is stored, bound to the browser's pending-login cookie.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from authlib.integrations.requests_client import OAuth2Session as OAuth2Client
from joserfc import jwk, jwt
from joserfc.errors import BadSignatureError, ExpiredTokenError, InvalidClaimError, JoseError, MissingClaimError

from fleetsite.lib.tokens import digest
from sso import config, constants
from sso.errors import SSOError
from sso.models import PendingLogin, SSOSettings

ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "ES256", "ES384", "EdDSA"]
TOKEN_TIMEOUT = 10.0


@dataclass
class Request:
    url: str
    state: str
    nonce: str
    code_verifier: str


def authorization_request(row: SSOSettings, redirect_uri: str) -> Request:
    """The provider URL to send the browser to, with fresh state, nonce and PKCE verifier."""
    state, nonce, verifier = secrets.token_urlsafe(32), secrets.token_urlsafe(32), secrets.token_urlsafe(48)
    client = OAuth2Client(
        client_id=row.oidc_client_id,
        redirect_uri=redirect_uri,
        scope=row.oidc_scopes,
        code_challenge_method="S256",
    )
    url, _ = client.create_authorization_url(
        row.oidc_provider["authorization_endpoint"], state=state, code_verifier=verifier, nonce=nonce
    )
    return Request(url=url, state=state, nonce=nonce, code_verifier=verifier)


@dataclass
class Identity:
    email: str
    name: str
    subject: str
    claims: dict[str, Any] = field(default_factory=dict)
    token_id: str = ""
    expires_at: datetime | None = None


def check_state(pending: PendingLogin | None, state: str) -> PendingLogin:
    if pending is None:
        raise SSOError("This sign-in was not started from this browser, or it took too long: start it again.")
    if not state or not hmac.compare_digest(pending.state_digest, digest(state)):
        raise SSOError("The provider's answer does not match the sign-in this browser started (state mismatch).")
    return pending


def _redeem(row: SSOSettings, pending: PendingLogin, code: str, redirect_uri: str) -> str:
    client = OAuth2Client(
        client_id=row.oidc_client_id,
        client_secret=config.client_secret(row),
        redirect_uri=redirect_uri,
        token_endpoint_auth_method="client_secret_post",
    )
    try:
        token = client.fetch_token(
            row.oidc_provider["token_endpoint"], code=code, code_verifier=pending.code_verifier, timeout=TOKEN_TIMEOUT
        )
    except Exception as exc:  # network errors and OAuth errors alike end this sign-in
        raise SSOError(f"The provider did not accept the authorization code: {exc}") from exc
    finally:
        client.close()
    id_token = token.get("id_token")
    if not id_token:
        raise SSOError("The provider sent no ID token: check that the scopes include openid.")
    return id_token


def verify_id_token(row: SSOSettings, id_token: str, nonce: str) -> dict[str, Any]:
    provider = row.oidc_provider
    try:
        keys = jwk.KeySet.import_key_set(provider["jwks"])
        token = jwt.decode(id_token, keys, algorithms=ALGORITHMS)
    except BadSignatureError as exc:
        raise SSOError("The ID token's signature does not match the provider's keys.") from exc
    except (JoseError, ValueError, KeyError) as exc:
        raise SSOError(f"The ID token could not be read: {exc}") from exc
    registry = jwt.JWTClaimsRegistry(
        leeway=constants.CLOCK_SKEW_SECONDS,
        iss={"essential": True, "value": provider["issuer"]},
        aud={"essential": True, "value": row.oidc_client_id},
        sub={"essential": True},
        exp={"essential": True},
        nonce={"essential": True, "value": nonce},
    )
    try:
        registry.validate(token.claims)
    except ExpiredTokenError as exc:
        raise SSOError("The ID token has expired; sign in again, and check the clocks if it keeps happening.") from exc
    except (InvalidClaimError, MissingClaimError) as exc:
        what = {
            "nonce": "nonce mismatch: this token was not issued for this sign-in",
            "aud": "the token is meant for another client (wrong audience)",
            "iss": "the token comes from another issuer",
        }.get(exc.claim, f"claim {exc.claim!r} is not valid")
        raise SSOError(f"The ID token was refused: {what}.") from exc
    return dict(token.claims)


def finish(row: SSOSettings, pending: PendingLogin, code: str, redirect_uri: str) -> Identity:
    """Redeem the code and verify the ID token; the identity it names (email required, verified if stated)."""
    if not code:
        raise SSOError("The provider's answer carries no authorization code.")
    claims = verify_id_token(row, _redeem(row, pending, code, redirect_uri), pending.nonce)
    email = str(claims.get("email") or "").strip().lower()
    if not email:
        raise SSOError("The ID token has no email claim: add the email scope.")
    if claims.get("email_verified") is False:
        raise SSOError("The provider says this email address is not verified.", email=email)
    exp = claims.get("exp")
    return Identity(
        email=email,
        name=str(claims.get("name") or ""),
        subject=str(claims["sub"]),
        claims=claims,
        token_id="oidc:"
        + str(claims.get("jti") or digest(f"{claims['iss']}|{claims['sub']}|{claims.get('iat')}|{pending.nonce}")),
        expires_at=datetime.fromtimestamp(exp, tz=UTC) if isinstance(exp, int | float) else None,
    )
