"""Secret variable values at rest: sealed under SECRET_KEY (Fleet uses its server private key)."""

from __future__ import annotations

from fleetsite.lib.sealed import seal, unseal

_CONTEXT = b"fleetsite secret variables v1"


def encrypt(value: str) -> str:
    return seal(value, _CONTEXT)


def decrypt(token: str) -> str:
    return unseal(token, _CONTEXT)
