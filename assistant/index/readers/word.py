"""Word .docx through python-docx: paragraphs and table cells in document order, numbered as paragraphs."""

from __future__ import annotations

import io
import re

from assistant.index.readers.base import Block, ReadContext, guarded, numbered


def heading_level(style_name: str) -> int:
    """'Heading 2' -> 2, 'Title' -> 1, anything else -> 0."""
    if style_name == "Title":
        return 1
    m = re.fullmatch(r"Heading (\d)", style_name or "")
    return int(m.group(1)) if m else 0


def _parse(data: bytes) -> list[Block]:
    import docx
    from docx.table import Table

    document = docx.Document(io.BytesIO(data))
    texts: list[tuple[str, int]] = []
    for item in document.iter_inner_content():
        if isinstance(item, Table):
            for row in item.rows:
                cells = dict.fromkeys(c.text.strip() for c in row.cells)  # merged cells repeat
                texts.append((" | ".join(c for c in cells if c), 0))
        else:
            texts.append((item.text, heading_level(item.style.name if item.style is not None else "")))
    return numbered(texts)


def read_docx(data: bytes, ctx: ReadContext) -> list[Block]:
    return guarded("docx", _parse, data)
