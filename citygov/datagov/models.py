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
    # Character-bigram tokens of search_text (engine.textindex), indexed by FTS5 on SQLite and by a GIN
    # text-search index on PostgreSQL (migration 0002): the catalogue search narrows on them first.
    search_tokens = models.TextField(_("search tokens"), blank=True, editable=False)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    objects = DatasetQuerySet.as_manager()

    class Meta:
        verbose_name = _("dataset")
        verbose_name_plural = _("datasets")
        ordering = ["source", "title", "id"]
        constraints = [models.UniqueConstraint(fields=["source", "source_id"], name="datagov_dataset_unique_source_id")]
        indexes = [models.Index(fields=["agency", "frequency_class"], name="datagov_ds_agency_freq"),
                   # the catalogue's order: a broad search walks it and stops after the first page
                   models.Index(fields=["title", "id"], name="datagov_ds_title")]

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


class Axis(models.TextChoices):
    THEME = "theme", _("Business theme")
    SCENARIO = "scenario", _("Usage scenario")


class VocabularyTerm(models.Model):
    """A term of a governed vocabulary (business theme or usage scenario) and the keywords its rule uses.

    The defaults (``engine.vocabulary``) are loaded by migration 0003; stewards edit them afterwards.
    A dataset stores the codes: ``Dataset.theme`` one theme, ``Dataset.scenarios`` a list of scenarios.
    """

    axis = models.CharField(_("axis"), max_length=10, choices=Axis.choices)
    code = models.CharField(_("code"), max_length=20)
    label_zh = models.CharField(_("name (Chinese)"), max_length=50)
    label_en = models.CharField(_("name (English)"), max_length=80)
    eu_code = models.CharField(_("EU data theme"), max_length=10, blank=True)
    keywords = models.JSONField(_("keywords"), default=list, blank=True)
    active = models.BooleanField(_("active"), default=True)
    position = models.PositiveIntegerField(_("position"), default=0)

    class Meta:
        verbose_name = _("vocabulary term")
        verbose_name_plural = _("vocabulary terms")
        ordering = ["axis", "position", "code"]
        constraints = [models.UniqueConstraint(fields=["axis", "code"], name="datagov_vocabulary_unique_code")]

    def __str__(self) -> str:
        return f"{self.code} {self.label_zh}"


class SuggestionStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    ACCEPTED = "accepted", _("Accepted")
    CORRECTED = "corrected", _("Corrected")
    REJECTED = "rejected", _("Rejected")


class ClassificationSuggestionQuerySet(AgencyScopedQuerySet):
    """Suggestions scope on their dataset's owning agency."""

    agency_path = "dataset__agency"


class ClassificationSuggestion(models.Model):
    """A proposed theme or scenario for a dataset, with its score and reason, and the steward's decision.

    Nothing is applied until a steward accepts (``code`` becomes the dataset's) or corrects it (``final_code``
    instead). Rejected codes are remembered and never proposed again for that dataset; accepted and
    corrected datasets become training data of the suggester's model.
    """

    dataset = models.ForeignKey(Dataset, verbose_name=_("dataset"), on_delete=models.CASCADE,
                                related_name="classification_suggestions")
    axis = models.CharField(_("axis"), max_length=10, choices=Axis.choices)
    code = models.CharField(_("suggested code"), max_length=20)
    score = models.FloatField(_("score"))
    reason = models.TextField(_("reason"), blank=True)
    reason_zh = models.TextField(_("reason (Chinese)"), blank=True)
    alternatives = models.JSONField(_("alternatives"), default=list, blank=True)
    status = models.CharField(_("status"), max_length=10, choices=SuggestionStatus.choices,
                              default=SuggestionStatus.PENDING)
    final_code = models.CharField(_("decided code"), max_length=20, blank=True)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("decided by"), null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+")
    decided_at = models.DateTimeField(_("decided"), null=True, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    objects = ClassificationSuggestionQuerySet.as_manager()

    class Meta:
        verbose_name = _("classification suggestion")
        verbose_name_plural = _("classification suggestions")
        ordering = ["-score", "id"]
        indexes = [models.Index(fields=["axis", "status"], name="datagov_suggestion_status")]

    def __str__(self) -> str:
        return f"{self.dataset_id} {self.axis}={self.code} ({self.status})"


class LinkCheckQuerySet(AgencyScopedQuerySet):
    """Link checks scope on their dataset's owning agency."""

    agency_path = "resource__dataset__agency"


class LinkCheck(models.Model):
    """One probe of a resource URL: what the server answered, and whether it showed new data."""

    resource = models.ForeignKey(Resource, verbose_name=_("resource"), on_delete=models.CASCADE,
                                 related_name="link_checks")
    checked_at = models.DateTimeField(_("checked"))
    ok = models.BooleanField(_("reachable"))
    status = models.PositiveIntegerField(_("HTTP status"), null=True, blank=True)
    method = models.CharField(_("method"), max_length=6, blank=True)
    final_url = models.URLField(_("final URL"), max_length=1000, blank=True)
    redirects = models.PositiveIntegerField(_("redirects"), default=0)
    content_type = models.CharField(_("content type"), max_length=100, blank=True)
    content_length = models.BigIntegerField(_("content length"), null=True, blank=True)
    etag = models.CharField(_("ETag"), max_length=200, blank=True)
    last_modified = models.DateTimeField(_("Last-Modified"), null=True, blank=True)
    error = models.CharField(_("error"), max_length=300, blank=True)
    elapsed_ms = models.PositiveIntegerField(_("time (ms)"), default=0)
    data_changed = models.BooleanField(_("new data seen"), default=False)

    objects = LinkCheckQuerySet.as_manager()

    class Meta:
        verbose_name = _("link check")
        verbose_name_plural = _("link checks")
        ordering = ["-checked_at", "-id"]
        indexes = [models.Index(fields=["resource", "checked_at"], name="datagov_linkcheck_latest")]

    def __str__(self) -> str:
        return f"{self.resource_id} {self.status} {self.checked_at:%Y-%m-%d %H:%M}"
