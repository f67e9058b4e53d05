"""Core models: the user account, the change log and API tokens."""

from __future__ import annotations

import hashlib
import secrets

from django.apps import apps
from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from citygov.core.roles import CITY_WIDE_ROLES, READ_ONLY_ROLES, Role, capabilities_for


class User(AbstractUser):
    """A person who signs in: bureau staff, agency administrators, analysts, operators, auditors.

    The role grants capabilities; agency memberships (``agencies.Membership``) limit their reach.
    City administrators and auditors reach every agency.
    """

    role = models.CharField(_("role"), max_length=32, choices=Role.choices, default=Role.AGENCY_ADMIN)
    display_name = models.CharField(_("display name"), max_length=100, blank=True)
    phone = models.CharField(_("office phone"), max_length=40, blank=True)

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")
        ordering = ["username"]

    def __str__(self) -> str:
        return self.display_name or self.username

    @property
    def is_city_wide(self) -> bool:
        """True when the role reaches every agency (city administrator, auditor)."""
        return self.is_superuser or self.role in CITY_WIDE_ROLES

    @property
    def is_read_only(self) -> bool:
        """True for roles that may read (and export) but never change anything."""
        return self.role in READ_ONLY_ROLES and not self.is_superuser

    def has_capability(self, capability: str) -> bool:
        """Whether the user's role grants ``capability`` (and the account is active)."""
        if not self.is_active:
            return False
        if self.is_superuser:
            return True
        return capability in capabilities_for(self.role)

    def has_perm(self, perm, obj=None) -> bool:
        """City administrators hold every Django permission (the admin site); others use Django's rules."""
        if self.is_active and self.role == Role.CITY_ADMIN:
            return True
        return super().has_perm(perm, obj)

    def has_module_perms(self, app_label) -> bool:
        if self.is_active and self.role == Role.CITY_ADMIN:
            return True
        return super().has_module_perms(app_label)

    def save(self, *args, **kwargs) -> None:
        # The Django admin's sign-in wants is_staff; it follows the role so the two never disagree.
        self.is_staff = self.is_superuser or self.role == Role.CITY_ADMIN
        if kwargs.get("update_fields") is not None and "role" in kwargs["update_fields"]:
            kwargs["update_fields"] = {*kwargs["update_fields"], "is_staff"}
        super().save(*args, **kwargs)

    def visible_agency_ids(self) -> frozenset[int] | None:
        """Agency ids this user may reach: their memberships and every agency below them.

        Returns ``None`` for city-wide users, meaning "all agencies". Cached on the instance for the
        life of a request.
        """
        if self.is_city_wide:
            return None
        cached = getattr(self, "_visible_agency_ids", None)
        if cached is not None:
            return cached
        agency_model = apps.get_model("agencies", "Agency")
        direct = set(self.memberships.values_list("agency_id", flat=True))
        parents = dict(agency_model.objects.values_list("id", "parent_id"))
        visible = set(direct)
        for agency_id, _parent in parents.items():
            cursor, seen = agency_id, set()
            while cursor is not None and cursor not in seen:
                if cursor in direct:
                    visible.add(agency_id)
                    break
                seen.add(cursor)
                cursor = parents.get(cursor)
        result = frozenset(visible)
        self._visible_agency_ids = result
        return result


class ChangeAction(models.TextChoices):
    """What a change-log row records."""

    CREATE = "create", _("Created")
    UPDATE = "update", _("Updated")
    DELETE = "delete", _("Deleted")
    LOGIN = "login", _("Signed in")
    LOGOUT = "logout", _("Signed out")
    LOGIN_FAILED = "login_failed", _("Sign-in failed")
    LOCKED_OUT = "locked_out", _("Locked out")
    ACTION = "action", _("Action")


class ChangeLogQuerySet(models.QuerySet):
    """Change-log rows, scoped like everything else."""

    def for_agency(self, user) -> ChangeLogQuerySet:
        """Rows about agencies ``user`` may reach; rows with no agency only for city-wide users."""
        ids = user.visible_agency_ids()
        if ids is None:
            return self
        return self.filter(agency_id__in=ids)


class ChangeLog(models.Model):
    """One append-only row per change made through a service, and per sign-in event.

    Rows are never updated or deleted: ``save`` refuses an existing row and ``delete`` refuses always.
    ``before``/``after`` hold the changed fields only, with secrets left out.
    """

    at = models.DateTimeField(_("time"), default=timezone.now, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("actor"), null=True, blank=True,
        on_delete=models.SET_NULL, related_name="+",
    )
    actor_name = models.CharField(_("actor name"), max_length=150, blank=True)
    action = models.CharField(_("action"), max_length=20, choices=ChangeAction.choices, db_index=True)
    object_type = models.CharField(_("object type"), max_length=100, blank=True, db_index=True)
    object_id = models.CharField(_("object id"), max_length=64, blank=True, db_index=True)
    object_repr = models.CharField(_("object"), max_length=200, blank=True)
    agency = models.ForeignKey(
        "agencies.Agency", verbose_name=_("agency"), null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+",
    )
    before = models.JSONField(_("before"), null=True, blank=True)
    after = models.JSONField(_("after"), null=True, blank=True)
    note = models.CharField(_("note"), max_length=300, blank=True)
    ip_address = models.GenericIPAddressField(_("IP address"), null=True, blank=True)

    objects = ChangeLogQuerySet.as_manager()

    class Meta:
        verbose_name = _("change-log entry")
        verbose_name_plural = _("change log")
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["object_type", "object_id"])]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.actor_name} {self.action} {self.object_repr}"

    def save(self, *args, **kwargs) -> None:
        if self.pk is not None:
            raise PermissionError("change-log entries are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise PermissionError("change-log entries are never deleted")


TOKEN_PREFIX_LENGTH = 8


def hash_token(key: str) -> str:
    """SHA-256 of an API token; only the hash is stored."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


class ApiTokenQuerySet(models.QuerySet):
    def active(self) -> ApiTokenQuerySet:
        now = timezone.now()
        return self.filter(revoked_at__isnull=True).filter(models.Q(expires_at__isnull=True) | models.Q(expires_at__gt=now))


class ApiToken(models.Model):
    """An API token for scripts and systems. The key is shown once; only its hash is kept."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens",
                             verbose_name=_("user"))
    name = models.CharField(_("name"), max_length=100)
    prefix = models.CharField(_("prefix"), max_length=TOKEN_PREFIX_LENGTH, db_index=True)
    key_hash = models.CharField(_("key hash"), max_length=64, unique=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    expires_at = models.DateTimeField(_("expires"), null=True, blank=True)
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True)

    objects = ApiTokenQuerySet.as_manager()

    class Meta:
        verbose_name = _("API token")
        verbose_name_plural = _("API tokens")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @staticmethod
    def new_key() -> str:
        """A fresh random token key."""
        return secrets.token_urlsafe(32)
