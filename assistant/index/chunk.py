"""Group blocks into chunks that follow headings and paragraphs within a token budget, each with a citation."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from assistant.index.readers.base import Block

# Bump when chunk_blocks cuts differently: a re-index then re-chunks unchanged files (2: a lead-in is carried whole).
CHUNKER_VERSION = 2


def chunking(budget: int, overlap: int) -> str:
    """How a document was chunked, as recorded with it: the chunker's version and its budget."""
    return f"v{CHUNKER_VERSION} {budget}/{overlap}"


_UNITS = {"page": ("page", "pages"), "slide": ("slide", "slides"), "cell": ("cell", "cells"),
          "paragraph": ("¶", "¶"), "line": ("line", "lines")}  # fmt: skip
_WORD = re.compile(r"[^\W_]")


@dataclass(frozen=True)
class Chunk:
    text: str
    heading: str  # heading path, "Title > Section > Subsection"
    start_line: int
    end_line: int
    n_tokens: int
    citation: str = ""  # where a person finds it, when lines are not it: "page 3", "slide 4", 'chapter 2 “Salt”, ¶4-9'


def citation(first: Block, last: Block) -> str:
    """'pages 3-4', 'chapter 2 “Salt”, ¶4-9', '“Re: Lisbon” 2024-03-01'; '' for plain lines (the default)."""
    if first.unit == "line" and not first.where:
        return ""
    span = ""
    if first.unit in _UNITS:
        one, many = _UNITS[first.unit]
        a, b = first.start_line, last.end_line
        gap = "" if one == "¶" else " "
        span = f"{one}{gap}{a}" if a == b else f"{many}{gap}{a}-{b}"
    return ", ".join(part for part in (first.where, span) if part)


def heading_title(text: str) -> str:
    """The title of a heading block: its first line with a letter or digit, without '#' or '*' marks.

    reST titles may carry an overline ('=====' above the title), Markdown setext titles an underline.
    """
    for line in text.splitlines():
        if _WORD.search(line):
            return " ".join(re.sub(r"^[#*\s]+", "", line).split())
    return " ".join(text.split())


_DIRECTIVE = re.compile(r"^\s*\.\. [\w:-]+::")  # ".. class:: HTTPSConnection(...)", ".. versionchanged:: 3.8"


def _opens_next(block: Block) -> bool:
    """A paragraph that introduces the next: a reST directive (a signature, whose body follows) or a line
    ending in a colon ("Packing list:")."""
    text = block.text.strip()
    return bool(_DIRECTIVE.match(text)) or text.endswith(":")


def _carry(items: list[tuple[Block, int]], overlap: int, count) -> list[tuple[Block, int]]:
    """What a chunk cut for size hands to the next: its last paragraph, or that paragraph's last sentence.
    A paragraph that introduces the next goes whole, however long, so a signature and its body are embedded
    together ("HTTPSConnection(host, port=None, ...)" over four lines, then "Default port is 443")."""
    if not items or overlap <= 0 or items[-1][0].level:
        return []
    last, n = items[-1]
    if n <= overlap or _opens_next(last):
        return [(last, n)]
    sentence = re.split(r"(?<=[.!?])\s+", last.text.strip())[-1]
    m = count([sentence])[0]
    return [(_at_end(last, sentence), m)] if 0 < m <= overlap else []


def chunk_blocks(
    blocks: list[Block],
    count: Callable[[list[str]], list[int]],
    split: Callable[[str, int], list[str]],
    *,
    budget: int = 256,
    overlap: int = 32,
) -> list[Chunk]:
    """Group blocks into chunks that follow headings and paragraphs and stay within ``budget`` tokens.

    A heading, or a new part of the file (a chapter, a message), always starts a chunk. A chunk cut
    for size repeats the previous paragraph (or its last sentence) when that fits in ``overlap``
    tokens. A block longer than the budget is cut by lines, then by tokens. Every block's text lands
    in at least one chunk.
    """
    if budget < 8:
        raise ValueError("chunk budget must be at least 8 tokens")
    sizes = count([b.text for b in blocks])
    chunks: list[Chunk] = []
    path: list[tuple[int, str]] = []  # (level, title) of the enclosing headings
    parts: list[tuple[Block, int]] = []

    def emit(items: list[tuple[Block, int]]) -> None:
        if items:
            first, last = items[0][0], items[-1][0]
            text = "\n\n".join(b.text for b, _ in items)
            n = sum(n for _, n in items) + 2 * (len(items) - 1)
            heading = " > ".join(title for _, title in path)
            chunks.append(Chunk(text, heading, first.start_line, last.end_line, n, citation(first, last)))

    for block, size in zip(blocks, sizes):
        if parts and block.where != parts[-1][0].where:
            emit(parts)
            parts, path = [], []
        if block.level:
            emit(parts)
            path = [p for p in path if p[0] < block.level] + [(block.level, heading_title(block.text))]
            parts = [(block, size)]
            continue
        if size > budget:
            emit(parts)
            parts = []
            for piece in _split_block(block, count, split, budget):
                emit([piece])
            continue
        used = sum(n + 2 for _, n in parts)
        if parts and used + size > budget:
            emit(parts)
            kept = _carry(parts, overlap, count)
            parts = kept if sum(n + 2 for _, n in kept) + size <= budget else []
        parts.append((block, size))
    emit(parts)
    return chunks


def _at_end(block: Block, text: str) -> Block:
    return Block(text, block.end_line, block.end_line, 0, block.unit, block.where)


def _split_block(block: Block, count, split, budget: int) -> list[tuple[Block, int]]:
    """Cut an oversized block by lines, and a line that is itself oversized by tokens."""
    lines = block.text.splitlines() or [block.text]
    sizes = count(lines)
    pieces: list[tuple[Block, int]] = []
    buf: list[str] = []
    buf_n, buf_start = 0, block.start_line
    paged = block.start_line == block.end_line  # pages, slides and one-line blocks keep one position

    def piece(text: str, start: int, end: int) -> Block:
        return Block(text, start, end, 0, block.unit, block.where)

    for offset, (line, n) in enumerate(zip(lines, sizes)):
        at = block.start_line if paged else block.start_line + offset
        if buf and buf_n + n + 1 > budget:
            pieces.append((piece("\n".join(buf), buf_start, at if paged else at - 1), buf_n))
            buf, buf_n = [], 0
        if n > budget:
            for part in split(line, budget):
                pieces.append((piece(part, at, at), min(budget, count([part])[0])))
            continue
        if not buf:
            buf_start = at
        buf.append(line)
        buf_n += n + 1
    if buf:
        pieces.append((piece("\n".join(buf), buf_start, block.end_line), buf_n))
    return pieces
