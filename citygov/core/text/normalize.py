"""Explicit text normalisation shared by the engines: width folding, whitespace and 台/臺. Pure Python.

Every engine that compares Chinese text calls these functions itself, so the rules are visible at the call
site and never depend on a library's defaults (DESIGN.md §4, rule 6).
"""

from __future__ import annotations

import re
import unicodedata

_SPACES = re.compile(r"\s+")


def to_halfwidth(text: str) -> str:
    """Fold full-width forms to their half-width equivalents with Unicode NFKC.

    Full-width digits, Latin letters, punctuation and the ideographic space (U+3000) become ASCII; CJK
    ideographs are left as they are.

    Parameters
    ----------
    text : str
        Any text.

    Returns
    -------
    str
        The NFKC form of ``text``.

    Examples
    --------
    >>> to_halfwidth("１２３號ＡＢ，（03）")
    '123號AB,(03)'
    """
    return unicodedata.normalize("NFKC", text)


def collapse_spaces(text: str) -> str:
    """Replace every run of whitespace (spaces, tabs, newlines, U+3000) by one ASCII space.

    Leading and trailing whitespace is collapsed too but not removed; :func:`normalize` strips it.

    Parameters
    ----------
    text : str
        Any text.

    Returns
    -------
    str
        ``text`` with whitespace runs collapsed.

    Examples
    --------
    >>> collapse_spaces("桃園市 \\t 中壢區\\u3000中正路")
    '桃園市 中壢區 中正路'
    """
    return _SPACES.sub(" ", text)


def remove_spaces(text: str) -> str:
    """Remove all whitespace, for Chinese text where spaces carry no meaning (addresses, names).

    Parameters
    ----------
    text : str
        Any text.

    Returns
    -------
    str
        ``text`` without any whitespace character.

    Examples
    --------
    >>> remove_spaces(" 桃園市 觀音區\\u3000八德一街 ")
    '桃園市觀音區八德一街'
    """
    return _SPACES.sub("", text)


def normalize(text: str) -> str:
    """NFKC-fold, strip and collapse whitespace: the common first step before any comparison.

    Parameters
    ----------
    text : str
        Any text.

    Returns
    -------
    str
        Half-width text with single spaces and no leading or trailing whitespace.

    Examples
    --------
    >>> normalize("\\u3000桃園市　中壢區  中正路１００號 ")
    '桃園市 中壢區 中正路100號'
    """
    # NFKC first: it turns U+3000 and other exotic spaces into plain spaces that the collapse then catches.
    return collapse_spaces(to_halfwidth(text)).strip()


def unify_tai(text: str) -> str:
    """Write 台 as 臺, the official form in place names (臺灣, 臺北市, 臺中市 …).

    Both forms are in everyday use, so matching place names on one canonical form avoids listing both.
    Only meant for matching: it rewrites every 台, including in road names such as 中台路.

    Parameters
    ----------
    text : str
        Any text.

    Returns
    -------
    str
        ``text`` with every 台 (U+53F0) replaced by 臺 (U+81FA).

    Examples
    --------
    >>> unify_tai("台灣桃園市中壢區中台路")
    '臺灣桃園市中壢區中臺路'
    """
    return text.replace("台", "臺")


_OPENCC = None


def to_traditional(text: str) -> str:
    """Convert Simplified Chinese to Traditional with Taiwan phrasing (OpenCC ``s2twp``).

    Traditional text passes through unchanged, so it is safe on mixed input. The converter and its
    dictionaries (shipped in the ``opencc`` wheel) are loaded once per process, on first use.

    Parameters
    ----------
    text : str
        Any text.

    Returns
    -------
    str
        ``text`` in Traditional characters, mainland terms replaced by Taiwan ones where OpenCC knows them.

    Examples
    --------
    >>> to_traditional("网络身份证")
    '網路身份證'
    """
    global _OPENCC
    if _OPENCC is None:
        import opencc  # imported here: engines that never convert scripts do not pay for the dictionaries

        _OPENCC = opencc.OpenCC("s2twp")
    return _OPENCC.convert(text)
