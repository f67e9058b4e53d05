"""Declared update frequency (更新頻率) → a canonical value. Pure Python.

A frequency is read from what portals actually publish: Chinese free text (每日, 每1日, 每2個月, 每季,
每半年, 即時, 不定期, with full-width digits and common typos), English words, DCAT-AP (EU Frequency NAL)
codes and URIs, Dublin Core frequency URIs and ISO 8601 durations or repeating intervals (``R/P1M``).
Ended series (``每季，至104年12月為止``, ROC years) keep their interval and carry the end month.

What cannot be read is returned with class ``unknown`` and ``recognised=False``: it goes to a data
steward's review queue and is never silently taken as irregular.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass

PERIODIC = "periodic"
CONTINUOUS = "continuous"
IRREGULAR = "irregular"
NEVER = "never"
ENDED = "ended"
UNKNOWN = "unknown"
CLASSES = (PERIODIC, CONTINUOUS, IRREGULAR, NEVER, ENDED, UNKNOWN)

EU_PREFIX = "http://publications.europa.eu/resource/authority/frequency/"


@dataclass(frozen=True)
class Interval:
    """A period: whole calendar months plus a fixed number of seconds (either may be zero)."""

    months: int = 0
    seconds: int = 0

    @property
    def iso(self) -> str:
        """The ISO 8601 duration, e.g. ``P1M``, ``P1Y``, ``P7D``, ``PT1H``."""
        out = "P"
        if self.months:
            out += f"{self.months // 12}Y" if self.months % 12 == 0 else f"{self.months}M"
        days, rest = divmod(self.seconds, 86400)
        if days:
            out += f"{days}D"
        if rest:
            hours, rest = divmod(rest, 3600)
            minutes, secs = divmod(rest, 60)
            out += "T" + (f"{hours}H" if hours else "") + (f"{minutes}M" if minutes else "") + (
                f"{secs}S" if secs else "")
        return out if out != "P" else "PT0S"

    def after(self, moment: dt.datetime) -> dt.datetime:
        """``moment`` plus this interval (calendar months: 31 Jan + 1 month = 28/29 Feb)."""
        return add_months(moment, self.months) + dt.timedelta(seconds=self.seconds)


def add_months(moment: dt.datetime, months: int) -> dt.datetime:
    """Add calendar months, clamping the day to the end of the target month."""
    if not months:
        return moment
    index = moment.year * 12 + moment.month - 1 + months
    year, month = divmod(index, 12)
    month += 1
    next_first = dt.date(year + (month == 12), month % 12 + 1, 1)
    last_day = (next_first - dt.timedelta(days=1)).day
    return moment.replace(year=year, month=month, day=min(moment.day, last_day))


@dataclass(frozen=True)
class Frequency:
    """The canonical form of a declared frequency.

    ``interval`` is set for periodic (and ended periodic) series; ``ends`` is the first day after an
    ended series' last period when the text gives it. ``recognised`` is False only when the text was
    present but could not be read (review queue).
    """

    kind: str
    interval: Interval | None
    eu_code: str
    source_text: str
    recognised: bool = True
    ends: dt.date | None = None
    note: str = ""

    @property
    def iso(self) -> str:
        """The ISO 8601 duration of the interval, or an empty string."""
        return self.interval.iso if self.interval else ""

    @property
    def eu_uri(self) -> str:
        """The EU Frequency NAL URI, or an empty string."""
        return EU_PREFIX + self.eu_code if self.eu_code else ""


_MIN, _HOUR, _DAY = 60, 3600, 86400

# EU Frequency NAL code → (class, interval)
EU_CODES: dict[str, tuple[str, Interval | None]] = {
    "1MIN": (PERIODIC, Interval(seconds=_MIN)), "5MIN": (PERIODIC, Interval(seconds=5 * _MIN)),
    "10MIN": (PERIODIC, Interval(seconds=10 * _MIN)), "15MIN": (PERIODIC, Interval(seconds=15 * _MIN)),
    "30MIN": (PERIODIC, Interval(seconds=30 * _MIN)), "HOURLY": (PERIODIC, Interval(seconds=_HOUR)),
    "BIHOURLY": (PERIODIC, Interval(seconds=2 * _HOUR)), "TRIHOURLY": (PERIODIC, Interval(seconds=3 * _HOUR)),
    "12HRS": (PERIODIC, Interval(seconds=12 * _HOUR)), "DAILY_2": (PERIODIC, Interval(seconds=12 * _HOUR)),
    "DAILY": (PERIODIC, Interval(seconds=_DAY)), "WEEKLY_3": (PERIODIC, Interval(seconds=56 * _HOUR)),
    "WEEKLY_2": (PERIODIC, Interval(seconds=84 * _HOUR)), "WEEKLY": (PERIODIC, Interval(seconds=7 * _DAY)),
    "BIWEEKLY": (PERIODIC, Interval(seconds=14 * _DAY)), "MONTHLY_3": (PERIODIC, Interval(seconds=10 * _DAY)),
    "MONTHLY_2": (PERIODIC, Interval(seconds=15 * _DAY)), "MONTHLY": (PERIODIC, Interval(months=1)),
    "BIMONTHLY": (PERIODIC, Interval(months=2)), "QUARTERLY": (PERIODIC, Interval(months=3)),
    "ANNUAL_3": (PERIODIC, Interval(months=4)), "ANNUAL_2": (PERIODIC, Interval(months=6)),
    "ANNUAL": (PERIODIC, Interval(months=12)), "BIENNIAL": (PERIODIC, Interval(months=24)),
    "TRIENNIAL": (PERIODIC, Interval(months=36)), "QUADRENNIAL": (PERIODIC, Interval(months=48)),
    "QUINQUENNIAL": (PERIODIC, Interval(months=60)), "DECENNIAL": (PERIODIC, Interval(months=120)),
    "BIDECENNIAL": (PERIODIC, Interval(months=240)), "TRIDECENNIAL": (PERIODIC, Interval(months=360)),
    "CONT": (CONTINUOUS, None), "UPDATE_CONT": (CONTINUOUS, None), "IRREG": (IRREGULAR, None),
    "AS_NEEDED": (IRREGULAR, None), "NEVER": (NEVER, None), "NOT_PLANNED": (NEVER, None),
    "OTHER": (UNKNOWN, None), "UNKNOWN": (UNKNOWN, None), "OP_DATPRO": (UNKNOWN, None),
}
# Preferred code for an interval (the first code listed above for each interval wins, except 12 hours).
_CODE_FOR: dict[Interval, str] = {}
for _code, (_kind, _interval) in EU_CODES.items():
    if _interval is not None and _code != "DAILY_2":
        _CODE_FOR.setdefault(_interval, _code)

# Dublin Core Collection Description Frequency vocabulary (purl.org/cld/freq/...) → EU code.
_DC_FREQ = {
    "triennial": "TRIENNIAL", "biennial": "BIENNIAL", "annual": "ANNUAL", "semiannual": "ANNUAL_2",
    "threetimesayear": "ANNUAL_3", "quarterly": "QUARTERLY", "bimonthly": "BIMONTHLY", "monthly": "MONTHLY",
    "semimonthly": "MONTHLY_2", "biweekly": "BIWEEKLY", "threetimesamonth": "MONTHLY_3", "weekly": "WEEKLY",
    "semiweekly": "WEEKLY_2", "threetimesaweek": "WEEKLY_3", "daily": "DAILY", "continuous": "CONT",
    "irregular": "IRREG",
}

_ENGLISH = {
    "daily": "DAILY", "every day": "DAILY", "weekly": "WEEKLY", "every week": "WEEKLY", "monthly": "MONTHLY",
    "every month": "MONTHLY", "quarterly": "QUARTERLY", "every quarter": "QUARTERLY", "annual": "ANNUAL",
    "annually": "ANNUAL", "yearly": "ANNUAL", "every year": "ANNUAL", "semiannual": "ANNUAL_2",
    "semi-annual": "ANNUAL_2", "semiannually": "ANNUAL_2", "semi-annually": "ANNUAL_2",
    "half-yearly": "ANNUAL_2", "half yearly": "ANNUAL_2", "twice a year": "ANNUAL_2", "biweekly": "BIWEEKLY",
    "bi-weekly": "BIWEEKLY", "fortnightly": "BIWEEKLY", "bimonthly": "BIMONTHLY", "bi-monthly": "BIMONTHLY",
    "biennial": "BIENNIAL", "biennially": "BIENNIAL", "hourly": "HOURLY", "every hour": "HOURLY",
    "continuous": "CONT", "continuously": "CONT", "continually": "CONT", "real-time": "UPDATE_CONT",
    "realtime": "UPDATE_CONT", "real time": "UPDATE_CONT", "live": "UPDATE_CONT", "irregular": "IRREG",
    "irregularly": "IRREG", "as needed": "AS_NEEDED", "as-needed": "AS_NEEDED", "ad hoc": "AS_NEEDED",
    "never": "NEVER", "not planned": "NOT_PLANNED", "unknown": "UNKNOWN", "other": "OTHER",
    "triennial": "TRIENNIAL", "decennial": "DECENNIAL",
}

# Chinese texts that are not periodic.
_CONTINUOUS_ZH = ("即時", "實時", "隨時更新", "持續更新", "連續")
_IRREGULAR_ZH = ("不定期", "不定時", "不固定", "非定期", "依需求", "視需要", "視需求", "依需要", "隨時", "有異動",
                 "異動時", "有更新時", "變更時", "依實際", "依業務", "配合")
_NEVER_ZH = ("不更新", "無需更新", "無須更新", "不需更新", "一次性", "僅一次", "不再新增", "靜態資料")
_ENDED_ZH = ("停止更新", "不再更新", "已停止", "停更", "已停用", "停止提供", "已結束")
_UNKNOWN_ZH = ("未提供", "未定", "不詳", "無", "其他", "n/a", "na", "-", "--", "—")

# Typos and variants seen in portal data: 毎 (Japanese form), 曰 for 日, ㄧ (bopomofo i) for 一, 周 for 週.
_TYPOS = str.maketrans({"毎": "每", "曰": "日", "ㄧ": "一", "周": "週", "禮": "週", "天": "日", "箇": "個",
                        "個": "個", "兩": "二", "廿": "二"})
_ZH_DIGITS = {"一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9, "十": 10,
              "十二": 12, "十五": 15, "十一": 11}

_UNIT = {"分鐘": Interval(seconds=_MIN), "分": Interval(seconds=_MIN), "小時": Interval(seconds=_HOUR),
         "時": Interval(seconds=_HOUR), "日": Interval(seconds=_DAY), "週": Interval(seconds=7 * _DAY),
         "星期": Interval(seconds=7 * _DAY), "拜": Interval(seconds=7 * _DAY), "月": Interval(months=1),
         "季": Interval(months=3), "半年": Interval(months=6), "年": Interval(months=12),
         "旬": Interval(seconds=10 * _DAY)}
_NUM = r"(?P<n>\d+(?:\.\d+)?|十[一二五]?|[一二三四五六七八九十])?"
_UNITS_RE = r"(?P<unit>分鐘|小時|半年|星期|拜|分|時|日|週|月|季|年|旬)"
# 每2個月, 每1日, 每季, 每半年, 每年度, 每隔3個月, 2個月1次, 按月, 逐月, 雙週, 月更新, 年度更新 ...
_PERIODIC_RE = re.compile(
    r"^(?:每|每隔|隔|按|逐)" + _NUM + r"(?:個)?" + _UNITS_RE + r"(?:度)?")
_PERIODIC_LEAD_RE = re.compile(r"^" + _NUM + r"(?:個)?" + _UNITS_RE + r"(?:度)?(?:更新|一次|1次)")
_BARE_UNIT_RE = re.compile(r"^(?P<unit>日|週|月|季|半年|年)(?:度)?(?:更新|報|資料)?$")
_DOUBLE_RE = re.compile(r"^(?:每)?(?P<double>雙|半)(?P<unit>週|月|年)")
_PER_N_RE = re.compile(r"^每" + _UNITS_RE.replace("unit", "outer") + r"(?P<n>\d+|[一二三四五六七八九十])次")
_ENDED_RE = re.compile(
    r"(?:至|到|迄)\s*(?:民國)?(?P<year>\d{2,4})\s*(?:年|[./-])\s*(?:(?P<month>\d{1,2})\s*月?)?\s*(?:底|止|為止|停止|結束)")
_ISO_RE = re.compile(
    r"^(?:R\d*/)?P(?:(?P<y>\d+(?:\.\d+)?)Y)?(?:(?P<mo>\d+(?:\.\d+)?)M)?(?:(?P<w>\d+(?:\.\d+)?)W)?"
    r"(?:(?P<d>\d+(?:\.\d+)?)D)?(?:T(?:(?P<h>\d+(?:\.\d+)?)H)?(?:(?P<mi>\d+(?:\.\d+)?)M)?(?:(?P<s>\d+)S)?)?$")


def _number(text: str | None) -> float | None:
    if text is None or text == "":
        return 1
    if text in _ZH_DIGITS:
        return _ZH_DIGITS[text]
    try:
        return float(text)
    except ValueError:
        return None


def _scale(unit: Interval, count: float) -> Interval | None:
    months = unit.months * count
    seconds = unit.seconds * count
    if months != int(months):
        return None
    if seconds != int(seconds):
        return None
    if months == 0 and seconds == 0:
        return None
    return Interval(months=int(months), seconds=int(seconds))


def _periodic(interval: Interval, source: str, note: str = "") -> Frequency:
    return Frequency(PERIODIC, interval, _CODE_FOR.get(interval, "OTHER"), source, note=note)


def _from_code(code: str, source: str) -> Frequency:
    kind, interval = EU_CODES[code]
    return Frequency(kind, interval, code, source)


def _iso(text: str, source: str) -> Frequency | None:
    match = _ISO_RE.match(text.upper())
    if not match or not any(match.groupdict().values()):
        return None
    g = {k: float(v) if v else 0.0 for k, v in match.groupdict().items()}
    months = g["y"] * 12 + g["mo"]
    seconds = ((g["w"] * 7 + g["d"]) * 24 + g["h"]) * 3600 + g["mi"] * 60 + g["s"]
    if months != int(months) or seconds != int(seconds) or (months == 0 and seconds == 0):
        return None
    return _periodic(Interval(int(months), int(seconds)), source)


def _ended_date(text: str) -> dt.date | None:
    match = _ENDED_RE.search(text)
    if not match:
        return None
    year = int(match.group("year"))
    if year < 1000:  # 民國 (ROC) year
        year += 1911
    month = int(match.group("month") or 12)
    if not 1 <= month <= 12:
        return None
    # The series ends after the named month: the first day of the following month.
    return dt.date(year + (month == 12), month % 12 + 1, 1)


def _zh_periodic(text: str) -> Interval | None:
    """The interval of a Chinese periodic text (already normalised), or None."""
    match = _DOUBLE_RE.match(text)
    if match:
        unit = _UNIT[match.group("unit")]
        factor = 2 if match.group("double") == "雙" else 0.5
        if match.group("unit") == "月" and factor == 0.5:
            return Interval(seconds=15 * _DAY)
        return _scale(unit, factor)
    match = _PER_N_RE.match(text)  # 每年2次, 每月2次: n times per unit
    if match:
        count = _number(match.group("n"))
        outer = _UNIT[match.group("outer")]
        if count:
            if outer.months and (outer.months / count) == int(outer.months / count):
                return Interval(months=int(outer.months / count))
            total = outer.months * 30 * _DAY + outer.seconds
            return Interval(seconds=int(total / count)) if total % count == 0 else None
    for pattern in (_PERIODIC_RE, _PERIODIC_LEAD_RE, _BARE_UNIT_RE):
        match = pattern.match(text)
        if match:
            count = _number(match.groupdict().get("n"))
            if count is None:
                return None
            return _scale(_UNIT[match.group("unit")], count)
    return None


def normalise(text: str | None) -> Frequency:
    """Read one declared frequency text. Never raises; unreadable text has ``recognised=False``."""
    source = text or ""
    folded = unicodedata.normalize("NFKC", source).strip().strip("\"'").strip()
    if not folded:
        return Frequency(UNKNOWN, None, "", source, note="no frequency declared")
    lower = folded.lower()
    compact = re.sub(r"\s+", "", folded)

    # DCAT-AP / EU NAL URIs and codes, Dublin Core URIs.
    if lower.startswith(EU_PREFIX) or lower.startswith(EU_PREFIX.replace("http:", "https:")):
        code = folded.rstrip("/").rsplit("/", 1)[-1].upper()
        if code in EU_CODES:
            return _from_code(code, source)
        return Frequency(UNKNOWN, None, "", source, recognised=False, note="unknown EU frequency code")
    if "purl.org/cld/freq/" in lower:
        name = lower.rstrip("/").rsplit("/", 1)[-1]
        if name in _DC_FREQ:
            return _from_code(_DC_FREQ[name], source)
        return Frequency(UNKNOWN, None, "", source, recognised=False, note="unknown Dublin Core frequency")
    if folded.upper() in EU_CODES:
        return _from_code(folded.upper(), source)
    iso = _iso(compact, source)
    if iso is not None:
        return iso
    english = re.sub(r"[\s_]+", " ", lower).strip(" .")
    if english in _ENGLISH:
        return _from_code(_ENGLISH[english], source)
    match = re.match(r"^every (\d+) (minute|hour|day|week|month|year)s?$", english)
    if match:
        unit = {"minute": Interval(seconds=_MIN), "hour": Interval(seconds=_HOUR), "day": Interval(seconds=_DAY),
                "week": Interval(seconds=7 * _DAY), "month": Interval(months=1),
                "year": Interval(months=12)}[match.group(2)]
        scaled = _scale(unit, int(match.group(1)))
        if scaled:
            return _periodic(scaled, source)

    # Chinese free text.
    zh = compact.translate(_TYPOS)
    zh = re.sub(r"[,，、;；。:：()（）\[\]【】]", "", zh)
    ended_at = _ended_date(compact.translate(_TYPOS))
    is_ended = ended_at is not None or any(word in zh for word in _ENDED_ZH)
    if any(word in zh for word in _NEVER_ZH) and not is_ended:
        return Frequency(NEVER, None, "NEVER", source)
    for word in _CONTINUOUS_ZH:
        if zh.startswith(word) or zh == word:
            return Frequency(CONTINUOUS, None, "UPDATE_CONT", source)
    interval = _zh_periodic(zh)
    if is_ended:
        return Frequency(ENDED, interval, _CODE_FOR.get(interval, "") if interval else "", source, ends=ended_at)
    if interval is not None:
        # Conditional text after the period (每年4月更新, 每月10日前) keeps the period; say so.
        rest = "conditional" if len(zh) > 6 else ""
        return _periodic(interval, source, note=rest)
    if any(word in zh for word in _IRREGULAR_ZH):
        return Frequency(IRREGULAR, None, "IRREG", source)
    if any(word in zh for word in _CONTINUOUS_ZH):
        return Frequency(CONTINUOUS, None, "UPDATE_CONT", source)
    if lower in _UNKNOWN_ZH or zh in _UNKNOWN_ZH:
        return Frequency(UNKNOWN, None, "UNKNOWN", source, note="declared as unknown")
    return Frequency(UNKNOWN, None, "", source, recognised=False, note="not understood")
