"""The ``citygov soc`` command: analyse on plain files (no database), import, remind; exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from citygov.soc.models import Alert

DATA = Path(__file__).parent / "data"


def test_analyse_prints_one_json_document_without_a_database(capsys):
    # No django_db mark: pytest-django fails the test if the command touches the database.
    call_command("soc", "analyse", str(DATA / "honeypot-2018-alerts.json"), str(DATA / "wazuh-sample-150.ndjson"),
                 "--json")
    report = json.loads(capsys.readouterr().out)
    assert report["total"] == 194
    assert set(report) >= {"total", "by_category", "by_severity", "by_source_category", "by_source_severity",
                           "by_month", "top_signatures", "top_sources", "top_destinations", "repeat_groups",
                           "rejected_lines"}
    assert report["by_format"] == {"suricata": 44, "wazuh": 150}


def test_analyse_reports_rejected_lines_and_exits_1(tmp_path, capsys):
    path = tmp_path / "mangled.ndjson"
    lines = (DATA / "eve-suricata-verify.ndjson").read_bytes().splitlines()[:3]
    path.write_bytes(b"\n".join([lines[0], b"{broken", lines[1]]))
    with pytest.raises(CommandError) as failure:
        call_command("soc", "analyse", str(path), "--json")
    assert failure.value.returncode == 1
    report = json.loads(capsys.readouterr().out)
    assert report["total"] == 2
    assert [(r["line"], r["file"]) for r in report["rejected_lines"]] == [(2, str(path))]


def test_analyse_missing_file_exits_2(tmp_path):
    with pytest.raises(CommandError) as failure:
        call_command("soc", "analyse", str(tmp_path / "nope.json"))
    assert failure.value.returncode == 2


@pytest.mark.django_db
def test_import_twice_then_remind(analyst, capsys):
    path = str(DATA / "eve-suricata-verify.csv")
    call_command("soc", "import", path, "--user", analyst.username, "--format", "jsonl")
    first = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    call_command("soc", "import", path, "--user", analyst.username, "--format", "jsonl")
    second = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert (first["created"], second["created"], second["duplicates"]) == (256, 0, 256)
    assert Alert.objects.count() == 256
    with pytest.raises(CommandError) as failure:
        call_command("soc", "import", path, "--user", "nobody")
    assert failure.value.returncode == 2
    call_command("soc", "remind", "--format", "jsonl")
    assert json.loads(capsys.readouterr().out) == {"due_soon": 0, "overdue": 0, "escalated": 0}


@pytest.mark.django_db
def test_import_refused_for_an_agency_user(admin_a):
    with pytest.raises(CommandError) as failure:
        call_command("soc", "import", str(DATA / "honeypot-2018-alerts.json"), "--user", admin_a.username)
    assert failure.value.returncode == 1


@pytest.mark.django_db
def test_listen_with_tls_but_no_certificate_is_bad_input(analyst, settings):
    from citygov.config import SocSettings

    settings.SOC = SocSettings(syslog_tls_cert=None, syslog_tls_key=None, syslog_tls_client_ca=None)
    with pytest.raises(CommandError) as failure:
        call_command("soc", "listen", "--user", analyst.username, "--tls", "0")
    assert failure.value.returncode == 2 and "CITYGOV_SOC_SYSLOG_TLS_CERT" in str(failure.value)
