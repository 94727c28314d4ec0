"""reStructuredText: section titles, underlined or over- and underlined; levels by order of first use."""

from __future__ import annotations

import re

from assistant.index.readers.base import Block, ReadContext

ADORNMENT = re.compile(r"^([=\-~^\"'`#*+<>:._])\1{2,}\s*$")


def read_rst(text: str, ctx: ReadContext | None = None) -> list[Block]:
    lines = text.splitlines()
    styles: list[tuple[str, bool]] = []  # reST heading levels are set by order of first use
    blocks: list[Block] = []
    i, para_start = 0, None

    def flush(end: int) -> None:
        nonlocal para_start
        if para_start is not None:
            blocks.append(Block("\n".join(lines[para_start:end]), para_start + 1, end))
            para_start = None

    while i < len(lines):
        line = lines[i]
        nxt = lines[i + 1] if i + 1 < len(lines) else ""
        after = lines[i + 2] if i + 2 < len(lines) else ""
        over = ADORNMENT.match(line) and nxt.strip() and not ADORNMENT.match(nxt) and ADORNMENT.match(after)
        under = (
            line.strip()
            and not ADORNMENT.match(line)
            and ADORNMENT.match(nxt)
            and len(nxt.rstrip()) >= len(line.rstrip())
            and para_start is None
        )
        if over or under:
            flush(i)
            char = (line if over else nxt).strip()[0]
            style = (char, bool(over))
            if style not in styles:
                styles.append(style)
            end = i + (3 if over else 2)
            blocks.append(Block("\n".join(lines[i:end]), i + 1, end, styles.index(style) + 1))
            i = end
            continue
        if line.strip():
            if para_start is None:
                para_start = i
        else:
            flush(i)
        i += 1
    flush(len(lines))
    return blocks
