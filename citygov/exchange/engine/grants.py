"""Live sharing-grant checks: the registry's signed grant status and the gateway's client for it.

A provider gateway asks the registry, on every call under a sharing grant, whether the grant is still
current (the data-governance module may have revoked it or let it expire since the configuration was
published). The registry answers with a small signed document::

    {"grant_status": {"service": "...", "client": "...", "grant": "DG-…", "current": true,
                      "checked_at": "<ISO 8601>", "nonce": "<the gateway's nonce>"},
     "signature": {"algorithm": "Ed25519", "key_id": "...", "value": "<base64>"}}

signed with the registry's configuration key, so the gateway verifies it against the anchor it already
holds. The nonce binds the answer to the question (a recorded "current" answer cannot be replayed), and
an answer older than ``max_age`` seconds is refused. When the registry cannot be asked, the gateway
fails closed (``Server.ServerProxy.GrantCheckFailed``). Pure Python, no Django.
"""

from __future__ import annotations

import base64
import datetime as dt
import http.client
import json
import secrets
import threading
import time
import urllib.parse
from collections.abc import Mapping
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from citygov.exchange.engine.conf import AccessRight, canonical_json, key_id


class GrantCheckError(Exception):
    """The grant status cannot be obtained or does not verify (the gateway then refuses the call)."""


def sign_grant_status(private_key: Ed25519PrivateKey, status: Mapping[str, Any]) -> bytes:
    """The signed grant-status document (canonical JSON bytes)."""
    signature = private_key.sign(canonical_json(status))
    return canonical_json({"grant_status": dict(status),
                           "signature": {"algorithm": "Ed25519", "key_id": key_id(private_key.public_key()),
                                         "value": base64.b64encode(signature).decode("ascii")}})


def verify_grant_status(document: bytes, anchor: Ed25519PublicKey, *, service: str, client: str, nonce: str,
                        now: dt.datetime, max_age: float = 120.0) -> bool:
    """Verify a grant-status document against the anchor and the question asked; return ``current``.

    Raises :class:`GrantCheckError` when it is unreadable, signed by another key, fails its signature,
    answers another question (service, client or nonce) or is older than ``max_age`` seconds.
    """
    try:
        envelope = json.loads(document)
        status, signature = envelope["grant_status"], envelope["signature"]
        value = base64.b64decode(signature["value"], validate=True)
        if signature.get("algorithm") != "Ed25519" or signature.get("key_id") != key_id(anchor):
            raise GrantCheckError("the grant status was not signed by the registry (授權狀態簽章金鑰不符)")
        anchor.verify(value, canonical_json(status))
        checked_at = dt.datetime.fromisoformat(status["checked_at"])
    except InvalidSignature as exc:
        raise GrantCheckError("the grant status signature does not verify (授權狀態簽章驗證失敗)") from exc
    except (ValueError, KeyError, TypeError) as exc:
        raise GrantCheckError(f"unreadable grant status: {exc} (無法讀取授權狀態)") from exc
    if (status.get("service"), status.get("client"), status.get("nonce")) != (service, client, nonce):
        raise GrantCheckError("the grant status answers another request (授權狀態與請求不符)")
    if checked_at.tzinfo is None or abs((now - checked_at).total_seconds()) > max_age:
        raise GrantCheckError("the grant status is not fresh (授權狀態已過時)")
    return status.get("current") is True


class RegistryGrantChecker:
    """``GatewaySettings.grant_is_current`` backed by the registry's ``grant-status`` endpoint.

    ``checker(right)`` asks ``url?service=…&client=…&nonce=…`` (no redirects followed) and returns whether
    the grant is current; raises :class:`GrantCheckError` when the registry cannot be asked or its answer
    does not verify. Connections to the registry are kept alive and reused across calls and threads.

    ``cache_seconds`` (default 0: ask on every call) lets a *current* answer stand for that long per access
    right, trading the strict "the next call fails" for fewer registry round trips; a "not current" answer
    is never cached.
    """

    def __init__(self, url: str, anchor: Ed25519PublicKey, *, timeout: float = 5.0, max_age: float = 120.0,
                 cache_seconds: float = 0.0):
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"the grant-check URL must be http(s)://host/..., not {url!r} (授權查詢網址錯誤)")
        self.url, self.anchor, self.timeout, self.max_age = parts, anchor, timeout, max_age
        self._idle: list[http.client.HTTPConnection] = []
        self._lock = threading.Lock()
        self.cache_seconds = cache_seconds
        self._current_until: dict[tuple[str, str], float] = {}

    def _connection(self) -> tuple[http.client.HTTPConnection, bool]:
        with self._lock:
            if self._idle:
                return self._idle.pop(), True
        conn_class = http.client.HTTPSConnection if self.url.scheme == "https" else http.client.HTTPConnection
        return conn_class(self.url.hostname, self.url.port, timeout=self.timeout), False

    def close(self) -> None:
        """Close the kept-alive connections."""
        with self._lock:
            for conn in self._idle:
                conn.close()
            self._idle.clear()

    def __call__(self, right: AccessRight) -> bool:
        service, client, nonce = str(right.service), str(right.client), secrets.token_urlsafe(18)
        if self.cache_seconds > 0 and self._current_until.get((service, client), 0.0) > time.monotonic():
            return True
        query = urllib.parse.urlencode({"service": service, "client": client, "nonce": nonce})
        for attempt in range(2):
            conn, reused = self._connection()
            try:
                conn.request("GET", f"{self.url.path or '/'}?{query}", headers={"Accept": "application/json"})
                response = conn.getresponse()
                data = response.read(64 * 1024)
            except (OSError, http.client.HTTPException) as exc:
                conn.close()
                if reused and attempt == 0:
                    continue  # the registry closed a kept-alive connection: once more on a fresh one
                raise GrantCheckError(f"cannot ask the registry for the grant status: {exc} "
                                      f"(無法查詢資料分享授權)") from exc
            if response.will_close:
                conn.close()
            else:
                with self._lock:
                    self._idle.append(conn)
            break
        if response.status != 200:
            raise GrantCheckError(f"the registry answered HTTP {response.status} to the grant check (授權查詢失敗)")
        current = verify_grant_status(data, self.anchor, service=service, client=client, nonce=nonce,
                                      now=dt.datetime.now(dt.UTC), max_age=self.max_age)
        if self.cache_seconds > 0:
            if current:
                self._current_until[(service, client)] = time.monotonic() + self.cache_seconds
            else:
                self._current_until.pop((service, client), None)
        return current
