"""Lean HTTP/1.1 header handling for the gateway's hot path (stdlib only).

``http.server`` and ``http.client`` parse every header block with the ``email`` package (a MIME parser
with policies, defect tracking and content-type look-ups): on a gateway that is about a third of the CPU
of a call, paid on each of the three or four hops. This module reads a header block straight into
:class:`Headers` (a small case-insensitive multi-map with the read methods the gateway and
``http.client`` use) and plugs it into both sides: :func:`parse_request` for ``BaseHTTPRequestHandler``
and :class:`Response` (the ``response_class`` of :class:`HTTPConnection`/:class:`HTTPSConnection`).

It is stricter than the ``email`` parser: a header line without a colon, or a name that is not an HTTP
token, is a malformed request (400) or response (``http.client.HTTPException``) rather than a defect to
work around. Obsolete line folding is unfolded into one space (RFC 9112 §5.2). Limits are those of
``http.client``: 65,536 bytes per line, 100 header lines.
"""

from __future__ import annotations

import http.client
import re
from collections.abc import Iterator
from http import HTTPStatus
from typing import Any

MAX_LINE = 65536
MAX_HEADERS = 100
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_VERSION = re.compile(r"HTTP/(\d{1,10})\.(\d{1,10})")


class Headers:
    """Header fields in arrival order, looked up case-insensitively (the first value wins for ``get``)."""

    __slots__ = ("_items", "_index")

    def __init__(self, items: list[tuple[str, str]] | None = None):
        self._items: list[tuple[str, str]] = []
        self._index: dict[str, str] = {}
        for name, value in items or ():
            self.add(name, value)

    def add(self, name: str, value: str) -> None:
        """Append one field."""
        self._items.append((name, value))
        self._index.setdefault(name.lower(), value)

    def get(self, name: str, default: Any = None) -> Any:
        """The first value of ``name`` or ``default``."""
        return self._index.get(name.lower(), default)

    def get_all(self, name: str, failobj: Any = None) -> Any:
        """Every value of ``name`` in order, or ``failobj`` when there is none."""
        key = name.lower()
        values = [v for k, v in self._items if k.lower() == key]
        return values or failobj

    def __getitem__(self, name: str) -> str | None:
        return self._index.get(name.lower())

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._index

    def items(self) -> list[tuple[str, str]]:
        """(name, value) pairs in arrival order, names as received."""
        return list(self._items)

    def keys(self) -> list[str]:
        """Names in arrival order."""
        return [k for k, _v in self._items]

    def values(self) -> list[str]:
        """Values in arrival order."""
        return [v for _k, v in self._items]

    def __iter__(self) -> Iterator[str]:
        return iter(self.keys())

    def __len__(self) -> int:
        return len(self._items)

    def __str__(self) -> str:
        return "".join(f"{k}: {v}\r\n" for k, v in self._items) + "\r\n"


def read_headers(fp) -> Headers:
    """Read a header block up to the empty line from a binary file object.

    Raises ``http.client.LineTooLong`` for a line over :data:`MAX_LINE` bytes and
    ``http.client.HTTPException`` for more than :data:`MAX_HEADERS` lines or a malformed line.
    """
    headers = Headers()
    items, index = headers._items, headers._index  # filled in place: this loop runs for every header line
    name = value = None
    count = 0
    while True:
        line = fp.readline(MAX_LINE + 1)
        if len(line) > MAX_LINE:
            raise http.client.LineTooLong("header line")
        if line in (b"\r\n", b"\n", b""):
            break
        count += 1
        if count > MAX_HEADERS:
            raise http.client.HTTPException(f"got more than {MAX_HEADERS} headers")
        text = line.decode("iso-8859-1").rstrip("\r\n")
        if text[:1] in (" ", "\t"):
            if name is None:
                raise http.client.HTTPException("a header block cannot start with a continuation line")
            value = value + " " + text.strip(" \t")
            continue
        if name is not None:
            items.append((name, value))
            index.setdefault(name.lower(), value)
        name, sep, value = text.partition(":")
        if not sep or not _TOKEN.fullmatch(name):
            raise http.client.HTTPException(f"malformed header line {text[:80]!r}")
        value = value.strip(" \t")
    if name is not None:
        items.append((name, value))
        index.setdefault(name.lower(), value)
    return headers


class Response(http.client.HTTPResponse):
    """``http.client.HTTPResponse`` whose header block is read by :func:`read_headers`."""

    def begin(self) -> None:
        """Read the status line and headers (as the base class does, without the ``email`` parser)."""
        if self.headers is not None:
            return
        while True:
            version, status, reason = self._read_status()
            if status != http.client.CONTINUE:
                break
            read_headers(self.fp)
        self.code = self.status = status
        self.reason = reason.strip()
        if version in ("HTTP/1.0", "HTTP/0.9"):
            self.version = 10
        elif version.startswith("HTTP/1."):
            self.version = 11
        else:
            raise http.client.UnknownProtocol(version)
        self.headers = self.msg = read_headers(self.fp)
        encoding = self.headers.get("transfer-encoding")
        self.chunked = bool(encoding) and encoding.lower() == "chunked"
        self.chunk_left = None
        self.will_close = self._check_close()
        self.length = None
        length = self.headers.get("content-length")
        if length and not self.chunked:
            try:
                self.length = int(length)
            except ValueError:
                self.length = None
            else:
                if self.length < 0:
                    self.length = None
        if status in (HTTPStatus.NO_CONTENT, HTTPStatus.NOT_MODIFIED) or 100 <= status < 200 \
                or self._method == "HEAD":
            self.length = 0
        if not self.will_close and not self.chunked and self.length is None:
            self.will_close = True


class HTTPConnection(http.client.HTTPConnection):
    """``http.client.HTTPConnection`` reading responses with :class:`Response`."""

    response_class = Response


class HTTPSConnection(http.client.HTTPSConnection):
    """``http.client.HTTPSConnection`` reading responses with :class:`Response`."""

    response_class = Response


def parse_request(handler) -> bool:
    """``BaseHTTPRequestHandler.parse_request`` with :func:`read_headers`: sets ``command``, ``path``,
    ``request_version``, ``headers`` and ``close_connection``; on a bad request sends the error and
    returns False."""
    handler.command = None
    # Not HTTP/0.9 (the stdlib's default): an error about a malformed request line still gets a status line.
    handler.request_version = "HTTP/1.0"
    handler.close_connection = True
    requestline = str(handler.raw_requestline, "iso-8859-1").rstrip("\r\n")
    handler.requestline = requestline
    words = requestline.split()
    if not words:
        return False
    if len(words) != 3:
        handler.send_error(HTTPStatus.BAD_REQUEST, f"Bad request syntax ({requestline[:200]!r})")
        return False
    command, path, version = words
    match = _VERSION.fullmatch(version)
    if match is None:
        handler.send_error(HTTPStatus.BAD_REQUEST, f"Bad request version ({version[:20]!r})")
        return False
    number = int(match[1]), int(match[2])
    if number >= (2, 0):
        handler.send_error(HTTPStatus.HTTP_VERSION_NOT_SUPPORTED, f"Invalid HTTP version ({version[5:]})")
        return False
    handler.request_version = version
    handler.close_connection = number < (1, 1)
    handler.command, handler.path = command, path
    if path.startswith("//"):
        handler.path = "/" + path.lstrip("/")  # as http.server does: no scheme-relative paths
    try:
        handler.headers = read_headers(handler.rfile)
    except http.client.LineTooLong as exc:
        handler.send_error(HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE, "Line too long", str(exc))
        return False
    except http.client.HTTPException as exc:
        handler.send_error(HTTPStatus.BAD_REQUEST, "Bad header", str(exc))
        return False
    connection = handler.headers.get("Connection", "").lower()
    if connection == "close":
        handler.close_connection = True
    elif connection == "keep-alive":
        handler.close_connection = False
    expects_continue = handler.headers.get("Expect", "").lower() == "100-continue" and number >= (1, 1)
    return not expects_continue or handler.handle_expect_100()
