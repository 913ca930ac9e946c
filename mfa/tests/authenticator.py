"""A software WebAuthn authenticator for tests: an EC P-256 key, authenticator data built by hand.

It makes the same JSON a browser sends (base64url fields), so tests drive the real views and
py_webauthn's real verification; `origin` and `rp_id` can be set wrong on purpose.
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
from typing import Any

import cbor2
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from webauthn.helpers import bytes_to_base64url

FLAG_UP, FLAG_UV, FLAG_AT = 0x01, 0x04, 0x40


class SoftAuthenticator:
    """One credential on one authenticator; `sign_count` goes up by one at each assertion."""

    def __init__(self, rp_id: str, origin: str) -> None:
        self.rp_id = rp_id
        self.origin = origin
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.credential_id = os.urandom(32)
        self.sign_count = 0

    def _cose_key(self) -> bytes:
        numbers = self.key.public_key().public_numbers()
        return cbor2.dumps({1: 2, 3: -7, -1: 1, -2: numbers.x.to_bytes(32, "big"), -3: numbers.y.to_bytes(32, "big")})

    def _client_data(self, kind: str, challenge: str, origin: str | None) -> bytes:
        body = {"type": kind, "challenge": challenge, "origin": origin or self.origin, "crossOrigin": False}
        return json.dumps(body).encode()

    def _auth_data(self, rp_id: str | None, flags: int, attested: bytes = b"") -> bytes:
        rp_hash = hashlib.sha256((rp_id or self.rp_id).encode()).digest()
        return rp_hash + bytes([flags]) + struct.pack(">I", self.sign_count) + attested

    def create(self, options: dict, origin: str | None = None, rp_id: str | None = None) -> dict[str, Any]:
        """The registration answer to creation `options` (py_webauthn's JSON), attestation "none"."""
        attested = bytes(16) + struct.pack(">H", len(self.credential_id)) + self.credential_id + self._cose_key()
        auth_data = self._auth_data(rp_id, FLAG_UP | FLAG_UV | FLAG_AT, attested)
        attestation = cbor2.dumps({"fmt": "none", "attStmt": {}, "authData": auth_data})
        client_data = self._client_data("webauthn.create", options["challenge"], origin)
        return self._credential(client_data, attestationObject=bytes_to_base64url(attestation), transports=["internal"])

    def get(
        self, options: dict, origin: str | None = None, rp_id: str | None = None, sign_count: int | None = None
    ) -> dict[str, Any]:
        """The assertion answering request `options`; `sign_count` overrides the counter (a clone's)."""
        self.sign_count = self.sign_count + 1 if sign_count is None else sign_count
        auth_data = self._auth_data(rp_id, FLAG_UP | FLAG_UV)
        client_data = self._client_data("webauthn.get", options["challenge"], origin)
        signature = self.key.sign(auth_data + hashlib.sha256(client_data).digest(), ec.ECDSA(hashes.SHA256()))
        return self._credential(
            client_data, authenticatorData=bytes_to_base64url(auth_data), signature=bytes_to_base64url(signature)
        )

    def _credential(self, client_data: bytes, **response: Any) -> dict[str, Any]:
        """The credential JSON a browser posts: what both ceremonies share, and the ceremony's `response` fields."""
        raw_id = bytes_to_base64url(self.credential_id)
        return {
            "id": raw_id,
            "rawId": raw_id,
            "type": "public-key",
            "clientExtensionResults": {},
            "response": {"clientDataJSON": bytes_to_base64url(client_data), **response},
        }
