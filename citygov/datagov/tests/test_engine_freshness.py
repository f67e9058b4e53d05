"""The overdue-update check (pure engine), including the figures pinned by the issue."""

from __future__ import annotations

import datetime as dt
from collections import Counter

from citygov.datagov.engine import catalog
from citygov.datagov.engine import frequency as fq
from citygov.datagov.engine import freshness as fr
from citygov.datagov.tests.support import FULL

TPE = catalog.TAIPEI


def _taoyuan(as_of: dt.datetime, policy: fr.Policy):
    with FULL.open("rb") as stream:
        reader = catalog.CatalogReader(stream)
        rows = [(e, fr.check(fr.Entry(e.source_id, fq.normalise(e.frequency_text), e.data_updated,
                                      e.metadata_updated, e.created), as_of, policy)) for e, err in reader]
    return rows


def test_taoyuan_as_of_2018_07_08_no_grace_realtime_one_day():
    rows = _taoyuan(dt.datetime(2018, 7, 8, tzinfo=TPE), fr.Policy(stale_after_months=None))
    assert fr.summarise(r for _e, r in rows) == {"overdue": 164, "on_time": 350, "stale": 0, "not_evaluated": 930,
                                                "unreadable": 0}
    overdue = Counter(e.frequency_text for e, r in rows if r.status == "overdue")
    assert overdue == {"每年": 40, "即時": 39, "每月": 35, "每季": 23, "每日": 17, "每半年": 8, "每週": 2}
    assert {r.basis for _e, r in rows} == {"data_updated"}


def test_taoyuan_as_of_2026_11_21():
    rows = _taoyuan(dt.datetime(2026, 11, 21, tzinfo=TPE), fr.Policy(stale_after_months=None))
    assert fr.summarise(r for _e, r in rows) == {"overdue": 514, "on_time": 0, "stale": 0, "not_evaluated": 930,
                                                "unreadable": 0}


def test_taoyuan_stale_bucket_splits_the_irregular_ones():
    rows = _taoyuan(dt.datetime(2018, 7, 8, tzinfo=TPE), fr.Policy())
    summary = fr.summarise(r for _e, r in rows)
    assert (summary["overdue"], summary["on_time"]) == (164, 350)
    assert summary["stale"] + summary["not_evaluated"] == 930
    stale = [(e, r) for e, r in rows if r.status == "stale"]
    assert {e.frequency_text for e, _r in stale} == {"不定期"}
    assert all(e.data_updated < dt.datetime(2017, 7, 8, tzinfo=TPE) for e, _r in stale)
    assert summary["stale"] == sum(1 for e, _r in rows if e.frequency_text == "不定期"
                                   and e.data_updated < dt.datetime(2017, 7, 8, tzinfo=TPE))


def _entry(text, data=None, meta=None, created=None):
    return fr.Entry("x", fq.normalise(text), data, meta, created)


def test_boundary_exactly_due_is_on_time_one_second_later_overdue():
    last = dt.datetime(2018, 1, 31, 10, 0, tzinfo=TPE)
    due = dt.datetime(2018, 2, 28, 10, 0, tzinfo=TPE)
    on_time = fr.check(_entry("每月", last), due)
    assert (on_time.status, on_time.due, on_time.days_overdue) == ("on_time", due, 0)
    late = fr.check(_entry("每月", last), due + dt.timedelta(seconds=1))
    assert (late.status, late.days_overdue) == ("overdue", 1)
    later = fr.check(_entry("每月", last), due + dt.timedelta(days=10, hours=5))
    assert (later.status, later.days_overdue) == ("overdue", 10)


def test_grace_per_class():
    last = dt.datetime(2018, 1, 1, tzinfo=TPE)
    as_of = dt.datetime(2018, 1, 5, tzinfo=TPE)
    policy = fr.Policy(grace={"continuous": dt.timedelta(days=7)}, stale_after_months=None)
    assert fr.check(_entry("即時", last), as_of, policy).status == "on_time"
    assert fr.check(_entry("每日", last), as_of, policy).status == "overdue"
    assert fr.check(_entry("即時", last), as_of, fr.Policy()).status == "overdue"


def test_continuous_interval_is_configurable():
    last = dt.datetime(2018, 1, 1, tzinfo=TPE)
    policy = fr.Policy(continuous_interval=fq.Interval(seconds=3600))
    assert fr.check(_entry("即時", last), last + dt.timedelta(hours=2), policy).status == "overdue"
    assert fr.check(_entry("即時", last), last + dt.timedelta(hours=2)).status == "on_time"


def test_basis_falls_back_from_data_to_metadata_to_created():
    meta = dt.datetime(2018, 1, 1, tzinfo=TPE)
    created = dt.datetime(2017, 6, 1, tzinfo=TPE)
    as_of = dt.datetime(2018, 1, 10, tzinfo=TPE)
    result = fr.check(_entry("每週", None, meta, created), as_of)
    assert (result.basis, result.last_updated, result.status) == ("metadata_updated", meta, "overdue")
    result = fr.check(_entry("每年", None, None, created), as_of)
    assert (result.basis, result.status) == ("created", "on_time")
    result = fr.check(_entry("每年"), as_of)
    assert (result.basis, result.status) == ("", "not_evaluated")


def test_ended_never_unknown_and_unreadable():
    last = dt.datetime(2015, 1, 1, tzinfo=TPE)
    as_of = dt.datetime(2018, 1, 1, tzinfo=TPE)
    assert fr.check(_entry("每季，至104年12月為止", last), as_of).status == "not_evaluated"
    # Before its end an ended series is still judged by its period.
    assert fr.check(_entry("每季，至108年12月為止", last), as_of).status == "overdue"
    assert fr.check(_entry("不更新", last), as_of).status == "not_evaluated"
    assert fr.check(_entry("", last), as_of).status == "not_evaluated"
    assert fr.check(_entry("看心情", last), as_of).status == "unreadable"


def test_stale_after_the_configured_months():
    last = dt.datetime(2017, 3, 15, tzinfo=TPE)
    six = fr.Policy(stale_after_months=6)
    assert fr.check(_entry("不定期", last), dt.datetime(2017, 9, 15, tzinfo=TPE), six).status == "not_evaluated"
    stale = fr.check(_entry("不定期", last), dt.datetime(2017, 9, 20, tzinfo=TPE), six)
    assert (stale.status, stale.due, stale.days_overdue) == ("stale", dt.datetime(2017, 9, 15, tzinfo=TPE), 5)
    assert fr.check(_entry("不定期", last), dt.datetime(2018, 3, 16, tzinfo=TPE)).status == "stale"
