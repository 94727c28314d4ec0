"""Write the sample corpus's office documents, e-book, mail and notebook with the libraries that read them.

python-docx, python-pptx, odfpy, ebooklib, the standard ``email``/``mailbox`` modules and nbformat make
real files, so the readers are checked on what those tools write. Re-running overwrites the files.

    . .venv/bin/activate && python scripts/make_corpus_documents.py [corpus]
"""

from __future__ import annotations

import mailbox
import sys
from email.message import EmailMessage
from pathlib import Path

HANDOVER = [
    ("Kestrel handover notes", "Title"),
    ("Written by Maya Lindqvist for the spring 2025 on-call handover.", None),
    ("Stations", "Heading 1"),
    ("The Pier 4 station runs sensor serial KS-4471, replaced after the storm in January 2025.", None),
    ("Calibration is done in the workshop at Skeppsbron every six months.", None),
    ("On-call", "Heading 1"),
    ("From 1 April 2025 the on-call rota for Kestrel passes to Ingrid Halvorsen's team.", None),
]


def write_docx(path: Path) -> None:
    import docx

    document = docx.Document()
    for text, style in HANDOVER:
        document.add_paragraph(text, style=style) if style else document.add_paragraph(text)
    table = document.add_table(rows=3, cols=2)
    for row, (station, serial) in zip(
        table.rows, [("station", "sensor"), ("Pier 4", "KS-4471"), ("Station 7", "KS-3902")]
    ):
        row.cells[0].text, row.cells[1].text = station, serial
    document.core_properties.author = "Maya Lindqvist"
    document.save(path)


def write_pptx(path: Path) -> None:
    from pptx import Presentation

    deck = Presentation()
    slides = [
        ("Heron: one year on SQLite", ["Retrospective for the platform team, March 2025"]),
        ("What went away", ["The move to SQLite removed 11 nightly jobs.", "No more replica lag alerts at night."]),
        ("What we keep", ["Litestream replication to the NAS", "Weekly restore drill on Fridays"]),
    ]
    for title, lines in slides:
        slide = deck.slides.add_slide(deck.slide_layouts[1])
        slide.shapes.title.text = title
        body = slide.placeholders[1].text_frame
        body.text = lines[0]
        for line in lines[1:]:
            body.add_paragraph().text = line
    deck.slides[1].notes_slide.notes_text_frame.text = "Say thanks to Jonas for the restore drill."
    deck.save(path)


def write_odt(path: Path) -> None:
    from odf.opendocument import OpenDocumentText
    from odf.text import H, P

    document = OpenDocumentText()
    for text, level in [
        ("Co-op board minutes, 11 March 2025", 1),
        ("Present: Maya, Leif, Sanna and Tomas. Sanna chaired.", 0),
        ("Bike shed", 2),
        ("The board approved a new bike shed for 38,500 SEK, to be built in May.", 0),
        ("Heating", 2),
        ("The heat pump service contract is renewed with Nordvärme for two more years.", 0),
    ]:
        document.text.addElement(H(outlinelevel=level, text=text) if level else P(text=text))
    document.save(str(path))


def write_epub(path: Path) -> None:
    from ebooklib import epub

    book = epub.EpubBook()
    book.set_identifier("harbour-air-guide-2024")
    book.set_title("A Short Guide to Harbour Air")
    book.set_language("en")
    book.add_author("Harbour Authority Environment Office")
    chapters = [
        ("What we measure", ["<p>Each station reports nitrogen dioxide, fine particles and ozone every minute.</p>",
                             "<p>Hourly averages need 45 of 60 minutes of data.</p>"]),
        ("Ships at berth", ["<p>Cruise ships that run their engines at berth are the largest single source.</p>",
                            "<p>The guide cites an annual nitrogen dioxide limit of 40 micrograms per cubic metre.</p>"]),
    ]  # fmt: skip
    items = []
    for n, (title, paras) in enumerate(chapters, start=1):
        item = epub.EpubHtml(title=title, file_name=f"chapter{n}.xhtml", lang="en")
        item.content = f"<h1>{title}</h1>" + "".join(paras)
        book.add_item(item)
        items.append(item)
    book.toc = items
    book.add_item(epub.EpubNcx())
    book.add_item(epub.EpubNav())
    book.spine = ["nav", *items]
    epub.write_epub(str(path), book)


def mail(subject: str, sender: str, to: str, date: str, body: str) -> EmailMessage:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"], message["Date"] = sender, to, subject, date
    message.set_content(body)
    return message


def write_mail(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    cabin = mail("Reine cabin: arrival", "Kari Olsen <kari@reine-rorbu.example>", "Maya Lindqvist <maya@example.org>",
                 "Tue, 15 Jul 2025 09:12:00 +0200",
                 "Hi Maya,\n\nWelcome on 2 August. The key box by the door has code 4827.\n\n"
                 "Check-out is at 11:00. Towels are in the blue cupboard.\n\nKari\n")  # fmt: skip
    (folder / "reine-cabin.eml").write_bytes(bytes(cabin))
    target = folder / "coop-list.mbox"
    target.unlink(missing_ok=True)
    box = mailbox.mbox(str(target))
    for subject, date, body in [
        ("Laundry room", "Mon, 07 Apr 2025 18:30:00 +0200", "New machines arrive on 14 May 2025. The room is closed that day.\n"),
        ("Spring cleaning day", "Wed, 09 Apr 2025 20:05:00 +0200",
         "Hi all,\n\nThe spring cleaning day is Saturday 26 April 2025, from 10:00.\n\nCoffee and buns afterwards.\n"),
        ("Re: Spring cleaning day", "Thu, 10 Apr 2025 07:41:00 +0200", "> The spring cleaning day is...\n\nI'll bring a rake. Leif\n"),
    ]:  # fmt: skip
        box.add(mail(subject, "Sanna Ek <board@brf-example.org>", "members@brf-example.org", date, body))
    box.close()


def write_notebook(path: Path) -> None:
    import nbformat
    from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

    notebook = new_notebook(cells=[
        new_markdown_cell("# Kestrel: NO2 exceedances, January 2025\n\nHourly averages from all twelve stations."),
        new_code_cell("df = load_hours('2025-01')\ndf.groupby('station').exceed.sum()",
                      outputs=[new_output("execute_result", {"text/plain": "Pier 4    17\nStation 7    3"}, execution_count=1)]),
        new_markdown_cell("## Result\n\nPier 4 had 17 exceedance hours in January 2025, all while cruise ships were at berth."),
    ])  # fmt: skip
    nbformat.write(notebook, str(path))


def main(corpus: Path) -> None:
    folder = corpus / "documents"
    folder.mkdir(parents=True, exist_ok=True)
    write_docx(folder / "kestrel-handover.docx")
    write_pptx(folder / "heron-retro-slides.pptx")
    write_odt(folder / "coop-minutes-2025-03.odt")
    write_epub(folder / "harbour-air-guide.epub")
    write_mail(folder / "mail")
    write_notebook(folder / "kestrel-no2.ipynb")
    print(f"wrote {sorted(str(p.relative_to(corpus)) for p in folder.rglob('*') if p.is_file())}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent.parent / "corpus")
