"""OpenDocument text (.odt) through odfpy: headings with their outline level and paragraphs, numbered."""

from __future__ import annotations

import io
from collections.abc import Iterator

from assistant.index.readers.base import Block, ReadContext, guarded, numbered


def _paragraphs(element) -> Iterator:
    """Headings and paragraphs in document order; a paragraph's nested frames are in its own text."""
    from odf.namespaces import TEXTNS

    for child in element.childNodes:
        if getattr(child, "qname", None) in ((TEXTNS, "h"), (TEXTNS, "p")):
            yield child
        elif child.childNodes:
            yield from _paragraphs(child)


def _parse(data: bytes) -> list[Block]:
    from odf import teletype
    from odf.namespaces import TEXTNS
    from odf.opendocument import load

    document = load(io.BytesIO(data))
    texts: list[tuple[str, int]] = []
    for element in _paragraphs(document.text):
        level = int(element.getAttrNS(TEXTNS, "outline-level") or 1) if element.qname == (TEXTNS, "h") else 0
        texts.append((teletype.extractText(element), level))
    return numbered(texts)


def read_odt(data: bytes, ctx: ReadContext) -> list[Block]:
    return guarded("OpenDocument", _parse, data)
