"""``citygov points report``: the year's points figures as PNG charts plus a short Markdown summary.

Example::

    citygov points report --year 2023 --out report-2023/            # whole programme
    citygov points report --year 2023 --out report-2023/ --user agency-admin --format jsonl

Writes ``monthly.png`` (issued / spent / expired per month against last year — the audit's figure 2),
``yoy.png`` (change against the same month last year, with the alert threshold), ``daily.png``
(transactions and points per day), ``districts.png`` (merchants with points payment enabled per
district), ``campaigns.png`` (breakage per campaign) and ``summary.md``.

The charts are labelled in Traditional Chinese with the font bundled in ``citygov/points/fonts``
(Noto Sans CJK TC subset, SIL Open Font License), so they render on a machine without any CJK system
font. Exit codes: 0 written, 1 failure, 2 bad input (year, output folder, unknown user).
"""

from __future__ import annotations

import datetime as dt
from argparse import ArgumentParser
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from citygov.points import analytics

FONT_PATH = Path(__file__).resolve().parent.parent / "fonts" / "NotoSansTC-citygov-subset.otf"
EXIT_BAD_INPUT = 2
COLOURS = {"issued": "#1f5f99", "spent": "#2e7d4f", "expired": "#f2a516", "alert": "#b3261e", "never": "#c4ccd4"}
MAX_CAMPAIGNS = 15
METRIC_NAMES = {"issued": "發放", "spent": "使用", "expired": "逾期", "transactions": "交易筆數"}

HELP = "Write the year's points figures as PNG charts and a Markdown summary."


@dataclass(frozen=True)
class ReportFiles:
    """What the report wrote."""

    charts: tuple[Path, ...]
    summary: Path
    alert_months: tuple[str, ...]


@cache
def font_characters() -> frozenset[str]:
    """The characters the bundled font can draw."""
    from fontTools.ttLib import TTFont

    return frozenset(chr(code) for code in TTFont(str(FONT_PATH), lazy=True).getBestCmap())


def missing_glyphs(text: str) -> str:
    """The characters of ``text`` the bundled font lacks (whitespace ignored), in order, once each."""
    chars = font_characters()
    return "".join(dict.fromkeys(c for c in text if not c.isspace() and c not in chars))


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:+.1f}%"


def _share(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.2f}%"


class _Charts:
    """Draws each chart with the bundled font and refuses labels it cannot render."""

    def __init__(self, out: Path):
        import matplotlib

        matplotlib.use("Agg")
        from matplotlib import font_manager

        font_manager.fontManager.addfont(str(FONT_PATH))
        self.family = font_manager.FontProperties(fname=str(FONT_PATH)).get_name()
        self.out = out
        self.written: list[Path] = []

    def figure(self, width: float = 10, height: float = 5.2):
        import matplotlib.pyplot as plt

        with plt.rc_context({"font.family": self.family, "axes.unicode_minus": False}):
            fig, ax = plt.subplots(figsize=(width, height), dpi=110)
        return fig, ax

    def save(self, fig, name: str) -> None:
        import matplotlib.pyplot as plt

        texts = [t.get_text() for t in fig.findobj(lambda o: hasattr(o, "get_text"))]
        missing = missing_glyphs("".join(texts))
        if missing:
            plt.close(fig)
            raise CommandError(f"the bundled font cannot draw {missing!r} (字型缺字)")
        for text in fig.findobj(lambda o: hasattr(o, "set_fontfamily")):
            text.set_fontfamily(self.family)
        fig.tight_layout()
        path = self.out / name
        fig.savefig(path)
        plt.close(fig)
        self.written.append(path)


def _monthly(charts: _Charts, year: int, current, previous) -> None:
    import numpy as np

    fig, ax = charts.figure()
    x = np.arange(12)
    width = 0.27
    for offset, (metric, label) in enumerate((("issued", "發放"), ("spent", "使用"), ("expired", "逾期"))):
        ax.bar(x + (offset - 1) * width, [getattr(f, metric) for f in current], width,
               label=f"{year} {label}", color=COLOURS[metric])
    for metric, label in (("issued", "發放"), ("spent", "使用")):
        ax.plot(x, [getattr(f, metric) for f in previous], linestyle="--", marker="o", markersize=3,
                color=COLOURS[metric], alpha=0.7, label=f"{year - 1} {label}")
    ax.set_xticks(x, [f"{m}月" for m in range(1, 13)])
    ax.set_ylabel("點數")
    ax.set_title(f"{year} 年每月點數發放、使用與逾期（虛線：{year - 1} 年）")
    ax.yaxis.set_major_formatter(lambda value, _pos: f"{value:,.0f}")
    ax.legend(ncols=5, fontsize=9, loc="upper center", bbox_to_anchor=(0.5, -0.07), frameon=False)
    ax.grid(axis="y", alpha=0.3)
    charts.save(fig, "monthly.png")


def _yoy(charts: _Charts, report: analytics.YoyReport) -> None:
    fig, ax = charts.figure()
    labels = [f"{int(m.month[5:])}月" for m in report.months]
    values = [m.change_of("spent").change for m in report.months]
    heights = [0 if v is None else 100 * v for v in values]
    colours = [COLOURS["alert"] if m.alert else COLOURS["spent"] for m in report.months]
    ax.bar(labels, heights, color=colours)
    for index, value in enumerate(values):
        ax.annotate("無資料" if value is None else f"{100 * value:+.0f}%", (index, heights[index]),
                    ha="center", va="bottom" if heights[index] >= 0 else "top", fontsize=8)
    threshold = -100 * report.share
    ax.axhline(threshold, color=COLOURS["alert"], linestyle="--", linewidth=1)
    ax.axhline(0, color="#44505c", linewidth=0.8)
    ax.text(-0.45, threshold, f"警示門檻 {threshold:.0f}%", color=COLOURS["alert"], ha="left", va="bottom",
            fontsize=9, backgroundcolor="white")
    ax.set_ylabel("與去年同月相比（%）")
    ax.set_title(f"{report.year} 年每月使用點數年增率（紅色：警示月份）")
    ax.set_ylim(min(-105, min(heights, default=0) - 10), max(20, max(heights, default=0) + 15))
    ax.grid(axis="y", alpha=0.3)
    charts.save(fig, "yoy.png")


def _daily(charts: _Charts, year: int, days) -> None:
    import matplotlib.dates as mdates

    fig, ax = charts.figure()
    dates = [dt.date.fromisoformat(f.period) for f in days]
    ax.bar(dates, [f.spent for f in days], color=COLOURS["spent"], alpha=0.45, width=1.0, label="使用點數（右軸）")
    ax2 = ax.twinx()
    ax2.plot(dates, [f.transactions for f in days], color=COLOURS["issued"], linewidth=1.2, label="交易筆數")
    ax.set_ylabel("使用點數")
    ax2.set_ylabel("交易筆數")
    ax.yaxis.tick_right()
    ax.yaxis.set_label_position("right")
    ax2.yaxis.tick_left()
    ax2.yaxis.set_label_position("left")
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%m/%d"))
    ax.set_title(f"{year} 年每日交易筆數與使用點數")
    handles = ax.get_legend_handles_labels()
    handles2 = ax2.get_legend_handles_labels()
    ax.legend(handles[0] + handles2[0], handles[1] + handles2[1], loc="upper right", fontsize=9)
    ax.grid(axis="y", alpha=0.3)
    charts.save(fig, "daily.png")


def _districts(charts: _Charts, summary: analytics.MerchantSummary) -> None:
    fig, ax = charts.figure()
    rows = [row for row in summary.districts if row.total]
    names = [row.name_zh for row in rows]
    enabled = [row.enabled for row in rows]
    never = [row.never_enabled for row in rows]
    ax.bar(names, enabled, color=COLOURS["spent"], label="已啟用點數支付")
    ax.bar(names, never, bottom=enabled, color=COLOURS["never"], label="從未啟用")
    for index, row in enumerate(rows):
        ax.annotate(_share(row.share), (index, row.total), ha="center", va="bottom", fontsize=8)
    ax.set_ylabel("特約商店數")
    ax.yaxis.get_major_locator().set_params(integer=True)
    ax.set_ylim(0, max((row.total for row in rows), default=1) * 1.15)
    ax.set_title(f"各區特約商店點數支付啟用情形（全市 {summary.enabled:,}／{summary.total:,} 家，"
                 f"啟用率 {_share(summary.share)}）")
    ax.legend(fontsize=9)
    ax.tick_params(axis="x", labelrotation=30)
    ax.grid(axis="y", alpha=0.3)
    charts.save(fig, "districts.png")


def _campaigns(charts: _Charts, campaigns: list[analytics.Breakage]) -> None:
    rows = sorted((c for c in campaigns if c.issued), key=lambda c: c.issued, reverse=True)[:MAX_CAMPAIGNS]
    fig, ax = charts.figure(height=max(3.0, 0.45 * len(rows) + 1.6))
    names = [c.name[:24] for c in rows][::-1]
    spent = [c.spent for c in rows][::-1]
    expired = [c.expired for c in rows][::-1]
    rest = [max(c.issued - c.spent - c.expired, 0) for c in rows][::-1]
    ax.barh(names, spent, color=COLOURS["spent"], label="已使用")
    ax.barh(names, expired, left=spent, color=COLOURS["expired"], label="逾期")
    ax.barh(names, rest, left=[s + e for s, e in zip(spent, expired, strict=True)], color=COLOURS["never"],
            label="尚未使用")
    for index, campaign in enumerate(rows[::-1]):
        ax.annotate(f"逾期率 {_share(campaign.breakage)}", (campaign.issued, index), va="center", fontsize=8,
                    xytext=(4, 0), textcoords="offset points")
    ax.set_xlim(0, max((c.issued for c in rows), default=1) * 1.2)  # room for the breakage labels
    ax.set_xlabel("點數")
    ax.set_title("各活動發放點數之使用與逾期（活動全期）")
    ax.xaxis.set_major_formatter(lambda value, _pos: f"{value:,.0f}")
    ax.legend(fontsize=9, loc="lower right")
    charts.save(fig, "campaigns.png")


def _summary(year: int, current, previous, report: analytics.YoyReport, campaigns, summary) -> str:
    this, last = analytics.flow_total(current), analytics.flow_total(previous)

    def change(now: int, before: int) -> str:
        return "—" if not before else _percent((now - before) / before)

    lines = [f"# 市民卡點數 {year} 年報告（Citizen-card points report {year}）", "",
             f"產製時間：{dt.datetime.now(tz=analytics.TZ):%Y-%m-%d %H:%M}（Asia/Taipei）", "",
             "## 全年數字", "", f"| 項目 | {year} | {year - 1} | 增減 |", "| --- | ---: | ---: | ---: |"]
    for metric, label in (("issued", "發放點數"), ("spent", "使用點數（扣除退款）"), ("expired", "逾期點數"),
                          ("transactions", "交易筆數")):
        now, before = getattr(this, metric), getattr(last, metric)
        lines.append(f"| {label} | {now:,} | {before:,} | {change(now, before)} |")
    lines += ["", "## 年增率警示", ""]
    alerts = report.alert_months
    if alerts:
        lines.append(f"共 {len(alerts)} 個月份較去年同月下滑超過 {100 * report.share:.0f}%："
                     + "、".join(f"{m.month}（{'、'.join(METRIC_NAMES[a] for a in m.alerts)}）" for m in alerts) + "。")
    else:
        lines.append(f"沒有月份較去年同月下滑超過 {100 * report.share:.0f}%。")
    worst = report.worst("spent")
    if worst is not None:
        lines.append(f"使用點數跌幅最大：{worst.month}，{_percent(worst.change_of('spent').change)}。")
    issued_total = sum(c.issued for c in campaigns)
    expired_total = sum(c.expired for c in campaigns)
    lines += ["", "## 逾期（breakage）", "",
              f"各活動全期共發放 {issued_total:,} 點，逾期 {expired_total:,} 點"
              f"（{_share(expired_total / issued_total if issued_total else None)}）。", ""]
    lines += ["## 特約商店", "",
              f"全市 {summary.total:,} 家特約商店中 {summary.enabled:,} 家已啟用點數支付"
              f"（{_share(summary.share)}），{summary.never_enabled:,} 家從未啟用。"]
    worst_districts = sorted((r for r in summary.districts if r.never_enabled), key=lambda r: -r.never_enabled)[:3]
    if worst_districts:
        lines.append("從未啟用最多的行政區：" + "、".join(f"{r.name_zh} {r.never_enabled:,} 家" for r in worst_districts)
                     + "。")
    lines += ["", "## 圖表", "", "- monthly.png：每月發放、使用與逾期（與去年比較）", "- yoy.png：每月使用點數年增率與警示門檻",
              "- daily.png：每日交易筆數與使用點數", "- districts.png：各區點數支付啟用情形",
              "- campaigns.png：各活動之使用與逾期", ""]
    return "\n".join(lines)


def write_report(user, year: int, out: Path, *, now: dt.datetime | None = None) -> ReportFiles:
    """Compute the figures for ``year`` (``user``'s scope; ``None`` = whole programme) and write them to ``out``."""
    now = (now or dt.datetime.now(tz=analytics.TZ)).astimezone(analytics.TZ)
    out.mkdir(parents=True, exist_ok=True)
    window = analytics.year_window(user, year)
    current, previous = window.months(year), window.months(year - 1)
    report = analytics.year_over_year(user, year, now=now, window=window)
    last_day = min(dt.date(year, 12, 31), now.date())
    days = window.daily(dt.date(year, 1, 1), last_day) if last_day >= dt.date(year, 1, 1) else []
    campaigns = analytics.breakage_by_campaign(user)
    summary = analytics.merchant_summary()
    charts = _Charts(out)
    _monthly(charts, year, current, previous)
    _yoy(charts, report)
    _daily(charts, year, days)
    _districts(charts, summary)
    _campaigns(charts, campaigns)
    summary_path = out / "summary.md"
    summary_path.write_text(_summary(year, current, previous, report, campaigns, summary), encoding="utf-8")
    return ReportFiles(charts=tuple(charts.written), summary=summary_path,
                       alert_months=tuple(m.month for m in report.alert_months))


def arguments(parser: ArgumentParser) -> None:
    """``--year``, ``--out``, optional ``--user`` (figures in that user's scope) and ``--format``."""
    parser.add_argument("--year", required=True, help="calendar year (Asia/Taipei), e.g. 2023")
    parser.add_argument("--out", required=True, metavar="DIR", help="folder to write the PNG files and summary.md to")
    parser.add_argument("--user", help="figures in this user's scope (default: the whole programme)")
    parser.add_argument("--format", choices=("text", "jsonl"), default="text")


def run(command: BaseCommand, options: dict) -> None:
    """Write the report; one line (or JSON object) per file."""
    import json

    from citygov.core.roles import Capability
    from citygov.points.management.commands.points import acting_user

    try:
        year = analytics.check_year(options["year"], default=0)
    except ValueError as exc:
        raise CommandError(f"--year: {exc} (年份錯誤)", returncode=EXIT_BAD_INPUT) from None
    user = None
    if options.get("user"):
        user = acting_user(options["user"])
        if not user.has_capability(Capability.VIEW_POINTS):
            raise CommandError(f"{user.username} may not view the points programme (無權限檢視點數)", returncode=1)
    out = Path(options["out"])
    if out.exists() and not out.is_dir():
        raise CommandError(f"{out}: not a folder (不是資料夾)", returncode=EXIT_BAD_INPUT)
    try:
        files = write_report(user, year, out)
    except OSError as exc:
        raise CommandError(f"{out}: cannot write ({exc.strerror}) (無法寫入)", returncode=EXIT_BAD_INPUT) from None
    for path in (*files.charts, files.summary):
        if options["format"] == "jsonl":
            command.stdout.write(json.dumps({"file": str(path), "bytes": path.stat().st_size}, ensure_ascii=False))
        else:
            command.stdout.write(str(path))
    if options["format"] == "jsonl":
        command.stdout.write(json.dumps({"year": year, "alert_months": list(files.alert_months)}))
    elif files.alert_months:
        command.stdout.write(f"year-over-year alert: {', '.join(files.alert_months)}")
