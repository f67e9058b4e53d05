"""Recording changes: every service write and every sign-in event leaves a change-log row."""

from __future__ import annotations

import datetime as dt
import decimal
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from django.db import models

from citygov.core.models import ChangeAction, ChangeLog

# Field names whose values never reach the change log.
SECRET_FIELDS = frozenset({"password", "key_hash", "secret", "token", "national_id", "national_id_hash"})
REDACTED = "[redacted]"


def _plain(value: Any) -> Any:
    """A JSON-serialisable form of a model field value."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal | uuid.UUID):
        return str(value)
    if isinstance(value, models.Model):
        return value.pk
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_plain(v) for v in value]
    return str(value)


def snapshot(obj: models.Model, fields: Iterable[str] | None = None) -> dict[str, Any]:
    """The values of ``obj``'s concrete fields (foreign keys as ids), secrets redacted."""
    result: dict[str, Any] = {}
    for field in obj._meta.concrete_fields:
        if fields is not None and field.name not in fields:
            continue
        name = field.attname if field.is_relation else field.name
        key = field.name
        if key in SECRET_FIELDS:
            result[key] = REDACTED
            continue
        if key == "boundary":
            # Geometry is large and is reference data; its presence is enough for the log.
            result[key] = "[geometry]"
            continue
        result[key] = _plain(getattr(obj, name))
    return result


def changed_fields(before: Mapping[str, Any], after: Mapping[str, Any]) -> tuple[dict, dict]:
    """Only the keys whose values differ, as (before, after)."""
    keys = [k for k in after if before.get(k) != after.get(k)]
    keys += [k for k in before if k not in after]
    return {k: before.get(k) for k in keys}, {k: after.get(k) for k in keys}


def object_type(obj: models.Model) -> str:
    return f"{obj._meta.app_label}.{obj._meta.model_name}"


def record_change(
    *,
    actor,
    action: str,
    obj: models.Model | None = None,
    before: Mapping[str, Any] | None = None,
    after: Mapping[str, Any] | None = None,
    agency_id: int | None = None,
    object_repr: str = "",
    note: str = "",
    ip_address: str | None = None,
) -> ChangeLog:
    """Append one change-log row. Call inside the service's transaction.

    ``actor`` may be ``None`` for the system (reference loading, periodic jobs).
    For updates only the changed fields are kept.
    """
    if action == ChangeAction.UPDATE and before is not None and after is not None:
        before, after = changed_fields(before, after)
    if agency_id is None and obj is not None:
        agency_id = getattr(obj, "agency_id", None)
    actor_obj = actor if (actor is not None and getattr(actor, "is_authenticated", False)) else None
    actor_name = actor_obj.get_username() if actor_obj is not None else (str(actor) if actor else "system")
    entry = ChangeLog(
        actor=actor_obj,
        actor_name=actor_name[:150],
        action=action,
        object_type=object_type(obj) if obj is not None else "",
        object_id=str(obj.pk) if obj is not None and obj.pk is not None else "",
        object_repr=(object_repr or (str(obj) if obj is not None else ""))[:200],
        agency_id=agency_id,
        before=dict(before) if before is not None else None,
        after=dict(after) if after is not None else None,
        note=note[:300],
        ip_address=ip_address,
    )
    entry.save()
    return entry


def client_ip(request) -> str | None:
    """The client address of ``request`` (REMOTE_ADDR; proxies must set it correctly)."""
    if request is None:
        return None
    return request.META.get("REMOTE_ADDR") or None
