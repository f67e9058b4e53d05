"""Authentication of merchant terminals by HMAC-signed requests, and their rate limit.

A terminal sends four headers with every request:

``X-Terminal-Id``   its id (e.g. ``T-001``)
``X-Timestamp``     unix seconds when it signed
``X-Nonce``         8–64 printable characters, never reused by that terminal within 10 minutes
``X-Signature``     hex HMAC-SHA256, under the terminal's secret, of
                    ``v1\\n<METHOD>\\n<path[?query]>\\n<timestamp>\\n<nonce>\\n<hex SHA-256 of the body>``
                    (see :func:`citygov.points.engine.signing.sign`)

The timestamp only bounds the replay window (±300 s of the server clock); it never decides
anything about points (R1). Inside the window a nonce is accepted once per terminal.
"""

from __future__ import annotations

import re
import time

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.core.cache import cache
from django.db import connection
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions, permissions
from rest_framework.throttling import SimpleRateThrottle

from citygov.points.engine.signing import verify
from citygov.points.models import Terminal

TIMESTAMP_WINDOW_SECONDS = 300
NONCE_TTL_SECONDS = 600
NONCE_PATTERN = re.compile(r"[\x21-\x7e]{8,64}")
SCHEME = "CityGov-HMAC-SHA256"
HEADERS = ("HTTP_X_TERMINAL_ID", "HTTP_X_TIMESTAMP", "HTTP_X_NONCE", "HTTP_X_SIGNATURE")


class TerminalAuthenticationFailed(exceptions.AuthenticationFailed):
    """401 with a stable ``code`` saying why (problem+json through the API's exception handler)."""

    def __init__(self, detail: str, code: str):
        super().__init__(detail, code)
        self.default_code = code  # the problem handler reports this as the body's "code"


def _fail(code: str) -> TerminalAuthenticationFailed:
    return TerminalAuthenticationFailed(_MESSAGES[code], code)


_MESSAGES = {
    "missing_signature_headers": "X-Terminal-Id, X-Timestamp, X-Nonce and X-Signature are all required "
                                 "(缺少終端機簽章標頭).",
    "unknown_terminal": "Unknown or inactive terminal (終端機不存在或已停用).",
    "bad_signature": "The request signature does not match (請求簽章不符).",
    "stale_timestamp": "X-Timestamp is more than 300 seconds from the server clock; check the terminal's clock "
                       "(請求時間與伺服器時間相差超過 300 秒).",
    "bad_nonce": "X-Nonce must be 8 to 64 printable characters (X-Nonce 須為 8 至 64 個可見字元).",
    "replayed_nonce": "This nonce was already used; sign each request with a new one (此 nonce 已使用過).",
}


def signed_path(request) -> str:
    """The path a terminal signs: the request path, plus ``?`` and the raw query string if any."""
    query = request.META.get("QUERY_STRING", "")
    return f"{request.path}?{query}" if query else request.path


def find_terminal(terminal_id: str) -> Terminal | None:
    """The terminal with this id, read fresh from the database on every request (a deactivation
    applies at once), with one plain indexed query rather than a full ORM query. The merchant is not
    loaded: whether it may take points is decided inside each ledger transaction, under the lock of
    its row (R9)."""
    table = connection.ops.quote_name(Terminal._meta.db_table)
    with connection.cursor() as cursor:
        # Only the quoted table name is interpolated; the id is a parameter.
        cursor.execute(f"SELECT id, merchant_id, secret, is_active FROM {table} WHERE terminal_id = %s",  # noqa: S608
                       [terminal_id])
        row = cursor.fetchone()
    if row is None:
        return None
    pk, merchant_id, secret, is_active = row
    return Terminal(pk=pk, merchant_id=merchant_id, terminal_id=terminal_id, secret=secret, is_active=bool(is_active))


class TerminalSignatureAuthentication(authentication.BaseAuthentication):
    """Authenticate a merchant terminal from its signed headers; ``request.auth`` is the Terminal.

    Requests without ``X-Terminal-Id`` are not for this scheme (the view then answers 401).
    """

    def authenticate(self, request):
        meta = request.META
        if "HTTP_X_TERMINAL_ID" not in meta:
            return None
        terminal_id, timestamp, nonce, signature = (meta.get(name, "").strip() for name in HEADERS)
        if not (terminal_id and timestamp and nonce and signature):
            raise _fail("missing_signature_headers")
        if not timestamp.isascii() or not timestamp.isdigit() or len(timestamp) > 12 \
                or abs(time.time() - int(timestamp)) > TIMESTAMP_WINDOW_SECONDS:
            raise _fail("stale_timestamp")
        if not NONCE_PATTERN.fullmatch(nonce):
            raise _fail("bad_nonce")
        terminal = find_terminal(terminal_id[:40])
        if terminal is None or not terminal.is_active:
            raise _fail("unknown_terminal")
        if not verify(terminal.secret, signature, request.method, signed_path(request), timestamp, nonce,
                      request.body):
            raise _fail("bad_signature")
        # Only after the signature holds, so nobody can burn another terminal's nonces.
        if not cache.add(f"points:terminal-nonce:{terminal.terminal_id}:{nonce}", 1, timeout=NONCE_TTL_SECONDS):
            raise _fail("replayed_nonce")
        return AnonymousUser(), terminal

    def authenticate_header(self, request) -> str:
        return SCHEME


class IsTerminal(permissions.BasePermission):
    """Only a request authenticated as an active terminal passes."""

    def has_permission(self, request, view) -> bool:
        return isinstance(request.auth, Terminal)


class TerminalRateThrottle(SimpleRateThrottle):
    """Rate limit per terminal id (setting ``POINTS_TERMINAL_RATE``, default 600/min); 429 + Retry-After."""

    scope = "points_terminal"

    def get_rate(self) -> str:
        return getattr(settings, "POINTS_TERMINAL_RATE", "600/min")

    def get_cache_key(self, request, view):
        if not isinstance(request.auth, Terminal):
            return None
        return self.cache_format % {"scope": self.scope, "ident": request.auth.terminal_id}


class TerminalSignatureScheme(OpenApiAuthenticationExtension):
    """OpenAPI description of the terminal signature (four headers; X-Signature stands for them)."""

    target_class = "citygov.points.api.terminal_auth.TerminalSignatureAuthentication"
    name = "terminalSignature"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "X-Signature",
            "description": (
                "Merchant terminals sign every request. Send `X-Terminal-Id`, `X-Timestamp` (unix seconds, "
                "within 300 s of the server clock), `X-Nonce` (8–64 printable characters, single use) and "
                "`X-Signature`: hex HMAC-SHA256 under the terminal secret of the lines `v1`, METHOD, path "
                "(with `?query` if any), timestamp, nonce and the hex SHA-256 of the raw body, joined by `\\n`. "
                "See docs/points.md."
            ),
        }
