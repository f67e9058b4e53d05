"""Demo data for the SOC module, modelled on the audit: an agency network table, about 600 alerts
over two years with the audit's mix (most are intrusion attempts, "other" and information gathering;
most are medium, few high), the four forensic cases the audit describes (a device using wget to
download penetration tools and password dictionaries; intrusion alerts on Cultural Affairs Bureau
and Art Museum devices; a website injected with advertising text and links; endpoint-protection
alerts) with their recommendations as follow-up actions — some verified, some awaiting
verification, some overdue — and the reminders the daily job sends.

Everything goes through the services (alerts through the same importer a file takes). Addresses are
private (10.x) or documentation ranges (RFC 5737); nothing names a real host. Idempotent: nothing
happens when the first demo case already exists.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import logging
import random
from dataclasses import dataclass

from django.utils import timezone

from citygov.agencies.models import Agency
from citygov.soc import services
from citygov.soc.engine.normalise import TAIPEI
from citygov.soc.models import AgencyNetwork, Alert, ForensicCase

logger = logging.getLogger(__name__)

NETWORKS = (("culture", "10.17.0.0/16", "文化局 機房"), ("tmofa", "10.17.35.0/24", "美術館 館舍網段"),
            ("sccdc", "10.34.0.0/16", "智發會 資料中心"), ("education", "10.5.0.0/16", "教育局"),
            ("tourism", "10.21.0.0/16", "觀光旅遊局 網站"), ("health", "10.15.0.0/16", "衛生局"),
            ("police", "10.13.0.0/16", "警察局"))
# (signature id, signature, classtype, Suricata severity, weight): weights follow the audit's mix.
SIGNATURES = (
    (2019401, "ET WEB_SERVER Possible SQL Injection Attempt UNION SELECT", "Web Application Attack", 2, 20),
    (2012887, "ET EXPLOIT Apache Struts Possible OGNL Java Exec", "Attempted Administrator Privilege Gain", 2, 12),
    (2001219, "ET SCAN Potential SSH Scan", "Attempted Information Leak", 2, 9),
    (2024364, "ET SCAN Possible Nmap User-Agent Observed", "Web Application Attack", 2, 4),
    (2010935, "ET POLICY Suspicious inbound to MSSQL port 1433", "Potentially Bad Traffic", 2, 10),
    (2013028, "ET POLICY curl User-Agent Outbound", "Attempted Information Leak", 3, 8),
    (2008120, "ET TROJAN Possible Windows executable sent when remote host claims to send html content",
     "A Network Trojan was detected", 1, 3),
    (2100498, "GPL ATTACK_RESPONSE id check returned root", "Potentially Bad Traffic", 2, 2),
    (2016922, "ET WEB_SPECIFIC_APPS WordPress Login Brute Force", "Attempted User Privilege Gain", 2, 14),
    (2027390, "ET DOS Possible SSDP Amplification Scan in Progress", "Attempted Denial of Service", 2, 1),
    (2022973, "ET PHISHING Possible Phishing Landing Page", "Possible Social Engineering Attempted", 2, 1),
)
DESTINATIONS = ("10.17.1.10", "10.17.35.8", "10.34.2.20", "10.5.3.30", "10.21.0.80", "10.15.4.5", "10.13.9.9",
                "10.99.0.7")
ATTACKERS = tuple(f"203.0.113.{n}" for n in (7, 23, 45, 88, 120)) + tuple(f"198.51.100.{n}" for n in (3, 61, 199))
ALERT_COUNT = 600
FIRST_CASE = "文化局及美術館設備入侵告警"


@dataclass(frozen=True)
class SocDemoResult:
    """What the demo created (all zero when it already existed)."""

    alerts: int = 0
    cases: int = 0
    actions: int = 0
    incidents: int = 0


def _alert_lines(now: dt.datetime) -> bytes:
    rng = random.Random(20241231)
    weights = [s[4] for s in SIGNATURES]
    start = now - dt.timedelta(days=730)
    lines = []
    for i in range(ALERT_COUNT):
        sid, name, classtype, severity, _w = rng.choices(SIGNATURES, weights)[0]
        # Repeat offenders: a third of the alerts come from the first attacker against one host.
        src = ATTACKERS[0] if i % 3 == 0 else rng.choice(ATTACKERS)
        dest = DESTINATIONS[1] if i % 3 == 0 else rng.choice(DESTINATIONS)
        if rng.random() < 0.03:
            severity = 1
        when = start + dt.timedelta(seconds=rng.randrange(730 * 86400))
        if i % 50 == 0:  # a burst in one month, so the trend shows a deviating month
            when = now - dt.timedelta(days=200, seconds=rng.randrange(86400 * 5))
        lines.append(json.dumps({
            "timestamp": when.astimezone(TAIPEI).isoformat(), "flow_id": 1_000_000 + i, "event_type": "alert",
            "src_ip": src, "src_port": rng.randrange(1024, 65535), "dest_ip": dest,
            "dest_port": rng.choice((80, 443, 22, 1433, 3389)), "proto": "TCP",
            "alert": {"action": "allowed", "gid": 1, "signature_id": sid, "rev": 1, "signature": name,
                      "category": classtype, "severity": severity}}))
    return "\n".join(lines).encode("utf-8")


def seed_soc_demo(admin, now: dt.datetime | None = None) -> SocDemoResult:
    """Seed the SOC demo through the services as ``admin`` (idempotent)."""
    if ForensicCase.objects.filter(title=FIRST_CASE).exists():
        return SocDemoResult()
    now = now or timezone.now()
    today = timezone.localdate(now)
    agencies = {a.code: a for a in Agency.objects.filter(code__in=[n[0] for n in NETWORKS])}
    if len(agencies) < len(NETWORKS):
        logger.warning("soc demo skipped: the agency reference data is not loaded")
        return SocDemoResult()
    for code, cidr, note in NETWORKS:
        if not AgencyNetwork.objects.filter(cidr=cidr).exists():
            services.do_add_network(admin, agencies[code].pk, cidr, note)
    run = services.do_import_alerts(admin, io.BytesIO(_alert_lines(now)), "demo-soc-eve.json")

    def day(offset: int) -> dt.date:
        return today + dt.timedelta(days=offset)

    cases = (
        (FIRST_CASE, "culture", "intrusion", "鑑識示範廠商甲", "文化局及美術館 3 台伺服器",
         "告警顯示外部來源對文化局與美術館設備進行多次入侵嘗試,其中 1 台美術館伺服器存在可利用之 Struts 弱點。",
         "伺服器元件未更新,且管理介面對外開放。",
         (("更新美術館伺服器 Struts 元件至最新版本", "tmofa", -40, "verified"),
          ("關閉管理介面對外連線,僅限內部網段存取", "culture", -20, "done"),
          ("完成文化局與美術館設備弱點掃描並修補高風險弱點", "tmofa", -10, "overdue"),
          ("建立伺服器元件更新週期與紀錄", "culture", 5, "open"))),
        ("設備以 wget 下載滲透工具與密碼字典", "education", "intrusion", "鑑識示範廠商乙", "教育局 1 台 Linux 主機",
         "主機遭入侵後以 wget 自外部下載滲透測試工具及密碼字典檔。", "SSH 使用弱密碼且未限制來源。",
         (("全面更換主機帳號密碼並啟用金鑰登入", "education", -60, "verified"),
          ("限制 SSH 僅允許管理網段連線", "education", -15, "overdue"),
          ("對外連線下載行為納入 SOC 監控規則", "sccdc", 20, "in_progress"))),
        ("網站遭植入廣告文字與連結", "tourism", "web_attack", "鑑識示範廠商甲", "觀光旅遊局 活動網站",
         "網站頁面遭植入博弈廣告文字與外部連結。", "網站外掛程式版本過舊,存在已知檔案上傳弱點。",
         (("移除植入內容並比對網站檔案完整性", "tourism", -30, "verified"),
          ("更新網站外掛程式並移除未使用外掛", "tourism", -25, "waived"),
          ("導入網頁防竄改監控", "tourism", -3, "overdue"))),
        ("端點防護軟體告警", "health", "other", "", "衛生局 2 台個人電腦",
         "端點防護軟體偵測可疑執行檔並已隔離。", "使用者開啟釣魚郵件附件。",
         (("完成受影響電腦重灌並掃描", "health", -5, "done"),
          ("辦理社交工程演練與教育訓練", "health", 1, "open"))),
    )
    action_count = 0
    for title, code, kind, vendor, scope, findings, root, recommendations in cases:
        case = services.do_create_case(admin, services.CaseInput(
            agency_id=agencies[code].pk, title=title, kind=kind, vendor=vendor, scope=scope, findings=findings,
            root_cause=root, aware_at=now - dt.timedelta(days=90)), now=now - dt.timedelta(days=89))
        for text, owner_code, due, state in recommendations:
            action = services.do_add_action(admin, case.pk, services.ActionInput(
                recommendation=text, agency_id=agencies[owner_code].pk, due_date=day(due), owner="資訊聯絡人"))
            action_count += 1
            if state in ("in_progress", "done", "verified"):
                services.do_report_progress(admin, action.pk, "in_progress")
            if state in ("done", "verified"):
                services.do_report_progress(admin, action.pk, "done", "已完成,附設定截圖與紀錄。",
                                            now=now - dt.timedelta(days=max(1, -due + 2)))
            if state == "verified":
                services.do_verify_action(admin, action.pk, True, now=now - dt.timedelta(days=max(0, -due)))
            if state == "waived":
                services.do_waive_action(admin, action.pk, "外掛已隨網站改版整體汰除,本項不再適用。")
    first = ForensicCase.objects.get(title=FIRST_CASE)
    sample = Alert.objects.filter(dest_ip=DESTINATIONS[1], src_ip=ATTACKERS[0], signature_id="2012887",
                                  case__isnull=True).first()
    if sample is not None:
        services.do_escalate_alert(admin, sample.pk, case_id=first.pk)
    services.do_send_reminders(today)
    incidents = _seed_incidents(admin, now, agencies)
    return SocDemoResult(alerts=run.created, cases=len(cases), actions=action_count, incidents=incidents)


# (title, agency, type, level, aware hours ago, {milestone: hours after awareness}, case title or "")
INCIDENTS = (
    ("觀光旅遊局活動網站遭植入廣告連結", "tourism", "web_attack", 2, 24 * 90,
     {"notify": 0.5, "review": 4, "recover": 30, "report": 24 * 20}, "網站遭植入廣告文字與連結"),
    ("美術館伺服器遭入侵嘗試並發現可利用弱點", "culture", "intrusion", 3, 24 * 90,
     {"notify": 0.75, "review": 2, "recover": 30}, FIRST_CASE),  # the report is overdue
    ("警察局對外服務遭阻斷服務攻擊", "police", "dos", 3, 48, {"notify": 0.6, "review": 2.2}, ""),  # recovery overdue
    ("衛生局端點防護偵測可疑執行檔", "health", "other", 1, 50 / 60, {}, ""),  # notification due soon
)
POLICIES = (
    ("資通安全事件通報及應變辦法", dt.date(2021, 8, 23), "2021-08-23 修正條文：知悉後 1 小時內通報；第一、二級 8 小時、"
     "第三、四級 2 小時內審核級別；第一、二級 72 小時、第三、四級 36 小時內完成損害控制或復原；其後 1 個月內送調查、處理及改善報告。"),
    ("資通安全事件通報應變及演練辦法", dt.date(2026, 1, 5), "2026-01-05 修正更名。期限暫沿用 2021 年條文之數值，"
     "請依修正後條文核對並於管理介面調整。"),
)


def _seed_incidents(admin, now: dt.datetime, agencies: dict) -> int:
    """Two dated policies and four incidents: closed on time, report overdue, recovery overdue, and a
    fresh one whose notification is due soon; then the clock job's notices."""
    from citygov.soc.models import IncidentPolicy

    for name, day, note in POLICIES:
        if not IncidentPolicy.objects.filter(effective_from=day).exists():
            services.do_add_incident_policy(admin, name, day, note)
    hour = dt.timedelta(hours=1)
    for title, code, kind, level, ago, done, case_title in INCIDENTS:
        aware = now - ago * hour
        incident = services.do_create_incident(admin, services.IncidentInput(
            agency_id=agencies[code].pk, title=title, level=level, aware_at=aware, kind=kind,
            description=title), now=aware + 0.1 * hour)
        for milestone, after in done.items():
            services.do_record_milestone(admin, incident.pk, milestone, aware + after * hour, now=now)
        case = ForensicCase.objects.filter(title=case_title).first() if case_title else None
        if case is not None:
            services.do_link_case(admin, incident.pk, case.pk)
            alert_ids = list(case.alerts.values_list("pk", flat=True)[:1])
            if alert_ids:
                services.do_link_alerts(admin, incident.pk, alert_ids, whole_group=True)
    services.do_check_incident_clocks(now)
    return len(INCIDENTS)
