"""CKAN harvest over real HTTP against a local server serving the demo.ckan.org fixture: paging, retries,
a failing portal imports nothing, re-harvest is idempotent, missing frequency is not evaluated."""

from __future__ import annotations

import json
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from citygov.core.errors import InvalidInput
from citygov.datagov.engine import catalog, ckan
from citygov.datagov.harvest import HarvestSettings
from citygov.datagov.models import Dataset, ImportRun
from citygov.datagov.services import do_harvest_ckan
from citygov.datagov.tests.support import DATA

FIXTURE = json.loads((DATA / "ckan_demo_2017" / "packages.json").read_text(encoding="utf-8"))
FAST = HarvestSettings(rows=2, timeout=5, retries=2, backoff=0.01)


class Portal:
    """A local CKAN stand-in on a free port: ``package_search`` with rows/start, optional failures."""

    def __init__(self, packages, fail_first: int = 0, always_fail: bool = False):
        self.packages = packages
        self.fail_first = fail_first
        self.always_fail = always_fail
        self.requests: list[dict] = []
        portal = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - the http.server API
                url = urllib.parse.urlsplit(self.path)
                params = dict(urllib.parse.parse_qsl(url.query))
                portal.requests.append({"path": url.path, **params})
                if portal.always_fail or portal.fail_first > 0:
                    portal.fail_first -= 1
                    self.send_response(503)
                    self.end_headers()
                    return
                if url.path != "/api/3/action/package_search":
                    self.send_response(404)
                    self.end_headers()
                    return
                start, rows = int(params.get("start", 0)), int(params.get("rows", 10))
                body = json.dumps({"help": "package_search", "success": True, "result": {
                    "count": len(portal.packages), "sort": params.get("sort"), "facets": {},
                    "results": portal.packages[start:start + rows]}}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


def test_package_mapping_from_the_fixture():
    count, packages = ckan.parse_search(json.dumps(FIXTURE).encode())
    assert count == 3
    entry = ckan.package_to_entry(packages[0], 1)
    assert (entry.source_id, entry.title, entry.frequency_text) == (
        "62513382-3b26-4bc8-9096-40b6ce8383c0", "100 Validated Species of Plants", "")
    assert entry.keywords == ("flower", "image recognition", "machine learning")
    assert entry.metadata_updated.isoformat() == "2017-08-05T03:19:33.886925+00:00"
    assert entry.data_updated is None
    assert [r.format for r in entry.resources] == ["CSV"]
    with_frequency = dict(packages[0], extras=[{"key": "frequency", "value": "R/P1M"}],
                          resources=[dict(packages[0]["resources"][0], last_modified="2017-09-01T00:00:00")])
    entry = ckan.package_to_entry(with_frequency, 1)
    assert (entry.frequency_text, entry.data_updated.isoformat()) == ("R/P1M", "2017-09-01T00:00:00+00:00")


@pytest.mark.parametrize("body", [b"<html>", b'{"success": false, "error": {"message": "Bad"}}', b'{"success": true}'])
def test_bad_envelopes(body):
    with pytest.raises(catalog.CatalogError):
        ckan.parse_search(body)


def test_harvest_pages_and_is_idempotent(db, city_admin):
    packages = FIXTURE["result"]["results"]
    with Portal(packages) as portal:
        result = do_harvest_ckan(city_admin, portal.url, FAST)
        assert [(r["start"], r["rows"]) for r in portal.requests] == [("0", "2"), ("2", "2")]
        assert (result.run.created, result.run.rejected, result.run.source) == (3, 0, "ckan")
        again = do_harvest_ckan(city_admin, portal.url, FAST)
    assert (again.run.created, again.run.updated, again.run.unchanged) == (0, 0, 3)
    assert sorted(Dataset.objects.values_list("title", flat=True)) == sorted(p["title"] for p in packages)
    assert set(Dataset.objects.values_list("frequency_class", "frequency_recognised")) == {("unknown", True)}
    # The Italian package's organisation (SDB) is none of ours: reported, kept without an owning agency.
    assert result.run.unmatched_agencies == [{"agency": "SDB", "datasets": 1}]


def test_harvest_retries_a_failing_page(db, city_admin):
    with Portal(FIXTURE["result"]["results"], fail_first=2) as portal:
        result = do_harvest_ckan(city_admin, portal.url, FAST)
    assert result.run.created == 3
    assert len(portal.requests) == 4  # two 503s, then the two pages


def test_a_portal_that_keeps_failing_imports_nothing(db, city_admin):
    with Portal(FIXTURE["result"]["results"], always_fail=True) as portal, pytest.raises(InvalidInput) as info:
        do_harvest_ckan(city_admin, portal.url, FAST)
    assert "no answer after 3 attempts (HTTP 503)" in info.value.message
    assert (Dataset.objects.count(), ImportRun.objects.count()) == (0, 0)


def test_a_page_failing_midway_imports_nothing(db, city_admin):
    packages = FIXTURE["result"]["results"]
    with Portal(packages) as portal:
        original = portal.server.RequestHandlerClass.do_GET

        def second_page_fails(handler):
            if "start=2" in handler.path:
                portal.always_fail = True
            original(handler)

        portal.server.RequestHandlerClass.do_GET = second_page_fails
        with pytest.raises(InvalidInput):
            do_harvest_ckan(city_admin, portal.url, FAST)
    assert Dataset.objects.count() == 0


def test_only_http_portals(db, city_admin):
    with pytest.raises(InvalidInput) as info:
        do_harvest_ckan(city_admin, "file:///etc/passwd", FAST)
    assert "http://" in info.value.message


def test_harvest_command(db, city_admin):
    import io

    from django.core.management import CommandError, call_command

    out = io.StringIO()
    with Portal(FIXTURE["result"]["results"]) as portal:
        call_command("datagov", "harvest", portal.url, "--user", city_admin.username, "--rows", "2",
                     "--format", "jsonl", stdout=out, stderr=io.StringIO())
    record = json.loads(out.getvalue())
    assert (record["layout"], record["created"], record["unmatched_agencies"]) == ("ckan", 3, ["SDB"])
    with pytest.raises(CommandError) as raised:
        call_command("datagov", "harvest", "ftp://example.invalid/", "--user", city_admin.username,
                     stdout=io.StringIO(), stderr=io.StringIO())
    assert raised.value.returncode == 2
