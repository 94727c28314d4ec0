"""Org mode: ``*`` headings, paragraphs between them."""

from __future__ import annotations

import re

from assistant.index.readers.base import Block, ReadContext, paragraphs

_ORG = re.compile(r"^(\*+)\s+(.*)$")


def read_org(text: str, ctx: ReadContext) -> list[Block]:
    lines = text.splitlines()
    blocks: list[Block] = []
    start = 0
    for i, line in enumerate(lines + ["* "]):
        m = _ORG.match(line)
        if m or i == len(lines):
            blocks += paragraphs(lines[start:i], start + 1)
            if m and i < len(lines):
                blocks.append(Block(line, i + 1, i + 1, len(m.group(1))))
            start = i + 1
    return blocks
