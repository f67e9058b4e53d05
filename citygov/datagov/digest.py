"""The per-agency freshness digest: each agency's overdue and stale datasets, sent through an adapter.

Adapters: ``console`` (the default: the digests are written to a text stream, standard output for the
command, the log for the job) and ``email`` (Django's mail backend, as configured by ``CITYGOV_EMAIL_*``;
to the agency's active data stewards — members of the agency or of an agency above it whose role
manages the catalogue). Addresses are never logged.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TextIO

from django.conf import settings
from django.core.mail import EmailMessage, get_connection

from citygov.core.roles import ROLE_CAPABILITIES, Capability

logger = logging.getLogger(__name__)
MAX_LISTED = 30


@dataclass(frozen=True)
class DigestLine:
    """One overdue or stale dataset in a digest."""

    dataset_id: int
    title: str
    status: str
    days_overdue: int
    due: str


@dataclass(frozen=True)
class Digest:
    """One agency's digest."""

    agency_id: int
    agency_name: str
    as_of: str
    counts: dict[str, int]
    lines: tuple[DigestLine, ...]

    @property
    def subject(self) -> str:
        return (f"[citygov] {self.agency_name} 資料集逾期更新摘要 / overdue datasets: "
                f"{self.counts.get('overdue', 0)} 逾期 overdue, {self.counts.get('stale', 0)} 久未更新 stale")

    @property
    def body(self) -> str:
        head = [f"{self.agency_name} — 截至 / as of {self.as_of}",
                "逾期 overdue {overdue}、準時 on time {on_time}、久未更新 stale {stale}、未評估 not evaluated "
                "{not_evaluated}、無法解讀 unreadable {unreadable}".format(**self.counts), ""]
        rows = [f"- [{line.status}] {line.title} (#{line.dataset_id})"
                + (f" 逾期 {line.days_overdue} 天 / {line.days_overdue} days overdue, 應更新 due {line.due}"
                   if line.status == "overdue" else "") for line in self.lines]
        more = sum(self.counts.get(k, 0) for k in ("overdue", "stale")) - len(self.lines)
        tail = [f"… 另有 {more} 筆 / {more} more"] if more > 0 else []
        return "\n".join(head + rows + tail) + "\n"


def steward_addresses(agency_id: int) -> tuple[str, ...]:
    """Addresses of the agency's data stewards (members of the agency or of an agency above it)."""
    from citygov.agencies.models import Agency
    from citygov.core.models import User

    chain, seen = [], set()
    current = Agency.objects.filter(pk=agency_id).values_list("pk", "parent_id").first()
    while current and current[0] not in seen:
        seen.add(current[0])
        chain.append(current[0])
        current = Agency.objects.filter(pk=current[1]).values_list("pk", "parent_id").first() if current[1] else None
    roles = [role for role, caps in ROLE_CAPABILITIES.items() if Capability.MANAGE_DATAGOV in caps]
    rows = User.objects.filter(is_active=True, memberships__agency_id__in=chain, role__in=roles).exclude(email="")
    return tuple(sorted(set(rows.values_list("email", flat=True))))


def send_console(digests: list[Digest], stream: TextIO) -> int:
    """Write every digest to ``stream``; returns the number written."""
    for digest in digests:
        stream.write(f"== {digest.subject}\n{digest.body}\n")
    return len(digests)


def send_email(digests: list[Digest]) -> int:
    """Mail each digest to its agency's stewards; returns the number of digests sent to someone."""
    sent = 0
    connection = get_connection(fail_silently=False)
    for digest in digests:
        to = steward_addresses(digest.agency_id)
        if not to:
            continue
        try:
            EmailMessage(digest.subject, digest.body, settings.DEFAULT_FROM_EMAIL, to=list(to),
                         connection=connection).send()
            sent += 1
        except OSError as exc:  # smtplib errors are OSErrors; the other agencies still get theirs
            logger.warning("datagov digest for agency %s not sent (%s)", digest.agency_id, type(exc).__name__)
    return sent
