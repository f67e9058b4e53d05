"""Service-side permission checks shared by every app."""

from __future__ import annotations

from django.utils.translation import gettext as _

from citygov.core.errors import Forbidden
from citygov.core.scoping import can_reach_agency


def require_capability(actor, capability: str) -> None:
    """Raise :class:`Forbidden` unless ``actor`` is an active user whose role grants ``capability``."""
    if actor is None or not getattr(actor, "is_authenticated", False) or not actor.has_capability(capability):
        raise Forbidden(_("Your role does not allow this action."), code="capability_required")


def require_writer(actor) -> None:
    """Raise :class:`Forbidden` for read-only roles (auditors)."""
    if actor is None or not getattr(actor, "is_authenticated", False) or actor.is_read_only:
        raise Forbidden(_("Your role is read-only."), code="read_only")


def require_agency(actor, agency_id: int | None) -> None:
    """Raise :class:`Forbidden` unless ``actor`` may reach rows of agency ``agency_id``."""
    if not can_reach_agency(actor, agency_id):
        raise Forbidden(_("You may not act on another agency's data."), code="agency_scope")
