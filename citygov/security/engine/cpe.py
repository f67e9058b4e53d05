"""CPE 2.3 formatted strings (NISTIR 7695): parse and build with backslash escaping. Pure Python.

A formatted string is ``cpe:2.3:part:vendor:product:version:update:edition:language:sw_edition:
target_sw:target_hw:other``. Printable characters other than letters, digits, ``_``, ``-`` and ``.`` are
escaped with a backslash (``notepad\\+\\+``), so the string is split on *unescaped* colons only. ``*`` is
ANY and ``-`` is NA.
"""

from __future__ import annotations

from dataclasses import dataclass

ATTRIBUTES = ("part", "vendor", "product", "version", "update", "edition", "language", "sw_edition",
              "target_sw", "target_hw", "other")
ANY = "*"
NA = "-"
_PLAIN = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.")


class CpeError(ValueError):
    """A string that is not a valid CPE 2.3 formatted string."""


@dataclass(frozen=True)
class Cpe:
    """One CPE 2.3 name; attribute values are kept in their *unescaped* form (``notepad++``)."""

    part: str = "a"
    vendor: str = ANY
    product: str = ANY
    version: str = ANY
    update: str = ANY
    edition: str = ANY
    language: str = ANY
    sw_edition: str = ANY
    target_sw: str = ANY
    target_hw: str = ANY
    other: str = ANY

    def formatted(self) -> str:
        """The CPE 2.3 formatted string, with special characters escaped.

        Examples
        --------
        >>> Cpe(vendor="notepad-plus-plus", product="notepad++", version="8.6.2").formatted()
        'cpe:2.3:a:notepad-plus-plus:notepad\\\\+\\\\+:8.6.2:*:*:*:*:*:*:*'
        """
        return "cpe:2.3:" + ":".join(escape(getattr(self, name)) for name in ATTRIBUTES)

    @property
    def key(self) -> tuple[str, str]:
        """``(vendor, product)``, the pair identification is judged on."""
        return (self.vendor, self.product)

    def with_version(self, version: str, update: str = ANY) -> Cpe:
        """A copy with another version (and update)."""
        values = {name: getattr(self, name) for name in ATTRIBUTES}
        values.update(version=version or ANY, update=update or ANY)
        return Cpe(**values)


def escape(value: str) -> str:
    """Escape one attribute value for a formatted string; the logical values ``*`` and ``-`` stay bare.

    Examples
    --------
    >>> escape("visual_c++")
    'visual_c\\\\+\\\\+'
    >>> escape("*")
    '*'
    """
    if value in (ANY, NA):
        return value
    return "".join(ch if ch in _PLAIN else "\\" + ch for ch in value)


def unescape(value: str) -> str:
    """Remove the backslash escapes of one attribute value.

    Examples
    --------
    >>> unescape("notepad\\\\+\\\\+")
    'notepad++'
    """
    if "\\" not in value:
        return value
    out = []
    chars = iter(value)
    for ch in chars:
        if ch == "\\":
            nxt = next(chars, None)
            if nxt is None:
                raise CpeError("dangling backslash at the end of an attribute")
            out.append(nxt)
        else:
            out.append(ch)
    return "".join(out)


def split_unescaped(text: str) -> list[str]:
    """Split ``text`` on colons that are not escaped by a backslash (the escapes are kept).

    Examples
    --------
    >>> split_unescaped("a:b\\\\:c:d")
    ['a', 'b\\\\:c', 'd']
    """
    if "\\" not in text:
        return text.split(":")  # the common case, ten times faster than the loop
    parts: list[str] = []
    current: list[str] = []
    escaped = False
    for ch in text:
        if escaped:
            current.append(ch)
            escaped = False
        elif ch == "\\":
            current.append(ch)
            escaped = True
        elif ch == ":":
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    parts.append("".join(current))
    return parts


def parse(text: str) -> Cpe:
    """Parse a CPE 2.3 formatted string; missing trailing attributes count as ANY.

    Raises :class:`CpeError` for anything else (a 2.2 URI, a bad part, a dangling escape).

    Examples
    --------
    >>> parse("cpe:2.3:a:don_ho:notepad\\\\+\\\\+:8.6:*:*:*:*:*:*:*").product
    'notepad++'
    """
    if not isinstance(text, str) or not text.startswith("cpe:2.3:"):
        raise CpeError(f"not a CPE 2.3 formatted string: {text!r}")
    fields = split_unescaped(text[len("cpe:2.3:"):])
    if len(fields) > len(ATTRIBUTES):
        raise CpeError(f"too many attributes ({len(fields)}) in {text!r}")
    fields += [ANY] * (len(ATTRIBUTES) - len(fields))
    if fields[0] not in ("a", "o", "h", ANY):
        raise CpeError(f"part must be a, o or h in {text!r}")
    return Cpe(*(unescape(f) if f not in (ANY, NA) else f for f in fields))


def vendor_product(text: str) -> tuple[str, str]:
    """``(vendor, product)`` of a formatted string, unescaped — cheaper than a full :func:`parse`."""
    fields = split_unescaped(text[len("cpe:2.3:"):]) if text.startswith("cpe:2.3:") else []
    if len(fields) < 3:
        raise CpeError(f"not a CPE 2.3 formatted string: {text!r}")
    return unescape(fields[1]), unescape(fields[2])
