"""Markdown: ATX (``#``) and setext (underlined) headings, fenced code kept whole."""

from __future__ import annotations

import re

from assistant.index.readers.base import Block, ReadContext

_ATX = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_FENCE = re.compile(r"^\s*(```|~~~)")


def read_markdown(text: str, ctx: ReadContext | None = None) -> list[Block]:
    lines = text.splitlines()
    blocks: list[Block] = []
    para: list[str] = []
    para_start = 0
    fence: str | None = None

    def flush(end: int) -> None:
        nonlocal para
        if para:
            blocks.append(Block("\n".join(para), para_start + 1, end))
            para = []

    for i, line in enumerate(lines):
        if fence:
            para.append(line)
            if line.strip().startswith(fence):
                fence = None
            continue
        m = _FENCE.match(line)
        if m:
            if not para:
                para_start = i
            para.append(line)
            fence = m.group(1)
            continue
        heading = _ATX.match(line)
        setext = para and len(para) == 1 and re.fullmatch(r"(=+|-+)\s*", line) and not re.fullmatch(r"[-=\s]+", para[0])
        if heading:
            flush(i)
            blocks.append(Block(line, i + 1, i + 1, len(heading.group(1))))
        elif setext:
            blocks.append(Block(para[0] + "\n" + line, para_start + 1, i + 1, 1 if line[0] == "=" else 2))
            para = []
        elif line.strip():
            if not para:
                para_start = i
            para.append(line)
        else:
            flush(i)
    flush(len(lines))
    return blocks
