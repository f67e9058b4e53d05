"""Build the bundled Traditional Chinese font subset the points report draws its charts with.

A fresh machine may have only Python: no CJK system font, so matplotlib would draw empty boxes for
every Chinese label. The report therefore ships its own font: Noto Sans CJK TC (SIL Open Font
License 1.1, see OFL.txt), subset with fontTools to printable ASCII, common punctuation, the 5,401
frequently used characters of Big5 level 1 (常用字) and every character of the report's labels and
the district names (the report refuses to draw a label the font lacks).

Run from the repository root on a machine with Debian's fonts-noto-cjk::

    .venv/bin/python citygov/points/fonts/build_font.py [/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc]
"""

from __future__ import annotations

import sys
from pathlib import Path

from fontTools import subset
from fontTools.ttLib import TTCollection

HERE = Path(__file__).resolve().parent
SOURCE = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")
TARGET = HERE / "NotoSansTC-citygov-subset.otf"
FACE = "Noto Sans CJK TC"
EXTRA = "（）「」『』、。，：；！？％－—–·…／＋＝〜～↑↓→←▲▼●○■□℃※№"


def big5_level1() -> str:
    """The 5,401 frequently used hanzi of Big5 level 1 (lead bytes 0xA4-0xC6)."""
    chars = []
    for lead in range(0xA4, 0xC7):
        for trail in (*range(0x40, 0x7F), *range(0xA1, 0xFF)):
            try:
                chars.append(bytes((lead, trail)).decode("big5"))
            except UnicodeDecodeError:
                continue
    return "".join(chars)


def label_text() -> str:
    """Every character the report module and the district reference data may draw."""
    root = HERE.parent.parent
    sources = [HERE.parent / "management" / "report.py", root / "agencies" / "data" / "taoyuan-districts.geojson"]
    return "".join(path.read_text(encoding="utf-8") for path in sources if path.exists())


def build(source: Path = SOURCE, target: Path = TARGET) -> Path:
    collection = TTCollection(str(source))
    font = next(f for f in collection.fonts if f["name"].getDebugName(1) == FACE)
    text = "".join(chr(c) for c in range(0x20, 0x7F)) + EXTRA + big5_level1() + label_text()
    options = subset.Options()
    options.hinting = False  # charts are drawn at screen resolutions; hints only add bytes
    options.name_IDs = ["*"]
    options.name_languages = ["*"]
    options.notdef_outline = True
    subsetter = subset.Subsetter(options)
    subsetter.populate(text=text)
    subsetter.subset(font)
    font.save(str(target))
    return target


if __name__ == "__main__":
    path = build(Path(sys.argv[1]) if len(sys.argv) > 1 else SOURCE)
    print(f"{path}: {path.stat().st_size:,} bytes")
