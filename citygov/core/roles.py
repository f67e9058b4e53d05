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
    # soc: the bureau's analysts triage every agency's alerts and run cases; agencies work their actions.
    VIEW_SOC = "soc.view", _("View SOC alerts, cases and follow-up actions")
    SOC_TRIAGE = "soc.triage", _("Import and triage SOC alerts for every agency")
    SOC_CASES = "soc.cases", _("Manage forensic cases and verify follow-up actions")
    SOC_FOLLOW_UP = "soc.follow_up", _("Report progress and evidence on follow-up actions")
    # exchange: agencies and auditors view the registry (scoped to their agencies); the city runs it.
    VIEW_EXCHANGE = "exchange.view", _("View the exchange registry")
    MANAGE_EXCHANGE = "exchange.manage", _("Manage the exchange registry and CA")
    # datagov: the catalogue (metadata is shared with every agency) and its import.
    VIEW_DATAGOV = "datagov.view", _("View the dataset catalogue and its freshness")
    MANAGE_DATAGOV = "datagov.manage", _("Import and manage the dataset catalogue")
    # assistant: reading the conversation analytics; purging logs and other management
    VIEW_ASSISTANT = "assistant.view", _("View the citizen assistant's analytics")
    MANAGE_ASSISTANT = "assistant.manage", _("Manage the citizen assistant")
    # security: assets, software inventories and their CPE/CVE identification (agency-scoped).
    VIEW_SECURITY = "security.view", _("View IT assets, software identification and vulnerabilities")
    MANAGE_SECURITY = "security.manage", _("Import inventories and map software to CPEs")
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
                                           Capability.ISSUE_POINTS, Capability.VIEW_DATAGOV,
                                           Capability.VIEW_SOC, Capability.SOC_FOLLOW_UP,
                                           Capability.VIEW_EXCHANGE, Capability.VIEW_ASSISTANT,
                                           Capability.MANAGE_ASSISTANT,
                                           Capability.VIEW_SECURITY, Capability.MANAGE_SECURITY}),
    Role.SECURITY_ANALYST: frozenset(_STAFF | {Capability.VIEW_SOC, Capability.SOC_TRIAGE, Capability.SOC_CASES,
                                               Capability.VIEW_SECURITY, Capability.MANAGE_SECURITY}),
    Role.DATA_STEWARD: frozenset(_STAFF | {Capability.VIEW_DATAGOV, Capability.MANAGE_DATAGOV}),
    Role.POINTS_OPERATOR: frozenset(_STAFF | {Capability.VIEW_POINTS, Capability.MANAGE_MERCHANTS,
                                              Capability.MANAGE_MEMBERS, Capability.CONFIRM_DEPOSITS,
                                              Capability.ISSUE_POINTS, Capability.SETTLE_POINTS,
                                              Capability.VIEW_SETTLEMENT}),
    Role.MERCHANT: frozenset(),
    Role.AUDITOR: frozenset(
        {Capability.VIEW_AGENCIES, Capability.VIEW_DASHBOARD, Capability.VIEW_USERS, Capability.VIEW_CHANGELOG,
         Capability.EXPORT, Capability.VIEW_POINTS, Capability.VIEW_SETTLEMENT, Capability.VIEW_ASSISTANT, Capability.VIEW_DATAGOV,
         Capability.VIEW_SOC,
         Capability.VIEW_EXCHANGE, Capability.VIEW_SECURITY}
    ),
}


def capabilities_for(role: str) -> frozenset[str]:
    """The capabilities a role grants (empty for an unknown role)."""
    return ROLE_CAPABILITIES.get(role, frozenset())
