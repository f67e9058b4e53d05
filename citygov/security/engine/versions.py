"""Version strings: comparison and the vendor-specific normalisations NVD needs. Pure Python.

The comparator handles dotted versions (``131.0.6778.140``), letter suffixes (OpenSSL ``1.1.1w``, OpenSSH
``9.2p1``), pre-releases (``2.0rc1`` < ``2.0``), Debian versions (the epoch ``1:`` and the revision
``-2+deb12u3`` are dropped: NVD ranges speak of upstream versions) and update styles (``8u381``).
"""

from __future__ import annotations

import re
from functools import cmp_to_key, lru_cache

_TOKENS = re.compile(r"\d+|[a-z]+")
_PRERELEASE = frozenset({"alpha", "a", "beta", "b", "rc", "pre", "preview", "dev", "snapshot", "m"})
_DEBIAN = re.compile(r"^(?:(\d+):)?([0-9][A-Za-z0-9.+~]*?)(?:-([A-Za-z0-9.+~_]+))?$")
_JAVA_NAME = re.compile(r"\b(?:java|jre|jdk)?\s*(\d{1,2})\s*update\s*(\d{1,3})\b")
_KEY_LENGTH = 12
_JAVA_VERSION = re.compile(r"^1\.(\d)\.0_(\d+)")


def tokens(version: str) -> list[int | str]:
    """Split a version into numbers and lower-case letter runs (separators are dropped).

    Examples
    --------
    >>> tokens("1.1.1w")
    [1, 1, 1, 'w']
    """
    return [int(t) if t.isdigit() else t for t in _TOKENS.findall(version.lower())]


def compare(left: str, right: str) -> int:
    """-1, 0 or 1 as ``left`` is older than, equal to or newer than ``right``.

    Numbers compare as integers; a letter run after the same digits sorts after them (``1.1.1w`` >
    ``1.1.1``) unless it is a pre-release word (``rc``, ``beta``...), which sorts before.

    Examples
    --------
    >>> compare("1.1.1k", "1.1.1w"), compare("6.23", "6.3"), compare("2.0rc1", "2.0"), compare("7.0", "7")
    (-1, 1, -1, 0)
    """
    a, b = tokens(left), tokens(right)
    for x, y in zip(a, b, strict=False):
        if x == y:
            continue
        if isinstance(x, int) and isinstance(y, int):
            return -1 if x < y else 1
        if isinstance(x, str) and isinstance(y, str):
            return -1 if x < y else 1
        # A number against letters at the same place: a pre-release word is older, other letters too
        # (``2.0.1`` is newer than ``2.0.beta``).
        return 1 if isinstance(x, int) else -1
    rest, sign = (a[len(b):], 1) if len(a) > len(b) else (b[len(a):], -1)
    if not rest or all(t == 0 for t in rest):
        return 0
    first = rest[0]
    if isinstance(first, str) and first in _PRERELEASE:
        return -sign
    return sign


version_key = cmp_to_key(compare)


@lru_cache(maxsize=65536)
def sort_key(version: str) -> tuple:
    """A plain tuple that orders like :func:`compare` (cached: matching compares the same bounds often).

    Position by position: pre-release words < zero (and the end of the version) < other letters < 1, 2, …

    Examples
    --------
    >>> sort_key("1.1.1w") > sort_key("1.1.1") > sort_key("1.1.1rc1")
    True
    """
    key = []
    for part in tokens(version)[:_KEY_LENGTH]:
        if isinstance(part, int):
            key.append((3, part, ""))
        elif part in _PRERELEASE:
            key.append((0, 0, part))
        else:
            key.append((3, 0.5, part))
    # Padding equals a zero, so "7" == "7.0" and "2.0rc1" < "2.0" < "2.0a" < "2.0.1".
    key.extend([(3, 0, "")] * (_KEY_LENGTH - len(key)))
    return tuple(key)


def debian_upstream(version: str) -> str:
    """The upstream part of a Debian/RPM version: epoch and packaging revision dropped.

    Examples
    --------
    >>> debian_upstream("1:9.2p1-2+deb12u3")
    '9.2p1'
    >>> debian_upstream("3.0.15-1~deb12u1")
    '3.0.15'
    """
    text = version.strip()
    match = _DEBIAN.match(text)
    if not match:
        return text.split(":", 1)[-1]
    upstream = match.group(2)
    # Debian "+dfsg" / "+ds" repacks and "~" pre-release markers are packaging, not upstream.
    return re.split(r"[+~](?:dfsg|ds|really|repack)", upstream)[0]


def split_patch_level(version: str) -> tuple[str, str]:
    """OpenSSH/sudo style ``9.2p1`` → (``9.2``, ``p1``): NVD keeps the patch level in *update*.

    Examples
    --------
    >>> split_patch_level("1.9.13p3")
    ('1.9.13', 'p3')
    >>> split_patch_level("9.6")
    ('9.6', '')
    """
    match = re.match(r"^(\d+(?:\.\d+)*)(p\d+)$", version)
    return (match.group(1), match.group(2)) if match else (version, "")


def java_version(name: str, display_version: str) -> tuple[str, str] | None:
    """Java 8-style names and versions → NVD's (``1.8.0``, ``update_381``); None when not that style.

    Examples
    --------
    >>> java_version("java 8 update 381 (64-bit)", "8.0.3810.9")
    ('1.8.0', 'update_381')
    >>> java_version("jre", "1.8.0_202")
    ('1.8.0', 'update_202')
    """
    match = _JAVA_NAME.search(name.lower())
    if match:
        return f"1.{match.group(1)}.0", f"update_{match.group(2)}"
    match = _JAVA_VERSION.match(display_version.strip())
    if match:
        return f"1.{match.group(1)}.0", f"update_{int(match.group(2))}"
    return None


def clean(version: str) -> str:
    """The version inside a display version: words, brackets and build tags removed.

    Examples
    --------
    >>> clean(" v2.6.8 (build 1234) ")
    '2.6.8'
    """
    text = re.sub(r"\(.*?\)", " ", version.lower())
    # The first token that starts with a digit: "ad 8.0.8" (AnyDesk) → 8.0.8, "Version 3.5.2" → 3.5.2.
    match = re.search(r"(?:(?<![a-z0-9])|(?<=\bv))\d[0-9a-z._+\-]*", text)
    return match.group(0).rstrip(".-") if match else ""
