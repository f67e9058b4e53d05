"""Harvesting a CKAN portal over HTTP: ``package_search`` paged with ``rows``/``start``.

Plain HTTP (urllib) with a timeout on every request and a bounded number of retries with back-off for
connection errors, timeouts, 429 and 5xx answers. Every page must arrive: a page that still fails after
the retries stops the harvest, and the caller imports nothing.
"""

from __future__ import annotations

import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from citygov.datagov.engine import ckan
from citygov.datagov.engine.catalog import CatalogError

USER_AGENT = "citygov-datagov-harvester/1"
MAX_BODY = 50 * 1024 * 1024
MAX_PAGES = 10_000


@dataclass(frozen=True)
class HarvestSettings:
    """Paging and politeness: page size (CKAN caps it, 1000 by default), timeout, retries, back-off."""

    rows: int = 100
    timeout: float = 10.0
    retries: int = 3
    backoff: float = 0.5


def _get(url: str, settings: HarvestSettings) -> bytes:
    last_error = ""
    for attempt in range(settings.retries + 1):
        if attempt:
            time.sleep(settings.backoff * 2 ** (attempt - 1))
        # The scheme was checked to be http(s) in packages().
        request = urllib.request.Request(url, headers={"Accept": "application/json", "User-Agent": USER_AGENT})  # noqa: S310
        try:
            with urllib.request.urlopen(request, timeout=settings.timeout) as response:  # noqa: S310
                return response.read(MAX_BODY + 1)[:MAX_BODY]
        except urllib.error.HTTPError as exc:
            last_error = f"HTTP {exc.code}"
            if exc.code != 429 and exc.code < 500:
                body = exc.read(MAX_BODY)
                try:  # CKAN answers errors with its JSON envelope (e.g. 409 for a bad parameter)
                    ckan.parse_search(body)
                except CatalogError as ckan_error:
                    raise CatalogError(f"{url}: {last_error}. {ckan_error.message}",
                                       f"{url}：{last_error}。{ckan_error.message_zh}") from None
                break
        except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
            last_error = str(getattr(exc, "reason", exc))
    raise CatalogError(f"{url}: no answer after {settings.retries + 1} attempts ({last_error}).",
                       f"{url}：嘗試 {settings.retries + 1} 次仍無回應（{last_error}）。")


def search_url(base_url: str, start: int, rows: int) -> str:
    """The ``package_search`` URL of one page."""
    base = base_url.rstrip("/")
    if not base.endswith("/api/3/action"):
        base += "/api/3/action"
    query = urllib.parse.urlencode({"rows": rows, "start": start, "sort": "id asc"})
    return f"{base}/package_search?{query}"


def packages(base_url: str, settings: HarvestSettings | None = None) -> Iterator[Mapping[str, Any]]:
    """Every package of the portal, page by page (sorted by id so that pages do not shift)."""
    settings = settings or HarvestSettings()
    if urllib.parse.urlsplit(base_url).scheme not in ("http", "https"):
        raise CatalogError("The portal address must start with http:// or https://.",
                           "入口網址必須以 http:// 或 https:// 開頭。")
    start = 0
    for _page in range(MAX_PAGES):
        count, page = ckan.parse_search(_get(search_url(base_url, start, settings.rows), settings))
        yield from page
        start += len(page)
        if not page or start >= count:
            return
