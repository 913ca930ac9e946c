"""Helpers: a confirmed authenticator for a user, and the code it shows at a given time."""

from __future__ import annotations

import time
from typing import Any

import pytest
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import User


def code_at(device: TOTPDevice, when: float | None = None) -> str:
    """The code an authenticator app with `device`'s secret shows at `when` (now by default)."""
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = time.time() if when is None else when
    return f"{totp.token():06d}"


def enrol(user: User) -> TOTPDevice:
    return TOTPDevice.objects.create(user=user, name="app", confirmed=True)


@pytest.fixture(autouse=True)
def _no_throttle(settings: Any) -> None:
    """django-otp waits 1, 2, 4… seconds after a wrong code; tests of that set the factor back."""
    settings.OTP_TOTP_THROTTLE_FACTOR = 0
