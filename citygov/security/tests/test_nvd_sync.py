"""sync-nvd against a real HTTP server on loopback that serves NVD 2.0 fixture pages (no internet here)."""

import copy
import datetime as dt
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from citygov.security.engine import bundle
from citygov.security.engine.cpe import parse
from citygov.security.engine.nvd_sync import NvdClient, NvdStore, NvdSyncError, RateLimiter, sync
from citygov.security.tests.support import DATA

KEY = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
SINCE = dt.datetime(2025, 3, 1, tzinfo=dt.UTC)
UNTIL = SINCE + dt.timedelta(days=200)  # two windows: 120 + 80 days


def fixture_records():
    samples = json.loads((DATA / "nvd_cve_api2_samples.json").read_text(encoding="utf-8"))["vulnerabilities"]
    new = copy.deepcopy(samples[0])
    new["cve"]["id"] = "CVE-2099-0001"
    new["cve"]["configurations"] = [{"nodes": [{"operator": "OR", "negate": False, "cpeMatch": [
        {"vulnerable": True, "criteria": "cpe:2.3:a:acme:viewer:*:*:*:*:*:*:*:*", "versionEndExcluding": "3.0"}]}]}]
    products = json.loads((DATA / "nvd_cpe_api2_example.json").read_text(encoding="utf-8"))["products"]
    extra = {"cpe": {"cpeName": "cpe:2.3:a:acme:viewer:2.0:*:*:*:*:*:*:*", "deprecated": False,
                     "titles": [{"title": "ACME Viewer 2.0", "lang": "en"}]}}
    return samples + [new], products + [extra]


class FixtureNvd:
    """Pages of at most two records for the first window, nothing after; scripted failures."""

    def __init__(self):
        self.cves, self.products = fixture_records()
        self.seen = []  # (kind, params, apiKey header)
        self.fail = []  # status codes to answer with, one per request, before serving normally
        self.down_from_index = None  # answer 500 for every startIndex >= this

    def answer(self, handler):
        url = urlparse(handler.path)
        params = {k: v[0] for k, v in parse_qs(url.query).items()}
        kind = "cve" if url.path.startswith("/cves") else "cpe"
        self.seen.append((kind, params, handler.headers.get("apiKey")))
        if self.fail:
            return self.fail.pop(0), {"message": "busy"}
        index = int(params["startIndex"])
        if self.down_from_index is not None and index >= self.down_from_index:
            return 500, {"message": "down"}
        start = dt.datetime.fromisoformat(params["lastModStartDate"])
        end = dt.datetime.fromisoformat(params["lastModEndDate"])
        if (end - start).days > 120:
            return 404, {"message": "range too long"}
        items = (self.cves if kind == "cve" else self.products) if start == SINCE else []
        page = items[index:index + 2]
        key = "vulnerabilities" if kind == "cve" else "products"
        return 200, {"resultsPerPage": len(page), "startIndex": index, "totalResults": len(items), key: page}


@pytest.fixture
def nvd():
    fixture = FixtureNvd()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            status, body = fixture.answer(self)
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    fixture.base = f"http://127.0.0.1:{server.server_address[1]}"
    yield fixture
    server.shutdown()
    server.server_close()
    bundle.configure(None)


def client_for(nvd, key=KEY, sleeps=None):
    record = sleeps if sleeps is not None else []
    return NvdClient(f"{nvd.base}/cves/2.0", f"{nvd.base}/cpes/2.0", key, timeout=5, backoff=1,
                     sleep=record.append)


def test_pages_windows_key_and_merge_into_the_index(nvd, tmp_path):
    store = NvdStore(tmp_path)
    report = sync(client_for(nvd), store, since=SINCE, until=UNTIL)
    assert (report.records, report.pages, report.windows) == ({"cve": 6, "cpe": 3}, 7, 4)
    cve_calls = [p for kind, p, _ in nvd.seen if kind == "cve"]
    assert [int(p["startIndex"]) for p in cve_calls] == [0, 2, 4, 0]
    assert {p["resultsPerPage"] for p in cve_calls} == {"2000"}
    assert [p["lastModStartDate"] for p in cve_calls][::3] == ["2025-03-01T00:00:00.000+00:00",
                                                                 "2025-06-29T00:00:00.000+00:00"]
    assert {key for _, _, key in nvd.seen} == {KEY}
    assert store.state()["cve"] == {"synced_until": UNTIL.isoformat()}
    # Merged over the bundled data: a new product and a new CVE are now known.
    bundle.configure(tmp_path)
    assert ("acme", "viewer") in bundle.load_products()
    hits = bundle.load_vulns().match(parse("cpe:2.3:a:acme:viewer:2.1:*:*:*:*:*:*:*"))
    assert [h.cve_id for h in hits] == ["CVE-2099-0001"]
    assert bundle.load_vulns().match(parse("cpe:2.3:a:acme:viewer:3.0:*:*:*:*:*:*:*")) == []
    # Nothing new since: the next run asks each API once per window and finds nothing.
    nvd.seen.clear()
    again = sync(client_for(nvd), store, until=UNTIL + dt.timedelta(days=1))
    assert (again.records, len(nvd.seen)) == ({"cve": 0, "cpe": 0}, 2)


def test_retries_then_resumes_from_the_saved_cursor(nvd, tmp_path):
    store = NvdStore(tmp_path)
    sleeps = []
    nvd.fail = [503, 429]
    nvd.down_from_index = 2
    with pytest.raises(NvdSyncError, match="run sync-nvd again to resume"):
        sync(client_for(nvd, sleeps=sleeps), store, since=SINCE, until=UNTIL, kinds=("cve",))
    assert sleeps[:2] == [1, 2]  # exponential back-off between the retries
    assert store.state()["cve"]["cursor"]["next_index"] == 2
    nvd.down_from_index = None
    nvd.seen.clear()
    report = sync(client_for(nvd), store, until=UNTIL, kinds=("cve",))
    assert report.resumed_from == {"cve": 2}
    assert int(nvd.seen[0][1]["startIndex"]) == 2
    lines = (tmp_path / "cves.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(lines) == 6  # two from the first run, four from the resumed one: no page fetched twice


def test_final_errors_are_not_retried(nvd, tmp_path):
    nvd.fail = [404]
    with pytest.raises(NvdSyncError, match="NVD refused cve request"):
        sync(client_for(nvd), NvdStore(tmp_path), since=SINCE, until=UNTIL, kinds=("cve",))
    assert len(nvd.seen) == 1


def test_rate_limit_without_key_is_five_per_30_seconds():
    now = [0.0]
    sleeps = []

    def sleep(seconds):
        sleeps.append(seconds)
        now[0] += seconds

    limiter = RateLimiter(5, clock=lambda: now[0], sleep=sleep)
    for _ in range(5):
        limiter.wait()
    assert sleeps == []
    now[0] = 10.0
    limiter.wait()
    assert sleeps == [pytest.approx(20.01)]
    assert NvdClient("http://x", "http://y").limiter.limit == 5
    assert NvdClient("http://x", "http://y", KEY).limiter.limit == 50


def test_command_reads_the_key_from_the_environment(nvd, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("CITYGOV_NVD_CVE_URL", f"{nvd.base}/cves/2.0")
    monkeypatch.setenv("CITYGOV_NVD_CPE_URL", f"{nvd.base}/cpes/2.0")
    monkeypatch.setenv("CITYGOV_NVD_DIR", str(tmp_path))
    monkeypatch.setenv("CITYGOV_NVD_API_KEY", KEY)
    call_command("security", "sync-nvd", "--since", "2025-03-01", "--until", "2025-09-17")
    out = capsys.readouterr().out
    assert "with an API key: 50 requests per 30 s" in out and KEY not in out
    assert "6 CVE records and 3 products in 7 pages" in out
    monkeypatch.setenv("CITYGOV_NVD_API_KEY", "not-a-key")
    with pytest.raises(CommandError) as caught:
        call_command("security", "sync-nvd")
    assert caught.value.returncode == 2 and "not-a-key" not in str(caught.value)
