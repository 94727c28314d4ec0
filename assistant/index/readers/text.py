"""Plain text (and source code, when ``include_code`` is on): paragraphs with their lines."""

from __future__ import annotations

from assistant.index.readers.base import Block, ReadContext, paragraphs


def read_text(text: str, ctx: ReadContext) -> list[Block]:
    return list(paragraphs(text.splitlines()))
