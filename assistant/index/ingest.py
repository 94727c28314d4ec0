"""Find files, read each format to text blocks with line positions, and chunk them within a token budget.

Pure functions over bytes and paths; nothing here touches the store or the models.
"""

from __future__ import annotations

import io
import os
import re
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

NOTE_FORMATS = {
    ".md": "markdown",
    ".markdown": "markdown",
    ".txt": "text",
    ".rst": "rst",
    ".org": "org",
    ".html": "html",
    ".htm": "html",
    ".pdf": "pdf",
}
CODE_SUFFIXES = {
    ".py", ".js", ".ts", ".tsx", ".jsx", ".go", ".rs", ".c", ".h", ".cpp", ".hpp", ".java", ".kt",
    ".rb", ".sh", ".lua", ".swift", ".sql", ".toml", ".yaml", ".yml", ".json", ".css", ".scala",
}  # fmt: skip
IGNORE_FILES = (".gitignore", ".ignore", ".assistantignore")


class UnreadableFile(Exception):
    """A file that cannot be turned into text; the message is the skip reason."""


@dataclass(frozen=True)
class Block:
    """A paragraph or heading with its source position (lines, or the page for PDF)."""

    text: str
    start_line: int
    end_line: int
    level: int = 0  # > 0: a heading of that level


@dataclass(frozen=True)
class Chunk:
    text: str
    heading: str  # heading path, "Title > Section > Subsection"
    start_line: int
    end_line: int
    n_tokens: int


@dataclass
class Discovery:
    files: list[Path] = field(default_factory=list)
    skipped: Counter = field(default_factory=Counter)  # reason -> count
    skipped_paths: list[tuple[Path, str]] = field(default_factory=list)

    def skip(self, path: Path, reason: str) -> None:
        self.skipped[reason] += 1
        self.skipped_paths.append((path, reason))


def file_format(path: Path, include_code: bool = False) -> str | None:
    if path.name.lower().endswith(".rst.txt"):  # Sphinx ships its reST sources this way
        return "rst"
    suffix = path.suffix.lower()
    if suffix in NOTE_FORMATS:
        return NOTE_FORMATS[suffix]
    if include_code and suffix in CODE_SUFFIXES:
        return "code"
    return None


# ---------------------------------------------------------------- discovery


def _load_ignore(folder: Path):
    import pathspec

    lines: list[str] = []
    for name in IGNORE_FILES:
        try:
            lines += (folder / name).read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError:
            continue
    return pathspec.GitIgnoreSpec.from_lines(lines) if lines else None


def discover(paths: list[Path], *, max_bytes: int, include_code: bool = False) -> Discovery:
    """Walk ``paths``; skip hidden entries, symlink loops, ignored, unsupported, oversized files."""
    found = Discovery()
    seen_files: set[tuple[int, int]] = set()  # (device, inode): a file reached twice (symlink, hard link) counts once

    def consider(path: Path) -> None:
        fmt = file_format(path, include_code)
        if fmt is None:
            found.skip(path, "unsupported type")
            return
        try:
            st = path.stat()
        except OSError:
            found.skip(path, "unreadable")
            return
        if st.st_size > max_bytes:
            found.skip(path, "too large")
            return
        # The inode from this stat, not path.resolve(): resolving lstats every folder above every file
        # and was half of a no-change re-index of 50,000 files.
        if (st.st_dev, st.st_ino) not in seen_files:
            seen_files.add((st.st_dev, st.st_ino))
            found.files.append(path.absolute())

    for root in paths:
        if root.is_file():
            consider(root)
            continue
        visited: set[tuple[int, int]] = set()
        # (folder, [(base folder, spec)]) — ignore files apply below the folder that holds them
        stack: list[tuple[Path, list]] = [(root, [])]
        while stack:
            folder, specs = stack.pop()
            try:
                st = folder.stat()
            except OSError:
                found.skip(folder, "unreadable")
                continue
            if (st.st_dev, st.st_ino) in visited:
                found.skip(folder, "symlink loop")
                continue
            visited.add((st.st_dev, st.st_ino))
            spec = _load_ignore(folder)
            specs = specs + [(folder, spec)] if spec else specs
            try:
                entries = sorted(os.scandir(folder), key=lambda e: e.name)
            except OSError:
                found.skip(folder, "unreadable")
                continue
            for entry in entries:
                path = Path(entry.path)
                if entry.name.startswith("."):
                    found.skip(path, "hidden")
                    continue
                is_dir = entry.is_dir()
                if _ignored(path, is_dir, specs):
                    found.skip(path, "ignored")
                    continue
                if is_dir:
                    stack.append((path, specs))
                elif entry.is_file():
                    consider(path)
    return found


def _ignored(path: Path, is_dir: bool, specs: list) -> bool:
    for base, spec in specs:
        rel = path.relative_to(base).as_posix() + ("/" if is_dir else "")
        if spec.match_file(rel):
            return True
    return False


# ---------------------------------------------------------------- reading


def looks_binary(data: bytes) -> bool:
    return b"\x00" in data[:8192]


def decode_text(data: bytes) -> tuple[str, bool]:
    """UTF-8 (with BOM) text; invalid bytes become U+FFFD. Returns (text, had_invalid_bytes)."""
    try:
        return data.decode("utf-8-sig"), False
    except UnicodeDecodeError:
        return data.decode("utf-8-sig", errors="replace"), True


def read_blocks(data: bytes, fmt: str) -> tuple[list[Block], list[str]]:
    """Turn file bytes into blocks. Returns (blocks, warnings). Raises UnreadableFile."""
    if not data.strip():
        raise UnreadableFile("empty")
    if fmt == "pdf":
        return _pdf_blocks(data), []
    if looks_binary(data):
        raise UnreadableFile("binary")
    text, invalid = decode_text(data)
    warnings = ["invalid UTF-8 (bad bytes replaced)"] if invalid else []
    reader = {
        "markdown": _markdown_blocks,
        "rst": _rst_blocks,
        "org": _org_blocks,
        "html": _html_blocks,
    }.get(fmt, _plain_blocks)
    return reader(text), warnings


def _paragraphs(lines: list[str], first_line: int = 1) -> Iterator[Block]:
    """Consecutive non-blank lines form a paragraph."""
    start = None
    for i, line in enumerate(lines + [""]):
        if line.strip():
            if start is None:
                start = i
        elif start is not None:
            yield Block("\n".join(lines[start:i]), first_line + start, first_line + i - 1)
            start = None


def _plain_blocks(text: str) -> list[Block]:
    return list(_paragraphs(text.splitlines()))


_ATX = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_FENCE = re.compile(r"^\s*(```|~~~)")


def _markdown_blocks(text: str) -> list[Block]:
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
        setext = (
            para
            and len(para) == 1
            and re.fullmatch(r"(=+|-+)\s*", line)
            and not re.fullmatch(r"[-=\s]+", para[0])
        )
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


_RST_ADORN = re.compile(r"^([=\-~^\"'`#*+<>:._])\1{2,}\s*$")


def _rst_blocks(text: str) -> list[Block]:
    lines = text.splitlines()
    styles: list[tuple[str, bool]] = []  # RST heading levels are set by order of first use
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
        over = _RST_ADORN.match(line) and line.strip() and nxt.strip() and _RST_ADORN.match(after)
        under = (
            line.strip()
            and not _RST_ADORN.match(line)
            and _RST_ADORN.match(nxt)
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


_ORG = re.compile(r"^(\*+)\s+(.*)$")


def _org_blocks(text: str) -> list[Block]:
    lines = text.splitlines()
    blocks: list[Block] = []
    start = 0
    for i, line in enumerate(lines + ["* "]):
        m = _ORG.match(line)
        if m or i == len(lines):
            blocks += _paragraphs(lines[start:i], start + 1)
            if m and i < len(lines):
                blocks.append(Block(line, i + 1, i + 1, len(m.group(1))))
            start = i + 1
    return blocks


_HTML_BLOCKS = {
    "h1", "h2", "h3", "h4", "h5", "h6", "p", "li", "pre", "blockquote", "td", "th", "dt", "dd",
    "div", "section", "article", "main", "header", "footer", "nav", "aside", "ul", "ol", "dl",
    "table", "tr", "figure", "figcaption", "body", "title", "address", "details", "summary",
}  # fmt: skip


def _html_blocks(text: str) -> list[Block]:
    from bs4 import BeautifulSoup, NavigableString

    soup = BeautifulSoup(text, "html.parser")
    for tag in soup(["script", "style", "noscript", "template", "svg"]):
        tag.decompose()
    blocks: list[Block] = []
    for tag in soup.find_all(_HTML_BLOCKS):
        line = tag.sourceline or 1
        if tag.find(_HTML_BLOCKS) is None:
            content = " ".join(tag.get_text(" ").split())
            level = int(tag.name[1]) if re.fullmatch(r"h[1-6]", tag.name) else 0
        else:  # loose text beside child blocks would otherwise be lost
            loose = [str(s) for s in tag.children if isinstance(s, NavigableString)]
            content, level = " ".join(" ".join(loose).split()), 0
        if tag.name == "title" and content:
            level = 1
        if content:
            end = line + str(tag).count("\n") if tag.find(_HTML_BLOCKS) is None else line
            blocks.append(Block(content, line, end, level))
    if not blocks:  # a fragment with no block tags at all
        content = " ".join(soup.get_text(" ").split())
        if content:
            blocks.append(Block(content, 1, max(1, text.count("\n") + 1)))
    return blocks


def _pdf_blocks(data: bytes) -> list[Block]:
    import logging

    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    logging.getLogger("pypdf").setLevel(logging.ERROR)  # malformed PDFs log noisily
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise UnreadableFile("encrypted PDF")
        blocks: list[Block] = []
        for number, page in enumerate(reader.pages, start=1):
            text = page.extract_text() or ""
            for para in _paragraphs(text.splitlines()):
                blocks.append(Block(para.text, number, number))
    except UnreadableFile:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, AttributeError, OSError, IndexError) as exc:
        raise UnreadableFile(f"broken PDF ({type(exc).__name__})") from None
    except Exception as exc:  # pypdf raises many ad-hoc types on truncated files
        if "crypt" in str(exc).lower():
            raise UnreadableFile("encrypted PDF") from None
        raise UnreadableFile(f"broken PDF ({type(exc).__name__})") from None
    if not blocks:
        raise UnreadableFile("PDF has no text layer")
    return blocks


# ---------------------------------------------------------------- chunking


def chunk_blocks(
    blocks: list[Block],
    count: Callable[[list[str]], list[int]],
    split: Callable[[str, int], list[str]],
    *,
    budget: int = 256,
    overlap: int = 32,
) -> list[Chunk]:
    """Group blocks into chunks that follow headings and paragraphs and stay within ``budget`` tokens.

    A heading always starts a chunk. A chunk cut for size repeats the previous paragraph (or its
    last sentence) when that fits in ``overlap`` tokens. A block longer than the budget is cut by
    lines, then by tokens. Every block's text lands in at least one chunk.
    """
    if budget < 8:
        raise ValueError("chunk budget must be at least 8 tokens")
    sizes = count([b.text for b in blocks])
    chunks: list[Chunk] = []
    path: list[tuple[int, str]] = []  # (level, title) of the enclosing headings
    parts: list[tuple[Block, int]] = []

    def heading() -> str:
        return " > ".join(title for _, title in path)

    def emit(items: list[tuple[Block, int]]) -> None:
        if items:
            text = "\n\n".join(b.text for b, _ in items)
            chunks.append(
                Chunk(text, heading(), items[0][0].start_line, items[-1][0].end_line, sum(n for _, n in items) + 2 * (len(items) - 1))
            )

    def carry(items: list[tuple[Block, int]]) -> list[tuple[Block, int]]:
        if not items or overlap <= 0 or items[-1][0].level:
            return []
        last, n = items[-1]
        if n <= overlap:
            return [(last, n)]
        sentence = re.split(r"(?<=[.!?])\s+", last.text.strip())[-1]
        m = count([sentence])[0]
        return [(Block(sentence, last.end_line, last.end_line), m)] if 0 < m <= overlap else []

    for block, size in zip(blocks, sizes):
        if block.level:
            emit(parts)
            title = " ".join(re.sub(r"^[#*\s]+", "", block.text.splitlines()[0]).split())
            path = [p for p in path if p[0] < block.level] + [(block.level, title)]
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
            kept = carry(parts)
            parts = kept if sum(n + 2 for _, n in kept) + size <= budget else []
        parts.append((block, size))
    emit(parts)
    return chunks


def _split_block(block: Block, count, split, budget: int) -> list[tuple[Block, int]]:
    """Cut an oversized block by lines, and a line that is itself oversized by tokens."""
    lines = block.text.splitlines() or [block.text]
    sizes = count(lines)
    pieces: list[tuple[Block, int]] = []
    buf: list[str] = []
    buf_n, buf_start = 0, block.start_line
    paged = block.start_line == block.end_line  # PDF pages and one-line blocks keep one position
    for offset, (line, n) in enumerate(zip(lines, sizes)):
        at = block.start_line if paged else block.start_line + offset
        if buf and buf_n + n + 1 > budget:
            pieces.append((Block("\n".join(buf), buf_start, at if paged else at - 1), buf_n))
            buf, buf_n = [], 0
        if n > budget:
            for part in split(line, budget):
                pieces.append((Block(part, at, at), min(budget, count([part])[0])))
            continue
        if not buf:
            buf_start = at
        buf.append(line)
        buf_n += n + 1
    if buf:
        pieces.append((Block("\n".join(buf), buf_start, block.end_line), buf_n))
    return pieces
