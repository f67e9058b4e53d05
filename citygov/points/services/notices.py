"""Expiry notices: members hear 60, 30 and 7 days before their points expire.

Each lot gets at most one notice per kind (a unique constraint makes re-runs harmless). When a lot
enters several windows at once (a short campaign), only the most urgent notice is sent. Only members
who consented to notices are contacted. Delivery goes through an adapter: ``console`` (the default)
writes to the log, where personal data is masked; e-mail or SMS adapters plug in by dotted path in
``CITYGOV_POINTS_NOTICE_ADAPTER``.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Protocol

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.module_loading import import_string

from citygov.points.models import ExpiryNotice, Lot, Member, NoticeKind

logger = logging.getLogger("citygov.points.notices")

# (kind, days before expiry), most urgent first.
WINDOWS: tuple[tuple[str, int], ...] = ((NoticeKind.D7, 7), (NoticeKind.D30, 30), (NoticeKind.D60, 60))


class NoticeAdapter(Protocol):
    """Delivers one message to one member."""

    channel: str

    def send(self, member: Member, message: str) -> None: ...


class ConsoleAdapter:
    """Writes notices to the log (development and demos)."""

    channel = "console"

    def send(self, member: Member, message: str) -> None:
        logger.info("notice to card %s: %s", member.card_number, message)


ADAPTERS = {"console": ConsoleAdapter}


def configured_adapter() -> NoticeAdapter:
    """The adapter named by ``CITYGOV_POINTS_NOTICE_ADAPTER`` (a short name or a dotted class path)."""
    name = getattr(settings, "POINTS_NOTICE_ADAPTER", "console")
    factory = ADAPTERS.get(name) or import_string(name)
    return factory()


def notice_message(points: int, expires_at: dt.datetime) -> str:
    """The notice text, in Traditional Chinese then English, with the Taipei expiry time."""
    local = timezone.localtime(expires_at)
    return (f"您有 {points} 點市民卡點數將於 {local:%Y-%m-%d %H:%M} 到期，請儘早使用。"
            f" {points} citizen-card points expire at {local:%Y-%m-%d %H:%M}.")


@dataclass(frozen=True)
class NoticeRun:
    sent: int
    skipped_no_consent: int


def do_send_expiry_notices(*, now: dt.datetime | None = None, adapter: NoticeAdapter | None = None) -> NoticeRun:
    """Send the due D-60/D-30/D-7 notices for lots with points left; idempotent."""
    now = now or timezone.now()
    adapter = adapter or configured_adapter()
    sent = skipped = 0
    horizon = now + dt.timedelta(days=WINDOWS[-1][1])
    lots = (Lot.objects.select_related("member", "account")
            .filter(reversed_at__isnull=True, expires_at__gt=now, expires_at__lte=horizon, account__balance__gt=0)
            .order_by("expires_at", "pk"))
    for lot in lots.iterator(chunk_size=1000):
        left = lot.expires_at - now
        kind = next(k for k, days in WINDOWS if left <= dt.timedelta(days=days))
        if not lot.member.consent:
            skipped += 1
            continue
        if ExpiryNotice.objects.filter(lot=lot, kind=kind).exists():
            continue
        message = notice_message(lot.account.balance, lot.expires_at)
        try:
            with transaction.atomic():
                ExpiryNotice.objects.create(member=lot.member, lot=lot, kind=kind, channel=adapter.channel,
                                            points=lot.account.balance, message=message, created_at=now)
                adapter.send(lot.member, message)
        except IntegrityError:
            continue  # another run sent it first
        sent += 1
    return NoticeRun(sent=sent, skipped_no_consent=skipped)
