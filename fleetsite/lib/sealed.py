"""Secrets the server must read back (not just check), at rest: AES-GCM under a key derived from SECRET_KEY.

One key per purpose, so a value sealed for one use cannot be passed off as another's. Rotating
SECRET_KEY makes earlier values unreadable: they must be entered again (docs/operations.md).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings

_NONCE_BYTES = 12


class Unreadable(ValueError):
    """A sealed value that this server's key does not open (another SECRET_KEY, or damaged)."""


def _key(purpose: bytes) -> bytes:
    return hashlib.sha256(purpose + settings.SECRET_KEY.encode()).digest()


def seal(value: str, purpose: bytes) -> str:
    nonce = os.urandom(_NONCE_BYTES)
    return base64.b64encode(nonce + AESGCM(_key(purpose)).encrypt(nonce, value.encode(), purpose)).decode()


def unseal(token: str, purpose: bytes) -> str:
    try:
        raw = base64.b64decode(token, validate=True)
        return AESGCM(_key(purpose)).decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], purpose).decode()
    except (InvalidTag, binascii.Error, ValueError) as error:
        raise Unreadable(str(error) or "the value does not open with this server's key") from error
