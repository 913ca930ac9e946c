"""Secret variable values at rest: AES-GCM under a key derived from SECRET_KEY (Fleet uses its server private key)."""

from __future__ import annotations

import base64
import hashlib
import os

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings

_NONCE_BYTES = 12
_CONTEXT = b"fleetsite secret variables v1"


def _key() -> bytes:
    return hashlib.sha256(_CONTEXT + settings.SECRET_KEY.encode()).digest()


def encrypt(value: str) -> str:
    nonce = os.urandom(_NONCE_BYTES)
    sealed = AESGCM(_key()).encrypt(nonce, value.encode(), _CONTEXT)
    return base64.b64encode(nonce + sealed).decode()


def decrypt(token: str) -> str:
    raw = base64.b64decode(token)
    return AESGCM(_key()).decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], _CONTEXT).decode()
