"""Points analytics pages: the programme's health over time, breakage, merchants per district, the
district map, CSV/XLSX exports, and the public "where can I spend" map.

Every page but the public map needs the ``points.view`` capability (the operator, auditors and
agency staff; agency staff see their agencies' campaigns only). The public map needs no sign-in and
shows active merchants only; its data comes from the rate-limited public API endpoint.
Figures come from :mod:`citygov.points.analytics`.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json

from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import path
from django.utils.translation import gettext as _
from django.views.decorators.cache import cache_control

from citygov.points import analytics
from citygov.points.models import MerchantStatus
from citygov.points.views import points_page

DAILY_DAYS = 90
EXPORT_FORMATS = ("csv", "xlsx")


def _percent(value: float | None) -> str:
    return "" if value is None else f"{100 * value:.2f}"


def _year(request: HttpRequest) -> int:
    try:
        return analytics.check_year(request.GET.get("year"), default=dt.datetime.now(tz=analytics.TZ).year)
    except ValueError:
        raise Http404(_("No such year.")) from None


# --- tables (shared by the page and the exports) ------------------------------------------------

def monthly_table(user, year: int) -> tuple[list[str], list[list]]:
    """Issued, spent and expired points and transactions per month of ``year`` and of the year before."""
    headers = [_("Month"), _("Issued"), _("Spent"), _("Expired"), _("Transactions")]
    window = analytics.year_window(user, year)
    rows = [[f.period, f.issued, f.spent, f.expired, f.transactions] for y in (year - 1, year) for f in window.months(y)]
    return headers, rows


def daily_table(user, first: dt.date, last: dt.date) -> tuple[list[str], list[list]]:
    headers = [_("Day"), _("Transactions"), _("Spent"), _("Issued"), _("Expired")]
    rows = [[f.period, f.transactions, f.spent, f.issued, f.expired] for f in analytics.daily_flows(user, first, last)]
    return headers, rows


def yoy_table(report: analytics.YoyReport) -> tuple[list[str], list[list]]:
    headers = [_("Month"), _("Same month last year")]
    for metric_label in (_("Issued"), _("Spent"), _("Transactions")):
        headers += [metric_label, _("Last year"), _("Change (%)")]
    headers.append(_("Alert"))
    rows = []
    for month in report.months:
        row = [month.month, month.previous_month]
        for change in month.changes:
            row += [change.current, change.previous, _percent(change.change)]
        row.append(_("yes") if month.alert else "")
        rows.append(row)
    return headers, rows


def breakage_table(items: list[analytics.Breakage], *, by_campaign: bool) -> tuple[list[str], list[list]]:
    headers = ([_("Campaign"), _("Agency")] if by_campaign else [_("Agency")]) + [
        _("Issued"), _("Spent"), _("Expired"), _("Breakage (%)")]
    rows = [([b.name, b.agency] if by_campaign else [b.name]) + [b.issued, b.spent, b.expired, _percent(b.breakage)]
            for b in items]
    return headers, rows


def district_table(summary: analytics.MerchantSummary) -> tuple[list[str], list[list]]:
    statuses = MerchantStatus.choices
    headers = [_("District"), _("Merchants"), *[str(label) for _value, label in statuses],
               _("Points payment enabled"), _("Never enabled"), _("Enabled (%)")]
    rows = []
    for row in (*summary.districts, summary.unknown_district):
        if not row.code and not row.total:
            continue
        rows.append([row.name_zh or _("No district"), row.total, *[row.by_status[value] for value, _l in statuses],
                     row.enabled, row.never_enabled, _percent(row.share)])
    rows.append([_("Total"), summary.total, *[summary.by_status[value] for value, _l in statuses], summary.enabled,
                 summary.never_enabled, _percent(summary.share)])
    return headers, rows


DATASETS = ("monthly", "daily", "yoy", "campaigns", "agencies", "districts")


def dataset_table(user, dataset: str, year: int) -> tuple[list[str], list[list]]:
    """The table behind one export, for ``year`` (the daily table: that year up to today)."""
    if dataset == "monthly":
        return monthly_table(user, year)
    if dataset == "daily":
        today = dt.datetime.now(tz=analytics.TZ).date()
        return daily_table(user, dt.date(year, 1, 1), min(dt.date(year, 12, 31), today))
    if dataset == "yoy":
        return yoy_table(analytics.year_over_year(user, year))
    if dataset == "campaigns":
        return breakage_table(analytics.breakage_by_campaign(user), by_campaign=True)
    if dataset == "agencies":
        return breakage_table(analytics.breakage_by_agency(user), by_campaign=False)
    return district_table(analytics.merchant_summary())


def table_csv(headers: list[str], rows: list[list]) -> bytes:
    """UTF-8 with a byte-order mark, so spreadsheet programs open the Chinese correctly."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(headers)
    writer.writerows(rows)
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def table_xlsx(title: str, headers: list[str], rows: list[list]) -> bytes:
    """One worksheet with a bold header row and numbers kept as numbers."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    book = Workbook()
    sheet = book.active
    sheet.title = title[:31]
    sheet.append(headers)
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for row in rows:
        sheet.append(row)
    sheet.freeze_panes = "A2"
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


# --- pages --------------------------------------------------------------------------------------

@points_page
def analytics_page(request: HttpRequest) -> HttpResponse:
    """Monthly flows against last year, the year-over-year alert, daily activity, breakage, merchants."""
    user, year = request.user, _year(request)
    # The ledger is read twice: once for the daily figures of both years, once for breakage.
    window = analytics.year_window(user, year)
    last_day = min(dt.datetime.now(tz=analytics.TZ).date(), dt.date(year, 12, 31))
    current, previous = window.months(year), window.months(year - 1)
    report = analytics.year_over_year(user, year, window=window)
    daily = window.daily(last_day - dt.timedelta(days=DAILY_DAYS - 1), last_day)
    campaigns, agencies = analytics.breakage(user)
    summary = analytics.merchant_summary()
    district_headers, district_rows = district_table(summary)
    chart = {
        "months": [f.period[5:] for f in current],
        "year": year,
        "issued": [f.issued for f in current], "spent": [f.spent for f in current],
        "expired": [f.expired for f in current],
        "previous_issued": [f.issued for f in previous], "previous_spent": [f.spent for f in previous],
    }
    yoy_chart = {"months": [m.month for m in report.months],
                 "spent": [None if m.change_of("spent").change is None else round(100 * m.change_of("spent").change, 1)
                           for m in report.months],
                 "issued": [None if m.change_of("issued").change is None
                            else round(100 * m.change_of("issued").change, 1) for m in report.months],
                 "threshold": -round(100 * report.share, 1)}
    daily_chart = {"days": [f.period for f in daily], "transactions": [f.transactions for f in daily],
                   "spent": [f.spent for f in daily]}
    district_chart = {"districts": [d.name_zh for d in summary.districts if d.total],
                      "enabled": [d.enabled for d in summary.districts if d.total],
                      "never": [d.never_enabled for d in summary.districts if d.total]}
    context = {
        "year": year, "years": list(range(year - 3, year + 2)),
        "has_data": bool(window.totals) or bool(campaigns) or summary.total > 0, "last_day": last_day,
        "totals": analytics.flow_total(current), "previous_totals": analytics.flow_total(previous),
        "report": report, "alert_percent": round(100 * report.share),
        "yoy_rows": [(m, [(c, _percent(c.change)) for c in m.changes]) for m in report.months],
        "campaigns": [(b, _percent(b.breakage)) for b in campaigns],
        "agencies": [(b, _percent(b.breakage)) for b in agencies],
        "summary": summary, "district_rows": district_rows, "district_headers": district_headers,
        "chart": json.dumps(chart), "yoy_chart": json.dumps(yoy_chart), "daily_chart": json.dumps(daily_chart),
        "district_chart": json.dumps(district_chart, ensure_ascii=False), "daily_days": DAILY_DAYS,
        "datasets": DATASETS,
    }
    return render(request, "points/analytics/analytics.html", context)


@points_page
def analytics_map(request: HttpRequest) -> HttpResponse:
    """Districts shaded by the share of merchants with points payment enabled, with the merchants as points."""
    summary = analytics.merchant_summary()
    return render(request, "points/analytics/map.html", {"summary": summary, "public": False})


@points_page
@cache_control(private=True, max_age=60)
def analytics_map_data(request: HttpRequest) -> JsonResponse:
    """The signed-in map's data: every merchant with coordinates (any status) and the district figures."""
    from citygov.points.models import Merchant

    summary = analytics.merchant_summary()
    districts = {d.pk: d.name_zh for d in analytics.all_districts(boundaries=False)}
    merchants = [
        {"name": m["name"], "category": m["category"], "district": districts.get(m["district_id"], ""),
         "status": m["status"], "points_enabled": m["points_enabled"], "lon": m["lon"], "lat": m["lat"]}
        for m in Merchant.objects.filter(lon__isnull=False, lat__isnull=False).order_by("pk")
        .values("name", "category", "district_id", "status", "points_enabled", "lon", "lat")]
    return JsonResponse({"geojson": analytics.district_geojson(summary.districts), "merchants": merchants},
                        json_dumps_params={"ensure_ascii": False})


def where_to_spend(request: HttpRequest) -> HttpResponse:
    """The public "where can I spend" map: no sign-in; the data comes from the rate-limited public API."""
    return render(request, "points/analytics/map.html", {"public": True})


@points_page
def export(request: HttpRequest, dataset: str, fmt: str) -> HttpResponse:
    """One analytics table as CSV (UTF-8 with BOM) or XLSX, for the chosen ``?year=``."""
    if dataset not in DATASETS or fmt not in EXPORT_FORMATS:
        raise Http404(_("No such export."))
    year = _year(request)
    headers, rows = dataset_table(request.user, dataset, year)
    filename = f"points-{dataset}-{year}.{fmt}"
    if fmt == "csv":
        response = HttpResponse(table_csv(headers, rows), content_type="text/csv; charset=utf-8")
    else:
        response = HttpResponse(table_xlsx(f"{dataset} {year}", headers, rows),
                                content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


urlpatterns = [
    path("", analytics_page, name="analytics"),
    path("map/", analytics_map, name="analytics_map"),
    path("map/data.json", analytics_map_data, name="analytics_map_data"),
    path("where-to-spend/", where_to_spend, name="where_to_spend"),
    path("export/<slug:dataset>.<slug:fmt>", export, name="analytics_export"),
]
