"""Errors raised by services; views, the API and the CLI turn them into responses or exit codes."""

from __future__ import annotations

from collections.abc import Mapping


class ServiceError(Exception):
    """Base class: a service refused a request. ``code`` is stable, ``message`` is for people."""

    code = "service_error"
    status = 400

    def __init__(self, message: str, *, code: str | None = None, fields: Mapping[str, list[str]] | None = None):
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        self.fields = dict(fields or {})


class InvalidInput(ServiceError):
    """The request is malformed or breaks a rule."""

    code = "invalid"
    status = 400


class Forbidden(ServiceError):
    """The actor's role or agency does not allow this."""

    code = "forbidden"
    status = 403


class NotFound(ServiceError):
    """The object does not exist, or the actor may not know that it does."""

    code = "not_found"
    status = 404


class Conflict(ServiceError):
    """The request conflicts with the current state."""

    code = "conflict"
    status = 409
