"""Expiry notices 60, 30 and 7 days before expiry; once per lot and kind; consent respected."""

from __future__ import annotations

import datetime as dt

import pytest

from citygov.points.models import ExpiryNotice, Member
from citygov.points.services import ledger
from citygov.points.services.notices import do_send_expiry_notices
from citygov.points.tests.support import T0, make_campaign

pytestmark = pytest.mark.django_db


class Recorder:
    channel = "test"

    def __init__(self):
        self.sent = []

    def send(self, member, message):
        self.sent.append((member.card_number, message))


def long_lot(p, member, days=90):
    campaign = make_campaign(p.agency_admin, p.agency, days=days, name=f"long {days}")
    return ledger.do_grant(p.operator, campaign.pk, member.card_number, now=T0)


def test_notices_at_60_30_and_7_days(programme):
    p = programme
    member = p.members[0]
    Member.objects.filter(pk=member.pk).update(consent=True)
    lot = long_lot(p, member)
    recorder = Recorder()
    expires = lot.expires_at
    assert do_send_expiry_notices(now=expires - dt.timedelta(days=61), adapter=recorder).sent == 0
    for days, kind in ((60, "d60"), (30, "d30"), (7, "d7")):
        run = do_send_expiry_notices(now=expires - dt.timedelta(days=days), adapter=recorder)
        assert run.sent == 1
        assert ExpiryNotice.objects.filter(lot=lot, kind=kind).count() == 1
    assert len(recorder.sent) == 3
    assert recorder.sent[0][0] == member.card_number
    assert "100 點" in recorder.sent[0][1] and "100 citizen-card points" in recorder.sent[0][1]


def test_notices_are_idempotent(programme):
    p = programme
    Member.objects.filter(pk=p.members[0].pk).update(consent=True)
    lot = long_lot(p, p.members[0])
    recorder = Recorder()
    at = lot.expires_at - dt.timedelta(days=20)
    assert do_send_expiry_notices(now=at, adapter=recorder).sent == 1
    assert do_send_expiry_notices(now=at, adapter=recorder).sent == 0
    assert len(recorder.sent) == 1


def test_short_lot_gets_only_the_most_urgent_notice(programme):
    p = programme
    Member.objects.filter(pk=p.members[0].pk).update(consent=True)
    lot = long_lot(p, p.members[0], days=5)
    recorder = Recorder()
    assert do_send_expiry_notices(now=T0, adapter=recorder).sent == 1
    assert list(ExpiryNotice.objects.filter(lot=lot).values_list("kind", flat=True)) == ["d7"]


def test_no_consent_no_notice(programme):
    p = programme
    lot = long_lot(p, p.members[1])
    recorder = Recorder()
    run = do_send_expiry_notices(now=lot.expires_at - dt.timedelta(days=7), adapter=recorder)
    assert (run.sent, run.skipped_no_consent) == (0, 1)
    assert recorder.sent == []


def test_spent_lots_get_no_notice(programme):
    p = programme
    Member.objects.filter(pk=p.members[0].pk).update(consent=True)
    lot = long_lot(p, p.members[0])
    ledger.do_redeem(p.ctx, p.members[0].card_number, 100, now=T0 + dt.timedelta(days=1))
    assert do_send_expiry_notices(now=lot.expires_at - dt.timedelta(days=7), adapter=Recorder()).sent == 0


def test_console_adapter_writes_to_the_log(programme, caplog):
    p = programme
    Member.objects.filter(pk=p.members[0].pk).update(consent=True)
    lot = long_lot(p, p.members[0])
    with caplog.at_level("INFO", logger="citygov.points.notices"):
        do_send_expiry_notices(now=lot.expires_at - dt.timedelta(days=7))
    assert f"notice to card {p.members[0].card_number}" in caplog.text
