"""Serializers of the points operator/agency API.

Read serializers describe rows; write serializers describe what a request may send (the services
validate again and own every rule). A member's national ID is write-only and never returned.
"""

from __future__ import annotations

from rest_framework import serializers

from citygov.agencies.models import Agency
from citygov.points.models import Campaign, Lot, Member, Merchant, Purchase, Terminal, Transfer

# Far above any real programme (NT$1 trillion), far below the database's 64-bit limit.
MAX_POINTS = 10**12

# --- purchases ----------------------------------------------------------------------------------


class PurchaseSerializer(serializers.ModelSerializer):
    """A purchase order of points; ``status`` is ``unfunded`` until the trust deposit is confirmed."""

    agency_code = serializers.CharField(source="agency.code", read_only=True)

    class Meta:
        model = Purchase
        fields = ["id", "agency", "agency_code", "reference", "points", "status", "bank_reference", "created_at",
                  "funded_at"]
        read_only_fields = fields


class PurchaseCreateSerializer(serializers.Serializer):
    """A new purchase: the agency (id), the procurement reference and the points bought."""

    agency = serializers.PrimaryKeyRelatedField(queryset=Agency.objects.all())
    reference = serializers.CharField(max_length=60)
    points = serializers.IntegerField(min_value=1, max_value=MAX_POINTS)


class ConfirmDepositSerializer(serializers.Serializer):
    """The bank reference of the trust deposit that funds the purchase."""

    bank_reference = serializers.CharField(max_length=60)


# --- campaigns ----------------------------------------------------------------------------------


class CampaignSerializer(serializers.ModelSerializer):
    """A campaign with its figures: ``issued`` points granted, ``lot_count`` grants and ``unissued``
    budget still reserved (0 while a draft, and once closed)."""

    agency_code = serializers.CharField(source="agency.code", read_only=True)
    issued = serializers.IntegerField(read_only=True)
    lot_count = serializers.IntegerField(read_only=True)
    unissued = serializers.IntegerField(read_only=True)

    class Meta:
        model = Campaign
        fields = ["id", "agency", "agency_code", "name", "budget", "grant_points", "per_member_limit", "claim_start",
                  "claim_end", "lot_validity_days", "status", "created_at", "approved_at", "closed_at", "issued",
                  "lot_count", "unissued"]
        read_only_fields = fields


class CampaignCreateSerializer(serializers.Serializer):
    """A new draft campaign. ``claim_end`` is exclusive; ``per_member_limit`` is in points."""

    agency = serializers.PrimaryKeyRelatedField(queryset=Agency.objects.all())
    name = serializers.CharField(max_length=200)
    budget = serializers.IntegerField(min_value=1, max_value=MAX_POINTS)
    grant_points = serializers.IntegerField(min_value=1, max_value=MAX_POINTS)
    per_member_limit = serializers.IntegerField(min_value=1, max_value=MAX_POINTS)
    claim_start = serializers.DateTimeField()
    claim_end = serializers.DateTimeField()
    lot_validity_days = serializers.IntegerField(min_value=1, max_value=3660, default=365)


class GrantRequestSerializer(serializers.Serializer):
    """One grant: the member's card number."""

    card_number = serializers.CharField(max_length=32)


class CsvUploadSerializer(serializers.Serializer):
    """A CSV file upload (UTF-8 or Big5). For bulk grants: one card number per line, or a header with a
    ``card_number`` column. For merchant imports: see the merchant import columns."""

    file = serializers.FileField()


class RefusedLineSerializer(serializers.Serializer):
    """A card that got no lot: its physical line in the file, the card and the reason."""

    line = serializers.IntegerField()
    card_number = serializers.CharField()
    reason = serializers.CharField()


class KeyedGrantSerializer(serializers.Serializer):
    """One grant of a keyed batch: its idempotency key and the member's card number."""

    key = serializers.CharField(min_length=1, max_length=120)
    card_number = serializers.CharField(max_length=32)


MAX_KEYED_GRANTS = 1000


class KeyedGrantBatchSerializer(serializers.Serializer):
    """Up to 1,000 grants, each with its own idempotency key (R5)."""

    grants = KeyedGrantSerializer(many=True, allow_empty=False, max_length=MAX_KEYED_GRANTS)


class KeyedGrantResultSerializer(serializers.Serializer):
    """What happened to one grant of the batch: its answer (as stored with its key) and whether it is
    a replay of an earlier answer for the same key."""

    key = serializers.CharField()
    card_number = serializers.CharField()
    status = serializers.IntegerField(help_text="201 granted; 4xx refused (the body says why); 409 key conflict")
    replayed = serializers.BooleanField()
    body = serializers.DictField(help_text="The lot (201) or a problem body")


class KeyedGrantBatchReportSerializer(serializers.Serializer):
    """Per-grant answers in request order, and counts."""

    granted = serializers.IntegerField(help_text="New lots made by this request")
    replayed = serializers.IntegerField(help_text="Answers returned from an earlier use of the same key")
    refused = serializers.IntegerField()
    results = KeyedGrantResultSerializer(many=True)


class BulkGrantReportSerializer(serializers.Serializer):
    """What a bulk grant did: cards read (``lines``), lots granted, points granted, refused lines."""

    lines = serializers.IntegerField()
    granted = serializers.IntegerField()
    points = serializers.IntegerField()
    refused = RefusedLineSerializer(many=True)


# --- lots and transfers -------------------------------------------------------------------------


class LotSerializer(serializers.ModelSerializer):
    """A lot (one grant to one member) with the points it still holds (``remaining``)."""

    card_number = serializers.CharField(source="member.card_number", read_only=True)
    campaign_name = serializers.CharField(source="campaign.name", read_only=True)
    remaining = serializers.IntegerField(source="account.balance", read_only=True)

    class Meta:
        model = Lot
        fields = ["id", "member", "card_number", "campaign", "campaign_name", "agency", "points", "remaining",
                  "created_at", "expires_at", "reversed_at"]
        read_only_fields = fields


class ReverseRequestSerializer(serializers.Serializer):
    """Why the grant is reversed (kept in the change log and on any shortfall exception)."""

    reason = serializers.CharField(max_length=200)


class ReverseResultSerializer(serializers.Serializer):
    """A reversed grant: the lot, the points clawed back and any shortfall (recorded as an exception)."""

    lot = LotSerializer()
    clawed_back = serializers.IntegerField()
    shortfall = serializers.IntegerField()
    exception_id = serializers.IntegerField(allow_null=True)


class TransferSerializer(serializers.ModelSerializer):
    """One ledger transfer: ``amount`` points from the ``debit`` account to the ``credit`` account."""

    debit_kind = serializers.CharField(source="debit.kind", read_only=True)
    credit_kind = serializers.CharField(source="credit.kind", read_only=True)

    class Meta:
        model = Transfer
        fields = ["id", "kind", "amount", "debit", "debit_kind", "credit", "credit_kind", "agency", "created_at",
                  "terminal_time", "reverses", "purchase", "campaign", "lot", "hold", "redemption", "refund",
                  "merchant"]
        read_only_fields = fields


# --- members ------------------------------------------------------------------------------------


class MemberSerializer(serializers.ModelSerializer):
    """A member; whether a national ID is on file, never the ID or its hash."""

    has_national_id = serializers.SerializerMethodField()

    class Meta:
        model = Member
        fields = ["id", "card_number", "name", "phone", "email", "consent", "consent_at", "has_national_id",
                  "created_at"]
        read_only_fields = fields

    def get_has_national_id(self, member: Member) -> bool:
        return bool(member.national_id_hash)


class MemberCreateSerializer(serializers.Serializer):
    """A new member. ``national_id`` is optional and write-only: only its keyed hash is kept."""

    card_number = serializers.CharField(max_length=32)
    national_id = serializers.CharField(max_length=20, required=False, allow_blank=True, default="",
                                        write_only=True)
    name = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
    phone = serializers.CharField(max_length=20, required=False, allow_blank=True, default="")
    email = serializers.CharField(max_length=254, required=False, allow_blank=True, default="")
    consent = serializers.BooleanField(required=False, default=False)


class WalletLotSerializer(serializers.Serializer):
    """A lot in a wallet: what it held, what is left, when it expires and whether it is spendable now."""

    lot_id = serializers.IntegerField()
    campaign = serializers.CharField()
    points = serializers.IntegerField()
    remaining = serializers.IntegerField()
    expires_at = serializers.DateTimeField()
    spendable = serializers.BooleanField()


class WalletSerializer(serializers.Serializer):
    """A member's wallet: spendable and held points and the lots, earliest expiry first."""

    card_number = serializers.CharField()
    spendable = serializers.IntegerField()
    held = serializers.IntegerField()
    lots = WalletLotSerializer(many=True)


# --- merchants ----------------------------------------------------------------------------------


class MerchantSerializer(serializers.ModelSerializer):
    """A merchant; the bank account is shown masked (its last four digits)."""

    district_name = serializers.CharField(source="district.name_zh", read_only=True, default=None)
    bank_account_masked = serializers.SerializerMethodField()
    can_redeem = serializers.BooleanField(read_only=True)

    class Meta:
        model = Merchant
        fields = ["id", "tax_id", "name", "category", "address", "district", "district_name", "lon", "lat",
                  "bank_code", "bank_account_masked", "contract_start", "contract_end", "status", "points_enabled",
                  "can_redeem", "created_at"]
        read_only_fields = fields

    def get_bank_account_masked(self, merchant: Merchant) -> str:
        account = merchant.bank_account or ""
        return ("*" * max(len(account) - 4, 0)) + account[-4:] if account else ""


class MerchantCreateSerializer(serializers.Serializer):
    """A new merchant (it starts as ``applied``); the service validates the 統一編號 and finds the district."""

    tax_id = serializers.CharField(max_length=8)
    name = serializers.CharField(max_length=200)
    category = serializers.CharField(max_length=60, required=False, allow_blank=True, default="")
    address = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")
    bank_code = serializers.CharField(max_length=7, required=False, allow_blank=True, default="")
    bank_account = serializers.CharField(max_length=20, required=False, allow_blank=True, default="")
    contract_start = serializers.DateField(required=False, allow_null=True, default=None)
    contract_end = serializers.DateField(required=False, allow_null=True, default=None)
    points_enabled = serializers.BooleanField(required=False, default=False)
    lon = serializers.FloatField(required=False, allow_null=True, default=None)
    lat = serializers.FloatField(required=False, allow_null=True, default=None)


class PointsEnabledSerializer(serializers.Serializer):
    """Switch points payment on or off."""

    enabled = serializers.BooleanField()


class TerminalRequestSerializer(serializers.Serializer):
    """A new terminal; without ``terminal_id`` one is generated."""

    terminal_id = serializers.CharField(max_length=40, required=False)


class TerminalSerializer(serializers.ModelSerializer):
    """A merchant's terminal (never its secret)."""

    class Meta:
        model = Terminal
        fields = ["id", "merchant", "terminal_id", "is_active", "created_at"]
        read_only_fields = fields


class TerminalCreatedSerializer(TerminalSerializer):
    """A new terminal with its signing secret, shown this once."""

    secret = serializers.CharField()

    class Meta(TerminalSerializer.Meta):
        fields = [*TerminalSerializer.Meta.fields, "secret"]
        read_only_fields = fields


class ImportProblemSerializer(serializers.Serializer):
    """A rejected row of a merchant import."""

    line = serializers.IntegerField()
    tax_id = serializers.CharField()
    message = serializers.CharField()


class MerchantImportReportSerializer(serializers.Serializer):
    """What a merchant CSV import did; the good rows are imported, each bad one is reported by line."""

    encoding = serializers.CharField()
    created = serializers.IntegerField()
    updated = serializers.IntegerField()
    unchanged = serializers.IntegerField()
    problems = ImportProblemSerializer(many=True)


# --- ledger health ------------------------------------------------------------------------------


class AgencyFiguresSerializer(serializers.Serializer):
    """One agency's identity: purchased = unfunded + funded_unreserved + campaign_unissued +
    member_available + held + merchant_unsettled + settled + expired + refund_pending + refunded."""

    agency_id = serializers.IntegerField()
    agency_code = serializers.CharField()
    purchased = serializers.IntegerField()
    unfunded = serializers.IntegerField()
    funded_unreserved = serializers.IntegerField()
    campaign_unissued = serializers.IntegerField()
    member_available = serializers.IntegerField()
    held = serializers.IntegerField()
    merchant_unsettled = serializers.IntegerField()
    settled = serializers.IntegerField()
    expired = serializers.IntegerField()
    refund_pending = serializers.IntegerField(help_text="Refunds to the agency instructed, awaiting the bank")
    refunded = serializers.IntegerField(help_text="Refunded to the agency (bank confirmed)")
    accounted = serializers.IntegerField()
    balanced = serializers.BooleanField()


class LedgerHealthSerializer(serializers.Serializer):
    """The ledger auditor's result. ``problems`` is listed to city-wide roles only; everyone gets the
    count. ``agencies`` holds the identity of each agency the caller may reach."""

    ok = serializers.BooleanField()
    problem_count = serializers.IntegerField()
    problems = serializers.ListField(child=serializers.CharField())
    accounts_checked = serializers.IntegerField()
    transfers_checked = serializers.IntegerField()
    agencies = AgencyFiguresSerializer(many=True)
