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

from citygov.exchange.engine import http11
from citygov.exchange.engine.conf import AccessRight, canonical_json, key_id

#: The longest a gateway may let a "current" grant answer stand (``--grant-cache``): a grant revoked or
#: expired in data governance is refused at the latest this many seconds after the registry last said it
#: was current. Well under the answer's own freshness limit (``max_age``, 120 s).
MAX_CACHE_SECONDS = 30.0


class GrantCheckError(Exception):
    """The grant status cannot be obtained or does not verify (the gateway then refuses the call)."""


def sign_grant_status(private_key: Ed25519PrivateKey, status: Mapping[str, Any]) -> bytes:
    """The signed grant-status document (canonical JSON bytes)."""
    signature = private_key.sign(canonical_json(status))
    return canonical_json({"grant_status": dict(status),
                           "signature": {"algorithm": "Ed25519", "key_id": key_id(private_key.public_key()),
                                         "value": base64.b64encode(signature).decode("ascii")}})


def verify_grant_status(document: bytes, anchor: Ed25519PublicKey, *, service: str, client: str, nonce: str,
                        now: dt.datetime, max_age: float = 120.0, anchor_key_id: str | None = None) -> bool:
    """Verify a grant-status document against the anchor and the question asked; return ``current``.

    Raises :class:`GrantCheckError` when it is unreadable, signed by another key, fails its signature,
    answers another question (service, client or nonce) or is older than ``max_age`` seconds.
    ``anchor_key_id`` is :func:`key_id` of ``anchor`` when the caller has it already.
    """
    try:
        envelope = json.loads(document)
        status, signature = envelope["grant_status"], envelope["signature"]
        value = base64.b64decode(signature["value"], validate=True)
        if signature.get("algorithm") != "Ed25519" \
                or signature.get("key_id") != (anchor_key_id or key_id(anchor)):
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

    ``cache_seconds`` (default 0: ask on every call, the strict mode) lets a *current* answer stand for
    that long per access right, at most :data:`MAX_CACHE_SECONDS`: a grant that data governance revokes or
    lets expire is then refused at the latest ``cache_seconds`` after the registry last said it was
    current (the time is counted from before the question was sent). A "not current" answer and a failed
    check are never cached and drop the cached answer. While one thread asks for an access right, the
    others calling under it wait for that answer instead of asking too.
    """

    def __init__(self, url: str, anchor: Ed25519PublicKey, *, timeout: float = 5.0, max_age: float = 120.0,
                 cache_seconds: float = 0.0):
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"the grant-check URL must be http(s)://host/..., not {url!r} (授權查詢網址錯誤)")
        if not 0 <= cache_seconds <= MAX_CACHE_SECONDS:
            raise ValueError(f"the grant cache is 0 to {MAX_CACHE_SECONDS:g} seconds, not {cache_seconds:g} "
                             f"(授權快取須介於 0 與 {MAX_CACHE_SECONDS:g} 秒)")
        self.url, self.anchor, self.timeout, self.max_age = parts, anchor, timeout, max_age
        self.anchor_key_id = key_id(anchor)
        self._idle: list[http.client.HTTPConnection] = []
        self._lock = threading.Lock()
        self.cache_seconds = cache_seconds
        self._current_until: dict[tuple[str, str], float] = {}
        self._asking: dict[tuple[str, str], threading.Lock] = {}
        self._queries: dict[tuple[str, str], str] = {}

    def _connection(self) -> tuple[http.client.HTTPConnection, bool]:
        with self._lock:
            if self._idle:
                return self._idle.pop(), True
        conn_class = http11.HTTPSConnection if self.url.scheme == "https" else http11.HTTPConnection
        return conn_class(self.url.hostname, self.url.port, timeout=self.timeout), False

    def close(self) -> None:
        """Close the kept-alive connections."""
        with self._lock:
            for conn in self._idle:
                conn.close()
            self._idle.clear()

    def __call__(self, right: AccessRight) -> bool:
        key = (str(right.service), str(right.client))
        if self.cache_seconds <= 0:
            return self._ask(key)
        if self._current_until.get(key, 0.0) > time.monotonic():
            return True
        with self._lock:
            asking = self._asking.setdefault(key, threading.Lock())
        with asking:  # one question per access right at a time; the others take its answer
            if self._current_until.get(key, 0.0) > time.monotonic():
                return True
            asked_at = time.monotonic()
            try:
                current = self._ask(key)
            except GrantCheckError:
                self._current_until.pop(key, None)
                raise
            if current:
                self._current_until[key] = asked_at + self.cache_seconds
            else:
                self._current_until.pop(key, None)
            return current

    def _ask(self, key: tuple[str, str]) -> bool:
        """One signed question to the registry; raises :class:`GrantCheckError`."""
        service, client = key
        nonce = secrets.token_urlsafe(18)
        prefix = self._queries.get(key)
        if prefix is None:
            prefix = self._queries[key] = (f"{self.url.path or '/'}?"
                                           f"{urllib.parse.urlencode({'service': service, 'client': client})}&nonce=")
        for attempt in range(2):
            conn, reused = self._connection()
            try:
                conn.request("GET", prefix + nonce, headers={"Accept": "application/json"})
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
        return verify_grant_status(data, self.anchor, service=service, client=client, nonce=nonce,
                                   now=dt.datetime.now(dt.UTC), max_age=self.max_age,
                                   anchor_key_id=self.anchor_key_id)
