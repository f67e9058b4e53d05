"""Incremental, resumable update of the local NVD index from the NVD 2.0 APIs (CVE API and CPE API). Pure Python.

What NVD documents and this module follows (https://nvd.nist.gov/developers/start-here, /vulnerabilities,
/products):

* **Rate limits:** 5 requests in a rolling 30-second window without an API key, 50 with one (the key goes
  in the ``apiKey`` request header, never in the URL). :class:`RateLimiter` keeps the window.
* **Incremental windows:** ``lastModStartDate`` and ``lastModEndDate`` together, at most 120 consecutive
  days apart; :func:`windows` cuts a longer period into such windows.
* **Paging:** ``startIndex`` and ``resultsPerPage`` (at most 2,000 CVEs or 10,000 products a page); each
  response says ``totalResults``.
* **Errors:** NVD answers 403/429 when the rate is exceeded and 5xx when busy: those are retried with
  exponential back-off (``Retry-After`` honoured); other 4xx are final.

Resumable: after every page the records are appended to ``<dir>/cves.jsonl`` / ``products.jsonl`` (one
record a line; a later line for the same id wins) and then the cursor (window and next ``startIndex``) is
written to ``<dir>/state.json``. A run that stops — network down, Ctrl-C — continues from the cursor.
The bundle loader merges these files over the bundled data (:func:`citygov.security.engine.bundle.configure`).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

MAX_WINDOW_DAYS = 120
RATE_WINDOW_SECONDS = 30.0
RATE_WITHOUT_KEY = 5
RATE_WITH_KEY = 50
PAGE_SIZE = {"cve": 2000, "cpe": 10000}
RESULTS_KEY = {"cve": "vulnerabilities", "cpe": "products"}
# The bundled CVE data ends with the 2025-02-25 "modified" feed: the first sync starts there.
DEFAULT_SINCE = dt.datetime(2025, 2, 25, tzinfo=dt.UTC)
STATE_FILE = "state.json"
DATA_FILES = {"cve": "cves.jsonl", "cpe": "products.jsonl"}
USER_AGENT = "citygov-security-sync/1"


class NvdSyncError(RuntimeError):
    """The NVD API could not be reached or refused the request; the message says what to do."""


class RateLimiter:
    """At most ``limit`` requests in any rolling ``window`` seconds (NVD: 5 or 50 per 30 s)."""

    def __init__(self, limit: int, window: float = RATE_WINDOW_SECONDS,
                 clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep) -> None:
        """``clock`` and ``sleep`` are injectable so tests need not wait."""
        self.limit, self.window, self.clock, self.sleep = limit, window, clock, sleep
        self.sent: deque[float] = deque()

    def wait(self) -> float:
        """Block until one more request is allowed; return the seconds waited."""
        waited = 0.0
        while True:
            now = self.clock()
            while self.sent and now - self.sent[0] >= self.window:
                self.sent.popleft()
            if len(self.sent) < self.limit:
                self.sent.append(now)
                return waited
            pause = self.window - (now - self.sent[0]) + 0.01
            self.sleep(pause)
            waited += pause


@dataclass
class NvdClient:
    """HTTP GET against the NVD 2.0 APIs with the rate limit, timeouts and retries."""

    cve_url: str
    cpe_url: str
    api_key: str = ""
    timeout: float = 60.0
    retries: int = 4
    backoff: float = 6.0
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    limiter: RateLimiter | None = None
    requests: int = 0

    def __post_init__(self) -> None:
        if self.limiter is None:
            self.limiter = RateLimiter(RATE_WITH_KEY if self.api_key else RATE_WITHOUT_KEY,
                                       clock=self.clock, sleep=self.sleep)

    def __repr__(self) -> str:  # the key is a secret
        return f"NvdClient(cve_url={self.cve_url!r}, cpe_url={self.cpe_url!r}, api_key={'[set]' if self.api_key else ''})"

    def get(self, kind: str, params: dict[str, str | int]) -> dict:
        """One page of the CVE (``kind`` "cve") or CPE ("cpe") API as a dict; retries transient failures."""
        base = self.cve_url if kind == "cve" else self.cpe_url
        url = f"{base}?{urllib.parse.urlencode(params)}"
        headers = {"User-Agent": USER_AGENT, "Accept": "application/json"}
        if self.api_key:
            headers["apiKey"] = self.api_key
        last_error = ""
        for attempt in range(self.retries + 1):
            self.limiter.wait()
            self.requests += 1
            retry_after = None
            try:
                with urllib.request.urlopen(urllib.request.Request(url, headers=headers),  # noqa: S310 - http(s) only
                                            timeout=self.timeout) as response:
                    body = response.read()
                try:
                    return json.loads(body)
                except ValueError:
                    last_error = "the response is not JSON"
            except urllib.error.HTTPError as exc:
                if exc.code not in (403, 429) and exc.code < 500:
                    raise NvdSyncError(f"NVD refused {kind} request ({exc.code} {exc.reason}): "
                                       f"{exc.headers.get('message', '') or 'check the parameters'} "
                                       f"(NVD 拒絕請求)") from None
                last_error = f"HTTP {exc.code}"
                retry_after = exc.headers.get("Retry-After")
            except (urllib.error.URLError, TimeoutError, OSError) as exc:
                last_error = str(getattr(exc, "reason", exc))
            if attempt < self.retries:
                pause = self.backoff * (2 ** attempt)
                if retry_after and retry_after.isdigit():
                    pause = max(pause, float(retry_after))
                self.sleep(pause)
        raise NvdSyncError(f"NVD {kind} API unreachable after {self.retries + 1} attempts ({last_error}); "
                           f"the cursor is saved, run sync-nvd again to resume (無法連線 NVD，已保存進度，可重新執行續傳)")


def nvd_time(moment: dt.datetime) -> str:
    """NVD's extended ISO-8601 form, in UTC: ``2025-02-25T00:00:00.000+00:00``."""
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.000+00:00")


def windows(start: dt.datetime, end: dt.datetime, days: int = MAX_WINDOW_DAYS) -> Iterator[tuple[dt.datetime, dt.datetime]]:
    """Consecutive ``(start, end)`` windows of at most ``days`` covering ``start``..``end``.

    >>> u = dt.UTC
    >>> [(a.date().isoformat(), b.date().isoformat()) for a, b in windows(
    ...     dt.datetime(2025, 1, 1, tzinfo=u), dt.datetime(2025, 6, 1, tzinfo=u))]
    [('2025-01-01', '2025-05-01'), ('2025-05-01', '2025-06-01')]
    """
    step = dt.timedelta(days=days)
    while start < end:
        stop = min(start + step, end)
        yield start, stop
        start = stop


@dataclass
class SyncReport:
    """What one sync run fetched: pages, records per kind, requests sent, windows completed."""

    pages: int = 0
    records: dict[str, int] = field(default_factory=lambda: {"cve": 0, "cpe": 0})
    windows: int = 0
    requests: int = 0
    resumed_from: dict[str, int] = field(default_factory=dict)


class NvdStore:
    """The sync directory: appended record files and the cursor in ``state.json`` (written atomically)."""

    def __init__(self, directory: Path) -> None:
        """Create ``directory`` when missing."""
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)

    def state(self) -> dict:
        """The saved cursor (empty before the first run)."""
        path = self.directory / STATE_FILE
        if not path.exists():
            return {}
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except ValueError:
            raise NvdSyncError(f"{path} is damaged; delete it to start the sync again (同步狀態檔損毀)") from None

    def save_state(self, state: dict) -> None:
        """Write the cursor atomically (a crash leaves the old or the new state, never half of one)."""
        path = self.directory / STATE_FILE
        temporary = path.with_suffix(".tmp")
        temporary.write_text(json.dumps(state, indent=1, sort_keys=True), encoding="utf-8")
        os.replace(temporary, path)

    def append(self, kind: str, items: list[dict]) -> None:
        """Append one page of raw API items, flushed to disk before the cursor moves past them."""
        if not items:
            return
        with (self.directory / DATA_FILES[kind]).open("a", encoding="utf-8") as out:
            for item in items:
                out.write(json.dumps(item, ensure_ascii=False, separators=(",", ":")) + "\n")
            out.flush()
            os.fsync(out.fileno())


def sync(client: NvdClient, store: NvdStore, *, until: dt.datetime, since: dt.datetime | None = None,
         kinds: tuple[str, ...] = ("cve", "cpe"), max_pages: int | None = None,
         progress: Callable[[str], None] | None = None) -> SyncReport:
    """Fetch every CVE and CPE record modified since the last run (or ``since``) up to ``until``.

    The cursor is saved after each page, so an interrupted run resumes at the page it stopped on.
    ``max_pages`` stops early (the cursor stays valid) — for a first run spread over several nights.
    """
    report = SyncReport()
    state = store.state()
    for kind in kinds:
        own = state.setdefault(kind, {})
        # Where to start: the window left half-paged, else where the last run ended, else ``since``.
        saved = (own.get("cursor") or {}).get("start") or own.get("synced_until")
        start = dt.datetime.fromisoformat(saved) if saved else (since or DEFAULT_SINCE)
        window_start = start
        while window_start < until:
            window_end = min(window_start + dt.timedelta(days=MAX_WINDOW_DAYS), until)
            index = 0
            cursor = own.get("cursor")
            if cursor and cursor["start"] == window_start.isoformat():
                # Resume the window that was being paged (its end may have been earlier than ``until``).
                window_end = dt.datetime.fromisoformat(cursor["end"])
                index = cursor["next_index"]
                report.resumed_from[kind] = index
            while True:
                if max_pages is not None and report.pages >= max_pages:
                    report.requests = client.requests
                    return report
                page = client.get(kind, {"lastModStartDate": nvd_time(window_start),
                                         "lastModEndDate": nvd_time(window_end),
                                         "startIndex": index, "resultsPerPage": PAGE_SIZE[kind]})
                items = page.get(RESULTS_KEY[kind])
                if not isinstance(items, list):
                    raise NvdSyncError(f"NVD {kind} response has no '{RESULTS_KEY[kind]}' list (回應格式錯誤)")
                store.append(kind, items)
                report.pages += 1
                report.records[kind] += len(items)
                total = int(page.get("totalResults", 0))
                index += len(items)
                own["cursor"] = {"start": window_start.isoformat(), "end": window_end.isoformat(), "next_index": index}
                store.save_state(state)
                if progress is not None:
                    progress(f"{kind} {window_start.date()}..{window_end.date()}: {min(index, total)}/{total}")
                if not items or index >= total:
                    break
            own.pop("cursor", None)
            own["synced_until"] = window_end.isoformat()
            store.save_state(state)
            report.windows += 1
            # The next window starts where this one ended, even when a resumed window ended early.
            window_start = window_end
    report.requests = client.requests
    return report
