"""Points analytics: monthly and daily flows in Asia/Taipei, the year-over-year alert, breakage by
campaign and agency, merchants per district, agency scoping, the API, pages, exports and the public map."""

from __future__ import annotations

import datetime as dt
import io
import json

import pytest
from django.core.cache import cache
from django.urls import reverse
from django.utils import translation
from openpyxl import load_workbook
from rest_framework.test import APIClient

from citygov import config
from citygov.agencies.models import District
from citygov.core.roles import Role
from citygov.points import analytics
from citygov.points.models import Member, Merchant, MerchantStatus, Terminal
from citygov.points.services import ledger

pytestmark = pytest.mark.django_db

TZ = analytics.TZ
NOW = dt.datetime(2026, 3, 20, 12, 0, tzinfo=TZ)


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    # Users are created per test; the production hasher's 1M iterations would dominate the run time.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def at(year, month, day, hour=10, minute=0) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, tzinfo=TZ)


def _campaign(admin, agency, name, grant_points, opens):
    campaign = ledger.do_create_campaign(admin, ledger.CampaignInput(
        agency_id=agency.pk, name=name, budget=40_000, grant_points=grant_points, per_member_limit=20_000,
        claim_start=opens, claim_end=at(2026, 12, 31), lot_validity_days=30))
    return ledger.do_approve_campaign(admin, campaign.pk, now=opens).pk


DISTRICTS = (("68000010", "桃園區", "Taoyuan District", 121.30, 24.99), ("68000020", "中壢區", "Zhongli District", 121.22, 24.95),
             ("68000030", "八德區", "Bade District", 121.28, 24.94), ("68000130", "復興區", "Fuxing District", 121.35, 24.74))


def _square(lon, lat):
    return {"type": "Polygon", "coordinates": [[[lon - .02, lat - .02], [lon + .02, lat - .02], [lon + .02, lat + .02],
                                                [lon - .02, lat + .02], [lon - .02, lat - .02]]]}


@pytest.fixture
def history(db, make_agency, make_user):
    """Agency A: March 2025 busy (4,000 issued, 2 redemptions = 1,000, 3,000 expired in April, one 50-point
    redemption just after midnight Taipei on 1 April); March 2026 quiet (1,000 issued, 1 redemption of 100).
    Agency B: 1,000 issued in March 2025. Merchants in three districts plus one without."""
    agency_a, agency_b = make_agency("agency-a", "甲局"), make_agency("agency-b", "乙局")
    operator = make_user("operator", Role.POINTS_OPERATOR)
    admin_a = make_user("admin-a", Role.AGENCY_ADMIN, [agency_a])
    admin_b = make_user("admin-b", Role.AGENCY_ADMIN, [agency_b])
    for admin, agency, points in ((admin_a, agency_a, 40_000), (admin_b, agency_b, 40_000)):
        purchase = ledger.do_create_purchase(admin, agency_id=agency.pk, reference=f"PO-{agency.code}",
                                             points=points, now=at(2025, 1, 2))
        ledger.do_confirm_deposit(operator, purchase.pk, bank_reference=f"TR-{agency.code}", now=at(2025, 1, 3))
    districts = {name: District.objects.create(code=code, name_zh=name, name_en=en, boundary=_square(lon, lat),
                                               centroid_lon=lon, centroid_lat=lat)
                 for code, name, en, lon, lat in DISTRICTS}
    shop = Merchant.objects.create(tax_id="04595257", name="桃園好店", status=MerchantStatus.ACTIVE,
                                   points_enabled=True, district=districts["桃園區"], lon=121.3, lat=24.99,
                                   bank_code="004", bank_account="123456789012", address="桃園市桃園區中正路1號")
    Merchant.objects.create(tax_id="04595252", name="中壢未啟用店", status=MerchantStatus.ACTIVE,
                            points_enabled=False, district=districts["中壢區"], lon=121.22, lat=24.95)
    Merchant.objects.create(tax_id="04595261", name="八德停權店", status=MerchantStatus.SUSPENDED,
                            points_enabled=True, district=districts["八德區"], lon=121.28, lat=24.94)
    Merchant.objects.create(tax_id="04595270", name="無行政區申請店", status=MerchantStatus.APPLIED,
                            points_enabled=False)
    terminal = Terminal.objects.create(merchant=shop, terminal_id="T-A", secret="s" * 32)
    members = [Member.objects.create(card_number=f"CARD{n:04d}") for n in range(1, 7)]
    cards = [m.card_number for m in members]
    spring_a = _campaign(admin_a, agency_a, "甲春節", 1_000, at(2025, 3, 1))
    spring_b = _campaign(admin_b, agency_b, "乙春節", 500, at(2025, 3, 1))
    ledger.do_bulk_grant(admin_a, spring_a, cards[:4], now=at(2025, 3, 10))
    ledger.do_bulk_grant(admin_b, spring_b, cards[4:], now=at(2025, 3, 5))

    def redeem(card, amount, when, ref):
        ledger.do_redeem(ledger.terminal_context(terminal, reference=ref), card, amount, now=when)

    redeem(cards[0], 600, at(2025, 3, 15), "R1")
    redeem(cards[1], 400, at(2025, 3, 15, 11), "R2")
    # 16:30 UTC on 31 March is 00:30 on 1 April in Taipei: an April transaction.
    redeem(cards[2], 50, dt.datetime(2025, 3, 31, 16, 30, tzinfo=dt.UTC), "R3")
    ledger.do_expire_lots(now=at(2025, 4, 20))
    ledger.do_bulk_grant(admin_a, spring_a, cards[:1], now=at(2026, 3, 10))
    redeem(cards[0], 100, at(2026, 3, 12), "R4")
    return {"operator": operator, "admin_a": admin_a, "admin_b": admin_b, "agency_a": agency_a,
            "agency_b": agency_b}


def test_monthly_flows_group_by_taipei_month(history):
    flows = {f.period: f for f in analytics.year_flows(history["operator"], 2025)}

    assert list(flows) == [f"2025-{m:02d}" for m in range(1, 13)]
    assert flows["2025-03"] == analytics.Flow("2025-03", issued=5_000, spent=1_000, expired=0, transactions=2)
    assert flows["2025-04"] == analytics.Flow("2025-04", issued=0, spent=50, expired=3_950, transactions=1)
    assert flows["2025-02"] == analytics.Flow("2025-02")
    assert analytics.flow_total(list(flows.values())) == analytics.Flow("", 5_000, 1_050, 3_950, 3)


def test_daily_flows_cover_every_day_including_empty_ones(history):
    days = analytics.daily_flows(history["operator"], dt.date(2025, 3, 31), dt.date(2025, 4, 1))

    assert days == [analytics.Flow("2025-03-31"), analytics.Flow("2025-04-01", spent=50, transactions=1)]
    with pytest.raises(ValueError, match="before the first"):
        analytics.daily_flows(history["operator"], dt.date(2025, 4, 2), dt.date(2025, 4, 1))
    with pytest.raises(ValueError, match="at most 800 days"):
        analytics.daily_flows(history["operator"], dt.date(2023, 1, 1), dt.date(2025, 4, 1))


def test_year_over_year_alert_uses_the_configured_share(history, settings):
    report = analytics.year_over_year(history["operator"], 2026, now=NOW)

    assert report.share == 0.5
    assert [m.month for m in report.months] == ["2026-01", "2026-02", "2026-03"]
    march = report.months[2]
    assert march.partial is True
    assert [(c.metric, c.current, c.previous) for c in march.changes] == [
        ("issued", 1_000, 5_000), ("spent", 100, 1_000), ("transactions", 1, 2)]
    assert march.change_of("issued").change == pytest.approx(-0.8)
    # Transactions fell exactly 50%: not more than the share, so not an alert on that metric.
    assert march.alerts == ("issued", "spent")
    assert [m.month for m in report.alert_months] == ["2026-03"]
    assert report.months[0].alerts == () and report.months[0].change_of("spent").change is None

    settings.POINTS_YOY_ALERT_SHARE = 0.85
    assert analytics.year_over_year(history["operator"], 2026, now=NOW).months[2].alerts == ("spent",)
    assert analytics.year_over_year(history["operator"], 2027, now=NOW).months == ()


def test_the_alert_share_setting_is_validated():
    env = config.environment
    assert env({}).share("CITYGOV_POINTS_YOY_ALERT_SHARE", 0.5) == 0.5
    assert env({"CITYGOV_POINTS_YOY_ALERT_SHARE": "0.3"}).share("CITYGOV_POINTS_YOY_ALERT_SHARE", 0.5) == 0.3
    for bad in ("half", "0", "1.5", "-0.2"):
        with pytest.raises(config.ConfigError, match="CITYGOV_POINTS_YOY_ALERT_SHARE"):
            env({"CITYGOV_POINTS_YOY_ALERT_SHARE": bad}).share("CITYGOV_POINTS_YOY_ALERT_SHARE", 0.5)


def test_breakage_by_campaign_and_agency(history):
    campaigns = analytics.breakage_by_campaign(history["operator"])
    agencies = analytics.breakage_by_agency(history["operator"])

    assert [(c.name, c.agency, c.issued, c.spent, c.expired) for c in campaigns] == [
        ("甲春節", "甲局", 5_000, 1_150, 2_950), ("乙春節", "乙局", 1_000, 0, 1_000)]
    assert campaigns[0].breakage == pytest.approx(0.59)
    assert [(a.name, a.issued, a.spent, a.expired, a.breakage) for a in agencies] == [
        ("甲局", 5_000, 1_150, 2_950, pytest.approx(0.59)), ("乙局", 1_000, 0, 1_000, 1.0)]


def test_agency_staff_see_only_their_agencys_figures(history):
    admin_b = history["admin_b"]

    flows = {f.period: f for f in analytics.year_flows(admin_b, 2025)}
    assert flows["2025-03"] == analytics.Flow("2025-03", issued=1_000)
    assert flows["2025-04"] == analytics.Flow("2025-04", expired=1_000)
    assert [c.name for c in analytics.breakage_by_campaign(admin_b)] == ["乙春節"]
    assert [a.name for a in analytics.breakage_by_agency(admin_b)] == ["乙局"]

    api = APIClient()
    api.force_authenticate(admin_b)
    body = api.get("/api/points/analytics/campaigns/").json()
    assert [row["name"] for row in body] == ["乙春節"]
    monthly = api.get("/api/points/analytics/monthly/?year=2026").json()
    assert sum(m["issued"] for m in monthly["months"]) == 0
    assert sum(m["issued"] for m in monthly["previous_year"]) == 1_000


def test_merchant_summary_per_district(history):
    summary = analytics.merchant_summary()
    rows = {row.name_zh: row for row in summary.districts}

    assert (summary.total, summary.enabled, summary.never_enabled) == (4, 2, 2)
    assert summary.share == 0.5
    assert summary.by_status == {"applied": 1, "active": 2, "suspended": 1, "closed": 0, "not_renewed": 0}
    assert [row.name_zh for row in summary.districts] == ["桃園區", "中壢區", "八德區", "復興區"]
    assert (rows["中壢區"].total, rows["中壢區"].enabled, rows["中壢區"].share) == (1, 0, 0.0)
    assert rows["八德區"].by_status["suspended"] == 1
    assert rows["復興區"].share is None
    assert (summary.unknown_district.total, summary.unknown_district.by_status["applied"]) == (1, 1)


def test_public_map_needs_no_sign_in_and_shows_active_merchants_without_private_data(history):
    cache.clear()
    response = APIClient().get("/api/points/public/merchant-map/")

    assert response.status_code == 200
    body = response.json()
    assert [m["name"] for m in body["merchants"]] == ["桃園好店", "中壢未啟用店"]
    assert body["merchants"][0] == {"name": "桃園好店", "category": "", "address": "桃園市桃園區中正路1號",
                                    "district": "桃園區", "lon": 121.3, "lat": 24.99, "points_enabled": True}
    text = response.content.decode()
    for private in ("123456789012", "04595257", "bank", "CARD0001", "八德停權店"):
        assert private not in text
    districts = {d["name_zh"]: d for d in body["districts"]}
    assert (districts["中壢區"]["merchants"], districts["中壢區"]["rate"]) == (1, 0.0)
    assert districts["八德區"]["merchants"] == 0
    features = {f["properties"]["name_zh"]: f for f in body["geojson"]["features"]}
    assert features["桃園區"]["properties"]["rate"] == 1.0
    assert features["桃園區"]["geometry"]["type"] == "Polygon"


def test_public_map_is_rate_limited(history, monkeypatch):
    from rest_framework.throttling import AnonRateThrottle

    cache.clear()
    monkeypatch.setattr(AnonRateThrottle, "THROTTLE_RATES", {**AnonRateThrottle.THROTTLE_RATES, "anon": "2/min"})
    client = APIClient()
    codes = [client.get("/api/points/public/merchant-map/").status_code for _ in range(3)]

    assert codes == [200, 200, 429]
    cache.clear()


def test_analytics_api_needs_points_view_and_rejects_bad_input(history, make_user):
    anonymous = APIClient()
    assert anonymous.get("/api/points/analytics/yoy/").status_code in (401, 403)
    analyst = APIClient()
    analyst.force_authenticate(make_user("analyst", Role.SECURITY_ANALYST))
    assert analyst.get("/api/points/analytics/yoy/").status_code == 403

    api = APIClient()
    api.force_authenticate(history["operator"])
    bad = api.get("/api/points/analytics/monthly/?year=20x5")
    assert bad.status_code == 400
    assert bad["Content-Type"].startswith("application/problem+json")
    assert api.get("/api/points/analytics/daily/?first=2025-13-01").status_code == 400
    assert api.get("/api/points/analytics/daily/?first=2025-04-02&last=2025-04-01").status_code == 400

    daily = api.get("/api/points/analytics/daily/?first=2025-03-31&last=2025-04-01").json()
    assert [(d["period"], d["transactions"], d["spent"]) for d in daily["days"]] == [
        ("2025-03-31", 0, 0), ("2025-04-01", 1, 50)]
    yoy = api.get("/api/points/analytics/yoy/?year=2025").json()
    assert yoy["alert_share"] == 0.5 and yoy["alert"] is False
    assert [m["month"] for m in yoy["months"]][:4] == ["2025-01", "2025-02", "2025-03", "2025-04"]
    districts = api.get("/api/points/analytics/districts/").json()
    assert (districts["total"], districts["enabled"], districts["never_enabled"]) == (4, 2, 2)
    agencies = api.get("/api/points/analytics/agencies/").json()
    assert [(a["name"], a["breakage"]) for a in agencies] == [("甲局", 0.59), ("乙局", 1.0)]


def test_analytics_pages(history, client_for, client):
    assert client.get(reverse("points:analytics")).status_code == 302
    assert client.get(reverse("points:where_to_spend")).status_code == 200

    page = client_for(history["operator"]).get(reverse("points:analytics") + "?year=2025")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'data-analytics-chart="monthly"' in html and 'id="district-merchants"' in html
    assert 'data-campaign="' in html and "甲春節" in html
    assert page.context["totals"] == analytics.Flow("", 5_000, 1_050, 3_950, 3)
    assert client.get(reverse("points:analytics") + "?year=abc").status_code == 404
    assert client.get(reverse("points:analytics_map")).status_code == 200
    data = client.get(reverse("points:analytics_map_data")).json()
    assert sorted(m["name"] for m in data["merchants"]) == ["中壢未啟用店", "八德停權店", "桃園好店"]
    assert len(data["geojson"]["features"]) == 4

    page_b = client_for(history["admin_b"]).get(reverse("points:analytics") + "?year=2025").content.decode()
    assert "乙春節" in page_b and "甲春節" not in page_b


def test_yoy_alert_shows_on_the_page(history, client_for):
    page = client_for(history["operator"]).get(reverse("points:analytics") + "?year=2026")

    assert page.context["report"].year == 2026
    html = page.content.decode()
    assert 'id="yoy-alert"' in html
    assert 'data-month="2026-03" data-alert="true"' in html


def test_exports_csv_and_xlsx(history, client_for):
    client = client_for(history["operator"])
    response = client.get(reverse("points:analytics_export", args=["monthly", "csv"]) + "?year=2025")

    assert response.status_code == 200
    assert response["Content-Disposition"] == 'attachment; filename="points-monthly-2025.csv"'
    lines = response.content.decode("utf-8-sig").splitlines()
    assert len(lines) == 25
    assert lines[15] == "2025-03,5000,1000,0,2"

    xlsx = client.get(reverse("points:analytics_export", args=["campaigns", "xlsx"]))
    sheet = load_workbook(io.BytesIO(xlsx.content)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[1] == ("甲春節", "甲局", 5000, 1150, 2950, "59.00")
    assert len(rows) == 3
    districts = client.get(reverse("points:analytics_export", args=["districts", "csv"])).content.decode("utf-8-sig")
    assert districts.splitlines()[-1].endswith(",4,1,2,1,0,0,2,2,50.00")
    assert client.get(reverse("points:analytics_export", args=["secrets", "csv"])).status_code == 404
    assert client.get(reverse("points:analytics_export", args=["monthly", "pdf"])).status_code == 404


def test_exports_are_scoped_to_the_agency(history, client_for):
    text = client_for(history["admin_b"]).get(
        reverse("points:analytics_export", args=["campaigns", "csv"])).content.decode("utf-8-sig")

    assert "乙春節" in text and "甲春節" not in text


def test_dashboard_tiles_empty_then_filled(db, make_user, history):
    from citygov.points import dashboard

    operator = history["operator"]
    yoy = dashboard._yoy(operator)
    enablement = dashboard._enablement(operator)
    assert enablement.value == 50.0
    assert enablement.status == "alert"
    assert "中壢區" in enablement.detail
    assert isinstance(yoy.value, int) and yoy.status == ("alert" if yoy.value else "ok")
    outsider = make_user("admin-c", Role.AGENCY_ADMIN, [])
    assert dashboard._yoy(outsider).value is None


def test_dashboard_tiles_without_data(db, make_user):
    from citygov.points import dashboard

    user = make_user("op", Role.POINTS_OPERATOR)
    assert dashboard._yoy(user).value is None
    assert dashboard._enablement(user).value is None


def test_openapi_describes_the_analytics_endpoints(history, client_for):
    schema = client_for(history["operator"]).get("/api/schema/?format=json")
    paths = json.loads(schema.content)["paths"]

    for name in ("monthly", "daily", "yoy", "campaigns", "agencies", "districts"):
        assert f"/api/points/analytics/{name}/" in paths
    assert "/api/points/public/merchant-map/" in paths


def test_the_rollup_folds_settled_transfers_and_keeps_figures_exact(history, monkeypatch):
    operator, admin_b = history["operator"], history["admin_b"]
    cache.delete(analytics.ROLLUP_META_KEY)
    before = (analytics.year_window(operator, 2025).totals, analytics.breakage(operator),
              analytics.year_window(admin_b, 2025).totals, analytics.breakage(admin_b))
    assert analytics.load_rollup().final_id == 0
    monkeypatch.setattr(analytics, "ROLLUP_FOLD_AT", 3)
    monkeypatch.setattr(analytics, "ROLLUP_TAIL", 2)

    rollup = analytics.load_rollup()
    after = (analytics.year_window(operator, 2025).totals, analytics.breakage(operator),
             analytics.year_window(admin_b, 2025).totals, analytics.breakage(admin_b))

    assert rollup.final_id > 0 and rollup.days and rollup.lots
    assert after == before
    # A rollup whose anchor rows no longer match (another database) is never used.
    cache.set(analytics.ROLLUP_META_KEY, (rollup.final_id, (("x",),)))
    monkeypatch.setattr(analytics, "ROLLUP_FOLD_AT", 10**9)
    assert analytics.load_rollup().final_id == 0
    assert analytics.year_window(operator, 2025).totals == before[0]
    cache.delete(analytics.ROLLUP_META_KEY)
    cache.delete(analytics.ROLLUP_CACHE_KEY)


def test_the_warming_job_folds_the_rollup_into_the_shared_cache(history, monkeypatch):
    from huey.contrib.djhuey import HUEY

    from citygov.points import jobs

    cache.delete(analytics.ROLLUP_META_KEY)
    cache.delete(analytics.ROLLUP_CACHE_KEY)
    analytics._LOCAL.clear()
    monkeypatch.setattr(analytics, "ROLLUP_FOLD_AT", 3)
    monkeypatch.setattr(analytics, "ROLLUP_TAIL", 2)
    final_id = jobs.warm_analytics.call_local()
    assert final_id > 0
    # What a page request in another process finds: the folded rollup, not a rebuild.
    assert cache.get(analytics.ROLLUP_META_KEY)[0] == final_id
    assert cache.get(analytics.ROLLUP_CACHE_KEY).final_id == final_id
    names = {task.name for task in HUEY.read_periodic(dt.datetime(2026, 1, 1, 14, 10))}
    assert "points.warm_analytics" in names  # every 10 minutes
    assert "points.warm_analytics" not in {task.name for task in HUEY.read_periodic(dt.datetime(2026, 1, 1, 14, 11))}
    cache.delete(analytics.ROLLUP_META_KEY)
    cache.delete(analytics.ROLLUP_CACHE_KEY)
    analytics._LOCAL.clear()


def test_enablement_tile_without_districts(db, make_user, make_agency):
    from citygov.points import dashboard

    agency = make_agency("agency-a", "甲局")
    ledger.do_create_purchase(make_user("admin-a", Role.AGENCY_ADMIN, [agency]), agency_id=agency.pk,
                              reference="PO-1", points=100)
    Merchant.objects.create(tax_id="04595257", name="無區商店", status=MerchantStatus.ACTIVE, points_enabled=False)
    with translation.override("en"):
        tile = dashboard._enablement(make_user("op", Role.POINTS_OPERATOR))

    assert (tile.value, tile.status, tile.detail) == (0.0, "alert", "0 of 1 merchants; 1 never enabled")
