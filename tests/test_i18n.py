"""The zh-Hant catalogues are complete, compiled, and cover the strings in code and templates.

The project catalogue lives in citygov/locale; a domain app may keep its own in citygov/<app>/locale.
A source string counts as covered when any catalogue holds it.
"""

from __future__ import annotations

import re
from pathlib import Path

import polib
import pytest
from django.utils import translation

ROOT = Path(__file__).resolve().parents[1]
PO = ROOT / "citygov" / "locale" / "zh_Hant" / "LC_MESSAGES" / "django.po"
CATALOGUES = [PO, *sorted((ROOT / "citygov").glob("*/locale/zh_Hant/LC_MESSAGES/django.po"))]

# Literal strings passed to gettext in Python and to {% translate %} in templates.
PY_STRING = re.compile(r"""\b(?:_|gettext|gettext_lazy)\(\s*(?:"([^"\\]*(?:\\.[^"\\]*)*)"|'([^'\\]*)')\s*[,)]""")
PY_CONTEXT_STRING = re.compile(r"""\bpgettext(?:_lazy)?\(\s*"[^"]+",\s*"([^"]+)"\s*\)""")
TEMPLATE_STRING = re.compile(r"""{%\s*(?:translate|trans)\s+"([^"]+)"(?:\s+[^%]*)?%}""")


def catalogue(path: Path = PO) -> polib.POFile:
    return polib.pofile(str(path))


def catalogue_id(path: Path) -> str:
    return str(path.relative_to(ROOT))


@pytest.mark.parametrize("path", CATALOGUES, ids=catalogue_id)
def test_every_entry_is_translated(path):
    po = catalogue(path)
    untranslated = [e.msgid for e in po if not e.obsolete and not e.translated()]
    fuzzy = [e.msgid for e in po if "fuzzy" in e.flags]
    assert untranslated == []
    assert fuzzy == []


@pytest.mark.parametrize("path", CATALOGUES, ids=catalogue_id)
def test_compiled_catalogue_matches_source(path):
    po = {(e.msgctxt, e.msgid): e.msgstr for e in catalogue(path) if e.translated() and not e.obsolete}
    mo = {(e.msgctxt, e.msgid): e.msgstr for e in polib.mofile(str(path.with_suffix(".mo"))) if e.msgid}
    assert mo == po, "run `make messages` (or compile the .po) — the committed .mo is stale"


def source_strings() -> set[str]:
    found: set[str] = set()
    for path in (ROOT / "citygov").rglob("*.py"):
        if "migrations" in path.parts or "tests" in path.parts:
            continue
        for match in PY_STRING.finditer(path.read_text(encoding="utf-8")):
            text = match.group(1) if match.group(1) is not None else match.group(2)
            found.add(text.encode("utf-8").decode("unicode_escape").encode("latin-1").decode("utf-8")
                      if "\\" in text else text)
        found.update(PY_CONTEXT_STRING.findall(path.read_text(encoding="utf-8")))
    for path in (ROOT / "citygov").rglob("*.html"):
        found.update(TEMPLATE_STRING.findall(path.read_text(encoding="utf-8")))
    return {s for s in found if s.strip()}


def test_every_source_string_is_in_the_catalogue():
    ids = {e.msgid for path in CATALOGUES for e in catalogue(path) if not e.obsolete}
    missing = sorted(source_strings() - ids)
    assert missing == [], "strings without a zh-Hant entry (run `make messages` and translate)"


@pytest.mark.parametrize(("english", "chinese"), [
    ("Agencies", "機關"),
    ("Dashboard", "儀表板"),
    ("City administrator", "市府管理者"),
])
def test_known_translations(english, chinese):
    with translation.override("zh-hant"):
        assert translation.gettext(english) == chinese
