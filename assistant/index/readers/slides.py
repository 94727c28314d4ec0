"""PowerPoint .pptx through python-pptx: each slide's title as a heading, its text and notes, located by slide."""

from __future__ import annotations

import io

from assistant.index.readers.base import Block, ReadContext, guarded


def _shape_texts(shapes) -> list[str]:
    out = []
    for shape in shapes:
        if shape.shape_type == 6:  # a group: its shapes hold the text
            out += _shape_texts(shape.shapes)
        elif shape.has_text_frame:
            out += [p.text for p in shape.text_frame.paragraphs]
        elif getattr(shape, "has_table", False) and shape.has_table:
            out += [" | ".join(c.text for c in row.cells) for row in shape.table.rows]
    return out


def _parse(data: bytes) -> list[Block]:
    from pptx import Presentation

    blocks: list[Block] = []
    for n, slide in enumerate(Presentation(io.BytesIO(data)).slides, start=1):
        title = slide.shapes.title
        if title is not None and title.text.strip():
            blocks.append(Block(title.text.strip(), n, n, 1, "slide"))
        body = [t.strip() for t in _shape_texts(s for s in slide.shapes if s != title) if t.strip()]
        if slide.has_notes_slide:
            notes = slide.notes_slide.notes_text_frame
            if notes is not None and notes.text.strip():
                body.append(notes.text.strip())
        blocks += [Block(t, n, n, 0, "slide") for t in body]
    return blocks


def read_pptx(data: bytes, ctx: ReadContext) -> list[Block]:
    return guarded("pptx", _parse, data)
