"""Write real docx, pptx, odt, epub, ipynb and eml files (and a large mbox) from reST text, for the benchmarks."""

from __future__ import annotations

import mailbox
from email.message import EmailMessage
from pathlib import Path

from assistant.index.chunk import heading_title
from assistant.index.readers.rst import read_rst


def sections(source: Path) -> list[tuple[str, list[str]]]:
    """(title, paragraphs) for each section of a reST file."""
    out: list[tuple[str, list[str]]] = [(source.stem, [])]
    for block in read_rst(source.read_text(encoding="utf-8", errors="replace")):
        if block.level:
            out.append((heading_title(block.text), []))
        else:
            out[-1][1].append(" ".join(block.text.split()))
    return [(t, p) for t, p in out if p]


def write_docx(path: Path, parts) -> None:
    import docx

    document = docx.Document()
    for title, paras in parts:
        document.add_heading(title[:200], level=1)
        for p in paras:
            document.add_paragraph(p)
    document.save(path)


def write_pptx(path: Path, parts) -> None:
    from pptx import Presentation

    deck = Presentation()
    for title, paras in parts:
        slide = deck.slides.add_slide(deck.slide_layouts[1])
        slide.shapes.title.text = title[:200]
        slide.placeholders[1].text_frame.text = "\n".join(paras)
    deck.save(path)


def write_odt(path: Path, parts) -> None:
    from odf.opendocument import OpenDocumentText
    from odf.text import H, P

    document = OpenDocumentText()
    for title, paras in parts:
        document.text.addElement(H(outlinelevel=1, text=title))
        for p in paras:
            document.text.addElement(P(text=p))
    document.save(str(path))


def write_epub(path: Path, parts) -> None:
    from html import escape

    from ebooklib import epub

    book = epub.EpubBook()
    book.set_identifier(path.stem)
    book.set_title(path.stem)
    book.set_language("en")
    items = []
    for n, (title, paras) in enumerate(parts, start=1):
        item = epub.EpubHtml(title=title[:80], file_name=f"c{n}.xhtml", lang="en")
        item.content = f"<h1>{escape(title)}</h1>" + "".join(f"<p>{escape(p)}</p>" for p in paras)
        book.add_item(item)
        items.append(item)
    book.toc = items
    book.add_item(epub.EpubNcx())
    book.add_item(epub.EpubNav())
    book.spine = items
    epub.write_epub(str(path), book)


def write_ipynb(path: Path, parts) -> None:
    import nbformat
    from nbformat.v4 import new_markdown_cell, new_notebook

    cells = [new_markdown_cell(f"# {title}\n\n" + "\n\n".join(paras)) for title, paras in parts]
    nbformat.write(new_notebook(cells=cells), str(path))


def message(subject: str, body: str, i: int) -> EmailMessage:
    m = EmailMessage()
    m["Subject"], m["From"], m["To"] = subject[:120], "docs@example.org", "me@example.org"
    m["Date"] = f"Tue, {1 + i % 28:02d} Jul 2025 09:12:00 +0200"
    m.set_content(body)
    return m


def write_eml(path: Path, parts) -> None:
    body = "\n\n".join(f"{t}\n\n" + "\n\n".join(p) for t, p in parts)
    path.write_bytes(bytes(message(parts[0][0], body, 0)))


WRITERS = {
    "docx": write_docx,
    "pptx": write_pptx,
    "odt": write_odt,
    "epub": write_epub,
    "ipynb": write_ipynb,
    "eml": write_eml,
}


def make_mixed(sources: list[Path], folder: Path) -> dict[str, int]:
    """One file per source, the formats in turn; returns files per format."""
    folder.mkdir(parents=True, exist_ok=True)
    counts: dict[str, int] = {}
    kinds = list(WRITERS)
    for i, source in enumerate(sources):
        parts = sections(source)
        if not parts:
            continue
        kind = kinds[i % len(kinds)]
        WRITERS[kind](folder / f"{source.name.split('.')[0]}-{i}.{kind}", parts)
        counts[kind] = counts.get(kind, 0) + 1
    return counts


def make_mbox(path: Path, sources: list[Path], messages: int) -> None:
    """``messages`` mails whose bodies are paragraphs of the sources, in turn."""
    paragraphs = [p for s in sources for _, ps in sections(s) for p in ps if len(p) > 80]
    box = mailbox.mbox(str(path))
    for i in range(messages):
        box.add(message(f"note {i}: " + paragraphs[i % len(paragraphs)][:40], paragraphs[i % len(paragraphs)], i))
        if i % 1000 == 999:
            box.flush()
    box.close()
