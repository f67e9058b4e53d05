"""JSON and osquery inventories: the streaming reader (no database) and the file-only commands."""

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from citygov.security.engine.inventory import COLUMNS, InventoryError, detect_format, iter_rows, read_inventory

HOSTED = {"hostname": ("hostname", "hostidentifier"), **COLUMNS}

# `osqueryi --json "select name, version, publisher from programs"` on a Windows PC.
PROGRAMS = """[
  {"name":"WinRAR 7.13 (64 位元)","publisher":"win.rar GmbH","version":"7.13.0","install_location":"C:\\\\Program Files\\\\WinRAR\\\\"},
  {"name":"HiCOS PKI Smart Card Client","publisher":"中華電信","version":"3.1","install_location":""}
]
"""
# `osqueryi --json "select name, version, source, arch, maintainer from deb_packages"` on a Debian server.
DEB = """[
  {"arch":"amd64","maintainer":"Debian Apache Maintainers","name":"apache2","source":"","version":"2.4.49-1"},
  {"arch":"amd64","maintainer":"Debian OpenSSL Team","name":"openssl","source":"","version":"3.0.15-1~deb12u1"}
]
"""
# osqueryd results log: differential entries and a snapshot, each naming its host.
DAEMON = (
    '{"name":"pack_inventory_programs","hostIdentifier":"PC-7","action":"added",'
    '"columns":{"name":"VLC media player","version":"3.0.21","publisher":"VideoLAN"}}\n'
    '{"name":"pack_inventory_programs","hostIdentifier":"PC-7","action":"removed",'
    '"columns":{"name":"VLC media player","version":"3.0.18","publisher":"VideoLAN"}}\n'
    '{"name":"pack_inventory_debs","hostIdentifier":"SRV-1","action":"snapshot",'
    '"snapshot":[{"name":"nginx","version":"1.22.1-9"},{"name":"sudo","version":"1.9.13p3-1"}]}\n'
)


def write(tmp_path, text, name="inv.json", encoding="utf-8"):
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def test_osquery_programs_and_deb_packages(tmp_path):
    programs = write(tmp_path, PROGRAMS)
    assert detect_format(programs) == "json"
    rows = list(read_inventory(programs))
    assert [(line, r.display_name, r.display_version, r.publisher) for line, r in rows] == [
        (2, "WinRAR 7.13 (64 位元)", "7.13.0", "win.rar GmbH"), (3, "HiCOS PKI Smart Card Client", "3.1", "中華電信")]
    debs = list(read_inventory(write(tmp_path, DEB, "deb.json")))
    assert [(r.display_name, r.display_version, r.publisher, r.arch) for _, r in debs] == [
        ("apache2", "2.4.49-1", "Debian Apache Maintainers", "amd64"),
        ("openssl", "3.0.15-1~deb12u1", "Debian OpenSSL Team", "amd64")]


def test_daemon_log_lines_documents_and_hosts(tmp_path):
    rows = list(iter_rows(write(tmp_path, DAEMON, "osqueryd.results.log"), HOSTED))
    # The "removed" entry is not installed any more; the snapshot's rows take their envelope's line and host.
    assert [(line, v["hostname"], v["display_name"], v["display_version"]) for line, v in rows] == [
        (1, "PC-7", "VLC media player", "3.0.21"), (3, "SRV-1", "nginx", "1.22.1-9"), (3, "SRV-1", "sudo", "1.9.13p3-1")]
    document = write(tmp_path, '\ufeff{"hostname": "PC-9", "software": [{"display_name": "7-Zip", '
                               '"display_version": 24.08, "publisher": null}]}', "doc.json")
    assert list(iter_rows(document, HOSTED)) == [
        (1, {"hostname": "PC-9", "display_name": "7-Zip", "display_version": "24.08", "publisher": "", "arch": ""})]
    assert list(iter_rows(write(tmp_path, " []\n", "empty.json"), HOSTED)) == []
    assert detect_format(write(tmp_path, "display_name\n[x]\n", "x.csv")) == "csv"


@pytest.mark.parametrize(("text", "line", "words"), [
    ('[{"name": "a"},\n {"name": }\n]', 2, "broken JSON"),
    ('[{"name": "a"},]', 1, "broken JSON"),
    ('[{"name": "a"}\n{"name": "b"}]', 2, "expected , between rows"),
    ('[{"name": "a"}', 1, "not closed"),
    ('[{"title": "a"}]', 1, "no display_name field in the first row (fields found: title)"),
    ('[["a", "1"]]', 1, "not a JSON object"),
    ("", None, "empty"),
])
def test_bad_json_is_refused_with_its_line(tmp_path, text, line, words):
    path = write(tmp_path, text or " ", "bad.json") if text else write(tmp_path, "", "bad.json")
    with pytest.raises(InventoryError) as caught:
        list(iter_rows(path, COLUMNS))
    assert caught.value.line == line
    assert words in str(caught.value)
    assert "(" in str(caught.value) and any("\u4e00" <= c <= "\u9fff" for c in str(caught.value))


def test_json_must_be_utf8(tmp_path):
    path = write(tmp_path, '[{"name": "嘸蝦米輸入法", "version": "3.0"}]', encoding="cp950")
    with pytest.raises(InventoryError, match="JSON must be UTF-8"):
        list(iter_rows(path, COLUMNS))


def test_large_json_streams_across_chunks(tmp_path):
    # Rows straddle the 1 MiB read chunks; every row arrives once, with the right line.
    rows = [{"name": f"Program {i} " + "x" * 200, "version": f"1.{i}"} for i in range(12_000)]
    path = tmp_path / "big.json"
    path.write_text("[\n" + ",\n".join(json.dumps(r) for r in rows) + "\n]\n", encoding="utf-8")
    assert path.stat().st_size > 2 * 1024 * 1024
    seen = list(iter_rows(path, COLUMNS))
    assert len(seen) == 12_000
    assert seen[-1] == (12_001, {"display_name": rows[-1]["name"], "display_version": "1.11999", "publisher": "",
                                 "arch": ""})


def test_identify_and_vulns_commands_read_osquery_json(tmp_path):
    # No django_db mark: the file-only commands need no database.
    out = StringIO()
    call_command("security", "identify", str(write(tmp_path, PROGRAMS)), "--format", "jsonl", stdout=out)
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [(r["line"], r["status"], r["cpe"]) for r in lines] == [
        (2, "identified", "cpe:2.3:a:rarlab:winrar:7.13:*:*:*:*:*:*:*"), (3, "unidentified", None)]
    out = StringIO()
    call_command("security", "vulns", str(write(tmp_path, DEB, "deb.json")), "--format", "jsonl", stdout=out)
    apache = json.loads(out.getvalue().splitlines()[0])
    # The Debian architecture becomes the CPE's target hardware.
    assert apache["cpe"] == "cpe:2.3:a:apache:http_server:2.4.49:*:*:*:*:*:x64:*"
    assert "CVE-2022-22720" in [c["id"] for c in apache["cves"]]
    with pytest.raises(CommandError) as caught:
        call_command("security", "identify", str(write(tmp_path, '[{"name": }]', "broken.json")),
                     stdout=StringIO(), stderr=StringIO())
    assert caught.value.returncode == 2
    assert "line 1: broken JSON" in str(caught.value)
