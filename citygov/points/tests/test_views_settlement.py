"""Settlement pages: who sees them, the batch with its lines and files, the exception queue."""

from __future__ import annotations

import datetime as dt

import pytest

from citygov.core.models import ChangeLog
from citygov.core.roles import Role
from citygov.points.models import TrustException, TrustExceptionStatus
from citygov.points.services import ledger, settlement
from citygov.points.tests.support import T0

pytestmark = pytest.mark.django_db

TPE = dt.timezone(dt.timedelta(hours=8))
DAY = dt.date(2026, 3, 1)


@pytest.fixture
def settled(programme):
    p = programme
    p.merchant.bank_code, p.merchant.bank_account = "0121000", "000111222333"
    p.merchant.save()
    ledger.do_grant(p.agency_admin, p.campaign.pk, p.members[0].card_number, now=T0)
    ledger.do_redeem(p.ctx, p.members[0].card_number, 60, now=dt.datetime(2026, 3, 1, 18, tzinfo=TPE))
    settlement.do_build_batches_through(p.operator, DAY, now=dt.datetime(2026, 3, 2, 1, tzinfo=TPE))
    return p


def test_the_operator_sees_batches_lines_and_downloads(settled, client_for):
    client = client_for(settled.operator)

    listing = client.get("/points/settlement/").content.decode()
    assert 'data-batch="B-20260301"' in listing
    detail = client.get("/points/settlement/B-20260301/")
    html = detail.content.decode()
    assert detail.status_code == 200
    assert 'data-merchant="04595257"' in html
    assert "000111222333" in html
    pdf = client.get("/points/settlement/B-20260301/pdf/")
    assert pdf["Content-Type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")
    assert client.get("/points/settlement/B-20260301/json/").content == \
        settlement.SettlementBatch.objects.get().instruction.encode()
    assert client.get("/points/settlement/B-20260399/").status_code == 404


def _bank_fee(p) -> TrustException:
    """An unexplained NT$500 debit on the trust statement: reconciliation opens the exception."""
    import io

    from citygov.points.services import reconciliation

    text = "對帳單編號,TS-FEE\n交易日期,摘要,支出金額,存入金額,餘額,對方銀行代碼,對方帳號,備註\n2026/03/02,手續費,500,,,,,\n"
    reconciliation.do_import_statement(p.operator, io.BytesIO(text.encode()))
    return TrustException.objects.get(kind="unknown_debit")


def test_agency_users_do_not_see_settlement_and_auditors_only_read(settled, client_for, make_user):
    assert client_for(settled.agency_admin).get("/points/settlement/").status_code == 403
    auditor = make_user("auditor", Role.AUDITOR)
    client = client_for(auditor)
    assert client.get("/points/settlement/B-20260301/").status_code == 200
    exc = _bank_fee(settled)
    response = client.post(f"/points/settlement/exceptions/{exc.pk}/resolve/", {"resolution": "查明為銀行手續費"})
    assert response.status_code == 302
    exc.refresh_from_db()
    assert exc.status == TrustExceptionStatus.OPEN


def test_an_exception_is_assigned_and_resolved_with_notes_in_the_change_log(settled, client_for):
    client = client_for(settled.operator)
    exc = _bank_fee(settled)
    assert f'data-exception="{exc.pk}"' in client.get("/points/settlement/exceptions/").content.decode()

    client.post(f"/points/settlement/exceptions/{exc.pk}/assign/", {"owner": "operator"})
    client.post(f"/points/settlement/exceptions/{exc.pk}/resolve/", {"resolution": "no"})
    exc.refresh_from_db()
    assert (exc.owner, exc.status) == (settled.operator, TrustExceptionStatus.OPEN)

    client.post(f"/points/settlement/exceptions/{exc.pk}/resolve/", {"resolution": "銀行手續費，已向信託銀行確認"})
    exc.refresh_from_db()
    assert (exc.status, exc.resolution, exc.resolved_by) == (TrustExceptionStatus.RESOLVED, "銀行手續費，已向信託銀行確認",
                                                             settled.operator)
    assert ChangeLog.objects.filter(note="points.resolve_trust_exception").count() == 1


def test_a_statement_uploaded_on_the_page_settles_the_line(settled, client_for):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from citygov.points.models import LineStatus, SettlementPosition

    content = ("對帳單編號,TS-PAGE\n交易日期,摘要,支出金額,存入金額,餘額,對方銀行代碼,對方帳號,備註\n"
               "2026/03/02,撥付,60,,-60,0121000,000111222333,B-20260301\n").encode()
    response = client_for(settled.operator).post("/points/settlement/statements/", {
        "file": SimpleUploadedFile("statement.csv", content, content_type="text/csv")})
    assert response.status_code == 302
    assert SettlementPosition.objects.get().line_status == LineStatus.SETTLED


@pytest.mark.parametrize("content", [b"", b"\x00\xff\xfe garbage", "交易日期,摘要\n2026/03/02,撥付\n".encode()])
def test_an_unreadable_statement_upload_is_refused_with_a_message_and_imports_nothing(settled, client_for, content):
    from django.contrib.messages import get_messages
    from django.core.files.uploadedfile import SimpleUploadedFile

    from citygov.points.models import StatementLine

    response = client_for(settled.operator).post("/points/settlement/statements/", {
        "file": SimpleUploadedFile("statement.csv", content, content_type="text/csv")})
    assert response.status_code == 302
    levels = [message.level_tag for message in get_messages(response.wsgi_request)]
    assert levels == ["error"]
    assert StatementLine.objects.count() == 0
