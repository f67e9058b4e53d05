"""The dataset catalogue: datasets (and map layers), their resources, import runs and freshness snapshots."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from citygov.core.scoping import AgencyScopedQuerySet


class FrequencyClass(models.TextChoices):
    PERIODIC = "periodic", _("Periodic")
    CONTINUOUS = "continuous", _("Continuous (real time)")
    IRREGULAR = "irregular", _("Irregular")
    NEVER = "never", _("Never updated")
    ENDED = "ended", _("Series ended")
    UNKNOWN = "unknown", _("Unknown")


class Source(models.TextChoices):
    CITY_PORTAL = "city_portal", _("City portal export")
    DATA_GOV_TW = "data_gov_tw", _("data.gov.tw bulk export")
    CKAN = "ckan", _("CKAN portal harvest")
    DCAT = "dcat", _("DCAT-AP (JSON-LD)")


class DatasetQuerySet(AgencyScopedQuerySet):
    """Datasets scope on their owning agency (a dataset whose agency is unmatched has none)."""


class ResourceQuerySet(AgencyScopedQuerySet):
    """Resources scope on their dataset's owning agency."""

    agency_path = "dataset__agency"


class Dataset(models.Model):
    """A catalogue entry: one published dataset (a map layer when ``spatial`` is set).

    The data-updated time (the data changed) and the metadata-updated time (any edit of the entry) are
    kept apart; the freshness check prefers the former. The declared frequency is stored as published
    and in normalised form (class, ISO 8601 interval, EU frequency code).
    """

    source = models.CharField(_("source"), max_length=20, choices=Source.choices)
    source_id = models.CharField(_("identifier in the source"), max_length=100)
    title = models.CharField(_("title"), max_length=300)
    description = models.TextField(_("description"), blank=True)
    agency = models.ForeignKey("agencies.Agency", verbose_name=_("owning agency"), null=True, blank=True,
                               on_delete=models.PROTECT, related_name="datasets")
    provider_agency = models.ForeignKey("agencies.Agency", verbose_name=_("providing agency"), null=True,
                                        blank=True, on_delete=models.PROTECT, related_name="provided_datasets")
    source_agency_code = models.CharField(_("agency code in the source"), max_length=20, blank=True)
    source_agency_name = models.CharField(_("agency name in the source"), max_length=100, blank=True)
    category = models.CharField(_("service category"), max_length=50, blank=True)
    theme = models.CharField(_("business theme"), max_length=50, blank=True)
    scenarios = models.JSONField(_("usage scenarios"), default=list, blank=True)
    keywords = models.JSONField(_("keywords"), default=list, blank=True)
    licence = models.CharField(_("licence"), max_length=100, blank=True)
    frequency_text = models.CharField(_("declared frequency"), max_length=200, blank=True)
    frequency_class = models.CharField(_("frequency class"), max_length=12, choices=FrequencyClass.choices,
                                       default=FrequencyClass.UNKNOWN)
    frequency_interval = models.CharField(_("frequency interval (ISO 8601)"), max_length=20, blank=True)
    frequency_eu_code = models.CharField(_("EU frequency code"), max_length=20, blank=True)
    frequency_recognised = models.BooleanField(_("frequency understood"), default=True)
    data_updated_at = models.DateTimeField(_("data updated"), null=True, blank=True)
    metadata_updated_at = models.DateTimeField(_("metadata updated"), null=True, blank=True)
    published_at = models.DateTimeField(_("created in the source"), null=True, blank=True)
    spatial = models.BooleanField(_("map layer"), default=False)
    layer_type = models.CharField(_("layer type"), max_length=20, blank=True)
    contact_name = models.CharField(_("contact"), max_length=100, blank=True)
    contact_phone = models.CharField(_("contact phone"), max_length=60, blank=True)
    contact_email = models.CharField(_("contact e-mail"), max_length=200, blank=True)
    landing_url = models.URLField(_("landing page"), max_length=500, blank=True)
    schema = models.JSONField(_("field schema"), default=list, blank=True)
    content_hash = models.CharField(_("content hash"), max_length=64)
    search_text = models.TextField(_("search text"), blank=True, editable=False)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    objects = DatasetQuerySet.as_manager()

    class Meta:
        verbose_name = _("dataset")
        verbose_name_plural = _("datasets")
        ordering = ["source", "title", "id"]
        constraints = [models.UniqueConstraint(fields=["source", "source_id"], name="datagov_dataset_unique_source_id")]
        indexes = [models.Index(fields=["agency", "frequency_class"], name="datagov_ds_agency_freq")]

    def __str__(self) -> str:
        return self.title


class Resource(models.Model):
    """A distribution of a dataset: where it can be fetched, in which format and encoding."""

    dataset = models.ForeignKey(Dataset, verbose_name=_("dataset"), on_delete=models.CASCADE,
                                related_name="resources")
    position = models.PositiveIntegerField(_("position"), default=0)
    url = models.URLField(_("URL"), max_length=1000)
    format = models.CharField(_("format"), max_length=40, blank=True)
    encoding = models.CharField(_("encoding"), max_length=40, blank=True)
    size = models.CharField(_("size"), max_length=40, blank=True)

    objects = ResourceQuerySet.as_manager()

    class Meta:
        verbose_name = _("resource")
        verbose_name_plural = _("resources")
        ordering = ["dataset", "position"]

    def __str__(self) -> str:
        return f"{self.dataset_id}#{self.position} {self.format}"


class ImportRun(models.Model):
    """One import of a catalogue file: counts, rejected rows by line and agencies not matched."""

    source = models.CharField(_("source"), max_length=20, choices=Source.choices)
    file_name = models.CharField(_("file"), max_length=300)
    sha256 = models.CharField(_("SHA-256"), max_length=64)
    encoding = models.CharField(_("encoding"), max_length=20)
    rows = models.PositiveIntegerField(_("rows"), default=0)
    created = models.PositiveIntegerField(_("created"), default=0)
    updated = models.PositiveIntegerField(_("updated"), default=0)
    unchanged = models.PositiveIntegerField(_("unchanged"), default=0)
    rejected = models.PositiveIntegerField(_("rejected"), default=0)
    errors = models.JSONField(_("rejected rows"), default=list, blank=True)
    unmatched_agencies = models.JSONField(_("unmatched agencies"), default=list, blank=True)
    started_at = models.DateTimeField(_("started"))
    finished_at = models.DateTimeField(_("finished"))

    class Meta:
        verbose_name = _("catalogue import")
        verbose_name_plural = _("catalogue imports")
        ordering = ["-started_at", "-id"]

    def __str__(self) -> str:
        return f"{self.file_name} ({self.started_at:%Y-%m-%d %H:%M})"


class FreshnessSnapshot(models.Model):
    """The freshness counts of one agency (or of datasets with no matched agency) on one day: the trend."""

    day = models.DateField(_("day"))
    agency = models.ForeignKey("agencies.Agency", verbose_name=_("agency"), null=True, blank=True,
                               on_delete=models.CASCADE, related_name="freshness_snapshots")
    overdue = models.PositiveIntegerField(_("overdue"), default=0)
    on_time = models.PositiveIntegerField(_("on time"), default=0)
    stale = models.PositiveIntegerField(_("stale"), default=0)
    not_evaluated = models.PositiveIntegerField(_("not evaluated"), default=0)
    unreadable = models.PositiveIntegerField(_("unreadable"), default=0)

    objects = AgencyScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("freshness snapshot")
        verbose_name_plural = _("freshness snapshots")
        ordering = ["day", "agency"]
        constraints = [models.UniqueConstraint(fields=["day", "agency"], name="datagov_snapshot_unique_day_agency")]

    def __str__(self) -> str:
        return f"{self.day} {self.agency_id}"


class SharingStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    APPROVED = "approved", _("Approved")
    REJECTED = "rejected", _("Rejected")


class SharingRequestQuerySet(AgencyScopedQuerySet):
    """A request is visible to the owning agency (which decides) and to the requesting agency."""

    def for_agency(self, user) -> SharingRequestQuerySet:
        if user is None or not user.is_authenticated or not user.is_active:
            return self.none()
        ids = user.visible_agency_ids()
        if ids is None:
            return self
        return self.filter(models.Q(agency_id__in=ids) | models.Q(requesting_agency_id__in=ids))


class SharingRequest(models.Model):
    """A request by one agency for access to another agency's dataset, and its decision.

    Approved, it is a time-boxed grant: current from ``period_start`` to ``period_end`` inclusive (the
    exchange gateway asks ``queries.sharing_grant_is_current``). A renewal is a new request that names
    the grant it renews.
    """

    dataset = models.ForeignKey(Dataset, verbose_name=_("dataset"), on_delete=models.PROTECT,
                                related_name="sharing_requests")
    agency = models.ForeignKey("agencies.Agency", verbose_name=_("owning agency"), on_delete=models.PROTECT,
                               related_name="sharing_requests_received")
    requesting_agency = models.ForeignKey("agencies.Agency", verbose_name=_("requesting agency"),
                                          on_delete=models.PROTECT, related_name="sharing_requests_sent")
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("requested by"), null=True,
                                     on_delete=models.SET_NULL, related_name="+")
    purpose = models.TextField(_("purpose"))
    fields = models.JSONField(_("fields requested"), default=list, blank=True)
    legal_basis = models.CharField(_("legal basis"), max_length=300)
    period_start = models.DateField(_("from"))
    period_end = models.DateField(_("until"))
    status = models.CharField(_("status"), max_length=10, choices=SharingStatus.choices, default=SharingStatus.PENDING)
    renews = models.ForeignKey("self", verbose_name=_("renews"), null=True, blank=True, on_delete=models.PROTECT,
                               related_name="renewals")
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("decided by"), null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+")
    decided_at = models.DateTimeField(_("decided"), null=True, blank=True)
    reason = models.TextField(_("reason"), blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    objects = SharingRequestQuerySet.as_manager()

    class Meta:
        verbose_name = _("sharing request")
        verbose_name_plural = _("sharing requests")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["dataset", "requesting_agency", "status"], name="datagov_share_lookup")]

    def __str__(self) -> str:
        return f"{self.requesting_agency_id} → {self.dataset_id} ({self.status})"
