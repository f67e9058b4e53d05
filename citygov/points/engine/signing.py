"""Request fingerprints for idempotency and HMAC signatures for merchant terminals. Pure Python."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any

SIGNATURE_VERSION = "v1"


def fingerprint(payload: Mapping[str, Any]) -> str:
    """SHA-256 of the payload's canonical JSON (sorted keys, no spaces): equal payloads, equal prints.

    >>> fingerprint({"b": 1, "a": 2}) == fingerprint({"a": 2, "b": 1})
    True
    """
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def string_to_sign(method: str, path: str, timestamp: str, nonce: str, body: bytes) -> str:
    """The text a terminal signs: method, path, timestamp, nonce and the body's SHA-256, one per line."""
    return "\n".join([SIGNATURE_VERSION, method.upper(), path, timestamp, nonce, hashlib.sha256(body).hexdigest()])


def sign(secret: str, method: str, path: str, timestamp: str, nonce: str, body: bytes) -> str:
    """Hex HMAC-SHA256 of :func:`string_to_sign` under the terminal's secret.

    >>> len(sign("s", "POST", "/api/points/terminal/redeem/", "1700000000", "n1", b"{}"))
    64
    """
    message = string_to_sign(method, path, timestamp, nonce, body).encode("utf-8")
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def verify(secret: str, signature: str, method: str, path: str, timestamp: str, nonce: str, body: bytes) -> bool:
    """Constant-time check of a terminal's signature."""
    return hmac.compare_digest(sign(secret, method, path, timestamp, nonce, body), signature.lower())
