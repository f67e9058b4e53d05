"""The demo history (a year-over-year collapse that raises the alert) and `citygov points report`."""

from __future__ import annotations

import datetime as dt
import json
import os
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from citygov.core.roles import Role
from citygov.points import analytics
from citygov.points.demo import seed_points_demo
from citygov.points.demo_history import month_starts
from citygov.points.management.report import FONT_PATH, missing_glyphs
from citygov.points.queries import check_ledger

pytestmark = pytest.mark.django_db

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
CHARTS = ["campaigns.png", "daily.png", "districts.png", "monthly.png", "yoy.png"]


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def demo(reference_data, make_user):
    admin = make_user("demo-admin", Role.CITY_ADMIN)
    seed_points_demo(admin)
    return admin


def test_month_starts_cross_year_boundaries():
    now = dt.datetime(2026, 2, 15, 10, tzinfo=analytics.TZ)

    starts = month_starts(now, 3)
    assert [s.strftime("%Y-%m-%d %H:%M") for s in starts] == ["2025-11-01 00:00", "2025-12-01 00:00",
                                                              "2026-01-01 00:00"]


def test_demo_history_raises_the_alert_and_the_report_shows_it(demo, tmp_path):
    now = dt.datetime.now(tz=analytics.TZ)
    year = now.year

    assert check_ledger().problems == []
    report = analytics.year_over_year(demo, year, now=now)
    complete = [m for m in report.months if not m.partial]
    assert complete and all("spent" in m.alerts for m in complete if m.month > f"{year - 1}-{now.month:02d}")
    assert report.alert_months
    last_year = analytics.flow_total(analytics.year_flows(demo, year - 1))
    assert last_year.issued > 0 and last_year.transactions > 0

    out = StringIO()
    call_command("points", "report", "--year", str(year), "--out", str(tmp_path / "r"), "--format", "jsonl",
                 stdout=out)

    records = [json.loads(line) for line in out.getvalue().splitlines()]
    assert sorted(Path(r["file"]).name for r in records[:-1]) == sorted([*CHARTS, "summary.md"])
    assert records[-1] == {"year": year, "alert_months": [m.month for m in report.alert_months]}
    for name in CHARTS:
        assert (tmp_path / "r" / name).read_bytes()[:8] == PNG_SIGNATURE
    summary = (tmp_path / "r" / "summary.md").read_text(encoding="utf-8")
    assert summary.startswith(f"# 市民卡點數 {year} 年報告")
    assert f"共 {len(report.alert_months)} 個月份較去年同月下滑超過 50%" in summary
    assert "全市 13 家特約商店中 9 家已啟用點數支付（69.23%），4 家從未啟用。" in summary


def test_report_rejects_bad_input(db, tmp_path, make_user):
    with pytest.raises(CommandError) as bad_year:
        call_command("points", "report", "--year", "20x3", "--out", str(tmp_path))
    assert bad_year.value.returncode == 2
    target = tmp_path / "file.txt"
    target.write_text("x")
    with pytest.raises(CommandError) as not_folder:
        call_command("points", "report", "--year", "2023", "--out", str(target))
    assert not_folder.value.returncode == 2
    make_user("analyst", Role.SECURITY_ANALYST)
    with pytest.raises(CommandError) as forbidden:
        call_command("points", "report", "--year", "2023", "--out", str(tmp_path / "x"), "--user", "analyst")
    assert forbidden.value.returncode == 1
    assert not (tmp_path / "x").exists()


def test_bundled_font_covers_the_labels_and_ships_its_licence():
    assert FONT_PATH.is_file() and os.path.getsize(FONT_PATH) < 4_000_000
    assert (FONT_PATH.parent / "OFL.txt").read_text(encoding="utf-8").count("SIL OPEN FONT LICENSE Version 1.1") == 1
    districts = json.loads((Path(analytics.__file__).parent.parent / "agencies" / "data" / "taoyuan-districts.geojson")
                           .read_text(encoding="utf-8"))
    names = "".join(f["properties"].get("name_zh", "") for f in districts["features"])
    assert missing_glyphs(names + "每月點數發放、使用與逾期年增率警示門檻各區特約商店啟用情形") == ""
    assert missing_glyphs("桃園市政府市民卡點數") == ""
    assert missing_glyphs("😀") == "😀"
