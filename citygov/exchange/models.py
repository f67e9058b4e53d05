"""The exchange registry: members, subsystems, services, gateways, access rights, revoked certificates."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from citygov.core.scoping import AgencyScopedQuerySet

#: The X-Road instance of this registry (T-Road's value can be set), and the member classes allowed:
#: ``CITYGOV_EXCHANGE_INSTANCE`` / ``CITYGOV_EXCHANGE_MEMBER_CLASSES``, validated by ``citygov.config``.
INSTANCE = settings.EXCHANGE.instance
MEMBER_CLASSES = settings.EXCHANGE.member_classes


class MemberQuerySet(AgencyScopedQuerySet):
    """Members, scoped by their agency."""


class SubsystemQuerySet(AgencyScopedQuerySet):
    """Subsystems, scoped by their member's agency."""

    agency_path = "member__agency"


class ServiceQuerySet(AgencyScopedQuerySet):
    """Services, scoped by the providing member's agency."""

    agency_path = "subsystem__member__agency"


class Member(models.Model):
    """An organisation taking part in the exchange (an agency): ``INSTANCE/CLASS/CODE``."""

    agency = models.ForeignKey("agencies.Agency", verbose_name=_("agency"), on_delete=models.PROTECT,
                               related_name="+")
    member_class = models.CharField(_("member class"), max_length=16, default="GOV")
    code = models.CharField(_("member code"), max_length=64)
    name = models.CharField(_("name"), max_length=200)
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    objects = MemberQuerySet.as_manager()

    class Meta:
        verbose_name = _("exchange member")
        verbose_name_plural = _("exchange members")
        ordering = ["member_class", "code"]
        constraints = [models.UniqueConstraint(fields=["member_class", "code"], name="exchange_member_unique")]

    def __str__(self) -> str:
        return self.identifier

    @property
    def identifier(self) -> str:
        """``INSTANCE/CLASS/CODE``."""
        return f"{INSTANCE}/{self.member_class}/{self.code}"


class Subsystem(models.Model):
    """An information system of a member: ``INSTANCE/CLASS/CODE/SUBSYSTEM``."""

    member = models.ForeignKey(Member, verbose_name=_("member"), on_delete=models.PROTECT, related_name="subsystems")
    code = models.CharField(_("subsystem code"), max_length=64)
    name = models.CharField(_("name"), max_length=200, blank=True)

    objects = SubsystemQuerySet.as_manager()

    class Meta:
        verbose_name = _("subsystem")
        verbose_name_plural = _("subsystems")
        ordering = ["member__code", "code"]
        constraints = [models.UniqueConstraint(fields=["member", "code"], name="exchange_subsystem_unique")]

    def __str__(self) -> str:
        return self.identifier

    @property
    def identifier(self) -> str:
        """``INSTANCE/CLASS/CODE/SUBSYSTEM``."""
        return f"{self.member.identifier}/{self.code}"


class Service(models.Model):
    """A service a subsystem provides, described by an OpenAPI 3 document."""

    subsystem = models.ForeignKey(Subsystem, verbose_name=_("subsystem"), on_delete=models.PROTECT,
                                  related_name="services")
    code = models.CharField(_("service code"), max_length=64)
    title = models.CharField(_("title"), max_length=200)
    openapi = models.JSONField(_("OpenAPI description"), default=dict)
    store_payloads = models.BooleanField(_("store payloads (encrypted)"), default=False)

    objects = ServiceQuerySet.as_manager()

    class Meta:
        verbose_name = _("service")
        verbose_name_plural = _("services")
        ordering = ["subsystem__member__code", "subsystem__code", "code"]
        constraints = [models.UniqueConstraint(fields=["subsystem", "code"], name="exchange_service_unique")]

    def __str__(self) -> str:
        return self.identifier

    @property
    def identifier(self) -> str:
        """``INSTANCE/CLASS/CODE/SUBSYSTEM/SERVICE``."""
        return f"{self.subsystem.identifier}/{self.code}"


class Gateway(models.Model):
    """A member's gateway: the address of its provider side and its TLS certificate."""

    member = models.ForeignKey(Member, verbose_name=_("member"), on_delete=models.PROTECT, related_name="gateways")
    address = models.CharField(_("address (host:port)"), max_length=200)
    cert_pem = models.TextField(_("TLS certificate (PEM)"))
    cert_sha256 = models.CharField(_("certificate SHA-256"), max_length=64, unique=True)
    serial = models.CharField(_("certificate serial"), max_length=64)
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    class Meta:
        verbose_name = _("gateway")
        verbose_name_plural = _("gateways")
        ordering = ["member__code", "address"]

    def __str__(self) -> str:
        return f"{self.member} @ {self.address}"


class AccessRight(models.Model):
    """A client subsystem may call a service, until ``not_after`` when a sharing grant limits it, and
    only while the data-governance sharing grant on ``grant_dataset`` (if any) is current."""

    service = models.ForeignKey(Service, verbose_name=_("service"), on_delete=models.CASCADE,
                                related_name="access_rights")
    client = models.ForeignKey(Subsystem, verbose_name=_("client subsystem"), on_delete=models.CASCADE,
                               related_name="access_rights")
    not_after = models.DateTimeField(_("valid until"), null=True, blank=True)
    grant_ref = models.CharField(_("sharing grant reference"), max_length=100, blank=True)
    #: The data-governance dataset whose sharing grant to the client's agency this right depends on; the
    #: grant is looked up live (``CITYGOV_EXCHANGE_GRANT_LOOKUP``). An id, not a foreign key: domain apps
    #: do not depend on each other.
    grant_dataset = models.PositiveBigIntegerField(_("data-governance dataset id"), null=True, blank=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    class Meta:
        verbose_name = _("access right")
        verbose_name_plural = _("access rights")
        ordering = ["service_id", "client_id"]
        constraints = [models.UniqueConstraint(fields=["service", "client"], name="exchange_access_unique")]

    def __str__(self) -> str:
        return f"{self.client} → {self.service}"


class RevokedCertificate(models.Model):
    """A revoked gateway certificate (by serial); published in every configuration."""

    serial = models.CharField(_("certificate serial"), max_length=64, unique=True)
    reason = models.CharField(_("reason"), max_length=200, blank=True)
    revoked_at = models.DateTimeField(_("revoked"), default=timezone.now)

    class Meta:
        verbose_name = _("revoked certificate")
        verbose_name_plural = _("revoked certificates")
        ordering = ["-revoked_at"]

    def __str__(self) -> str:
        return self.serial


class TrustedCA(models.Model):
    """A CA certificate besides the city CA whose gateway certificates the exchange accepts (e.g. the
    government CA's root and intermediates, imported from a chain file); published in every configuration."""

    name = models.CharField(_("name"), max_length=200)
    subject = models.CharField(_("subject"), max_length=500)
    cert_pem = models.TextField(_("CA certificate (PEM)"))
    cert_sha256 = models.CharField(_("certificate SHA-256"), max_length=64, unique=True)
    not_after = models.DateTimeField(_("valid until"))
    added_at = models.DateTimeField(_("added"), default=timezone.now)

    class Meta:
        verbose_name = _("trusted CA")
        verbose_name_plural = _("trusted CAs")
        ordering = ["added_at", "id"]

    def __str__(self) -> str:
        return self.subject


class TransferRecordQuerySet(AgencyScopedQuerySet):
    """Transfer records, scoped by the agency of the gateway's member that logged them."""

    agency_path = "member__agency"


class TransferRecord(models.Model):
    """One exchange as a gateway's message log recorded it (imported after the chain was verified).

    No payload: identifiers, hashes, status and duration only.
    """

    member = models.ForeignKey(Member, verbose_name=_("gateway member"), on_delete=models.PROTECT,
                               related_name="transfer_records")
    side = models.CharField(_("side"), max_length=10)
    seq = models.PositiveBigIntegerField(_("log sequence"))
    time = models.DateTimeField(_("time"), db_index=True)
    x_road_id = models.CharField(_("X-Road-Id"), max_length=100, db_index=True)
    client = models.CharField(_("client"), max_length=300)
    service = models.CharField(_("service"), max_length=400, db_index=True)
    request_hash = models.CharField(_("request hash"), max_length=100, blank=True)
    response_hash = models.CharField(_("response hash"), max_length=100, blank=True)
    status = models.PositiveSmallIntegerField(_("HTTP status"))
    error = models.CharField(_("X-Road-Error"), max_length=100, blank=True)
    duration_ms = models.PositiveIntegerField(_("duration (ms)"), default=0)
    record_hash = models.CharField(_("record hash"), max_length=64)

    objects = TransferRecordQuerySet.as_manager()

    class Meta:
        verbose_name = _("transfer record")
        verbose_name_plural = _("transfer records")
        ordering = ["-time", "-seq"]
        # A record's hash covers its chain position and content: the natural key across log files.
        constraints = [models.UniqueConstraint(fields=["member", "record_hash"], name="exchange_transfer_unique")]

    def __str__(self) -> str:
        return self.x_road_id

    @property
    def ok(self) -> bool:
        """Whether the exchange succeeded (no X-Road error, HTTP status below 400)."""
        return not self.error and self.status < 400
