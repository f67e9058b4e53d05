import json
import os
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

FIELDS = ["line", "display_name", "display_version", "status", "cpe", "vendor", "product", "version", "confidence",
          "alternatives", "reason"]


def run(*args):
    out, err = StringIO(), StringIO()
    call_command("security", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def write(tmp_path, text, encoding="utf-8", name="inv.csv"):
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def test_identify_jsonl(tmp_path):
    # No django_db mark: any database access would fail this test.
    path = write(tmp_path, "display_name,display_version,publisher,hostname\n"
                           "WinRAR 7.13 (64 位元),7.13.0,win.rar GmbH,PC-001\n\n"
                           "HiCOS PKI Smart Card Client,3.1,中華電信,PC-002\n")
    out, _ = run("identify", str(path), "--format", "jsonl")
    lines = [json.loads(line) for line in out.splitlines()]
    assert [list(line) for line in lines] == [FIELDS, FIELDS]
    assert lines[0] == {"line": 2, "display_name": "WinRAR 7.13 (64 位元)", "display_version": "7.13.0",
                        "status": "identified", "cpe": "cpe:2.3:a:rarlab:winrar:7.13:*:*:*:*:*:*:*",
                        "vendor": "rarlab", "product": "winrar", "version": "7.13", "confidence": 0.97,
                        "alternatives": [], "reason": None}
    assert lines[1]["line"] == 4
    assert lines[1]["status"] == "unidentified"
    assert lines[1]["reason"].startswith("not in NVD")


def test_identify_text_summary(tmp_path):
    path = write(tmp_path, "display_name,display_version,publisher\n7-Zip 24.08 (x64),24.08,Igor Pavlov\n"
                           "Unknown Thing,1,\n")
    out, err = run("identify", str(path))
    assert out.strip() == (f"{path}: 2 rows — identified 1, product only 0, unidentified 1 "
                           "(50.0% identified to a product)")
    assert err.strip() == f"{path}:3: unidentified: Unknown Thing — no rule and no NVD product matched the name " \
                          "(publisher unknown)"


def test_big5_file_is_read(tmp_path):
    path = write(tmp_path, "display_name,display_version,publisher\nJava 8 更新 381,8.0.3810.9,Oracle\n", "cp950")
    out, _ = run("identify", str(path), "--format", "jsonl")
    assert json.loads(out)["cpe"] == "cpe:2.3:a:oracle:jre:1.8.0:update_381:*:*:*:*:*:*"


def test_osquery_programs_columns(tmp_path):
    path = write(tmp_path, "name,version,publisher,install_location\nNotepad++ (64-bit x64),8.7.4,Notepad++ Team,C:\\\n")
    out, _ = run("identify", str(path), "--format", "jsonl")
    assert json.loads(out)["cpe"] == "cpe:2.3:a:notepad-plus-plus:notepad\\+\\+:8.7.4:*:*:*:*:*:*:*"


@pytest.mark.parametrize(("content", "encoding", "message"), [
    ("host,software\nPC1,WinRAR\n", "utf-8", "line 1: no display_name column (columns found: host, software)"),
    ("", "utf-8", "the file is empty"),
    ("display_name\nWinRAR\n", "utf-16", "the file is binary"),
    ("display_name\n" + "x" * 200_000 + "\n", "utf-8", "line 2: broken CSV"),
])
def test_bad_files_exit_2_with_a_clear_error(tmp_path, content, encoding, message):
    path = write(tmp_path, content, encoding)
    with pytest.raises(CommandError) as caught:
        run("identify", str(path), "--format", "jsonl")
    assert caught.value.returncode == 2
    assert message in str(caught.value)


def test_wrong_encoding_is_refused(tmp_path):
    path = tmp_path / "latin.csv"
    path.write_bytes(b"display_name\n\xff\xfe\xfa\xfb caf\xe9\n")
    with pytest.raises(CommandError) as caught:
        run("identify", str(path))
    assert caught.value.returncode == 2
    assert "neither UTF-8 nor Big5" in str(caught.value)


def test_missing_file_exits_2(tmp_path):
    with pytest.raises(CommandError) as caught:
        run("identify", str(tmp_path / "nope.csv"))
    assert caught.value.returncode == 2
    assert "no such file" in str(caught.value)


def test_vulns_lists_cves_per_row(tmp_path):
    path = write(tmp_path, "display_name,display_version,publisher\nWinRAR 6.22 (64-bit),6.22.0,win.rar GmbH\n"
                           "WinRAR 7.13 (64-bit),7.13.0,win.rar GmbH\nPuTTY release 0.80 (64-bit),0.80.0.0,Simon Tatham\n")
    out, _ = run("vulns", str(path), "--format", "jsonl")
    old, new, putty = (json.loads(line) for line in out.splitlines())
    assert {"id": "CVE-2023-38831", "score": 7.8, "severity": "high"} in old["cves"]
    assert new["cves"] == []
    assert {"id": "CVE-2024-31497", "score": None, "severity": "unknown"} in putty["awaiting_analysis"]


def test_inventory_file_streams(tmp_path):
    path = tmp_path / "big.csv"
    with path.open("w", encoding="utf-8") as handle:
        handle.write("display_name,display_version,publisher\n")
        for n in range(5_000):
            handle.write(f"Google Chrome,131.0.{n}.1,Google LLC\n")
    out, _ = run("identify", str(path))
    assert out.strip() == f"{path}: 5000 rows — identified 5000, product only 0, unidentified 0 " \
                          "(100.0% identified to a product)"


def test_console_script_works_with_no_reachable_database(tmp_path):
    path = write(tmp_path, "display_name,display_version,publisher\nVLC media player,3.0.21,VideoLAN\n")
    env = {**os.environ, "DATABASE_URL": "postgres://nobody@127.0.0.1:9/none", "CITYGOV_VAR_DIR": str(tmp_path)}
    script = Path(sys.executable).with_name("citygov")
    result = subprocess.run([str(script), "security", "identify", str(path), "--format", "jsonl"], env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["cpe"] == "cpe:2.3:a:videolan:vlc_media_player:3.0.21:*:*:*:*:*:*:*"
    bad = write(tmp_path, "host\nPC1\n", name="bad.csv")
    result = subprocess.run([str(script), "security", "identify", str(bad)], env=env, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 2
    assert "no display_name column" in result.stderr


@pytest.mark.django_db
def test_import_inventory_command(tmp_path, admin_a, agency_a):
    from citygov.security.models import InstalledSoftware

    path = write(tmp_path, "hostname,display_name,display_version\nPC-1,VLC media player,3.0.21\n,no host,1\n")
    with pytest.raises(CommandError) as caught:
        run("import-inventory", str(path), "--agency", agency_a.code, "--user", admin_a.username)
    assert caught.value.returncode == 1
    assert InstalledSoftware.objects.get().cpe == "cpe:2.3:a:videolan:vlc_media_player:3.0.21:*:*:*:*:*:*:*"
    with pytest.raises(CommandError) as caught:
        run("import-inventory", str(path), "--agency", "nope", "--user", admin_a.username)
    assert caught.value.returncode == 2
    bad = write(tmp_path, "display_name\nVLC\n", name="bad.csv")
    with pytest.raises(CommandError) as caught:
        run("import-inventory", str(bad), "--agency", agency_a.code, "--user", admin_a.username)
    assert caught.value.returncode == 2
    assert "no hostname column" in str(caught.value)
