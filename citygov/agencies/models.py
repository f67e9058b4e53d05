"""Agencies, districts and memberships."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from citygov.core.scoping import AgencyScopedQuerySet


class District(models.Model):
    """One of Taoyuan's 13 districts (區), with its official town code and boundary."""

    code = models.CharField(_("town code"), max_length=8, unique=True,
                            validators=[RegexValidator(r"^\d{8}$", _("A town code has 8 digits."))])
    town_id = models.CharField(_("town id"), max_length=4, blank=True)
    name_zh = models.CharField(_("name (Chinese)"), max_length=20, unique=True)
    name_en = models.CharField(_("name (English)"), max_length=60)
    boundary = models.JSONField(_("boundary (GeoJSON geometry)"))
    centroid_lon = models.FloatField(_("centroid longitude"))
    centroid_lat = models.FloatField(_("centroid latitude"))
    area_km2 = models.FloatField(_("area (km²)"), default=0)

    class Meta:
        verbose_name = _("district")
        verbose_name_plural = _("districts")
        ordering = ["code"]

    def __str__(self) -> str:
        return self.name_zh


class AgencyKind(models.TextChoices):
    GOVERNMENT = "government", _("City government")
    DEPARTMENT = "department", _("First-level department")
    OFFICE = "office", _("Second-level office")
    DISTRICT_OFFICE = "district_office", _("District office")
    HOUSEHOLD_REGISTRATION_OFFICE = "household_registration_office", _("Household registration office")
    HEALTH_CENTER = "health_center", _("Health centre")
    LAND_OFFICE = "land_office", _("Land office")
    SCHOOL = "school", _("School")
    ADMINISTRATIVE_CORPORATION = "administrative_corporation", _("Administrative corporation")


class SecurityLevel(models.TextChoices):
    """資通安全責任等級 under the Cyber Security Management Act."""

    A = "A", "A"
    B = "B", "B"
    C = "C", "C"
    D = "D", "D"
    E = "E", "E"


class AgencyQuerySet(AgencyScopedQuerySet):
    """Agencies scope on their own id: a user reaches the agencies they belong to and those below."""

    def for_agency(self, user) -> AgencyQuerySet:
        if user is None or not user.is_authenticated or not user.is_active:
            return self.none()
        ids = user.visible_agency_ids()
        if ids is None:
            return self
        return self.filter(id__in=ids)


class Agency(models.Model):
    """A city body: the government, a department, an office, a district office. The tenancy unit."""

    code = models.SlugField(_("code"), max_length=60, unique=True)
    name_zh = models.CharField(_("name (Chinese)"), max_length=100)
    name_en = models.CharField(_("name (English)"), max_length=200, blank=True)
    parent = models.ForeignKey("self", verbose_name=_("parent agency"), null=True, blank=True,
                               on_delete=models.PROTECT, related_name="children")
    kind = models.CharField(_("kind"), max_length=40, choices=AgencyKind.choices)
    district = models.ForeignKey(District, verbose_name=_("district"), null=True, blank=True,
                                 on_delete=models.PROTECT, related_name="agencies")
    security_level = models.CharField(_("cyber-security responsibility level"), max_length=1,
                                      choices=SecurityLevel.choices, blank=True)
    note = models.TextField(_("note"), blank=True)
    is_active = models.BooleanField(_("active"), default=True)

    objects = AgencyQuerySet.as_manager()

    class Meta:
        verbose_name = _("agency")
        verbose_name_plural = _("agencies")
        ordering = ["code"]

    def __str__(self) -> str:
        return self.name_zh

    @property
    def agency_id(self) -> int:
        """An agency belongs to itself, for code that reads ``obj.agency_id`` generically."""
        return self.pk


class Membership(models.Model):
    """A user's membership of an agency: it decides which agencies' rows the user reaches."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("user"), on_delete=models.CASCADE,
                             related_name="memberships")
    agency = models.ForeignKey(Agency, verbose_name=_("agency"), on_delete=models.CASCADE,
                               related_name="memberships")
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    objects = AgencyScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("membership")
        verbose_name_plural = _("memberships")
        constraints = [models.UniqueConstraint(fields=["user", "agency"], name="membership_unique_user_agency")]

    def __str__(self) -> str:
        return f"{self.user} @ {self.agency}"
