"""Datagov pages, API and dashboard tile: real figures, search, and no cross-agency leak of governance data."""

from __future__ import annotations

import datetime as dt
import io
import re

from django.urls import reverse

from citygov.core import dashboard
from citygov.core.roles import Role
from citygov.datagov.models import Dataset
from citygov.datagov.services import do_import_catalog
from citygov.datagov.tests.support import SAMPLE


def _tile(user):
    return next(value for tile, value in dashboard.tiles_for(user) if tile.key == "datagov.overview")


def _figure(html: str, key: str) -> int:
    match = re.search(rf'data-summary="{key}">.*?<span class="tile-value">(\d+)</span>', html, re.S)
    return int(match.group(1))


def test_overdue_dashboard_shows_the_taoyuan_figures(taoyuan, city_admin, client_for):
    client = client_for(city_admin)
    html = client.get(reverse("datagov:overdue"), {"as_of": "2018-07-08"}).content.decode()
    assert (_figure(html, "overdue"), _figure(html, "on_time"), _figure(html, "unreadable")) == (164, 350, 0)
    assert _figure(html, "stale") + _figure(html, "not_evaluated") == 930
    assert 'data-agency="land"' in html and 'data-agency="-"' in html
    assert "data-datagov-chart" in html
    now = client.get(reverse("datagov:overdue")).content.decode()
    assert (_figure(now, "overdue"), _figure(now, "on_time")) == (514, 0)


def test_catalogue_search_and_detail(taoyuan, auditor, client_for):
    client = client_for(auditor)
    html = client.get(reverse("datagov:catalogue"), {"q": "登革熱"}).content.decode()
    titles = re.findall(r'<a href="/datagov/datasets/\d+/">([^<]+)</a>', html)
    expected = sorted(Dataset.objects.filter(search_text__contains="登革熱").values_list("title", flat=True))
    assert "桃園市登革熱確診個案分布" in expected
    assert sorted(titles) == expected
    html = client.get(reverse("datagov:catalogue"), {"q": "停車 桃園", "spatial": "on"}).content.decode()
    assert "0 datasets found" in html or "找到 0 筆資料集" in html
    dataset = Dataset.objects.get(source_id="1")
    detail = client.get(reverse("datagov:dataset_detail", args=[dataset.pk])).content.decode()
    assert "桃園市臨時暨短期照顧服務之服務單位" in detail and "委辦單位" in detail
    assert 'data-status="not_evaluated"' in detail or 'data-status="stale"' in detail


def test_pages_need_the_capability(db, make_user, client_for, client):
    assert client.get(reverse("datagov:catalogue")).status_code == 302
    analyst = make_user("analyst", Role.SECURITY_ANALYST)
    assert client_for(analyst).get(reverse("datagov:overdue")).status_code == 403


def test_overdue_figures_never_leak_across_agencies(reference_data, city_admin, make_user, agency_a, agency_b,
                                                    client_for):
    do_import_catalog(city_admin, io.BytesIO(SAMPLE.read_bytes()), "sample.csv")
    Dataset.objects.filter(source_id__in=["1", "2"]).update(agency=agency_a)
    Dataset.objects.exclude(source_id__in=["1", "2"]).update(agency=agency_b)
    steward_a = make_user("steward-a", Role.DATA_STEWARD, [agency_a])
    api = client_for(steward_a)
    body = api.get("/api/datagov/freshness/", {"as_of": "2018-07-08"}).json()
    assert body["count"] == 2
    assert {row["agency"] for row in body["results"]} == {agency_a.pk}
    html = api.get(reverse("datagov:overdue"), {"as_of": "2030-01-01"}).content.decode()
    assert 'data-agency="agency-a"' in html and 'data-agency="agency-b"' not in html
    tile = _tile(steward_a)  # dataset 2 is 每月 (overdue by now), dataset 1 不定期 (untouched since 2018: stale)
    assert (tile.value, tile.detail) == (1, "（共 1 筆定期更新資料集）；1 筆不定期資料集久未更新，0 筆更新頻率無法判讀")
    # Metadata itself is shared: the whole catalogue is listed for agency A.
    assert api.get("/api/datagov/datasets/").json()["count"] == 36


def test_tile_is_empty_until_the_catalogue_holds_data(db, city_admin):
    value = _tile(city_admin)
    assert (value.value, value.status) == (None, dashboard.STATUS_EMPTY)


def test_api_datasets_search_and_freshness(taoyuan, auditor, client_for):
    client = client_for(auditor)
    body = client.get("/api/datagov/datasets/", {"q": "地價", "agency": Dataset.objects.filter(
        agency__code="land").values_list("agency", flat=True).first()}).json()
    assert body["count"] == Dataset.objects.filter(agency__code="land", search_text__contains="地價").count() > 0
    first = body["results"][0]
    assert first["agency_code"] == "land" and first["resources"]
    body = client.get("/api/datagov/freshness/", {"as_of": "2018-07-08", "status": "overdue"}).json()
    assert (body["summary"]["overdue"], body["summary"]["on_time"], body["count"]) == (164, 350, 164)
    bad = client.get("/api/datagov/freshness/", {"as_of": "yesterday"})
    assert bad.status_code == 400 and bad["Content-Type"].startswith("application/problem+json")
    assert client.post("/api/datagov/imports/", {"file": io.BytesIO(b"x")}).status_code == 403


def test_api_import_by_a_steward(reference_data, make_user, client_for):
    steward = make_user("steward", Role.DATA_STEWARD)
    client = client_for(steward)
    upload = io.BytesIO(SAMPLE.read_bytes())
    upload.name = "sample.csv"
    response = client.post("/api/datagov/imports/", {"file": upload}, format="multipart")
    assert response.status_code == 201
    assert (response.json()["created"], response.json()["rejected"]) == (36, 0)
    broken = io.BytesIO(b"\xff\xfe\x00garbage")
    broken.name = "broken.csv"
    response = client.post("/api/datagov/imports/", {"file": broken}, format="multipart")
    assert response.status_code == 400
    assert Dataset.objects.count() == 36


def test_import_page(reference_data, make_user, client_for):
    steward = make_user("steward", Role.DATA_STEWARD)
    client = client_for(steward)
    upload = io.BytesIO(SAMPLE.read_bytes())
    upload.name = "sample.csv"
    response = client.post(reverse("datagov:import"), {"file": upload})
    assert response.status_code == 302
    detail = client.get(response["Location"]).content.decode()
    assert "36" in detail
    broken = io.BytesIO(SAMPLE.read_bytes().replace("更新頻率".encode(), b"x", 1))
    broken.name = "broken.csv"
    response = client.post(reverse("datagov:import"), {"file": broken})
    assert response.status_code == 400
    assert "缺少欄位：更新頻率。" in response.content.decode()
    assert Dataset.objects.count() == 36
    assert dt.date.today()  # the page works without a date given
