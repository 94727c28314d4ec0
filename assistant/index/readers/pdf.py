"""PDF through pypdf: paragraphs of each page's text layer, located by page."""

from __future__ import annotations

import io

from assistant.index.readers.base import Block, ReadContext, UnreadableFile, paragraphs


def read_pdf(data: bytes, ctx: ReadContext) -> list[Block]:
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
            for para in paragraphs(text.splitlines()):
                blocks.append(Block(para.text, number, number, unit="page"))
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
