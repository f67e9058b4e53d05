"""Writes to user accounts and API tokens. Each owns its transaction, checks and change-log row."""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Iterable
from dataclasses import dataclass

from django.contrib.auth import get_user_model, password_validation
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from citygov.core.changelog import record_change, snapshot
from citygov.core.errors import Forbidden, InvalidInput, NotFound
from citygov.core.models import TOKEN_PREFIX_LENGTH, ApiToken, ChangeAction, hash_token
from citygov.core.permissions import require_agency, require_capability, require_writer
from citygov.core.roles import CITY_WIDE_ROLES, Capability, Role

USER_EDITABLE_FIELDS = ("display_name", "email", "phone", "role", "is_active", "first_name", "last_name")


@dataclass(frozen=True)
class UserInput:
    """Fields for a new account. ``agency_ids`` are the agencies the account belongs to."""

    username: str
    role: str
    agency_ids: tuple[int, ...] = ()
    display_name: str = ""
    email: str = ""
    password: str | None = None


def generate_password() -> str:
    """A random password strong enough for the validators (shown to the administrator once)."""
    return secrets.token_urlsafe(15)


def _agency_model():
    from django.apps import apps

    return apps.get_model("agencies", "Agency")


def check_manage_user(actor, *, role: str, agency_ids: Iterable[int]) -> None:
    """Agency administrators manage accounts of their own agencies and cannot grant city-wide roles."""
    require_writer(actor)
    require_capability(actor, Capability.MANAGE_USERS)
    if role not in Role.values:
        raise InvalidInput(_("Unknown role {role}.").format(role=role), fields={"role": ["invalid"]})
    if actor.is_city_wide:
        return
    if role in CITY_WIDE_ROLES:
        raise Forbidden(_("Only a city administrator may grant a city-wide role."), code="city_admin_only")
    ids = list(agency_ids)
    if not ids:
        raise InvalidInput(_("An account must belong to at least one of your agencies."),
                           fields={"agency_ids": ["required"]})
    for agency_id in ids:
        require_agency(actor, agency_id)


def _membership_model():
    from django.apps import apps

    return apps.get_model("agencies", "Membership")


def do_create_user(actor, data: UserInput) -> tuple[object, str]:
    """Create an account with its memberships; returns (user, password). A generated password is
    returned to be shown once; it is never logged."""
    check_manage_user(actor, role=data.role, agency_ids=data.agency_ids)
    user_model = get_user_model()
    password = data.password or generate_password()
    agencies = list(_agency_model().objects.filter(pk__in=data.agency_ids))
    if len(agencies) != len(set(data.agency_ids)):
        raise InvalidInput(_("One of the agencies does not exist."), fields={"agency_ids": ["invalid"]})
    with transaction.atomic():
        if user_model.objects.filter(username__iexact=data.username).exists():
            raise InvalidInput(_("The user name is taken."), fields={"username": ["taken"]}, code="username_taken")
        user = user_model(username=data.username, role=data.role, display_name=data.display_name, email=data.email)
        try:
            user.full_clean(exclude=["password"])
            password_validation.validate_password(password, user)
        except ValidationError as exc:
            fields = getattr(exc, "message_dict", {"password": exc.messages})
            raise InvalidInput(_("The account has invalid fields."), fields=fields) from None
        user.set_password(password)
        user.save()
        record_change(actor=actor, action=ChangeAction.CREATE, obj=user, after=snapshot(user))
        for agency in agencies:
            membership = _membership_model().objects.create(user=user, agency=agency)
            record_change(actor=actor, action=ChangeAction.CREATE, obj=membership, agency_id=agency.pk,
                          after={"user": user.pk, "agency": agency.pk})
    return user, password


def users_for(actor):
    """Accounts ``actor`` may see: all for city-wide users, members of their agencies otherwise."""
    require_capability(actor, Capability.VIEW_USERS)
    user_model = get_user_model()
    ids = actor.visible_agency_ids()
    if ids is None:
        return user_model.objects.all()
    return user_model.objects.filter(memberships__agency_id__in=ids).distinct()


def get_user_for(actor, user_id: int):
    user = users_for(actor).filter(pk=user_id).first()
    if user is None:
        raise NotFound(_("No such user."))
    return user


def do_update_user(actor, user_id: int, changes: dict):
    """Change an account's editable fields (not its password)."""
    unknown = set(changes) - set(USER_EDITABLE_FIELDS)
    if unknown:
        raise InvalidInput(_("These fields cannot be changed: {fields}").format(fields=", ".join(sorted(unknown))))
    with transaction.atomic():
        user = get_user_for(actor, user_id)
        agency_ids = list(user.memberships.values_list("agency_id", flat=True))
        check_manage_user(actor, role=changes.get("role", user.role), agency_ids=agency_ids)
        if user.is_city_wide and not actor.is_city_wide:
            raise Forbidden(_("Only a city administrator may change a city-wide account."), code="city_admin_only")
        if user.pk == actor.pk and changes.get("is_active") is False:
            raise InvalidInput(_("You cannot deactivate your own account."), code="self_deactivate")
        before = snapshot(user)
        for key, value in changes.items():
            setattr(user, key, value)
        try:
            user.full_clean(exclude=["password"])
        except ValidationError as exc:
            raise InvalidInput(_("The account has invalid fields."), fields=exc.message_dict) from None
        user.save()
        record_change(actor=actor, action=ChangeAction.UPDATE, obj=user, before=before, after=snapshot(user))
    return user


def do_set_password(actor, user_id: int, password: str | None = None) -> str:
    """Set (or generate) a user's password; returns it so it can be shown once."""
    with transaction.atomic():
        user = get_user_for(actor, user_id) if actor.pk != user_id else actor
        if actor.pk != user.pk:
            check_manage_user(actor, role=user.role, agency_ids=user.memberships.values_list("agency_id", flat=True))
        password = password or generate_password()
        try:
            password_validation.validate_password(password, user)
        except ValidationError as exc:
            raise InvalidInput(_("The password is too weak."), fields={"password": exc.messages}) from None
        user.set_password(password)
        user.save(update_fields=["password"])
        record_change(actor=actor, action=ChangeAction.UPDATE, obj=user, before={"password": "[redacted]"},
                      after={"password": "[changed]"})
    return password


def do_create_api_token(actor, *, name: str, days: int | None = 90) -> tuple[ApiToken, str]:
    """Create an API token for ``actor``; the key is returned once and only its hash is stored."""
    if not name.strip():
        raise InvalidInput(_("A token needs a name."), fields={"name": ["required"]})
    key = ApiToken.new_key()
    expires = timezone.now() + dt.timedelta(days=days) if days else None
    with transaction.atomic():
        token = ApiToken.objects.create(user=actor, name=name.strip()[:100], prefix=key[:TOKEN_PREFIX_LENGTH],
                                        key_hash=hash_token(key), expires_at=expires)
        record_change(actor=actor, action=ChangeAction.CREATE, obj=token,
                      after={"name": token.name, "prefix": token.prefix,
                             "expires_at": expires.isoformat() if expires else None})
    return token, key


def do_revoke_api_token(actor, token_id: int) -> None:
    """Revoke one of ``actor``'s tokens (a city administrator may revoke anyone's)."""
    with transaction.atomic():
        tokens = ApiToken.objects.all() if actor.is_city_wide and not actor.is_read_only else actor.api_tokens.all()
        token = tokens.filter(pk=token_id, revoked_at__isnull=True).first()
        if token is None:
            raise NotFound(_("No such token."))
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
        record_change(actor=actor, action=ChangeAction.UPDATE, obj=token, before={"revoked_at": None},
                      after={"revoked_at": token.revoked_at.isoformat()})


def do_ensure_admin(*, username: str = "admin") -> tuple[object, str | None]:
    """Create the first city administrator when none exists; returns (user, password or None).

    The password is generated, returned once for the caller to print, and never stored in clear.
    """
    user_model = get_user_model()
    existing = user_model.objects.filter(username=username).first()
    if existing is not None:
        return existing, None
    password = generate_password()
    with transaction.atomic():
        user = user_model(username=username, role=Role.CITY_ADMIN, is_staff=True, is_superuser=True,
                          display_name=_("City administrator"))
        user.set_password(password)
        user.save()
        record_change(actor=None, action=ChangeAction.CREATE, obj=user, after=snapshot(user),
                      note="first administrator")
    return user, password
