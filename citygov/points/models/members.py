"""Citizen-card holders (members) of the points programme."""

from __future__ import annotations

import hashlib
import hmac

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


def hash_national_id(national_id: str) -> str:
    """Keyed hash of a national ID: equal IDs match, the ID itself is never stored.

    The key is derived from the secret key, so a leaked database alone cannot be brute-forced over
    the ~10^9 possible IDs.
    """
    key = hashlib.sha256(("citygov.points.member-id:" + settings.SECRET_KEY).encode()).digest()
    return hmac.new(key, national_id.strip().upper().encode("ascii", "ignore"), hashlib.sha256).hexdigest()


class Member(models.Model):
    """A citizen-card holder who receives and spends points. Only a keyed hash of the national ID is kept."""

    card_number = models.CharField(_("card number"), max_length=32, unique=True)
    national_id_hash = models.CharField(_("national ID (keyed hash)"), max_length=64, db_index=True, blank=True)
    name = models.CharField(_("name"), max_length=100, blank=True)
    phone = models.CharField(_("mobile phone"), max_length=20, blank=True)
    email = models.EmailField(_("e-mail"), blank=True)
    consent = models.BooleanField(_("consents to notices"), default=False)
    consent_at = models.DateTimeField(_("consent given"), null=True, blank=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    class Meta:
        verbose_name = _("member")
        verbose_name_plural = _("members")
        ordering = ["card_number"]

    def __str__(self) -> str:
        return self.card_number
