"""Second factors: TOTP enrolment (django-otp), removal, recovery codes, and checking a code.

Every change writes in one transaction and records an activity. Checking a code locks the
device row, so one TOTP code cannot pass twice even in two concurrent requests: django-otp keeps
the last time step used (`last_t`) and accepts only later ones.
"""

from __future__ import annotations

import base64
import io
import re
import secrets
import time

import qrcode
import qrcode.image.svg
from django.db import transaction
from django.utils.safestring import SafeString
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import User
from activities.record import record
from fleetsite.lib.tokens import digest
from mfa import constants
from mfa.models import Passkey, RecoveryCode
from mfa.types import DISABLED_MFA, ENABLED_MFA, REGENERATED_RECOVERY_CODES

_TOTP_SHAPE = re.compile(r"^\d{6}$")
_RECOVERY_SHAPE = re.compile(r"^[a-z2-7]{10}$")
DEVICE_NAME = "Authenticator app"


class CodeRefused(ValueError):
    """A code that did not pass; the message says why, the way a person can act on it."""


def has_mfa(user: User) -> bool:
    """Does a password login of `user` need a second step?"""
    return TOTPDevice.objects.filter(user=user, confirmed=True).exists() or Passkey.objects.filter(user=user).exists()


def has_totp(user: User) -> bool:
    return TOTPDevice.objects.filter(user=user, confirmed=True).exists()


def _who(user: User) -> dict:
    return {"user_id": user.pk, "user_name": user.name, "user_email": user.email}


# --- Enrolment ---------------------------------------------------------------------------------


def pending_device(user: User) -> TOTPDevice:
    """The user's unconfirmed authenticator (made now if there is none): its secret is what the QR code shows."""
    with transaction.atomic():
        device = TOTPDevice.objects.select_for_update().filter(user=user, confirmed=False).order_by("pk").first()
        if device is None:
            device = TOTPDevice.objects.create(user=user, name=DEVICE_NAME, confirmed=False, digits=6)
    return device


def qr_svg(device: TOTPDevice) -> SafeString:
    """The device's otpauth:// URI as an inline SVG QR code (no images served, nothing external)."""
    image = qrcode.make(device.config_url, image_factory=qrcode.image.svg.SvgPathImage, box_size=8, border=2)
    out = io.BytesIO()
    image.save(out)
    svg = out.getvalue().decode("utf-8")
    svg = svg[svg.index("<svg") :]  # drop the XML declaration: the SVG goes inside the page
    return SafeString(svg)


def secret_base32(device: TOTPDevice) -> str:
    """The secret as authenticator apps take it typed in: base32, in groups of four."""
    text = base64.b32encode(device.bin_key).decode("ascii").rstrip("=")
    return " ".join(text[i : i + 4] for i in range(0, len(text), 4))


def confirm(user: User, code: str) -> list[str]:
    """Turn the pending authenticator on once it produced a valid code; returns new recovery codes."""
    code = (code or "").replace(" ", "")
    refused = ""
    with transaction.atomic():  # a wrong code's throttle count is committed, so the refusal is raised after
        device = TOTPDevice.objects.select_for_update().filter(user=user, confirmed=False).order_by("pk").first()
        if device is None:
            refused = "Start the set-up again: there is no authenticator waiting for confirmation."
        elif not _TOTP_SHAPE.match(code) or not device.verify_is_allowed()[0] or not device.verify_token(code):
            refused = "That code is not right. Check the device's clock and try the next code."
        else:
            TOTPDevice.objects.filter(user=user).exclude(pk=device.pk).delete()
            device.confirmed = True
            device.save(update_fields=["confirmed"])
            codes = new_recovery_codes(user)
            record(user, ENABLED_MFA, {**_who(user), "method": "totp"})
    if refused:
        raise CodeRefused(refused)
    return codes


@transaction.atomic
def remove(actor: User, user: User) -> bool:
    """Turn `user`'s second factor off (by the user, or an admin for a user who lost it); False if none."""
    devices, _ = TOTPDevice.objects.filter(user=user).delete()
    keys, _ = Passkey.objects.filter(user=user).delete()
    codes, _ = RecoveryCode.objects.filter(user=user).delete()
    if not devices and not keys and not codes:
        return False
    record(actor, DISABLED_MFA, {**_who(user), "method": "all"})
    return True


def new_recovery_codes(user: User) -> list[str]:
    """Replace the user's recovery codes; call inside a transaction (records nothing)."""
    RecoveryCode.objects.filter(user=user).delete()
    codes = []
    for _ in range(constants.RECOVERY_CODE_COUNT):
        raw = base64.b32encode(secrets.token_bytes(constants.RECOVERY_CODE_BYTES)).decode("ascii").lower()[:10]
        codes.append(f"{raw[:5]}-{raw[5:]}")
    RecoveryCode.objects.bulk_create([RecoveryCode(user=user, code_digest=_recovery_digest(c)) for c in codes])
    return codes


@transaction.atomic
def regenerate_recovery_codes(user: User) -> list[str]:
    """Replace the user's recovery codes (the old ones stop working)."""
    if not has_mfa(user):
        raise CodeRefused("Set up an authenticator first.")
    codes = new_recovery_codes(user)
    record(user, REGENERATED_RECOVERY_CODES, _who(user))
    return codes


def recovery_codes_left(user: User) -> int:
    return RecoveryCode.objects.filter(user=user).count()


def _normal_recovery(code: str) -> str:
    return re.sub(r"[\s-]", "", code or "").lower()


def _recovery_digest(code: str) -> str:
    return digest("recovery:" + _normal_recovery(code))


# --- Checking a login's code -------------------------------------------------------------------


def _already_used(device: TOTPDevice, code: str) -> bool:
    """True when `code` is valid right now but for a time step a login already spent (`last_t`)."""
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = time.time()
    return bool(totp.verify(int(code), device.tolerance)) and totp.t() <= device.last_t


def verify(user: User, code: str) -> str:
    """Check a second-step `code` for `user`; returns the method that passed ("totp" or "recovery_code").

    Call inside a transaction. A TOTP code passes once (a later login with the same code is
    refused); a recovery code is deleted when used.
    """
    code = (code or "").strip()
    compact = code.replace(" ", "")
    if _TOTP_SHAPE.match(compact):
        device = TOTPDevice.objects.select_for_update().filter(user=user, confirmed=True).first()
        if device is None:
            raise CodeRefused("No authenticator is set up for this account.")
        allowed, _ = device.verify_is_allowed()
        if not allowed:
            raise CodeRefused("Too many wrong codes just now: wait a few seconds, then use the next code.")
        if not device.verify_token(compact):
            if _already_used(device, compact):
                raise CodeRefused("That code was already used: each code works once. Wait for the next one.")
            raise CodeRefused("That code is not right. Check the device's clock and try the next code.")
        return "totp"
    if _RECOVERY_SHAPE.match(_normal_recovery(code)):
        deleted, _ = RecoveryCode.objects.filter(user=user, code_digest=_recovery_digest(code)).delete()
        if deleted != 1:
            raise CodeRefused("That recovery code is not right, or it was already used.")
        return "recovery_code"
    raise CodeRefused("Enter the 6-digit code from your authenticator app, or a recovery code.")
