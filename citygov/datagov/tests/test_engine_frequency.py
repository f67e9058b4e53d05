"""The frequency normaliser (pure engine): a table of real-world 更新頻率 texts and their canonical values."""

from __future__ import annotations

import datetime as dt

import pytest

from citygov.datagov.engine import frequency as fq

# (text as published, class, ISO 8601 interval or "", EU code or "")
TABLE = [
    # Taoyuan 2018 portal values
    ("每日", "periodic", "P1D", "DAILY"),
    ("每週", "periodic", "P7D", "WEEKLY"),
    ("每月", "periodic", "P1M", "MONTHLY"),
    ("每季", "periodic", "P3M", "QUARTERLY"),
    ("每半年", "periodic", "P6M", "ANNUAL_2"),
    ("每年", "periodic", "P1Y", "ANNUAL"),
    ("即時", "continuous", "", "UPDATE_CONT"),
    ("不定期", "irregular", "", "IRREG"),
    # data.gov.tw number-plus-unit form and the 2013 platform
    ("每1日", "periodic", "P1D", "DAILY"),
    ("每1週", "periodic", "P7D", "WEEKLY"),
    ("每1月", "periodic", "P1M", "MONTHLY"),
    ("每1季", "periodic", "P3M", "QUARTERLY"),
    ("每1年", "periodic", "P1Y", "ANNUAL"),
    ("每2年", "periodic", "P2Y", "BIENNIAL"),
    ("每3年", "periodic", "P3Y", "TRIENNIAL"),
    ("每6個月", "periodic", "P6M", "ANNUAL_2"),
    ("每2個月", "periodic", "P2M", "BIMONTHLY"),
    ("每3個月", "periodic", "P3M", "QUARTERLY"),
    ("每4個月", "periodic", "P4M", "ANNUAL_3"),
    ("每5年", "periodic", "P5Y", "QUINQUENNIAL"),
    ("每10年", "periodic", "P10Y", "DECENNIAL"),
    ("每1小時", "periodic", "PT1H", "HOURLY"),
    ("每小時", "periodic", "PT1H", "HOURLY"),
    ("每2小時", "periodic", "PT2H", "BIHOURLY"),
    ("每3小時", "periodic", "PT3H", "TRIHOURLY"),
    ("每12小時", "periodic", "PT12H", "12HRS"),
    ("每1分鐘", "periodic", "PT1M", "1MIN"),
    ("每5分鐘", "periodic", "PT5M", "5MIN"),
    ("每10分鐘", "periodic", "PT10M", "10MIN"),
    ("每15分鐘", "periodic", "PT15M", "15MIN"),
    ("每30分鐘", "periodic", "PT30M", "30MIN"),
    ("每2週", "periodic", "P14D", "BIWEEKLY"),
    ("每7日", "periodic", "P7D", "WEEKLY"),
    # variants: 天/周/星期/禮拜, Chinese numerals, full-width digits, spaces, typos
    ("每天", "periodic", "P1D", "DAILY"),
    ("每周", "periodic", "P7D", "WEEKLY"),
    ("每星期", "periodic", "P7D", "WEEKLY"),
    ("每禮拜", "periodic", "P7D", "WEEKLY"),
    ("每一年", "periodic", "P1Y", "ANNUAL"),
    ("每兩年", "periodic", "P2Y", "BIENNIAL"),
    ("每三個月", "periodic", "P3M", "QUARTERLY"),
    ("每六個月", "periodic", "P6M", "ANNUAL_2"),
    ("每十年", "periodic", "P10Y", "DECENNIAL"),
    ("每１日", "periodic", "P1D", "DAILY"),
    ("每２個月", "periodic", "P2M", "BIMONTHLY"),
    ("每　月", "periodic", "P1M", "MONTHLY"),
    (" 每季 ", "periodic", "P3M", "QUARTERLY"),
    ("每ㄧ年", "periodic", "P1Y", "ANNUAL"),
    ("毎月", "periodic", "P1M", "MONTHLY"),
    ("每曰", "periodic", "P1D", "DAILY"),
    ("每年度", "periodic", "P1Y", "ANNUAL"),
    ("每季度", "periodic", "P3M", "QUARTERLY"),
    ("每隔3個月", "periodic", "P3M", "QUARTERLY"),
    ("按月", "periodic", "P1M", "MONTHLY"),
    ("逐年", "periodic", "P1Y", "ANNUAL"),
    ("雙週", "periodic", "P14D", "BIWEEKLY"),
    ("雙月", "periodic", "P2M", "BIMONTHLY"),
    ("半月", "periodic", "P15D", "MONTHLY_2"),
    ("每半月", "periodic", "P15D", "MONTHLY_2"),
    ("月更新", "periodic", "P1M", "MONTHLY"),
    ("年度更新", "periodic", "P1Y", "ANNUAL"),
    ("季", "periodic", "P3M", "QUARTERLY"),
    ("每年2次", "periodic", "P6M", "ANNUAL_2"),
    ("一年一次", "periodic", "P1Y", "ANNUAL"),
    ("3個月1次", "periodic", "P3M", "QUARTERLY"),
    # conditional text after the period keeps the period
    ("每年4月更新", "periodic", "P1Y", "ANNUAL"),
    ("每月10日前更新", "periodic", "P1M", "MONTHLY"),
    ("每季(1、4、7、10月)", "periodic", "P3M", "QUARTERLY"),
    ("每日凌晨更新", "periodic", "P1D", "DAILY"),
    # continuous and irregular
    ("即時更新", "continuous", "", "UPDATE_CONT"),
    ("實時", "continuous", "", "UPDATE_CONT"),
    ("不定時", "irregular", "", "IRREG"),
    ("不定期更新", "irregular", "", "IRREG"),
    ("非定期", "irregular", "", "IRREG"),
    ("依需求更新", "irregular", "", "IRREG"),
    ("視需要更新", "irregular", "", "IRREG"),
    ("有異動時更新", "irregular", "", "IRREG"),
    ("隨時", "irregular", "", "IRREG"),
    # never and unknown
    ("不更新", "never", "", "NEVER"),
    ("一次性", "never", "", "NEVER"),
    ("無", "unknown", "", "UNKNOWN"),
    ("", "unknown", "", ""),
    # English
    ("daily", "periodic", "P1D", "DAILY"),
    ("Weekly", "periodic", "P7D", "WEEKLY"),
    ("Monthly", "periodic", "P1M", "MONTHLY"),
    ("quarterly", "periodic", "P3M", "QUARTERLY"),
    ("Annually", "periodic", "P1Y", "ANNUAL"),
    ("yearly", "periodic", "P1Y", "ANNUAL"),
    ("semi-annually", "periodic", "P6M", "ANNUAL_2"),
    ("biweekly", "periodic", "P14D", "BIWEEKLY"),
    ("hourly", "periodic", "PT1H", "HOURLY"),
    ("every 2 months", "periodic", "P2M", "BIMONTHLY"),
    ("real-time", "continuous", "", "UPDATE_CONT"),
    ("Continuous", "continuous", "", "CONT"),
    ("irregular", "irregular", "", "IRREG"),
    ("as needed", "irregular", "", "AS_NEEDED"),
    ("never", "never", "", "NEVER"),
    ("unknown", "unknown", "", "UNKNOWN"),
    # DCAT-AP codes and URIs, Dublin Core URIs
    ("MONTHLY", "periodic", "P1M", "MONTHLY"),
    ("ANNUAL_2", "periodic", "P6M", "ANNUAL_2"),
    ("IRREG", "irregular", "", "IRREG"),
    ("UPDATE_CONT", "continuous", "", "UPDATE_CONT"),
    ("http://publications.europa.eu/resource/authority/frequency/QUARTERLY", "periodic", "P3M", "QUARTERLY"),
    ("http://publications.europa.eu/resource/authority/frequency/DAILY", "periodic", "P1D", "DAILY"),
    ("http://publications.europa.eu/resource/authority/frequency/NEVER", "never", "", "NEVER"),
    ("https://publications.europa.eu/resource/authority/frequency/WEEKLY", "periodic", "P7D", "WEEKLY"),
    ("http://purl.org/cld/freq/annual", "periodic", "P1Y", "ANNUAL"),
    ("http://purl.org/cld/freq/irregular", "irregular", "", "IRREG"),
    # ISO 8601
    ("R/P1M", "periodic", "P1M", "MONTHLY"),
    ("R/P1Y", "periodic", "P1Y", "ANNUAL"),
    ("P1D", "periodic", "P1D", "DAILY"),
    ("R/PT1H", "periodic", "PT1H", "HOURLY"),
    ("P1W", "periodic", "P7D", "WEEKLY"),
    ("R/P0.5Y", "periodic", "P6M", "ANNUAL_2"),
    ("R/P3M", "periodic", "P3M", "QUARTERLY"),
]


def test_the_table_has_at_least_80_texts():
    assert len(TABLE) >= 80
    assert len({text for text, *_ in TABLE}) == len(TABLE)


@pytest.mark.parametrize(("text", "kind", "iso", "code"), TABLE, ids=[repr(row[0]) for row in TABLE])
def test_normalise(text, kind, iso, code):
    result = fq.normalise(text)
    assert (result.kind, result.iso, result.eu_code) == (kind, iso, code)
    assert result.source_text == text
    assert result.recognised is True


@pytest.mark.parametrize(("text", "ends", "iso"), [
    ("每季，至104年12月為止", dt.date(2016, 1, 1), "P3M"),
    ("每月(至105年6月止)", dt.date(2016, 7, 1), "P1M"),
    ("每年，至2019年底停止", dt.date(2020, 1, 1), "P1Y"),
    ("已停止更新", None, ""),
    ("每月，已停止更新", None, "P1M"),
])
def test_ended_series_keep_their_period_and_end(text, ends, iso):
    result = fq.normalise(text)
    assert (result.kind, result.ends, result.iso) == ("ended", ends, iso)


@pytest.mark.parametrize("text", ["看心情", "ASAP", "http://publications.europa.eu/resource/authority/frequency/SOMETIMES",
                                  "R/P1.5M", "每", "xyz"])
def test_what_cannot_be_read_goes_to_review_not_to_irregular(text):
    result = fq.normalise(text)
    assert (result.kind, result.recognised, result.interval) == ("unknown", False, None)


def test_eu_uri_is_derived_from_the_code():
    assert fq.normalise("每季").eu_uri == "http://publications.europa.eu/resource/authority/frequency/QUARTERLY"
    assert fq.normalise("").eu_uri == ""


def test_calendar_months_clamp_to_the_end_of_the_month():
    start = dt.datetime(2018, 1, 31, 9, 30)
    assert fq.Interval(months=1).after(start) == dt.datetime(2018, 2, 28, 9, 30)
    assert fq.Interval(months=1).after(dt.datetime(2020, 1, 31)) == dt.datetime(2020, 2, 29)
    assert fq.Interval(months=12).after(dt.datetime(2020, 2, 29)) == dt.datetime(2021, 2, 28)
    assert fq.Interval(months=3).after(dt.datetime(2018, 11, 30)) == dt.datetime(2019, 2, 28)
    assert fq.Interval(seconds=86400).after(dt.datetime(2018, 12, 31, 12)) == dt.datetime(2019, 1, 1, 12)
