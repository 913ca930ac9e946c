"""WebAuthn passkeys as a second factor: registration, removal and checking an assertion (py_webauthn).

The relying party is the server's public URL (fleetsite.lib.publicurl): its host name is the RP
ID and its scheme://host[:port] the only origin accepted, so a credential made for another site,
or an assertion relayed from a look-alike one, does not verify. Challenges are used once: a
registration's lives in the user's session, a login's on its LoginChallenge row.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from webauthn import (
    base64url_to_bytes,
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import bytes_to_base64url
from webauthn.helpers.exceptions import InvalidAuthenticationResponse, InvalidRegistrationResponse
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from accounts.models import User
from activities.record import record
from fleetsite.lib.publicurl import public_base_url, server_url_parts
from mfa.models import LoginChallenge, Passkey, RecoveryCode
from mfa.types import ADDED_PASSKEY, DELETED_PASSKEY

# The user's session keeps the pending registration's challenge and when it was made.
SESSION_REGISTRATION = "mfa_passkey_registration"
NAME_MAX = 64


class PasskeyRefused(ValueError):
    """A registration or assertion that did not verify; the message says why in words a person can act on."""


@dataclass(frozen=True)
class RelyingParty:
    rp_id: str
    origin: str
    name: str


def relying_party(request: HttpRequest | None = None) -> RelyingParty:
    """RP ID and origin from the public URL (the request's own address only when none is configured)."""
    fallback = request.build_absolute_uri("/") if request is not None else ""
    parts = server_url_parts(public_base_url(fallback))
    if parts is None:
        raise PasskeyRefused("Passkeys need the server's public URL (FLEETSITE_SERVER_URL).")
    return RelyingParty(rp_id=parts.hostname, origin=parts.origin, name=settings.OTP_TOTP_ISSUER)


def credential_digest(credential_id: bytes) -> str:
    return hashlib.sha256(credential_id).hexdigest()


def has_passkeys(user: User) -> bool:
    return Passkey.objects.filter(user=user).exists()


def _who(user: User) -> dict:
    return {"user_id": user.pk, "user_name": user.name, "user_email": user.email}


def _ttl_seconds() -> float:
    return settings.FLEETSITE_MFA_CHALLENGE_TTL.total_seconds()


# --- Registration ------------------------------------------------------------------------------


def registration_options(request: HttpRequest, user: User) -> str:
    """Creation options (JSON) for a new passkey of `user`; the challenge waits in the session."""
    rp = relying_party(request)
    options = generate_registration_options(
        rp_id=rp.rp_id,
        rp_name=rp.name,
        user_id=f"fleetsite-user-{user.pk}".encode(),
        user_name=user.email,
        user_display_name=user.name or user.email,
        timeout=int(_ttl_seconds() * 1000),
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.PREFERRED,
            user_verification=UserVerificationRequirement.PREFERRED,
        ),
        exclude_credentials=[
            PublicKeyCredentialDescriptor(id=base64url_to_bytes(row.credential_id))
            for row in Passkey.objects.filter(user=user)
        ],
    )
    request.session[SESSION_REGISTRATION] = {
        "challenge": bytes_to_base64url(options.challenge),
        "at": time.time(),
    }
    return options_to_json(options)


def register(request: HttpRequest, user: User, name: str, credential: Any) -> tuple[Passkey, bool]:
    """Verify the browser's attestation and keep the passkey; True when it is the user's first factor.

    The session's challenge is taken (used once) whether or not the attestation passes.
    """
    pending = request.session.pop(SESSION_REGISTRATION, None)
    name = (name or "").strip()
    if not name:
        raise PasskeyRefused("Give the passkey a name, such as the device it lives on.")
    if len(name) > NAME_MAX:
        raise PasskeyRefused(f"The name is too long: at most {NAME_MAX} characters.")
    if not pending or time.time() - pending.get("at", 0) > _ttl_seconds():
        raise PasskeyRefused("That passkey request expired: add the passkey again.")
    rp = relying_party(request)
    try:
        verified = verify_registration_response(
            credential=credential,
            expected_challenge=base64url_to_bytes(pending["challenge"]),
            expected_rp_id=rp.rp_id,
            expected_origin=rp.origin,
        )
    except (InvalidRegistrationResponse, ValueError, KeyError, TypeError) as exc:
        raise PasskeyRefused(f"The passkey could not be verified: {exc}") from exc
    transports = []
    if isinstance(credential, dict):
        transports = [t for t in (credential.get("response") or {}).get("transports") or [] if isinstance(t, str)]
    from mfa import factors

    with transaction.atomic():
        first = not factors.has_mfa(user)
        digest = credential_digest(verified.credential_id)
        if Passkey.objects.filter(credential_digest=digest).exists():
            raise PasskeyRefused("That passkey is already registered.")
        row = Passkey.objects.create(
            user=user,
            name=name,
            credential_digest=digest,
            credential_id=bytes_to_base64url(verified.credential_id),
            public_key=verified.credential_public_key,
            sign_count=verified.sign_count,
            transports=transports[:8],
            aaguid=str(verified.aaguid)[:36],
        )
        record(user, ADDED_PASSKEY, {**_who(user), "method": "passkey", "passkey_name": name})
    return row, first


@transaction.atomic
def remove(actor: User, user: User, pk: int) -> Passkey | None:
    """Delete one passkey; with it the recovery codes go when no second factor is left. None if not found."""
    from mfa import factors

    row = Passkey.objects.select_for_update().filter(user=user, pk=pk).first()
    if row is None:
        return None
    row.delete()
    if not factors.has_mfa(user):
        RecoveryCode.objects.filter(user=user).delete()
    record(actor, DELETED_PASSKEY, {**_who(user), "method": "passkey", "passkey_name": row.name})
    return row


# --- A login's assertion -----------------------------------------------------------------------


def authentication_options(request: HttpRequest | None, row: LoginChallenge) -> str:
    """Request options (JSON) for the login waiting on `row`; its challenge replaces any earlier one."""
    rp = relying_party(request)
    options = generate_authentication_options(
        rp_id=rp.rp_id,
        timeout=int(_ttl_seconds() * 1000),
        allow_credentials=[
            PublicKeyCredentialDescriptor(id=base64url_to_bytes(p.credential_id))
            for p in Passkey.objects.filter(user=row.user_id)
        ],
        user_verification=UserVerificationRequirement.PREFERRED,
    )
    LoginChallenge.objects.filter(pk=row.pk).update(webauthn_challenge=bytes_to_base64url(options.challenge))
    return options_to_json(options)


def verify_assertion(rp: RelyingParty, user: User, expected_challenge: str, credential: Any) -> None:
    """Check an assertion of one of `user`'s passkeys; raises PasskeyRefused. Call inside a transaction.

    A sign count that did not go up (when either side is non-zero) is refused: two authenticators
    share the credential, which means it was copied.
    """
    if not expected_challenge:
        raise PasskeyRefused("Ask for the passkey again: this request was already used.")
    if not isinstance(credential, dict) or not isinstance(credential.get("id"), str):
        raise PasskeyRefused("The browser sent no passkey.")
    try:
        raw_id = base64url_to_bytes(credential["id"])
    except ValueError as exc:
        raise PasskeyRefused("The browser sent no passkey.") from exc
    passkey = Passkey.objects.select_for_update().filter(user=user, credential_digest=credential_digest(raw_id)).first()
    if passkey is None:
        raise PasskeyRefused("That passkey is not registered to this account.")
    try:
        verified = verify_authentication_response(
            credential=credential,
            expected_challenge=base64url_to_bytes(expected_challenge),
            expected_rp_id=rp.rp_id,
            expected_origin=rp.origin,
            credential_public_key=bytes(passkey.public_key),
            credential_current_sign_count=passkey.sign_count,
        )
    except InvalidAuthenticationResponse as exc:
        text = str(exc)
        if "sign count" in text:
            raise PasskeyRefused(
                f"The passkey's signature counter went backwards ({text}): it may have been copied. "
                "Remove it and register it again, or ask an admin."
            ) from exc
        raise PasskeyRefused(f"The passkey could not be verified: {text}") from exc
    except (ValueError, KeyError, TypeError) as exc:
        raise PasskeyRefused(f"The passkey answer is malformed: {exc}") from exc
    passkey.sign_count = verified.new_sign_count
    passkey.last_used_at = timezone.now()
    passkey.save(update_fields=["sign_count", "last_used_at"])


def parse_json(body: bytes) -> dict:
    """The request's JSON object, or {} (the views then refuse it with a message)."""
    try:
        data = json.loads(body or b"{}")
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}
