"""Settlement batches (issue "Points II", item 1): window, late commits, carry, suspended and closed
merchants, re-runs and crashes, the signed usage instruction."""

from __future__ import annotations

import base64
import datetime as dt

import pytest

from citygov.core.errors import Conflict, Forbidden, InvalidInput
from citygov.core.models import ChangeLog
from citygov.points.engine import instruction as instruction_engine
from citygov.points.engine import signing_keys
from citygov.points.models import (
    FinalSettlementApproval,
    MerchantStatus,
    PositionOutcome,
    SettlementBatch,
    SettlementItem,
    SettlementPosition,
    Terminal,
    TrustException,
    TrustExceptionKind,
)
from citygov.points.services import ledger, settlement
from citygov.points.tests.support import T0, make_merchant

pytestmark = pytest.mark.django_db

TPE = dt.timezone(dt.timedelta(hours=8))
DAY = dt.date(2026, 3, 1)          # T0 is 2026-03-01 17:00 in Taipei
AFTER = dt.datetime(2026, 3, 2, 0, 6, tzinfo=TPE)   # D+1 00:06: the batch of DAY may be built


def at(day: dt.date, hour: int, minute: int = 0, second: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute, second), tzinfo=TPE)


def build(day: dt.date, actor=None, *, now=None):
    now = now or at(day + dt.timedelta(days=1), 0, 6)
    result = settlement.do_build_batches_through(actor, day, now=now)
    return result.batches[-1]


@pytest.fixture
def funded(programme):
    """Every member holds 300 points granted before the first business day."""
    for member in programme.members:
        for _ in range(3):
            ledger.do_grant(programme.agency_admin, programme.campaign.pk, member.card_number, now=T0)
    return programme


def redeem(p, member, points, when, ctx=None):
    return ledger.do_redeem(ctx or p.ctx, p.members[member].card_number, points, now=when)


def second_merchant(p, tax_id="22099131", name="中壢小吃"):
    merchant = make_merchant(tax_id, name)
    merchant.bank_code, merchant.bank_account = "0081234", "123456789012"
    merchant.save()
    terminal = Terminal.objects.create(merchant=merchant, terminal_id=f"T-{tax_id}", secret="s" * 32)
    return merchant, ledger.terminal_context(terminal)


def with_bank(merchant):
    merchant.bank_code, merchant.bank_account = "0121000", "000111222333"
    merchant.save()
    return merchant


def test_a_batch_takes_the_days_captures_and_refunds_and_pays_the_net(funded):
    p = funded
    with_bank(p.merchant)
    r1 = redeem(p, 0, 120, at(DAY, 18))
    redeem(p, 1, 80, at(DAY, 23, 59, 59))
    ledger.do_refund(p.ctx, r1.pk, 20, now=at(DAY, 20))
    redeem(p, 2, 50, at(DAY + dt.timedelta(days=1), 0, 0, 0))  # next day: not in this batch

    batch = build(DAY)

    assert batch.batch_id == "B-20260301"
    assert (batch.transfer_count, batch.late_count, batch.line_count) == (4, 0, 1)
    assert batch.total_amount == 180
    position = SettlementPosition.objects.get(batch=batch)
    assert (position.outcome, position.captured, position.refunded, position.net, position.amount,
            position.transactions) == (PositionOutcome.PAY, 200, 20, 180, 180, 3)
    assert (position.bank_code, position.bank_account) == ("0121000", "000111222333")
    document = settlement.instruction_for(batch)
    assert document.lines == (instruction_engine.InstructionLine(
        merchant_code="04595257", merchant_name="桃園好店", bank_code="0121000", bank_account="000111222333",
        amount=180, transaction_count=3),)
    assert batch.content_hash == instruction_engine.content_hash(document)


def test_building_before_the_cut_off_is_refused(funded):
    with pytest.raises(InvalidInput) as error:
        settlement.do_build_batches_through(None, DAY, now=at(DAY + dt.timedelta(days=1), 0, 4))
    assert error.value.code == "day_not_closed"
    assert SettlementBatch.objects.count() == 0


def test_re_running_a_batch_returns_it_and_emits_no_second_instruction(funded):
    p = funded
    with_bank(p.merchant)
    redeem(p, 0, 100, at(DAY, 18))
    first = build(DAY)
    logged = ChangeLog.objects.filter(note="points.build_batch").count()

    again = settlement.do_build_batches_through(None, DAY, now=AFTER + dt.timedelta(hours=3))

    assert again.built == ()
    assert again.existing == (first,)
    assert SettlementBatch.objects.count() == 1
    assert SettlementPosition.objects.count() == 1
    assert ChangeLog.objects.filter(note="points.build_batch").count() == logged == 1
    assert SettlementBatch.objects.get().content_hash == first.content_hash


def test_a_crash_while_building_leaves_nothing_and_the_re_run_builds_the_same_batch(funded, monkeypatch):
    p = funded
    with_bank(p.merchant)
    redeem(p, 0, 100, at(DAY, 18))
    expected = instruction_engine.Instruction(
        batch_id="B-20260301", business_day=DAY, operator_name="桃園市市民卡點數營運單位",
        trust_bank_name=settlement.settings.POINTS_TRUST_BANK, trust_account=settlement.settings.POINTS_TRUST_ACCOUNT,
        lines=(instruction_engine.InstructionLine("04595257", "桃園好店", "0121000", "000111222333", 100, 1),))

    def crash(*args, **kwargs):
        raise RuntimeError("power cut after the lines were computed")

    monkeypatch.setattr(settlement, "record_change", crash)
    with pytest.raises(RuntimeError):
        build(DAY)
    assert (SettlementBatch.objects.count(), SettlementItem.objects.count(), SettlementPosition.objects.count()) \
        == (0, 0, 0)

    monkeypatch.undo()
    batch = build(DAY)
    assert batch.content_hash == instruction_engine.content_hash(expected)
    assert SettlementItem.objects.filter(batch=batch).count() == 1


def test_a_transfer_committed_after_the_build_goes_into_the_next_batch_flagged_late(funded):
    p = funded
    with_bank(p.merchant)
    redeem(p, 0, 100, at(DAY, 18))
    first = build(DAY)
    # A transaction that was open at midnight commits after the batch was built: recorded at 23:59:59.
    late = redeem(p, 1, 40, at(DAY, 23, 59, 59))
    redeem(p, 2, 10, at(DAY + dt.timedelta(days=1), 9))

    second = build(DAY + dt.timedelta(days=1))

    late_item = SettlementItem.objects.get(transfer__redemption=late)
    assert late_item.batch == second
    assert late_item.late is True
    assert (second.transfer_count, second.late_count, second.total_amount) == (2, 1, 50)
    assert first.items.count() == 1
    # Never in two batches, never dropped.
    assert SettlementItem.objects.count() == 3
    assert settlement.check_settlement().problems == []


def test_missing_days_are_built_in_order_and_an_earlier_day_cannot_follow_a_later_one(funded):
    p = funded
    with_bank(p.merchant)
    redeem(p, 0, 100, at(DAY, 18))
    build(DAY)
    redeem(p, 1, 30, at(DAY + dt.timedelta(days=2), 12))

    result = settlement.do_build_batches_through(None, DAY + dt.timedelta(days=3),
                                                 now=at(DAY + dt.timedelta(days=4), 1))

    assert [b.batch_id for b in result.built] == ["B-20260302", "B-20260303", "B-20260304"]
    assert [b.total_amount for b in result.built] == [0, 30, 0]
    with pytest.raises(Conflict) as error:
        settlement._build_one(None, DAY - dt.timedelta(days=1), AFTER)
    assert error.value.code == "batch_out_of_order"


def test_a_suspended_merchant_is_withheld_and_paid_with_the_carry_once_active(funded):
    p = funded
    with_bank(p.merchant)
    redeem(p, 0, 100, at(DAY, 18))
    p.merchant.status = MerchantStatus.SUSPENDED
    p.merchant.save()

    first = build(DAY)
    position = SettlementPosition.objects.get(batch=first)
    assert (position.outcome, position.amount, position.carry_out) == (PositionOutcome.WITHHELD_SUSPENDED, 0, 100)
    assert first.line_count == 0

    p.merchant.status = MerchantStatus.ACTIVE
    p.merchant.save()
    redeem(p, 1, 25, at(DAY + dt.timedelta(days=1), 10))
    second = build(DAY + dt.timedelta(days=1))
    position = SettlementPosition.objects.get(batch=second)
    assert (position.outcome, position.carry_in, position.captured, position.amount) == (PositionOutcome.PAY, 100,
                                                                                         25, 125)
    assert settlement.check_settlement().problems == []


def test_a_negative_net_is_carried_forward_and_offsets_the_next_day(funded):
    p = funded
    with_bank(p.merchant)
    r = redeem(p, 0, 100, at(DAY, 18))
    build(DAY)
    ledger.do_refund(p.ctx, r.pk, 60, now=at(DAY + dt.timedelta(days=1), 10))
    second = build(DAY + dt.timedelta(days=1))
    position = SettlementPosition.objects.get(batch=second)
    assert (position.outcome, position.net, position.amount) == (PositionOutcome.CARRY_NEGATIVE, -60, 0)

    redeem(p, 1, 100, at(DAY + dt.timedelta(days=2), 10))
    third = build(DAY + dt.timedelta(days=2))
    position = SettlementPosition.objects.get(batch=third)
    assert (position.carry_in, position.net, position.amount) == (-60, 40, 40)
    assert settlement.check_settlement().problems == []


def test_a_closed_merchant_gets_one_final_line_only_after_approval(funded):
    p = funded
    with_bank(p.merchant)
    redeem(p, 0, 100, at(DAY, 18))
    p.merchant.status = MerchantStatus.CLOSED
    p.merchant.save()
    first = build(DAY)
    assert SettlementPosition.objects.get(batch=first).outcome == PositionOutcome.AWAITING_FINAL_APPROVAL

    with pytest.raises(Forbidden):
        settlement.do_approve_final_settlement(p.agency_admin, p.merchant.pk)
    settlement.do_approve_final_settlement(p.operator, p.merchant.pk, note="合約終止，結清")
    second = build(DAY + dt.timedelta(days=1))
    position = SettlementPosition.objects.get(batch=second)
    assert (position.outcome, position.amount) == (PositionOutcome.PAY_FINAL, 100)
    assert settlement.instruction_for(second).lines[0].final is True
    assert FinalSettlementApproval.objects.get().paid_in == second
    with pytest.raises(Conflict):
        settlement.do_approve_final_settlement(p.operator, p.merchant.pk)


def test_a_refund_against_a_closed_merchant_is_a_receivable_and_an_exception_never_a_line(funded):
    p = funded
    with_bank(p.merchant)
    r = redeem(p, 0, 100, at(DAY, 18))
    build(DAY)
    p.merchant.status = MerchantStatus.CLOSED
    p.merchant.save()
    ledger.do_refund(p.ctx, r.pk, 30, now=at(DAY + dt.timedelta(days=1), 9))

    second = build(DAY + dt.timedelta(days=1))

    position = SettlementPosition.objects.get(batch=second)
    assert (position.outcome, position.net, position.amount) == (PositionOutcome.RECEIVABLE, -30, 0)
    assert second.line_count == 0
    exception = TrustException.objects.get()
    assert (exception.kind, exception.amount, exception.merchant_id, exception.status) == (
        TrustExceptionKind.MERCHANT_RECEIVABLE, 30, p.merchant.pk, "open")


def test_a_line_is_split_over_agencies_and_merchants_are_independent(funded, make_agency):
    p = funded
    with_bank(p.merchant)
    other, other_ctx = second_merchant(p)
    redeem(p, 0, 70, at(DAY, 18))
    redeem(p, 1, 20, at(DAY, 19), ctx=other_ctx)
    batch = build(DAY)
    lines = settlement.instruction_for(batch).lines
    assert [(line.merchant_code, line.amount) for line in lines] == [("04595257", 70), ("22099131", 20)]
    shares = {(s.position.merchant_id, s.agency_id): s.paid for s in
              settlement.PositionShare.objects.select_related("position")}
    assert shares == {(p.merchant.pk, p.agency.pk): 70, (other.pk, p.agency.pk): 20}


def test_a_merchant_without_a_bank_account_is_withheld_with_an_exception(funded):
    p = funded
    redeem(p, 0, 100, at(DAY, 18))
    batch = build(DAY)
    assert SettlementPosition.objects.get(batch=batch).outcome == PositionOutcome.NO_BANK_ACCOUNT
    assert TrustException.objects.get().kind == TrustExceptionKind.NO_BANK_ACCOUNT


def test_only_the_operator_builds_batches(funded):
    with pytest.raises(Forbidden):
        settlement.do_build_batches_through(funded.agency_admin, DAY, now=AFTER)
    build(DAY, funded.operator)
    assert SettlementBatch.objects.count() == 1


def test_the_instruction_is_signed_with_the_configured_key_and_verifies(funded, settings, tmp_path):
    p = funded
    with_bank(p.merchant)
    private_pem, public_pem = signing_keys.generate_key_pair()
    settings.POINTS_SIGNING_KEY = private_pem.decode()
    redeem(p, 0, 100, at(DAY, 18))

    batch = build(DAY)

    assert batch.status == "signed"
    payload = batch.instruction.encode()
    assert signing_keys.verify(public_pem, payload, base64.b64decode(batch.signature)) is True
    assert signing_keys.verify(public_pem, payload.replace(b"100", b"900"), base64.b64decode(batch.signature)) \
        is False
    files = settlement.instruction_files(batch)
    assert files.json == payload
    assert signing_keys.check_signature_file(public_pem, files.json, files.signature).ok is True
    assert files.pdf.startswith(b"%PDF")
    assert batch.content_hash.encode() in files.csv


def test_an_unsigned_batch_is_signed_later(funded, settings, tmp_path):
    p = funded
    with_bank(p.merchant)
    settings.POINTS_SIGNING_KEY = ""
    settings.POINTS_SIGNING_KEY_FILE = str(tmp_path / "missing.pem")
    redeem(p, 0, 100, at(DAY, 18))
    batch = build(DAY)
    assert (batch.status, batch.signature) == ("built", "")
    with pytest.raises(InvalidInput):
        settlement.do_sign_batch(p.operator, batch.batch_id)

    key_file = tmp_path / "key.pem"
    public_pem = settlement.do_generate_signing_key(key_file)
    assert key_file.stat().st_mode & 0o777 == 0o600
    settings.POINTS_SIGNING_KEY_FILE = str(key_file)
    signed = settlement.do_sign_batch(p.operator, batch.batch_id)
    assert signed.status == "signed"
    assert signing_keys.verify(public_pem, signed.instruction.encode(), base64.b64decode(signed.signature))
    with pytest.raises(Conflict):
        settlement.do_generate_signing_key(key_file)


def test_commands_build_export_and_verify_an_instruction(funded, settings, tmp_path):
    from django.core.management import CommandError, call_command

    p = funded
    with_bank(p.merchant)
    key_file = tmp_path / "operator.pem"
    settings.POINTS_SIGNING_KEY = ""
    settings.POINTS_SIGNING_KEY_FILE = str(key_file)
    call_command("points", "keygen", stdout=(public := tmp_path / "stdout.txt").open("w"))
    (tmp_path / "operator.pub").write_text(public.read_text())
    redeem(p, 0, 100, at(DAY, 18))
    settlement.do_build_batches_through(p.operator, DAY, now=AFTER)

    call_command("points", "export-batch", "B-20260301", "--out", str(tmp_path / "out"))
    files = sorted(path.name for path in (tmp_path / "out").iterdir())
    assert files == ["B-20260301.csv", "B-20260301.json", "B-20260301.pdf", "B-20260301.sig"]
    arguments = ["points", "verify-instruction", str(tmp_path / "out" / "B-20260301.json"), "--signature",
                 str(tmp_path / "out" / "B-20260301.sig"), "--public-key", str(tmp_path / "operator.pub")]
    call_command(*arguments)

    tampered = (tmp_path / "out" / "B-20260301.json")
    tampered.write_bytes(tampered.read_bytes().replace(b'"amount":100', b'"amount":900'))
    with pytest.raises(CommandError) as error:
        call_command(*arguments)
    assert error.value.returncode == 1


def test_the_settle_command_refuses_a_bad_day_and_a_role_without_settlement(funded):
    from django.core.management import CommandError, call_command

    with pytest.raises(CommandError) as error:
        call_command("points", "settle", "--user", "operator", "--day", "2026-13-01")
    assert error.value.returncode == 2
    with pytest.raises(CommandError) as error:
        call_command("points", "settle", "--user", "welfare-admin", "--day", "2026-03-01")
    assert error.value.returncode == 1
    assert SettlementBatch.objects.count() == 0
