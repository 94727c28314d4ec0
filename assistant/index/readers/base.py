"""What every reader returns (blocks with a location) and the small helpers readers share."""

from __future__ import annotations

import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

# The unit a block's start/end numbers count in: what a person looks for to find it again.
Unit = Literal["line", "page", "slide", "cell", "paragraph", "message"]
Input = Literal["text", "bytes", "path"]  # what a reader's function is handed


class UnreadableFile(Exception):
    """A file that cannot be turned into text; the message is the skip reason."""


@dataclass(frozen=True)
class Block:
    """A paragraph or heading with its position: lines, or the page, slide, cell or paragraph number."""

    text: str
    start_line: int
    end_line: int
    level: int = 0  # > 0: a heading of that level
    unit: Unit = "line"
    where: str = ""  # the part of the file that holds it: 'chapter 2 “Salt”', '“Re: Lisbon” 2024-03-01'


@dataclass
class ReadContext:
    """Options and a place for warnings, handed to every reader."""

    include_code: bool = False
    max_part_bytes: int = 20 * 1024 * 1024  # a streamed reader skips a part (one message) larger than this
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Reader:
    """One format: how to recognise a file and how to turn it into blocks.

    ``read`` gets the decoded text (``input="text"``), the file's bytes, or the path itself for
    formats that are streamed part by part and never read whole (mbox).
    """

    name: str
    extensions: tuple[str, ...]
    mime: str
    read: Callable[..., list[Block]]
    input: Input = "bytes"
    sniff: Callable[[bytes, Path], bool] | None = None  # recognises the format from the file's first bytes
    code: bool = False  # read only when include_code is on

    @property
    def editable(self) -> bool:
        """A text format a person opens in $EDITOR at a line; the rest go to the system opener."""
        return self.input == "text"

    @property
    def streamed(self) -> bool:
        return self.input == "path"

    def describe(self) -> str:
        return f"{self.name} ({', '.join(self.extensions)})"


def looks_binary(data: bytes) -> bool:
    return b"\x00" in data[:8192]


def decode_text(data: bytes) -> tuple[str, bool]:
    """UTF-8 (with BOM) text; invalid bytes become U+FFFD. Returns (text, had_invalid_bytes)."""
    try:
        return data.decode("utf-8-sig"), False
    except UnicodeDecodeError:
        return data.decode("utf-8-sig", errors="replace"), True


def paragraphs(lines: list[str], first_line: int = 1) -> Iterator[Block]:
    """Consecutive non-blank lines form a paragraph."""
    start = None
    for i, line in enumerate(lines + [""]):
        if line.strip():
            if start is None:
                start = i
        elif start is not None:
            yield Block("\n".join(lines[start:i]), first_line + start, first_line + i - 1)
            start = None


def numbered(texts: list[tuple[str, int]], unit: Unit = "paragraph", where: str = "") -> list[Block]:
    """(text, heading level) pairs as blocks numbered 1, 2, ... in ``unit``; empty texts are dropped."""
    out, n = [], 0
    for text, level in texts:
        text = text.strip()
        if text:
            n += 1
            out.append(Block(text, n, n, level, unit, where))
    return out


def zip_names(data: bytes) -> list[str]:
    """The members of a zip container, or a skip reason for one that is not a whole zip."""
    import io

    if data[:4] == b"\xd0\xcf\x11\xe0":  # an OLE2 container: Office wraps encrypted documents in one
        raise UnreadableFile("password-protected (encrypted Office file)")
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            return z.namelist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        raise UnreadableFile("truncated or broken zip") from None


def zip_sniff(member: str) -> Callable[[bytes, Path], bool]:
    """A sniffer for zip containers that hold ``member`` (docx: word/document.xml)."""

    def sniff(head: bytes, path: Path) -> bool:
        if head[:4] != b"PK\x03\x04":
            return False
        try:
            with zipfile.ZipFile(path) as z:
                return member in z.namelist()
        except (zipfile.BadZipFile, OSError):
            return False

    return sniff


def guarded(kind: str, read: Callable[[bytes], list[Block]], data: bytes) -> list[Block]:
    """Run a library's parser; whatever it raises on a damaged file becomes a skip reason."""
    zip_names(data)  # a clear reason for a truncated or encrypted container before the library's own
    try:
        blocks = read(data)
    except UnreadableFile:
        raise
    except Exception as exc:  # noqa: BLE001 (the libraries raise many ad-hoc types on damaged files)
        raise UnreadableFile(f"broken {kind} ({type(exc).__name__})") from None
    if not blocks:
        raise UnreadableFile(f"{kind} has no text")
    return blocks
