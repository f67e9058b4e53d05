"""A4 documents in Traditional Chinese with reportlab: the font, paragraph styles and page footers. Pure Python.

Shared by the points usage instruction and monthly report pack and the SOC case report: every PDF
the platform writes registers the font here, so whichever module draws first, the CMap is the same. reportlab's built-in CID font ``MSung-Light`` needs
no font file; it is registered here with the Traditional Chinese CMap (see :func:`register_font`).
"""

from __future__ import annotations

from collections.abc import Callable

FONT = "MSung-Light"
_CMAP = "UniCNS-UCS2-H"


def register_font() -> None:
    """Register MSung-Light with the Traditional Chinese CMap.

    reportlab pairs MSung-Light (an Adobe-CNS1 font) with the Simplified Chinese CMap ``UniGB-UCS2-H``;
    a viewer that honours the CMap would then pick wrong glyphs. ``UniCNS-UCS2-H`` maps Unicode to
    Adobe-CNS1, matching the font's character collection.
    """
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import CIDFont, UnicodeCIDFont, widthsByUnichar

    class _TraditionalChineseFont(UnicodeCIDFont):
        def __init__(self) -> None:  # noqa: D107 - same fields UnicodeCIDFont sets, with the CNS1 CMap
            CIDFont.__init__(self, FONT, _CMAP)
            self.language = "cht"
            self.name = self.fontName = FONT
            self.vertical = False
            self.isHalfWidth = False
            self.unicodeWidths = widthsByUnichar[FONT]

    if FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(_TraditionalChineseFont())


def esc(text: str) -> str:
    """Text made safe for a reportlab Paragraph (its markup is XML-like)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def styles() -> dict:
    """Paragraph styles in the Chinese font: ``title``, ``heading``, ``body``, ``small`` and ``cell``."""
    from reportlab.lib.enums import TA_CENTER
    from reportlab.lib.styles import ParagraphStyle

    register_font()
    return {
        "title": ParagraphStyle("title", fontName=FONT, fontSize=18, leading=24, alignment=TA_CENTER),
        "heading": ParagraphStyle("heading", fontName=FONT, fontSize=12.5, leading=18, spaceBefore=8, spaceAfter=4),
        "body": ParagraphStyle("body", fontName=FONT, fontSize=10, leading=15),
        "small": ParagraphStyle("small", fontName=FONT, fontSize=8, leading=11),
        "cell": ParagraphStyle("cell", fontName=FONT, fontSize=8.5, leading=11),
    }


def numbered_canvas(footer: Callable[[object, int, int], None]):
    """A canvas class that defers each page so that ``footer(canvas, page, pages)`` can say "page x of y"."""
    from reportlab.pdfgen import canvas as pdfcanvas

    class _NumberedCanvas(pdfcanvas.Canvas):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self._pages: list[dict] = []

        def showPage(self):  # noqa: N802 - reportlab's API
            self._pages.append(dict(self.__dict__))
            self._startPage()

        def save(self):
            total = len(self._pages)
            for state in self._pages:
                self.__dict__.update(state)
                footer(self, self._pageNumber, total)
                super().showPage()
            super().save()

    return _NumberedCanvas


def grid_style(*, numeric_from: int | None = None, total_row: bool = False) -> list:
    """The table style of every table in our documents: a shaded header, a grid, numbers right-aligned
    from column ``numeric_from`` on, and a shaded last row when it holds totals."""
    from reportlab.lib import colors

    commands = [
        ("FONT", (0, 0), (-1, -1), FONT, 8.5),
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8eef5")),
        ("GRID", (0, 0), (-1, -1), 0.4, colors.HexColor("#7f8c99")),
        ("ALIGN", (0, 0), (-1, 0), "CENTER"),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
    ]
    if numeric_from is not None:
        commands.append(("ALIGN", (numeric_from, 1), (-1, -1), "RIGHT"))
    if total_row:
        commands.append(("BACKGROUND", (0, -1), (-1, -1), colors.HexColor("#f4f4f4")))
    return commands
