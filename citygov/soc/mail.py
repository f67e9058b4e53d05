"""E-mail of SOC reminders and incident notices through Django's mail backend (SMTP as configured by
``CITYGOV_EMAIL_*``; the in-memory backend in tests).

Recipients: an agency's people are the active users with an e-mail address who are members of the
agency (or of an agency above it) and whose role may report on follow-up actions; the bureau's
people are the active users whose role manages SOC cases. Addresses are never logged.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.conf import settings
from django.core.mail import EmailMessage, get_connection

from citygov.core.roles import ROLE_CAPABILITIES, Capability

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Mail:
    """One message to send: subject, body and recipient addresses."""

    subject: str
    body: str
    to: tuple[str, ...]


def _roles_with(capability: str) -> list[str]:
    return [role for role, caps in ROLE_CAPABILITIES.items() if capability in caps]


def agency_addresses(agency_id: int) -> tuple[str, ...]:
    """Addresses of the agency's follow-up people (members of the agency or of its parents)."""
    from citygov.agencies.models import Agency
    from citygov.core.models import User

    chain, seen = [], set()
    current = Agency.objects.filter(pk=agency_id).values_list("pk", "parent_id").first()
    while current and current[0] not in seen:  # the agency and every agency above it
        seen.add(current[0])
        chain.append(current[0])
        current = Agency.objects.filter(pk=current[1]).values_list("pk", "parent_id").first() if current[1] else None
    rows = User.objects.filter(is_active=True, memberships__agency_id__in=chain,
                               role__in=_roles_with(Capability.SOC_FOLLOW_UP)).exclude(email="")
    return tuple(sorted(set(rows.values_list("email", flat=True))))


def bureau_addresses() -> tuple[str, ...]:
    """Addresses of the people who manage SOC cases (the bureau's analysts)."""
    from citygov.core.models import User

    rows = User.objects.filter(is_active=True, role__in=_roles_with(Capability.SOC_CASES)).exclude(email="")
    return tuple(sorted(set(rows.values_list("email", flat=True))))


def send(mails: list[Mail]) -> list[int]:
    """Send each mail (one connection for all); returns the number of recipients reached per mail
    (0 when it had none or the server refused it: the failure is logged without addresses)."""
    reached: list[int] = []
    if not any(mail.to for mail in mails):  # nobody to write to: no connection to the mail server
        return [0] * len(mails)
    connection = get_connection(fail_silently=False)
    try:
        connection.open()
        for mail in mails:
            if not mail.to:
                reached.append(0)
                continue
            message = EmailMessage(mail.subject, mail.body, settings.DEFAULT_FROM_EMAIL, to=list(mail.to),
                                   connection=connection)
            try:
                message.send()
                reached.append(len(mail.to))
            except OSError as exc:  # smtplib errors are OSErrors; the reminder row stays, showing 0 recipients
                logger.warning("soc mail not sent (%s: %s)", type(exc).__name__, exc)
                reached.append(0)
    except OSError as exc:
        logger.warning("soc mail server unreachable (%s: %s)", type(exc).__name__, exc)
        reached.extend([0] * (len(mails) - len(reached)))
    finally:
        connection.close()
    return reached
