"""The merchant-terminal API under ``/api/points/terminal/``: holds, captures, voids, one-step
redemptions, refunds, the spendable balance and member-token checks.

Every request is signed by the terminal (:mod:`citygov.points.api.terminal_auth`). Every POST
carries an ``Idempotency-Key``; its scope is the terminal, and the request's fingerprint covers
method, path and parsed JSON body (R5, :mod:`citygov.points.services.idempotency`). The view
validates the body, then runs one ledger service inside :func:`run_idempotent`; the answer
(including a business refusal) is stored with the key and replayed, with its original
``post_balance``, to a retry.
"""

from __future__ import annotations

import datetime as dt
import re

from django.db.models import Sum
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.parsers import JSONParser
from rest_framework.response import Response
from rest_framework.views import APIView

from citygov.core.api.errors import PROBLEM_CONTENT_TYPE, problem
from citygov.core.errors import Conflict, InvalidInput, NotFound, ServiceError
from citygov.points.api.terminal_auth import IsTerminal, TerminalRateThrottle, TerminalSignatureAuthentication
from citygov.points.models import Hold, Lot, Member, Redemption, Refund, Terminal
from citygov.points.services import ledger
from citygov.points.services.idempotency import run_idempotent
from citygov.points.services.tokens import read_member_token

IDEMPOTENCY_KEY_PATTERN = re.compile(r"[\x20-\x7e]{1,120}")
RETRIABLE_CODES = frozenset({"idempotency_in_flight", "retry"})
MAX_POINTS = 10**9


# --- read side -----------------------------------------------------------------------------------

def spendable_points(member_id: int, now: dt.datetime | None = None) -> int:
    """Points the member can spend now: Σ balances of unexpired, unreversed lots (held points excluded)."""
    now = now or timezone.now()
    total = Lot.objects.filter(member_id=member_id, reversed_at__isnull=True, expires_at__gt=now) \
        .aggregate(total=Sum("account__balance"))["total"]
    return total or 0


_DATETIME = serializers.DateTimeField()


def _time(value: dt.datetime | None) -> str | None:
    """A time as the API writes times (ISO 8601 in Asia/Taipei), ready to store as JSON."""
    return _DATETIME.to_representation(value) if value is not None else None


def _post_balance(obj: Hold | Redemption) -> int:
    """The member's spendable points after the operation: as the ledger service computed it inside
    its transaction (holds and one-step redemptions), else read now."""
    computed = getattr(obj, "post_balance", None)
    return computed if computed is not None else spendable_points(obj.member_id)


def hold_body(hold: Hold) -> dict:
    """A hold as the terminal sees it, with the member's spendable balance after the operation."""
    return {"id": hold.pk, "status": hold.status, "amount": hold.amount, "captured": hold.captured,
            "released": hold.released, "created_at": _time(hold.created_at), "expires_at": _time(hold.expires_at),
            "reference": hold.reference, "post_balance": _post_balance(hold)}


def redemption_body(redemption: Redemption) -> dict:
    """A redemption (a capture or a one-step redeem), with the member's balance afterwards."""
    return {"id": redemption.pk, "hold_id": redemption.hold_id, "amount": redemption.amount,
            "refunded": redemption.refunded, "created_at": _time(redemption.created_at),
            "reference": redemption.reference, "post_balance": _post_balance(redemption)}


def refund_body(refund: Refund) -> dict:
    """A refund, with its redemption's refunded total and the member's balance afterwards."""
    redemption = refund.redemption
    return {"id": refund.pk, "redemption_id": redemption.pk, "amount": refund.amount, "reason": refund.reason,
            "redemption_refunded": redemption.refunded, "created_at": _time(refund.created_at),
            "post_balance": spendable_points(redemption.member_id)}


# --- serializers (request validation and the OpenAPI description) --------------------------------

class MemberReference(serializers.Serializer):
    """Exactly one of ``card_number`` (the citizen card) or ``member_token`` (from the member's QR code)."""

    card_number = serializers.CharField(max_length=32, required=False)
    member_token = serializers.CharField(max_length=200, required=False)

    def validate(self, attrs):
        if bool(attrs.get("card_number")) == bool(attrs.get("member_token")):
            raise serializers.ValidationError("Send exactly one of card_number or member_token "
                                              "(card_number 與 member_token 須擇一).")
        return attrs


class PaymentRequest(MemberReference):
    """Hold or redeem ``amount`` points of a member."""

    amount = serializers.IntegerField(min_value=1, max_value=MAX_POINTS)
    reference = serializers.CharField(max_length=60, required=False, allow_blank=True, default="")
    terminal_time = serializers.DateTimeField(required=False, allow_null=True, default=None,
                                              help_text="The terminal's clock; stored, never trusted (R1).")


class CaptureRequest(serializers.Serializer):
    """Capture all of a hold (no amount) or part of it."""

    amount = serializers.IntegerField(min_value=1, max_value=MAX_POINTS, required=False)
    terminal_time = serializers.DateTimeField(required=False, allow_null=True, default=None)


class EmptyRequest(serializers.Serializer):
    """No fields (an empty body or ``{}``)."""

    terminal_time = serializers.DateTimeField(required=False, allow_null=True, default=None)


class RefundRequest(serializers.Serializer):
    """Give back ``amount`` points of a captured redemption."""

    amount = serializers.IntegerField(min_value=1, max_value=MAX_POINTS)
    reason = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    terminal_time = serializers.DateTimeField(required=False, allow_null=True, default=None)


class TokenVerifyRequest(serializers.Serializer):
    """A member token read from the member's QR code."""

    member_token = serializers.CharField(max_length=200)


class BalanceQuery(serializers.Serializer):
    """The card whose spendable balance is asked for."""

    card_number = serializers.CharField(max_length=32)


class _Answer(serializers.Serializer):
    post_balance = serializers.IntegerField(help_text="The member's spendable points after the operation "
                                                      "(on a replay: as it was then).")
    replayed = serializers.BooleanField(help_text="True when this is the stored answer to an earlier request.")


class HoldResponse(_Answer):
    id = serializers.IntegerField()
    status = serializers.ChoiceField(choices=["open", "captured", "voided", "expired"])
    amount = serializers.IntegerField()
    captured = serializers.IntegerField()
    released = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    expires_at = serializers.DateTimeField(help_text="Capture before this instant (exclusive).")
    reference = serializers.CharField()


class RedemptionResponse(_Answer):
    id = serializers.IntegerField()
    hold_id = serializers.IntegerField(allow_null=True)
    amount = serializers.IntegerField()
    refunded = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    reference = serializers.CharField()


class RefundResponse(_Answer):
    id = serializers.IntegerField()
    redemption_id = serializers.IntegerField()
    amount = serializers.IntegerField()
    reason = serializers.CharField()
    redemption_refunded = serializers.IntegerField()
    created_at = serializers.DateTimeField()


class BalanceResponse(serializers.Serializer):
    spendable = serializers.IntegerField()
    as_of = serializers.DateTimeField()


class TokenVerifyResponse(serializers.Serializer):
    valid = serializers.BooleanField()
    spendable = serializers.IntegerField()
    replayed = serializers.BooleanField()


class Problem(serializers.Serializer):
    """An RFC 9457 problem (``application/problem+json``) with a stable ``code``."""

    type = serializers.CharField()
    title = serializers.CharField()
    status = serializers.IntegerField()
    detail = serializers.CharField()
    code = serializers.CharField()
    errors = serializers.DictField(required=False)


IDEMPOTENCY_KEY = OpenApiParameter(
    "Idempotency-Key", OpenApiTypes.STR, OpenApiParameter.HEADER, required=True,
    description="1–120 printable characters, unique per operation for this terminal (kept ≥ 30 days). "
                "Resending the same request with the same key replays the first answer "
                "(`Idempotency-Replayed: true`); another request with the same key is refused with 409.")
ERRORS = {
    (400, PROBLEM_CONTENT_TYPE): OpenApiResponse(Problem, description="Invalid request or business refusal (`insufficient_points`, "
                                              "`merchant_not_active`, `invalid_member_token`, …)"),
    (401, PROBLEM_CONTENT_TYPE): OpenApiResponse(Problem, description="Signature missing or wrong, stale timestamp, replayed nonce, "
                                              "unknown terminal"),
    (404, PROBLEM_CONTENT_TYPE): OpenApiResponse(Problem, description="Unknown member, hold or redemption"),
    (409, PROBLEM_CONTENT_TYPE): OpenApiResponse(Problem, description="`idempotency_conflict`; `idempotency_in_flight` or `retry` "
                                              "(retriable, with Retry-After); `hold_not_open`, `hold_expired`"),
    (429, PROBLEM_CONTENT_TYPE): OpenApiResponse(Problem, description="Rate limit of this terminal (with Retry-After)"),
}


def _responses(success: int, serializer) -> dict:
    return {success: serializer, **ERRORS}


# --- views -----------------------------------------------------------------------------------------

def _card_number(data: dict) -> str:
    """The card number sent, or the one the member token names (checked against the server clock)."""
    if data.get("member_token"):
        return read_member_token(data["member_token"], timezone.now()).card_number
    return data["card_number"].strip()


class TerminalView(APIView):
    """Base of the terminal endpoints: signed requests, per-terminal rate limit, idempotent POSTs."""

    authentication_classes = [TerminalSignatureAuthentication]
    permission_classes = [IsTerminal]
    throttle_classes = [TerminalRateThrottle]
    parser_classes = [JSONParser]
    idempotency_key: str = ""

    def initial(self, request, *args, **kwargs):
        """After authentication and the rate limit: every POST must carry a well-formed Idempotency-Key."""
        super().initial(request, *args, **kwargs)
        if request.method == "POST":
            key = request.headers.get("Idempotency-Key")
            if key is None or not key.strip():
                raise InvalidInput("Every POST needs an Idempotency-Key header (每個 POST 請求都需要 "
                                   "Idempotency-Key 標頭).", code="idempotency_key_required")
            if not IDEMPOTENCY_KEY_PATTERN.fullmatch(key):
                raise InvalidInput("Idempotency-Key must be 1 to 120 printable ASCII characters "
                                   "(Idempotency-Key 須為 1 至 120 個可見 ASCII 字元).", code="idempotency_key_invalid")
            self.idempotency_key = key

    @property
    def terminal(self) -> Terminal:
        """The authenticated terminal."""
        return self.request.auth

    def context(self, data: dict) -> ledger.TerminalContext:
        """The ledger context of this terminal's request."""
        return ledger.terminal_context(self.terminal, reference=data.get("reference", ""),
                                       terminal_time=data.get("terminal_time"))

    def validated(self, serializer_class) -> dict:
        """The request body checked by ``serializer_class`` (400 ``invalid`` before any key is used)."""
        data = self.request.data if isinstance(self.request.data, dict) else {}
        serializer = serializer_class(data=data)
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data

    def run(self, action) -> Response:
        """Run ``action`` (returning ``(status, body)``) once for this terminal's Idempotency-Key."""
        request = self.request
        payload = {"method": request.method, "path": request.path, "body": request.data}
        try:
            result = run_idempotent(f"terminal:{self.terminal.terminal_id}", self.idempotency_key, payload, action,
                                    render_error=_render_error)
        except Conflict as exc:
            headers = {"Retry-After": "1"} if exc.code in RETRIABLE_CODES else None
            return problem(exc.status, exc.message, code=exc.code, headers=headers)
        headers = {"Idempotency-Replayed": "true"} if result.replayed else {}
        content_type = PROBLEM_CONTENT_TYPE if result.status_code >= 400 else None
        return Response(result.body, status=result.status_code, headers=headers, content_type=content_type)


def _render_error(exc: ServiceError) -> tuple[int, dict]:
    """A business refusal stored with the key: the same problem body the API gives for it."""
    return exc.status, dict(problem(exc.status, exc.message, code=exc.code, errors=exc.fields or None).data)


class HoldsView(TerminalView):
    """Authorise: hold points of a member for 120 s."""

    @extend_schema(operation_id="terminal_hold_create", tags=["points terminal"], parameters=[IDEMPOTENCY_KEY],
                   request=PaymentRequest, responses=_responses(201, HoldResponse))
    def post(self, request):
        data = self.validated(PaymentRequest)

        def action():
            hold = ledger.do_hold(self.context(data), _card_number(data), data["amount"])
            return 201, hold_body(hold)

        return self.run(action)


class CaptureView(TerminalView):
    """Capture all or part of an open hold (once); the remainder is released."""

    @extend_schema(operation_id="terminal_hold_capture", tags=["points terminal"], parameters=[IDEMPOTENCY_KEY],
                   request=CaptureRequest, responses=_responses(201, RedemptionResponse))
    def post(self, request, hold_id: int):
        data = self.validated(CaptureRequest)

        def action():
            redemption = ledger.do_capture(self.context(data), hold_id, data.get("amount"))
            return 201, redemption_body(redemption)

        return self.run(action)


class VoidView(TerminalView):
    """Void an open hold: every point goes back."""

    @extend_schema(operation_id="terminal_hold_void", tags=["points terminal"], parameters=[IDEMPOTENCY_KEY],
                   request=EmptyRequest, responses=_responses(200, HoldResponse))
    def post(self, request, hold_id: int):
        data = self.validated(EmptyRequest)

        def action():
            hold = ledger.do_void(self.context(data), hold_id)
            return 200, hold_body(hold)

        return self.run(action)


class RedeemView(TerminalView):
    """One-step redemption: take points from the member's earliest-expiring lots."""

    @extend_schema(operation_id="terminal_redeem", tags=["points terminal"], parameters=[IDEMPOTENCY_KEY],
                   request=PaymentRequest, responses=_responses(201, RedemptionResponse))
    def post(self, request):
        data = self.validated(PaymentRequest)

        def action():
            redemption = ledger.do_redeem(self.context(data), _card_number(data), data["amount"])
            return 201, redemption_body(redemption)

        return self.run(action)


class RefundsView(TerminalView):
    """Refund part or all of one of this merchant's redemptions."""

    @extend_schema(operation_id="terminal_refund_create", tags=["points terminal"], parameters=[IDEMPOTENCY_KEY],
                   request=RefundRequest, responses=_responses(201, RefundResponse))
    def post(self, request, redemption_id: int):
        data = self.validated(RefundRequest)

        def action():
            refund = ledger.do_refund(self.context(data), redemption_id, data["amount"], reason=data["reason"])
            return 201, refund_body(refund)

        return self.run(action)


class TokenVerifyView(TerminalView):
    """Check a member token from the member's QR code and show the spendable balance."""

    @extend_schema(operation_id="terminal_member_token_verify", tags=["points terminal"],
                   parameters=[IDEMPOTENCY_KEY], request=TokenVerifyRequest,
                   responses=_responses(200, TokenVerifyResponse))
    def post(self, request):
        data = self.validated(TokenVerifyRequest)

        def action():
            member = read_member_token(data["member_token"], timezone.now())
            return 200, {"valid": True, "spendable": spendable_points(member.pk)}

        return self.run(action)


class BalanceView(TerminalView):
    """The spendable points of a card — no personal data."""

    @extend_schema(operation_id="terminal_balance", tags=["points terminal"],
                   parameters=[OpenApiParameter("card_number", OpenApiTypes.STR, required=True)],
                   responses={200: BalanceResponse, **{k: v for k, v in ERRORS.items() if k[0] != 409}})
    def get(self, request):
        query = BalanceQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        member = Member.objects.filter(card_number=query.validated_data["card_number"].strip()).first()
        if member is None:
            raise NotFound("Unknown card number (查無此卡號).", code="unknown_member")
        now = timezone.now()
        return Response({"spendable": spendable_points(member.pk, now), "as_of": _time(now)})
