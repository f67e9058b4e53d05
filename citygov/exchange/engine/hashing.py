"""The request hash both gateways compute: base64(SHA-512(SHA-512(headers) + SHA-512(body))).

``headers`` is the canonical form of the X-Road headers of the request as the consumer gateway sent it:
the names ``x-road-client``, ``x-road-service``, ``x-road-id``, ``x-road-request-id`` and the request
method and path (as pseudo-headers ``:method`` and ``:path``), lower-cased, sorted by name, one
``name:value\\n`` line each, UTF-8. The provider gateway returns the hash in ``X-Road-Request-Hash``;
the consumer gateway recomputes it over what it sent and refuses a response whose hash differs.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping

HASHED_HEADERS = ("x-road-client", "x-road-service", "x-road-id", "x-road-request-id")


def canonical_headers(method: str, path: str, headers: Mapping[str, str]) -> bytes:
    """The canonical header block that is hashed (see the module docstring)."""
    lower = {k.lower(): v for k, v in headers.items()}
    lines = {":method": method.upper(), ":path": path}
    for name in HASHED_HEADERS:
        lines[name] = lower.get(name, "")
    return "".join(f"{name}:{lines[name]}\n" for name in sorted(lines)).encode("utf-8")


def request_hash(method: str, path: str, headers: Mapping[str, str], body: bytes) -> str:
    """base64(SHA-512(SHA-512(canonical headers) + SHA-512(body)))."""
    inner = hashlib.sha512(canonical_headers(method, path, headers)).digest() + hashlib.sha512(body).digest()
    return base64.b64encode(hashlib.sha512(inner).digest()).decode("ascii")


def body_hash(body: bytes) -> str:
    """base64(SHA-512(body)): the response hash kept in the message log."""
    return base64.b64encode(hashlib.sha512(body).digest()).decode("ascii")
