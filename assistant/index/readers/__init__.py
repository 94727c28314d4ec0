"""The readers, one module per format, and the registry that picks one for a file.

A new format is one module with a ``read`` function plus one ``Reader`` entry in ``READERS``.
A file is matched by its extension first, then by sniffing its first bytes (an mbox without an
extension, a .eml saved as .txt is still read as text). Every reader returns blocks with a location.
"""

from __future__ import annotations

from pathlib import Path

from assistant.index.readers.base import (
    Block,
    ReadContext,
    Reader,
    UnreadableFile,
    decode_text,
    looks_binary,
    zip_sniff,
)
from assistant.index.readers.ebook import read_epub
from assistant.index.readers.html import read_html
from assistant.index.readers.mail import read_eml, read_mbox, sniff_eml, sniff_mbox
from assistant.index.readers.markdown import read_markdown
from assistant.index.readers.notebook import read_ipynb
from assistant.index.readers.opendocument import read_odt
from assistant.index.readers.org import read_org
from assistant.index.readers.pdf import read_pdf
from assistant.index.readers.rst import read_rst
from assistant.index.readers.slides import read_pptx
from assistant.index.readers.text import read_text
from assistant.index.readers.word import read_docx

__all__ = ["READERS", "Block", "ReadContext", "Reader", "UnreadableFile", "formats", "read_blocks", "reader_for"]

CODE_SUFFIXES = (
    ".py", ".js", ".ts", ".tsx", ".jsx", ".go", ".rs", ".c", ".h", ".cpp", ".hpp", ".java", ".kt",
    ".rb", ".sh", ".lua", ".swift", ".sql", ".toml", ".yaml", ".yml", ".json", ".css", ".scala",
)  # fmt: skip


def _starts(prefix: bytes):
    return lambda head, path: head.startswith(prefix)


# Sniffers are tried in this order, so a more specific one comes first (an mbox also looks like one message).
READERS: tuple[Reader, ...] = (
    Reader("markdown", (".md", ".markdown"), "text/markdown", read_markdown, "text"),
    Reader("rst", (".rst", ".rst.txt"), "text/x-rst", read_rst, "text"),  # Sphinx ships its sources as .rst.txt
    Reader("org", (".org",), "text/org", read_org, "text"),
    Reader("text", (".txt",), "text/plain", read_text, "text"),
    Reader("html", (".html", ".htm", ".xhtml"), "text/html", read_html, "text"),
    Reader("pdf", (".pdf",), "application/pdf", read_pdf, sniff=_starts(b"%PDF-")),
    Reader("docx", (".docx",), "application/vnd.openxmlformats-officedocument.wordprocessingml.document", read_docx,
           sniff=zip_sniff("word/document.xml")),
    Reader("pptx", (".pptx",), "application/vnd.openxmlformats-officedocument.presentationml.presentation", read_pptx,
           sniff=zip_sniff("ppt/presentation.xml")),
    Reader("odt", (".odt",), "application/vnd.oasis.opendocument.text", read_odt,
           sniff=lambda h, p: b"mimetypeapplication/vnd.oasis.opendocument.text" in h[:100]),
    Reader("epub", (".epub",), "application/epub+zip", read_epub, sniff=lambda h, p: b"mimetypeapplication/epub+zip" in h[:100]),
    Reader("mbox", (".mbox", ".mbx"), "application/mbox", read_mbox, "path", sniff=sniff_mbox),
    Reader("eml", (".eml",), "message/rfc822", read_eml, sniff=sniff_eml),
    Reader("ipynb", (".ipynb",), "application/x-ipynb+json", read_ipynb),
    Reader("code", CODE_SUFFIXES, "text/plain", read_text, "text", code=True),
)  # fmt: skip
_SNIFF_BYTES = 4096


def formats(include_code: bool = False) -> list[str]:
    """The formats read, as 'name (.ext, ...)', for ``assistant status``."""
    return [r.describe() for r in READERS if include_code or not r.code]


def reader_named(name: str) -> Reader | None:
    return next((r for r in READERS if r.name == name), None)


def reader_for(path: Path, include_code: bool = False, *, sniff: bool = True) -> Reader | None:
    """The reader for ``path``: by extension, else (for an unknown extension) by its first bytes."""
    name = path.name.lower()
    for reader in READERS:
        if (include_code or not reader.code) and name.endswith(reader.extensions):
            return reader
    if not sniff:
        return None
    try:
        with open(path, "rb") as handle:
            head = handle.read(_SNIFF_BYTES)
    except OSError:
        return None
    for reader in READERS:
        if reader.sniff is not None and reader.sniff(head, path):
            return reader
    return None


def read_blocks(
    data: bytes | Path, reader: Reader | str, ctx: ReadContext | None = None
) -> tuple[list[Block], list[str]]:
    """Turn a file into blocks. ``data`` is the file's bytes, or its path for a streamed reader.

    Returns (blocks, warnings). Raises ``UnreadableFile`` with the skip reason.
    """
    if isinstance(reader, str):
        reader = reader_named(reader) or reader_named("text")
    ctx = ctx or ReadContext()
    if reader.streamed:
        blocks = reader.read(Path(data), ctx)
        return blocks, ctx.warnings
    if isinstance(data, Path):
        data = data.read_bytes()
    if not data.strip():
        raise UnreadableFile("empty")
    if reader.input == "bytes":
        return reader.read(data, ctx), ctx.warnings
    if looks_binary(data):
        raise UnreadableFile("binary")
    text, invalid = decode_text(data)
    if invalid:
        ctx.warnings.append("invalid UTF-8 (bad bytes replaced)")
    return reader.read(text, ctx), ctx.warnings
