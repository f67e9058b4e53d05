"""Errors as RFC 9457 ``application/problem+json``.

Every error body has ``type``, ``title``, ``status`` and ``detail``; validation errors add
``errors`` (field → messages) and service errors add a stable ``code``.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler

from citygov.core.errors import ServiceError

PROBLEM_CONTENT_TYPE = "application/problem+json"
TYPE_BASE = "https://citygov.example/problems/"

_TITLES = {
    400: "Bad request (請求格式錯誤)",
    401: "Authentication required (需要登入)",
    403: "Forbidden (權限不足)",
    404: "Not found (查無資料)",
    405: "Method not allowed (不允許的方法)",
    406: "Not acceptable (不支援的格式)",
    409: "Conflict (資料衝突)",
    415: "Unsupported media type (不支援的內容類型)",
    429: "Too many requests (請求過於頻繁)",
    500: "Server error (伺服器錯誤)",
}


def problem(status_code: int, detail, *, code: str, errors=None, headers=None) -> Response:
    """Build a problem+json response."""
    body = {
        "type": TYPE_BASE + code,
        "title": _TITLES.get(status_code, "Error"),
        "status": status_code,
        "detail": str(detail),
        "code": code,
    }
    if errors:
        body["errors"] = errors
    return Response(body, status=status_code, headers=headers, content_type=PROBLEM_CONTENT_TYPE)


def problem_exception_handler(exc, context):
    """DRF exception handler producing problem+json for DRF, Django and service errors."""
    if isinstance(exc, ServiceError):
        return problem(exc.status, exc.message, code=exc.code, errors=exc.fields or None)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    response = exception_handler(exc, context)
    if response is None:
        return None
    headers = {k: v for k, v in response.items() if k in ("Retry-After", "WWW-Authenticate", "Allow")}
    if isinstance(exc, exceptions.ValidationError):
        errors = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
        return problem(status.HTTP_400_BAD_REQUEST, "The request has invalid fields (欄位驗證失敗).",
                       code="invalid", errors=errors, headers=headers)
    detail = exc.detail if isinstance(exc, exceptions.APIException) else response.data
    code = getattr(exc, "default_code", "error")
    if isinstance(detail, dict):
        detail = detail.get("detail", detail)
    if isinstance(exc, exceptions.Throttled) and exc.wait is not None:
        headers["Retry-After"] = str(int(exc.wait) + 1)
    return problem(response.status_code, detail, code=code, headers=headers)
