"""Members of the points programme: citizen-card holders.

A member's national ID (or resident certificate number) is checked for shape and checksum and then
only its keyed hash (:func:`citygov.points.models.hash_national_id`) is kept: the ID itself is
never stored, never logged and never repeated in an error message.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from citygov.core.changelog import record_change, snapshot
from citygov.core.errors import Conflict, InvalidInput, NotFound
from citygov.core.models import ChangeAction
from citygov.core.permissions import require_capability, require_writer
from citygov.core.roles import Capability
from citygov.core.text.normalize import remove_spaces, to_halfwidth
from citygov.points.models import Member, hash_national_id

# The letters' numbers: A=10 … H=17, J=18 … V=29, X=30, Y=31, W=32, Z=33, I=34, O=35 (the official order).
_LETTER_VALUES = {letter: value for value, letter in enumerate("ABCDEFGHJKLMNPQRSTUVXYWZIO", start=10)}
# Letter, then 1/2 (citizens), 8/9 (resident certificates since 2021) or A-D (older resident certificates).
_NATIONAL_ID = re.compile(r"[A-Z][1289ABCD][0-9]{8}")
_WEIGHTS = (1, 9, 8, 7, 6, 5, 4, 3, 2, 1, 1)
_CARD_NUMBER = re.compile(r"[A-Z0-9]{8,32}")
_PHONE = re.compile(r"\+?[0-9][0-9()#-]{6,19}")

EDITABLE_FIELDS = ("card_number", "national_id", "name", "phone", "email", "consent")


def normalize_national_id(value: str) -> str:
    """Half-width, upper-case, without spaces: the form that is checked and hashed."""
    return remove_spaces(to_halfwidth(value or "")).upper()


def is_valid_national_id(value: str) -> bool:
    """Whether ``value`` is a Taiwan national ID or resident certificate number with a valid check digit.

    Shapes: a letter then 1 or 2 (national ID), 8 or 9 (resident certificate, 2021 format), or A-D
    (older resident certificate, whose second letter counts by the last digit of its number), then
    8 digits. The letter's two digits and the next nine are weighted 1,9,8,7,6,5,4,3,2,1,1; the sum
    must be divisible by 10.

    >>> is_valid_national_id("A123456789")
    True
    >>> is_valid_national_id("A123456788")
    False
    """
    text = normalize_national_id(value)
    if not _NATIONAL_ID.fullmatch(text):
        return False
    first = _LETTER_VALUES[text[0]]
    second = _LETTER_VALUES[text[1]] % 10 if text[1].isalpha() else int(text[1])
    digits = (first // 10, first % 10, second, *(int(c) for c in text[2:]))
    return sum(d * w for d, w in zip(digits, _WEIGHTS, strict=True)) % 10 == 0


@dataclass(frozen=True)
class MemberInput:
    """What is entered for a new member. ``national_id`` is optional and never shown in a repr."""

    card_number: str
    national_id: str = field(default="", repr=False)
    name: str = ""
    phone: str = ""
    email: str = ""
    consent: bool = False


def _clean(values: dict[str, Any]) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """Model field values from input values (the ID becomes its hash) and the errors per field."""
    errors: dict[str, list[str]] = {}
    cleaned: dict[str, Any] = {}
    card = remove_spaces(to_halfwidth(values.get("card_number") or "")).upper()
    if not _CARD_NUMBER.fullmatch(card):
        errors["card_number"] = [_("A card number has 8 to 32 letters or digits.")]
    cleaned["card_number"] = card
    if "national_id" in values:
        national_id = normalize_national_id(values["national_id"])
        if national_id and not is_valid_national_id(national_id):
            errors["national_id"] = [_("Not a valid national ID or resident certificate number.")]
        cleaned["national_id_hash"] = hash_national_id(national_id) if national_id else ""
    name = (values.get("name") or "").strip()
    if len(name) > 100:
        errors["name"] = [_("Too long: at most {limit} characters.").format(limit=100)]
    cleaned["name"] = name
    phone = remove_spaces(to_halfwidth(values.get("phone") or ""))
    if phone and not _PHONE.fullmatch(phone):
        errors["phone"] = [_("Not a valid phone number.")]
    cleaned["phone"] = phone
    email = to_halfwidth(values.get("email") or "").strip()
    if email:
        try:
            validate_email(email)
        except ValidationError:
            errors["email"] = [_("Not a valid e-mail address.")]
    cleaned["email"] = email
    cleaned["consent"] = bool(values.get("consent", False))
    return cleaned, errors


def _raise_if(errors: dict[str, list[str]]) -> None:
    if errors:
        raise InvalidInput(_("The member has invalid fields."), fields=errors)


def _require_manager(actor) -> None:
    require_writer(actor)
    require_capability(actor, Capability.MANAGE_MEMBERS)


def _refuse_duplicates(cleaned: dict[str, Any], *, exclude_pk: int | None = None) -> None:
    others = Member.objects.exclude(pk=exclude_pk) if exclude_pk is not None else Member.objects.all()
    if others.filter(card_number=cleaned["card_number"]).exists():
        raise Conflict(_("A member with this card number already exists."), code="duplicate_card_number",
                       fields={"card_number": [_("A member with this card number already exists.")]})
    if cleaned.get("national_id_hash") and others.filter(national_id_hash=cleaned["national_id_hash"]).exists():
        raise Conflict(_("A member with this national ID already exists."), code="duplicate_national_id",
                       fields={"national_id": [_("A member with this national ID already exists.")]})


def check_register_member(actor, data: MemberInput) -> dict[str, Any]:
    """Authorise and validate a new member; the model values (ID already hashed) are returned."""
    _require_manager(actor)
    cleaned, errors = _clean(vars(data))
    _raise_if(errors)
    return cleaned


def do_register_member(actor, data: MemberInput) -> Member:
    """Register a citizen-card holder: card number unique, national ID (optional) kept only as its hash.

    Consent to notices is timestamped with the server clock. The change log gets the hash redacted.
    """
    cleaned = check_register_member(actor, data)
    try:
        with transaction.atomic():
            _refuse_duplicates(cleaned)
            now = timezone.now()
            member = Member.objects.create(consent_at=now if cleaned["consent"] else None, created_at=now,
                                           **cleaned)
            record_change(actor=actor, action=ChangeAction.CREATE, obj=member, after=snapshot(member))
    except IntegrityError:
        # The same card registered twice at once: the unique constraint decides.
        raise Conflict(_("A member with this card number already exists."), code="duplicate_card_number") from None
    return member


def do_update_member(actor, member_id: int, changes: dict[str, Any]) -> Member:
    """Change a member's card number, national ID, contact details or consent; logs the changed fields.

    ``national_id`` is validated and re-hashed (an empty value removes it). Giving consent stamps
    ``consent_at`` with the server clock; withdrawing it clears the stamp.
    """
    _require_manager(actor)
    unknown = set(changes) - set(EDITABLE_FIELDS)
    if unknown:
        raise InvalidInput(_("These fields cannot be changed here: {fields}").format(fields=", ".join(sorted(unknown))),
                           code="not_editable")
    try:
        with transaction.atomic():
            member = Member.objects.select_for_update().filter(pk=member_id).first()
            if member is None:
                raise NotFound(_("No such member."))
            current = {name: getattr(member, name) for name in ("card_number", "name", "phone", "email", "consent")}
            cleaned, errors = _clean({**current, **changes})
            _raise_if(errors)
            _refuse_duplicates(cleaned, exclude_pk=member.pk)
            if cleaned["consent"] != member.consent:
                cleaned["consent_at"] = timezone.now() if cleaned["consent"] else None
            diffs = {name: value for name, value in cleaned.items() if getattr(member, name) != value}
            if diffs:
                before = snapshot(member)
                for name, value in diffs.items():
                    setattr(member, name, value)
                member.save(update_fields=list(diffs))
                # The hash is redacted in both snapshots, so say in words that the ID changed.
                record_change(actor=actor, action=ChangeAction.UPDATE, obj=member, before=before,
                              after=snapshot(member),
                              note="national ID changed" if "national_id_hash" in diffs else "")
    except IntegrityError:
        raise Conflict(_("A member with this card number already exists."), code="duplicate_card_number") from None
    return member


def find_member_by_national_id(national_id: str) -> Member | None:
    """The member registered with this national ID (compared by keyed hash), or ``None``."""
    text = normalize_national_id(national_id)
    if not is_valid_national_id(text):
        return None
    return Member.objects.filter(national_id_hash=hash_national_id(text)).order_by("pk").first()
