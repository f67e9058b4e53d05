"""Member QR tokens (short-lived, signed) and merchant QR payloads.

A member token is what the citizen app shows as a QR code instead of the card number: the member's
id and a random nonce, stamped with the server's time and signed with the secret key
(:class:`django.core.signing.TimestampSigner`). It is valid for :data:`MEMBER_TOKEN_TTL` from its
issue time (exclusive end), judged by the server clock (R1). Nothing is stored: the signature is the
proof, and the nonce makes every token distinct.
"""

from __future__ import annotations

import datetime as dt
import secrets

from django.core import signing
from django.utils import timezone

from citygov.core.errors import InvalidInput
from citygov.points.models import Member, Merchant

MEMBER_TOKEN_SALT = "citygov.points.member-token"  # noqa: S105 - a namespace, not a secret
MERCHANT_QR_SALT = "citygov.points.merchant-qr"
MEMBER_TOKEN_TTL = dt.timedelta(seconds=120)
# Several servers issue and read tokens; allow their clocks to disagree by this much.
CLOCK_SKEW = dt.timedelta(seconds=5)
MERCHANT_QR_PREFIX = "citygov-merchant"


class _Signer(signing.TimestampSigner):
    """A timestamp signer whose clock is the ``now`` we pass (so R1's single server time is used)."""

    def __init__(self, now: dt.datetime | None = None, **kwargs):
        super().__init__(**kwargs)
        self._now = now

    def timestamp(self) -> str:
        """The issue time: our ``now``, in base62 unix seconds like Django's own timestamps."""
        return signing.b62_encode(int((self._now or timezone.now()).timestamp()))

    def unsign_with_time(self, value: str) -> tuple[str, int]:
        """Check the signature and return the value and its issue time (unix seconds)."""
        result = signing.Signer.unsign(self, value)
        value, stamp = result.rsplit(self.sep, 1)
        return value, signing.b62_decode(stamp)


def _invalid(message: str) -> InvalidInput:
    """The refusal for any unusable member token (one code, so forgeries learn nothing)."""
    return InvalidInput(message, code="invalid_member_token")


def issue_member_token(member: Member, now: dt.datetime | None = None) -> str:
    """A signed token naming ``member``, valid for 120 s from ``now`` (server time)."""
    payload = f"{member.pk}.{secrets.token_urlsafe(9)}"
    return _Signer(now, salt=MEMBER_TOKEN_SALT).sign(payload)


def read_member_token(token: str, now: dt.datetime | None = None) -> Member:
    """The member a token names, if its signature holds and ``now`` is within its 120 s.

    Raises :class:`InvalidInput` ``invalid_member_token`` for forged, malformed, expired or
    not-yet-valid tokens and for a member that no longer exists.
    """
    now = now or timezone.now()
    if not isinstance(token, str) or not 0 < len(token) <= 200:
        raise _invalid("The member token is malformed (會員條碼格式錯誤).")
    try:
        value, issued = _Signer(salt=MEMBER_TOKEN_SALT).unsign_with_time(token)
    except (signing.BadSignature, ValueError):
        raise _invalid("The member token is not valid (會員條碼無效).") from None
    issued_at = dt.datetime.fromtimestamp(issued, tz=dt.UTC)
    if now >= issued_at + MEMBER_TOKEN_TTL:
        raise _invalid("The member token has expired; ask for a new code (會員條碼已逾時，請重新產生).")
    if issued_at > now + CLOCK_SKEW:
        raise _invalid("The member token is not valid yet (會員條碼尚未生效).")
    member_id, _, _nonce = value.partition(".")
    member = Member.objects.filter(pk=int(member_id)).first() if member_id.isdigit() else None
    if member is None:
        raise _invalid("The member token is not valid (會員條碼無效).")
    return member


def merchant_qr_payload(merchant: Merchant) -> str:
    """The text of a merchant's QR code: its 統一編號, signed, for the citizen app to read and trust.

    It does not expire (it is printed at the counter); a merchant that stops accepting points is
    refused by the ledger (R9), not by the code.
    """
    return signing.Signer(salt=MERCHANT_QR_SALT).sign(f"{MERCHANT_QR_PREFIX}:{merchant.tax_id}")


def read_merchant_qr_payload(payload: str) -> str:
    """The 統一編號 in a merchant QR payload; :class:`InvalidInput` ``invalid_merchant_qr`` if forged."""
    try:
        value = signing.Signer(salt=MERCHANT_QR_SALT).unsign(payload)
    except signing.BadSignature:
        raise InvalidInput("The merchant code is not valid (商店條碼無效).", code="invalid_merchant_qr") from None
    prefix, _, tax_id = value.partition(":")
    if prefix != MERCHANT_QR_PREFIX or not tax_id:
        raise InvalidInput("The merchant code is not valid (商店條碼無效).", code="invalid_merchant_qr")
    return tax_id
