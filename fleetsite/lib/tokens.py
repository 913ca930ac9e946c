"""Random secrets and their stored form.

Keys that agents and users present (node keys, session and API tokens, device tokens) are stored
only as SHA-256 digests: a database leak does not hand out working credentials, and looking up
a digest leaks nothing useful through timing.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets


def random_key(num_bytes: int) -> str:
    """Standard base64 of `num_bytes` random bytes: Fleet's node-key and enroll-secret format."""
    return base64.b64encode(secrets.token_bytes(num_bytes)).decode("ascii")


def digest(value: str) -> str:
    """The stored form of a presented key."""
    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()


def same_secret(presented: str, expected: str) -> bool:
    """Constant-time comparison of two secrets."""
    return hmac.compare_digest(presented.encode("utf-8", "surrogatepass"), expected.encode("utf-8", "surrogatepass"))
