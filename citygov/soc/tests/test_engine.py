"""The engine on the sample files: readers, normalisation, classification and the analysis, checked
against counts computed independently with plain Python from the files."""

from __future__ import annotations

import datetime as dt
import io
import json
from collections import Counter
from pathlib import Path

import pytest

from citygov.soc.engine import formats
from citygov.soc.engine.analyse import Analysis
from citygov.soc.engine.normalise import TAIPEI, BadRecord, CidrTable, parse_time
from citygov.soc.engine.taxonomy import Classifier, Rule
from citygov.soc.management.commands.soc import analyse_files

DATA = Path(__file__).parent / "data"
SHARED = Path(__file__).resolve().parents[4] / "shared" / "data" / "soc"


def read(data: bytes, fmt: str = "auto", ctx=None):
    stats = formats.ReadStats()
    items = list(formats.read_alerts(io.BytesIO(data), fmt=fmt, ctx=ctx, stats=stats))
    alerts = [i for i in items if isinstance(i, formats.Alert)]
    rejected = [i for i in items if isinstance(i, formats.Rejected)]
    return alerts, rejected, stats


def eve_records(path: Path) -> list[dict]:
    text = path.read_text(encoding="utf-8")
    if text.lstrip().startswith("["):
        return [r for r in json.loads(text) if r.get("event_type") == "alert"]
    return [r for r in map(json.loads, text.splitlines()) if r.get("event_type") == "alert"]


def _sample_files() -> list[Path]:
    files = [DATA / "honeypot-2018-alerts.json", DATA / "eve-suricata-verify.ndjson"]
    if SHARED.is_dir():  # the full development samples, when this checkout sits beside them
        files += sorted((SHARED / "suricata").glob("*.json"))
    return files


@pytest.mark.parametrize("path", _sample_files(), ids=lambda p: p.name)
def test_analyse_matches_an_independent_count_of_eve_files(path):
    records = eve_records(path)
    report = analyse_files([path])
    severity_names = {1: "high", 2: "medium", 3: "low"}
    assert report["total"] == len(records)
    assert report["rejected_lines"] == []
    assert {r["key"]: r["count"] for r in report["by_source_category"]} == dict(
        Counter(r["alert"]["category"] for r in records))
    assert {r["key"]: r["count"] for r in report["by_source_severity"]} == dict(
        Counter(str(r["alert"]["severity"]) for r in records))
    assert {r["key"]: r["count"] for r in report["by_severity"]} == dict(
        Counter(severity_names[r["alert"]["severity"]] for r in records))
    assert sum(r["count"] for r in report["by_category"]) == len(records)
    expected_share = round(100 * Counter(r["alert"]["category"] for r in records).most_common(1)[0][1]
                           / len(records), 2)
    assert report["by_source_category"][0]["share"] == expected_share
    top = Counter(str(r["alert"]["signature_id"]) for r in records).most_common(1)[0]
    assert (report["top_signatures"][0]["id"], report["top_signatures"][0]["count"]) == top
    groups = Counter((str(r["alert"]["signature_id"]), r["src_ip"], r["dest_ip"]) for r in records)
    repeated = {k: n for k, n in groups.items() if n >= 2}
    assert report["repeat_groups"]["count"] == len(repeated)
    assert report["repeat_groups"]["alerts"] == sum(repeated.values())


def test_suricata_verify_figures_are_the_known_ones():
    report = analyse_files([DATA / "eve-suricata-verify.ndjson"])
    assert report["total"] == 256
    assert {r["key"]: r["count"] for r in report["by_source_severity"]} == {"1": 76, "2": 139, "3": 41}
    assert report["top_signatures"][0] == {"id": "2100498", "name": "GPL ATTACK_RESPONSE id check returned root",
                                           "count": 43}
    # Groups, not one entry per alert: the 43 repeats of 2100498 between two hosts are few groups.
    groups = report["repeat_groups"]
    assert groups["count"] < groups["alerts"]
    assert sum(1 for g in groups["groups"] if g["signature_id"] == "2100498") < 43


def test_csv_export_matches_its_ndjson_source():
    from_csv = analyse_files([DATA / "eve-suricata-verify.csv"])
    from_json = analyse_files([DATA / "eve-suricata-verify.ndjson"])
    assert from_csv["total"] == from_json["total"] == 256
    assert from_csv["by_category"] == from_json["by_category"]
    assert from_csv["by_severity"] == from_json["by_severity"]
    assert from_csv["by_month"] == from_json["by_month"]


def test_wazuh_matches_an_independent_count():
    path = DATA / "wazuh-sample-150.ndjson"
    records = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    report = analyse_files([path])
    assert report["total"] == 150
    assert {r["key"]: r["count"] for r in report["by_source_severity"]} == dict(
        Counter(str(r["rule"]["level"]) for r in records))
    level = Counter("high" if r["rule"]["level"] >= 12 else "medium" if r["rule"]["level"] >= 7 else "low"
                    for r in records)
    assert {r["key"]: r["count"] for r in report["by_severity"]} == dict(level)
    months = Counter(parse_time(r["timestamp"]).astimezone(TAIPEI).strftime("%Y-%m") for r in records)
    assert {r["month"]: r["count"] for r in report["by_month"]} == dict(months)


def test_reimporting_the_same_file_gives_the_same_keys():
    data = (DATA / "eve-suricata-verify.csv").read_bytes()
    first, _, _ = read(data)
    second, _, _ = read(data)
    assert [a.dedup_key for a in first] == [a.dedup_key for a in second]
    assert len({a.dedup_key for a in first}) == 256


def test_timestamps_with_and_without_zone():
    alerts, rejected, stats = read((DATA / "honeypot-2018-alerts.json").read_bytes())
    assert (len(alerts), rejected, stats.detected) == (44, [], "json-array")
    naive = [a for a in alerts if a.signature == "ET SCAN Potential SSH Scan"][0]
    assert naive.time == dt.datetime(2019, 1, 2, 3, 50, 11, 315110, tzinfo=TAIPEI)
    assert parse_time("2015-03-05T10:00:00.5-0600") == dt.datetime(2015, 3, 5, 16, 0, 0, 500000, tzinfo=dt.UTC)
    assert parse_time("2024-12-24T16:11:33.378+0000").utcoffset() == dt.timedelta(0)
    assert parse_time("113/05/02") == dt.datetime(2024, 5, 2, tzinfo=TAIPEI)
    assert parse_time("113/05/02 14:03:09") == dt.datetime(2024, 5, 2, 14, 3, 9, tzinfo=TAIPEI)
    assert parse_time("1714630989000") == dt.datetime(2024, 5, 2, 6, 23, 9, tzinfo=dt.UTC)
    assert parse_time("May 02 2024 14:03:09") == dt.datetime(2024, 5, 2, 14, 3, 9, tzinfo=TAIPEI)
    with pytest.raises(BadRecord):
        parse_time("113/13/40")


def test_scan_signatures_are_information_gathering_whatever_their_classtype():
    record = {"timestamp": "2024-05-02T10:00:00+0800", "flow_id": 1, "event_type": "alert", "src_ip": "203.0.113.9",
              "src_port": 5000, "dest_ip": "10.1.2.3", "dest_port": 80, "proto": "TCP",
              "alert": {"signature_id": 2008578, "signature": "ET SCAN Sipvicious Scan",
                        "category": "Web Application Attack", "severity": 1}}
    attack = dict(record, flow_id=2, alert=dict(record["alert"], signature_id=2019401,
                                                 signature="ET WEB_SERVER Possible SQL Injection"))
    alerts, _, _ = read(b"\n".join(json.dumps(r).encode() for r in (record, attack)))
    assert [(a.category, a.rule, a.severity, a.source_category) for a in alerts] == [
        ("information_gathering", "signature ET SCAN", "high", "Web Application Attack"),
        ("intrusion_attempts", "signature ET WEB_SERVER", "high", "Web Application Attack"),
    ]
    custom = Classifier((Rule("all web is other", "classtype", "Web Application Attack", "other"),))
    alerts, _, _ = read(json.dumps(record).encode(), ctx=formats.Context(classifier=custom))
    assert (alerts[0].category, alerts[0].rule) == ("other", "all web is other")


def test_agency_by_longest_cidr_prefix():
    table = CidrTable([("10.0.0.0/8", "city"), ("10.20.0.0/16", "culture"), ("2001:db8::/32", "v6")])
    assert table.lookup("10.20.3.4") == "culture"
    assert table.lookup("10.9.3.4") == "city"
    assert table.lookup("192.0.2.1") == ""
    assert table.lookup("2001:db8::1") == "v6"
    assert table.agency_for("203.0.113.5", "10.20.0.9") == "culture"


def test_big5_csv_with_chinese_headers_and_roc_dates():
    text = ("發生時間,來源IP,來源埠,目的IP,目的埠,通訊協定,事件名稱,事件類型,嚴重程度,機關名稱\r\n"
            "113/05/02 14:03:09,203.0.113.7,4444,10.20.1.5,80,TCP,ET SCAN Nmap 掃描,資訊蒐集,中,文化局\r\n"
            "113/05/03 09:00:00,198.51.100.2,5555,10.20.1.6,443,TCP,網頁置換,資訊內容安全,高,文化局\r\n"
            "113/13/03 09:00:00,198.51.100.2,5555,10.20.1.6,443,TCP,壞日期,其他,低,文化局\r\n")
    ctx = formats.Context(cidr=CidrTable([("10.20.0.0/16", "culture")]))
    alerts, rejected, stats = read(text.encode("cp950"), ctx=ctx)
    assert (stats.detected, stats.encoding) == ("csv", "big5")
    assert [(a.time, a.category, a.severity, a.agency, a.signature) for a in alerts] == [
        (dt.datetime(2024, 5, 2, 14, 3, 9, tzinfo=TAIPEI), "information_gathering", "medium", "culture",
         "ET SCAN Nmap 掃描"),
        (dt.datetime(2024, 5, 3, 9, 0, tzinfo=TAIPEI), "information_content_security", "high", "culture", "網頁置換"),
    ]
    assert rejected == [formats.Rejected(4, "invalid ROC date '113/13/03 09:00:00'")]
    utf8, _, stats = read(text.encode("utf-8-sig"), ctx=ctx)
    assert stats.encoding == "utf-8"
    assert [a.dedup_key for a in utf8] == [a.dedup_key for a in alerts]


def test_mangled_files_keep_good_lines_and_report_bad_ones():
    lines = (DATA / "eve-suricata-verify.ndjson").read_bytes().splitlines()[:5]
    mangled = b"\n".join([lines[0], b'{"timestamp": "2016-07-13T22:42', lines[1], "\u6587".encode("cp950"),
                          lines[2], lines[3][:100]])
    alerts, rejected, _ = read(mangled)
    assert len(alerts) == 3
    assert [r.line for r in rejected] == [2, 4, 6]
    assert rejected[1].reason == "line is not valid UTF-8 (編碼錯誤)"

    array = (DATA / "honeypot-2018-alerts.json").read_bytes()
    truncated = array[: len(array) // 2]
    alerts, rejected, _ = read(truncated)
    assert 15 <= len(alerts) <= 25
    assert len(rejected) == 1 and rejected[0].reason == "truncated JSON (JSON 不完整)"
    broken = array.replace(b'"flow_id": 52589280,', b'"flow_id": 52589280,,', 1)
    alerts, rejected, _ = read(broken)
    assert (len(alerts), len(rejected)) == (43, 1)
    assert rejected[0].line == 22 and rejected[0].reason.startswith("invalid JSON")


CEF = ("<134>May  2 14:03:09 fw01 CEF:0|Fortinet|FortiGate|7.2|13048|Sig\\|nature test|8|"
       "rt=1714630989000 src=203.0.113.7 spt=4444 dst=10.20.1.5 dpt=80 proto=TCP cat=attempted-admin "
       "act=blocked msg=two words here cs1Label=policy cs1=web in")


def test_cef_lines_and_an_unknown_extension():
    bad = CEF.replace("act=blocked", "act=blocked madeup=1")
    alerts, rejected, stats = read("\n".join([CEF, bad, CEF.replace("rt=1714630989000", "rt=1714630990000")]).encode())
    assert stats.detected == "syslog" and stats.formats == {"cef": 2}
    first = alerts[0]
    assert (first.signature_id, first.signature, first.severity, first.category, first.src_port, first.dest_ip,
            first.action, first.source_severity) == ("13048", "Sig|nature test", "high", "intrusion_attempts", 4444,
                                                     "10.20.1.5", "blocked", "8")
    assert rejected == [formats.Rejected(2, "unknown CEF extension 'madeup'")]


def test_leef_1_and_2():
    leef1 = ("LEEF:1.0|QRadar|IDS|1.0|SQLi|devTime=May 02 2024 14:03:09\tdevTimeFormat=MMM dd yyyy HH:mm:ss\t"
             "src=203.0.113.7\tdst=10.20.1.5\tsrcPort=4444\tdstPort=443\tsev=5\tcat=web-application-attack\tname=SQL x")
    leef2 = "LEEF:2.0|Vendor|Prod|2|DoS|^|devTime=1714630989000^src=198.51.100.1^dst=10.20.1.5^sev=9^cat=attempted-dos"
    alerts, rejected, _ = read(f"{leef1}\n{leef2}\nLEEF:1.0|V|P|1|E|src=1.2.3.4\n".encode())
    assert [(a.signature, a.severity, a.category, a.time.isoformat()) for a in alerts] == [
        ("SQL x", "medium", "intrusion_attempts", "2024-05-02T14:03:09+08:00"),
        ("DoS", "high", "availability", "2024-05-02T06:23:09+00:00"),
    ]
    assert rejected == [formats.Rejected(3, "missing time (devTime)")]


def test_ecs_documents_nested_and_dotted():
    nested = {"@timestamp": "2024-05-02T06:00:00Z", "event": {"id": "e1", "severity": 73},
              "rule": {"id": "r1", "name": "Potential Port Scan", "category": "network-scan"},
              "source": {"ip": "203.0.113.7", "port": 4444}, "destination": {"ip": "10.20.1.5", "port": 22},
              "network": {"transport": "tcp"}}
    dotted = {"@timestamp": "2024-05-02T07:00:00Z", "kibana.alert.rule.name": "Malware Detected",
              "kibana.alert.rule.rule_id": "m1", "kibana.alert.severity": "critical", "kibana.alert.uuid": "u1",
              "rule.category": "trojan-activity", "source.ip": "10.20.1.9", "destination.ip": "198.51.100.5"}
    alerts, rejected, _ = read(f"{json.dumps(nested)}\n{json.dumps(dotted)}\n{json.dumps({'x': 1})}".encode(),
                               fmt="auto")
    assert [(a.source_format, a.signature, a.severity, a.category, a.protocol, a.src_port) for a in alerts] == [
        ("ecs", "Potential Port Scan", "high", "information_gathering", "TCP", 4444),
        ("ecs", "Malware Detected", "high", "malicious_code", "", None),
    ]
    assert rejected == [formats.Rejected(3, "unrecognised JSON record (無法辨識的格式)")]


def test_trend_flags_deviating_months():
    analysis = Analysis()
    alerts, _, _ = read((DATA / "wazuh-sample-150.ndjson").read_bytes())
    analysis.extend(alerts)
    base = alerts[0]
    from dataclasses import replace

    for i in range(40):
        analysis.add(replace(base, dedup_key=f"jan-{i}", time=dt.datetime(2025, 1, 15, tzinfo=TAIPEI)))
    trend = analysis.report()["trend"]
    assert [(r["month"], r["count"], r["mom_change"], r["deviates"]) for r in trend] == [
        ("2024-12", 150, None, False), ("2025-01", 40, -73.3, False)]
    assert analysis.add(alerts[0]) is False
    assert analysis.duplicates == 1


def test_fast_suricata_path_equals_the_general_builder():
    """The hot path (cached signature info, inline dedup key, make_alert) gives the very alert the
    general ``Context.build`` with ``dedup_key`` gives: same fields, same keys (re-imports rely on it)."""
    from citygov.soc.engine.normalise import dedup_key, parse_ip, parse_port, severity_suricata

    cidr = CidrTable([("10.0.0.0/8", "lab"), ("192.168.0.0/16", "office")])
    fast_ctx, slow_ctx = formats.Context(cidr=cidr), formats.Context(cidr=cidr)
    records = eve_records(DATA / "eve-suricata-verify.ndjson") + eve_records(DATA / "honeypot-2018-alerts.json")
    for obj in records:
        alert = obj["alert"]
        sid = formats._text(alert.get("signature_id"))
        expected = slow_ctx.build(
            source_format="suricata", key=dedup_key("suricata", obj.get("flow_id"), alert.get("gid"), sid,
                                                    obj.get("timestamp"), obj.get("pcap_cnt"), obj.get("tx_id")),
            time=parse_time(obj.get("timestamp")), src_ip=parse_ip(obj.get("src_ip")),
            src_port=parse_port(obj.get("src_port")), dest_ip=parse_ip(obj.get("dest_ip")),
            dest_port=parse_port(obj.get("dest_port")), protocol=formats._text(obj.get("proto")), signature_id=sid,
            signature=formats._text(alert.get("signature")), source_category=formats._text(alert.get("category")),
            source_severity=formats._text(alert.get("severity")), severity=severity_suricata(alert.get("severity")),
            sensor=formats._text(obj.get("host") or obj.get("in_iface")), action=formats._text(alert.get("action")))
        got = formats.normalise_suricata(obj, fast_ctx)
        assert got == expected and hash(got) == hash(expected)
    assert len(records) == 256 + 44


def test_ndjson_lines_across_the_first_read_and_odd_lines():
    """Lines that straddle the first 64 KiB read, a BOM, blank lines, CRLF, NaN and bad UTF-8."""
    lines = (DATA / "eve-suricata-verify.ndjson").read_bytes().splitlines()
    body = b"\xef\xbb\xbf" + b"\r\n".join(lines) + b"\r\n\r\n" + b'{"event_type": "alert", "x": NaN}\n' + b"\xff\n"
    alerts, rejected, stats = read(body)
    assert len(alerts) == 256 and len(body) > formats.CHUNK
    assert [(r.line, r.reason) for r in rejected] == [
        (len(lines) + 2, "unrecognised JSON record (無法辨識的格式)"),
        (len(lines) + 3, "line is not valid UTF-8 (編碼錯誤)")]
    assert (stats.records, stats.encoding) == (len(lines) + 1, "utf-8")
    no_newline = b"\n".join(lines)
    assert len(read(no_newline)[0]) == 256


def test_suricata_caches_keep_equal_but_different_values_apart():
    """1, 1.0 and True are equal dictionary keys; the per-signature cache must not hand the texts
    of one to another (source severity, signature id and the dedup key differ)."""
    base = {"timestamp": "2024-05-02T10:00:00+08:00", "flow_id": 7, "event_type": "alert", "src_ip": "10.0.0.1",
            "dest_ip": "10.0.0.2", "proto": "TCP",
            "alert": {"gid": 1, "signature_id": 1, "signature": "ET SCAN x", "category": "c", "severity": 1}}
    ctx = formats.Context()
    seen = []
    for gid, sid, severity in ((1, 1, 1), (True, 1, 1), (1, 1.0, 1), (1, 1, True), (1, 1, 1.0), (1, 1, 1)):
        record = {**base, "alert": {**base["alert"], "gid": gid, "signature_id": sid, "severity": severity}}
        alert = formats.normalise_suricata(record, ctx)
        seen.append((alert.signature_id, alert.source_severity, alert.dedup_key))
        assert alert == formats.normalise_suricata(record, formats.Context())  # as a fresh, empty cache gives
    assert seen[0] == seen[-1]
    assert len(set(seen)) == 5
    assert [s[:2] for s in seen[:5]] == [("1", "1"), ("1", "1"), ("1.0", "1"), ("1", "True"), ("1", "1.0")]
