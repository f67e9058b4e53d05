"""Roles and what each may do.

Least privilege: a role grants a small set of capabilities; the agency scope (see
``citygov.core.scoping``) then limits which rows those capabilities reach.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    """A user's role. City administrators and auditors see every agency; the rest see their own."""

    CITY_ADMIN = "city_admin", _("City administrator")
    AGENCY_ADMIN = "agency_admin", _("Agency administrator")
    SECURITY_ANALYST = "security_analyst", _("Security analyst")
    DATA_STEWARD = "data_steward", _("Data steward")
    POINTS_OPERATOR = "points_operator", _("Points operator")
    MERCHANT = "merchant", _("Merchant")
    AUDITOR = "auditor", _("Auditor")


class Capability(models.TextChoices):
    """Named permissions checked by services, views and the API."""

    VIEW_AGENCIES = "agencies.view", _("View agencies and districts")
    MANAGE_AGENCIES = "agencies.manage", _("Create and change agencies")
    VIEW_USERS = "users.view", _("View user accounts")
    MANAGE_USERS = "users.manage", _("Create and change user accounts")
    VIEW_CHANGELOG = "changelog.view", _("View the change log")
    EXPORT = "data.export", _("Export data")
    VIEW_DASHBOARD = "dashboard.view", _("View the dashboard")
    VIEW_POINTS = "points.view", _("View the points programme")
    MANAGE_MERCHANTS = "points.merchants", _("Manage merchants and terminals")
    MANAGE_MEMBERS = "points.members", _("Manage members")
    MANAGE_CAMPAIGNS = "points.campaigns", _("Manage purchases and campaigns")
    CONFIRM_DEPOSITS = "points.deposits", _("Confirm trust deposits")
    ISSUE_POINTS = "points.issue", _("Issue points to members")
    SETTLE_POINTS = "points.settle", _("Run settlement, reconciliation and fees")
    VIEW_SETTLEMENT = "points.settlement", _("View settlement batches, payouts and trust exceptions")


# The points operator runs the programme for every agency; its capabilities keep it to points.
CITY_WIDE_ROLES = frozenset({Role.CITY_ADMIN, Role.AUDITOR, Role.POINTS_OPERATOR})
READ_ONLY_ROLES = frozenset({Role.AUDITOR})

_STAFF = {Capability.VIEW_AGENCIES, Capability.VIEW_DASHBOARD}

ROLE_CAPABILITIES: dict[str, frozenset[str]] = {
    Role.CITY_ADMIN: frozenset(Capability.values),
    Role.AGENCY_ADMIN: frozenset(_STAFF | {Capability.VIEW_USERS, Capability.MANAGE_USERS, Capability.MANAGE_AGENCIES,
                                           Capability.VIEW_POINTS, Capability.MANAGE_CAMPAIGNS,
                                           Capability.ISSUE_POINTS}),
    Role.SECURITY_ANALYST: frozenset(_STAFF),
    Role.DATA_STEWARD: frozenset(_STAFF),
    Role.POINTS_OPERATOR: frozenset(_STAFF | {Capability.VIEW_POINTS, Capability.MANAGE_MERCHANTS,
                                              Capability.MANAGE_MEMBERS, Capability.CONFIRM_DEPOSITS,
                                              Capability.ISSUE_POINTS, Capability.SETTLE_POINTS,
                                              Capability.VIEW_SETTLEMENT}),
    Role.MERCHANT: frozenset(),
    Role.AUDITOR: frozenset(
        {Capability.VIEW_AGENCIES, Capability.VIEW_DASHBOARD, Capability.VIEW_USERS, Capability.VIEW_CHANGELOG,
         Capability.EXPORT, Capability.VIEW_POINTS, Capability.VIEW_SETTLEMENT}
    ),
}


def capabilities_for(role: str) -> frozenset[str]:
    """The capabilities a role grants (empty for an unknown role)."""
    return ROLE_CAPABILITIES.get(role, frozenset())
