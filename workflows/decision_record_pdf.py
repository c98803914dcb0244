"""The decision record as a PDF, drawn on the server with reportlab's platypus.

Only the built-in Helvetica and Courier are used, so nothing depends on the fonts of the
machine. Every piece of text is escaped before it reaches reportlab's paragraph markup,
which is XML-like: a "<" or "&" typed by a practitioner must print as itself.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from functools import partial
from io import BytesIO
from typing import Any
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import Flowable, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from .decision_record import Block, DecisionRecord, Fields, Section
from .decision_record import Table as RecordTable

_MARGIN = 18 * mm
_WIDTH = A4[0] - 2 * _MARGIN
_INK = colors.HexColor("#1b1b1b")
_RULE = colors.HexColor("#b0b7bf")

_BODY = ParagraphStyle("body", fontName="Helvetica", fontSize=10, leading=13.5, textColor=_INK)
_STYLES = {
    "title": ParagraphStyle("title", _BODY, fontName="Helvetica-Bold", fontSize=17, leading=21),
    "section": ParagraphStyle(
        "section",
        _BODY,
        fontName="Helvetica-Bold",
        fontSize=13,
        leading=16,
        spaceBefore=12,
        spaceAfter=4,
        keepWithNext=1,
    ),
    "block": ParagraphStyle(
        "block",
        _BODY,
        fontName="Helvetica-Bold",
        fontSize=11,
        leading=14,
        spaceBefore=8,
        spaceAfter=2,
        keepWithNext=1,
    ),
    "label": ParagraphStyle(
        "label", _BODY, fontName="Helvetica-Bold", fontSize=9, spaceBefore=5, keepWithNext=1
    ),
    "value": ParagraphStyle("value", _BODY, leftIndent=8),
    "text": ParagraphStyle("text", _BODY, spaceAfter=5),
    "cell": ParagraphStyle("cell", _BODY, fontSize=8.5, leading=10.5),
    "head": ParagraphStyle("head", _BODY, fontName="Helvetica-Bold", fontSize=8.5, leading=10.5),
}
_FOOTER_FONT = ("Helvetica", 8)

# Characters XML cannot carry at all; a pasted one would stop the whole document.
_UNPRINTABLE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _markup(text: str) -> str:
    """User text made safe for reportlab's paragraph markup, line breaks kept."""
    text = _UNPRINTABLE.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))
    return escape(text).replace("\n", "<br/>")


def _para(text: str, style: str) -> Paragraph:
    return Paragraph(_markup(text), _STYLES[style])


def _fields(block: Fields) -> list[Flowable]:
    # Label above value rather than a two-column table: a long value (a risk, the reasons)
    # then flows onto the next page instead of failing to fit.
    found: list[Flowable] = []
    for label, value in block.rows:
        found += [_para(label, "label"), _para(value, "value")]
    return found


def _table(block: RecordTable) -> Table:
    width = _WIDTH / len(block.columns)
    rows = [[_para(column, "head") for column in block.columns]]
    rows += [[_para(cell, "cell") for cell in row] for row in block.rows]
    table = Table(rows, colWidths=[width] * len(block.columns), repeatRows=1)
    table.setStyle(
        TableStyle(
            [
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("LINEBELOW", (0, 0), (-1, -1), 0.4, _RULE),
                ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#eef2f6")),
                ("LEFTPADDING", (0, 0), (-1, -1), 3),
                ("RIGHTPADDING", (0, 0), (-1, -1), 3),
            ]
        )
    )
    return table


def _block(block: Block) -> list[Flowable]:
    found: list[Flowable] = [_para(block.heading, "block")] if block.heading else []
    if isinstance(block, Fields):
        found += _fields(block)
    elif isinstance(block, RecordTable):
        found.append(_table(block) if block.rows else _para("None.", "text"))
    else:
        found += [_para(paragraph, "text") for paragraph in block.paragraphs]
    return found


def _story(title: str, sections: Sequence[Section]) -> list[Flowable]:
    story: list[Flowable] = [_para(title, "title"), Spacer(0, 4 * mm)]
    for section in sections:
        story.append(_para(section.title, "section"))
        for block in section.blocks:
            story += _block(block)
    return story


def _footer(label: str, total: int, canvas: Any, doc: Any) -> None:
    canvas.saveState()
    canvas.setFont(*_FOOTER_FONT)
    canvas.setFillColor(_INK)
    y = _MARGIN / 2
    canvas.drawString(_MARGIN, y, label)
    page = f"Page {doc.page} of {total}" if total else f"Page {doc.page}"
    canvas.drawRightString(A4[0] - _MARGIN, y, page)
    canvas.restoreState()


def _build(
    title: str, sections: Sequence[Section], subject: str, on_page: Callable[[Any, Any], None]
) -> tuple[bytes, int]:
    buffer = BytesIO()
    doc = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=_MARGIN,
        rightMargin=_MARGIN,
        topMargin=_MARGIN,
        bottomMargin=_MARGIN,
        # No child's name in the file's own metadata: it travels further than the pages.
        title=title,
        author="Safeshare",
        subject=subject,
    )
    doc.build(_story(title, sections), onFirstPage=on_page, onLaterPages=on_page)
    return buffer.getvalue(), doc.page


def document_pdf(title: str, sections: Sequence[Section], footer: str, subject: str) -> bytes:
    """Sections as PDF bytes, each page footed with ``footer`` and "page N of M"."""
    # Laid out twice: the first pass counts the pages the second one prints on each footer.
    _, total = _build(title, sections, subject, partial(_footer, footer, 0))
    content, _ = _build(title, sections, subject, partial(_footer, footer, total))
    return content


def decision_record_pdf(record: DecisionRecord) -> bytes:
    """The record as PDF bytes, each page footed with the share and "page N of M"."""
    return document_pdf(
        record.title,
        record.sections,
        f"Decision record, share #{record.share_id}",
        "Decision record",
    )
