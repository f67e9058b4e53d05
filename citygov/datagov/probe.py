"""Link and update probe: check resource URLs over HTTP with bounded concurrency and per-host politeness.

For each URL: ``HEAD`` (a server that refuses HEAD with 405/501 gets a ``GET`` whose body is not read),
redirects followed and counted (at most ``max_redirects``), a timeout on every request, and what the
answer says about the data: status, content type, content length, ``ETag`` and ``Last-Modified``.
Politeness: at most one request in flight per host and at least ``per_host_interval`` seconds between
two requests to the same host; ``workers`` bounds the requests in flight overall. Plain urllib, no
Django; the service stores the results.

A catalogue URL is supplied by whoever publishes the dataset, so the probe refuses, by default, any
host that resolves to a private, loopback, link-local or otherwise non-public address (and any redirect
to one): it would otherwise let a catalogue entry point the server at the city's internal network.
``ProbeSettings.allow`` names the networks (CIDR) or host names that may be probed all the same.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import ipaddress
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

USER_AGENT = "citygov-datagov-linkprobe/1"


@dataclass(frozen=True)
class ProbeSettings:
    """Timeouts and politeness of a probe run."""

    timeout: float = 10.0
    workers: int = 8
    per_host_interval: float = 1.0
    max_redirects: int = 5
    allow: tuple[str, ...] = ()  # networks (CIDR) or host names probed even though not public


class RefusedAddress(OSError):
    """The host resolves to an address the probe may not reach."""


def _allowed_networks(allow: tuple[str, ...]) -> tuple[list, set[str]]:
    networks, names = [], set()
    for item in allow:
        try:
            networks.append(ipaddress.ip_network(item.strip(), strict=False))
        except ValueError:
            names.add(item.strip().lower().rstrip("."))
    return networks, names


def check_host(host: str, port: int | None, allow: tuple[str, ...] = ()) -> None:
    """Raise RefusedAddress unless every address ``host`` resolves to is public or allowed by ``allow``.

    A host that does not resolve is left to the request, which reports the connection error.
    """
    networks, names = _allowed_networks(allow)
    if host.lower().rstrip(".") in names:
        return
    try:
        infos = socket.getaddrinfo(host, port or 80, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError):
        return
    for info in infos:
        address = ipaddress.ip_address(info[4][0].split("%", 1)[0])
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        if address.is_global and not address.is_multicast:
            continue
        if any(address in network for network in networks):
            continue
        raise RefusedAddress(f"refused: {host} resolves to a non-public address ({address})")


@dataclass(frozen=True)
class ProbeResult:
    """What one URL answered (``status`` None: no HTTP answer at all, see ``error``)."""

    url: str
    ok: bool
    status: int | None
    method: str
    final_url: str
    redirects: int
    content_type: str
    content_length: int | None
    etag: str
    last_modified: dt.datetime | None
    error: str
    elapsed_ms: int


class _Redirects(urllib.request.HTTPRedirectHandler):
    """Counts the redirects followed and stops after ``limit``."""

    def __init__(self, limit: int, allow: tuple[str, ...] = ()):
        self.limit = limit
        self.allow = allow
        self.count = 0

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        self.count += 1
        if self.count > self.limit:
            raise urllib.error.HTTPError(req.full_url, code, f"more than {self.limit} redirects", headers, fp)
        if urllib.parse.urlsplit(newurl).scheme not in ("http", "https"):
            raise urllib.error.HTTPError(req.full_url, code, "redirect to a scheme other than http(s)", headers, fp)
        target = urllib.parse.urlsplit(newurl)
        check_host(target.hostname or "", target.port, self.allow)  # a public host may redirect inwards
        new = super().redirect_request(req, fp, code, msg, headers, newurl)
        if new is not None:  # keep HEAD a HEAD across redirects (urllib would turn it into a GET)
            new.method = req.get_method()
        return new


def _parse_http_date(value: str | None) -> dt.datetime | None:
    if not value:
        return None
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def _request(url: str, method: str, settings: ProbeSettings) -> tuple[int | None, str, int, object, str]:
    """(status, final url, redirects, headers, error) of one request; the body is never read."""
    redirects = _Redirects(settings.max_redirects, settings.allow)
    opener = urllib.request.build_opener(redirects)
    request = urllib.request.Request(url, method=method, headers={"User-Agent": USER_AGENT, "Accept": "*/*"})  # noqa: S310 - scheme checked by probe_one
    try:
        with opener.open(request, timeout=settings.timeout) as response:
            return response.status, response.geturl(), redirects.count, response.headers, ""
    except RefusedAddress as exc:
        return None, url, redirects.count, None, str(exc)[:300]
    except urllib.error.HTTPError as exc:
        return exc.code, exc.geturl() or url, redirects.count, exc.headers, f"HTTP {exc.code}"
    except (urllib.error.URLError, TimeoutError, ConnectionError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        if isinstance(reason, RefusedAddress):
            return None, url, redirects.count, None, str(reason)[:300]
        kind = "timeout" if isinstance(reason, TimeoutError) or "timed out" in str(reason) else "connection"
        return None, url, redirects.count, None, f"{kind}: {reason}"[:300]


def probe_one(url: str, settings: ProbeSettings = ProbeSettings()) -> ProbeResult:
    """Probe one URL now (no politeness: ``probe_many`` schedules the calls)."""
    start = time.monotonic()
    if urllib.parse.urlsplit(url).scheme not in ("http", "https") or not urllib.parse.urlsplit(url).hostname:
        return ProbeResult(url, False, None, "", url, 0, "", None, "", None, "not an http(s) URL", 0)
    parts = urllib.parse.urlsplit(url)
    try:
        check_host(parts.hostname or "", parts.port, settings.allow)
    except (RefusedAddress, ValueError) as exc:
        return ProbeResult(url, False, None, "", url, 0, "", None, "", None, str(exc)[:300], 0)
    method = "HEAD"
    status, final_url, redirects, headers, error = _request(url, method, settings)
    if status in (405, 501):  # HEAD not allowed: ask with GET and read no body
        method = "GET"
        status, final_url, redirects, headers, error = _request(url, method, settings)
    length = headers.get("Content-Length") if headers is not None else None
    return ProbeResult(
        url=url, ok=status is not None and 200 <= status < 300, status=status, method=method, final_url=final_url,
        redirects=redirects, content_type=(headers.get("Content-Type", "") if headers is not None else "")[:100],
        content_length=int(length) if length and length.isdigit() else None,
        etag=(headers.get("ETag", "") if headers is not None else "")[:200],
        last_modified=_parse_http_date(headers.get("Last-Modified") if headers is not None else None),
        error=error, elapsed_ms=round((time.monotonic() - start) * 1000))


def probe_many(urls: Sequence[str], settings: ProbeSettings = ProbeSettings()) -> list[ProbeResult]:
    """Probe every URL (results in the order given) with bounded concurrency and per-host politeness.

    URLs are grouped by host; each host's URLs are probed one after the other by one worker, with at
    least ``per_host_interval`` seconds between two requests, while up to ``workers`` hosts are probed
    at once.
    """
    groups: dict[str, list[int]] = {}
    for index, url in enumerate(urls):
        groups.setdefault((urllib.parse.urlsplit(url).hostname or "").lower(), []).append(index)
    results: list[ProbeResult | None] = [None] * len(urls)

    def run(indexes: list[int]) -> None:
        last = None
        for index in indexes:
            if last is not None:
                delay = last + settings.per_host_interval - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
            results[index] = probe_one(urls[index], settings)
            last = time.monotonic()

    with ThreadPoolExecutor(max_workers=max(1, settings.workers)) as pool:
        list(pool.map(run, groups.values()))
    return [r for r in results if r is not None]
