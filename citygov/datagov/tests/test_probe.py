"""Link and update probe against a real HTTP server on loopback: status, content type, size, redirects,
timeouts, HEAD refused, politeness per host; results stored, new data moves the data-updated time."""

from __future__ import annotations

import datetime as dt
import io
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone

from citygov.core.errors import Forbidden
from citygov.datagov import probe
from citygov.datagov.models import Dataset, LinkCheck
from citygov.datagov.services import do_import_catalog, do_probe_links
from citygov.datagov.tests.support import datagovtw_csv, datagovtw_row

LOOPBACK = ("127.0.0.1/32",)  # the test server; the probe refuses non-public addresses by default
FAST = probe.ProbeSettings(timeout=0.5, workers=4, per_host_interval=0.05, allow=LOOPBACK)


class _Handler(BaseHTTPRequestHandler):
    etag = '"v1"'
    log: list[tuple[str, str, float]] = []
    active = 0
    most_active = 0
    lock = threading.Lock()

    def log_message(self, *args):  # keep the test output quiet
        pass

    def _answer(self, body: bool) -> None:
        cls = type(self)
        counted = self.path == "/data.csv"  # a /slow answer of an earlier test may still be sleeping
        with cls.lock:
            cls.log.append((self.command, self.path, time.monotonic()))
            cls.active += counted
            cls.most_active = max(cls.most_active, cls.active)
        try:
            if self.path == "/data.csv":
                self.send_response(200)
                self.send_header("Content-Type", "text/csv; charset=utf-8")
                self.send_header("Content-Length", "1234")
                self.send_header("ETag", cls.etag)
                self.send_header("Last-Modified", "Mon, 02 Jul 2018 08:00:00 GMT")
                self.end_headers()
            elif self.path == "/inward":  # a public-looking answer pointing at the cloud metadata address
                self.send_response(302)
                self.send_header("Location", "http://169.254.169.254/latest/meta-data/")
                self.end_headers()
            elif self.path == "/old":
                self.send_response(301)
                self.send_header("Location", "/data.csv")
                self.end_headers()
            elif self.path == "/loop":
                self.send_response(302)
                self.send_header("Location", "/loop")
                self.end_headers()
            elif self.path == "/slow":
                time.sleep(1.5)
                self.send_response(200)
                self.end_headers()
            elif self.path == "/nohead" and self.command == "HEAD":
                self.send_response(405)
                self.end_headers()
            elif self.path == "/nohead":
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", "2")
                self.end_headers()
                if body:
                    self.wfile.write(b"{}")
            else:
                self.send_response(404)
                self.end_headers()
        finally:
            with cls.lock:
                cls.active -= counted

    def do_HEAD(self):  # noqa: N802
        self._answer(False)

    def do_GET(self):  # noqa: N802
        self._answer(True)


@pytest.fixture
def server():
    _Handler.log = []
    _Handler.etag = '"v1"'
    _Handler.most_active = _Handler.active = 0
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_probe_reads_status_type_size_redirects_and_timeouts(server):
    urls = [f"{server}/data.csv", f"{server}/old", f"{server}/missing", f"{server}/slow", f"{server}/nohead",
            f"{server}/loop", "ftp://example.org/x", "http://127.0.0.1:9/closed"]
    ok, moved, missing, slow, nohead, loop, ftp, closed = probe.probe_many(urls, FAST)
    assert (ok.ok, ok.status, ok.method, ok.content_type, ok.content_length, ok.etag) == (
        True, 200, "HEAD", "text/csv; charset=utf-8", 1234, '"v1"')
    assert ok.last_modified == dt.datetime(2018, 7, 2, 8, tzinfo=dt.UTC)
    assert (moved.ok, moved.redirects, moved.final_url) == (True, 1, f"{server}/data.csv")
    assert (missing.ok, missing.status, missing.error) == (False, 404, "HTTP 404")
    assert (slow.ok, slow.status) == (False, None) and slow.error.startswith("timeout")
    assert (nohead.ok, nohead.status, nohead.method, nohead.content_length) == (True, 200, "GET", 2)
    assert (loop.ok, loop.status) == (False, 302) and loop.redirects >= 5  # a redirect loop is given up
    assert (ftp.ok, ftp.error) == (False, "not an http(s) URL")
    assert (closed.ok, closed.status) == (False, None) and closed.error.startswith("connection")


def test_probe_is_polite_per_host(server):
    settings = probe.ProbeSettings(timeout=2, workers=4, per_host_interval=0.2, allow=LOOPBACK)
    probe.probe_many([f"{server}/data.csv"] * 4, settings)
    times = [t for _m, _p, t in _Handler.log]
    assert len(times) == 4 and _Handler.most_active == 1  # one request at a time to this host
    assert all(b - a >= 0.19 for a, b in zip(times, times[1:], strict=False))  # and spaced


def _import(actor, url: str, updated: str = "2018-06-01 00:00:00"):
    row = datagovtw_row(資料集識別碼="7001", 資料集名稱="停車場即時資訊", 提供機關="桃園市政府交通局", 更新頻率="每月",
                        詮釋資料更新時間=updated, 檔案格式="CSV", 資料下載網址=url, 編碼格式="UTF-8")
    do_import_catalog(actor, io.BytesIO(datagovtw_csv([row])), "probe.csv")
    return Dataset.objects.get(source_id="7001")


def test_probe_job_stores_results_and_new_data_moves_the_data_updated_time(db, reference_data, city_admin, auditor,
                                                                           server, client_for, api_client_for,
                                                                           settings):
    dataset = _import(city_admin, f"{server}/data.csv")
    assert dataset.data_updated_at is None  # the export only had the metadata-updated time
    summary = do_probe_links(city_admin, settings=FAST)
    assert summary == probe_summary(1, 1, 0, 1)
    dataset.refresh_from_db()
    assert dataset.data_updated_at == dt.datetime(2018, 7, 2, 8, tzinfo=dt.UTC)
    assert do_probe_links(city_admin, settings=FAST).changed == 0  # same ETag, same Last-Modified
    _Handler.etag = '"v2"'
    later = timezone.now() + dt.timedelta(hours=1)
    assert do_probe_links(city_admin, settings=FAST, now=later).changed == 1
    dataset.refresh_from_db()
    assert dataset.data_updated_at == later
    assert LinkCheck.objects.filter(resource__dataset=dataset).count() == 3
    with pytest.raises(Forbidden):
        do_probe_links(auditor, settings=FAST)
    assert LinkCheck.objects.count() == 3
    html = client_for(auditor).get(reverse("datagov:dataset_detail", args=[dataset.pk])).content.decode()
    assert 'data-link-status="200"' in html and "text/csv" in html
    out = io.StringIO()
    settings.DATAGOV_PROBE_ALLOW = "127.0.0.1"
    call_command("datagov", "probe", "--user", "city-admin", "--timeout", "1", "--interval", "0", stdout=out)
    assert out.getvalue().strip() == "checked=1 ok=1 broken=0 datasets_with_new_data=0"
    with pytest.raises(CommandError) as raised:
        call_command("datagov", "probe", "--user", "city-admin", "--timeout", "0")
    assert raised.value.returncode == 2
    api = api_client_for(auditor).get("/api/datagov/link-checks/", {"resource__dataset": dataset.pk}).json()
    assert api["count"] == 4 and api["results"][0]["status"] == 200


def probe_summary(checked, ok, broken, changed):
    from citygov.datagov.services import ProbeSummary

    return ProbeSummary(checked=checked, ok=ok, broken=broken, changed=changed)


def test_probe_refuses_private_loopback_and_link_local_addresses_unless_allowed(server):
    before = len(_Handler.log)
    refused = probe.probe_one(f"{server}/data.csv", probe.ProbeSettings(timeout=0.5))
    assert (refused.ok, refused.status, refused.method) == (False, None, "")
    assert refused.error == "refused: 127.0.0.1 resolves to a non-public address (127.0.0.1)"
    assert len(_Handler.log) == before  # nothing was sent
    for host in ("10.1.2.3", "192.168.0.1", "172.16.5.4", "169.254.169.254", "::1", "fe80::1", "0.0.0.1",
                 "::ffff:127.0.0.1", "100.64.0.1"):
        with pytest.raises(probe.RefusedAddress):
            probe.check_host(host, 80)
    probe.check_host("8.8.8.8", 80)  # public: no error
    probe.check_host("10.1.2.3", 80, ("10.0.0.0/8",))
    probe.check_host("intranet.example", 80, ("intranet.example",))
    # an allowed host may not redirect to one that is not
    moved = probe.probe_one(f"{server}/inward", probe.ProbeSettings(timeout=0.5, allow=LOOPBACK))
    assert (moved.ok, moved.status, moved.redirects) == (False, None, 1)
    assert moved.error == "refused: 169.254.169.254 resolves to a non-public address (169.254.169.254)"
    assert [p for _m, p, _t in _Handler.log[before:]] == ["/inward"]


def test_probe_job_refuses_loopback_without_the_allow_list(db, reference_data, city_admin, server, settings):
    settings.DATAGOV_PROBE_ALLOW = ""
    _import(city_admin, f"{server}/data.csv")
    assert do_probe_links(city_admin) == probe_summary(1, 0, 1, 0)
    assert LinkCheck.objects.get().error.startswith("refused:")
    settings.DATAGOV_PROBE_ALLOW = "127.0.0.0/8"
    assert do_probe_links(city_admin) == probe_summary(1, 1, 0, 1)
