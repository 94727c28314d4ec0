"""The format readers on real files written by the libraries themselves, and on damaged ones."""

from __future__ import annotations

import io
import mailbox
import shutil
import tracemalloc
import zipfile
from email.message import EmailMessage
from pathlib import Path

import pytest

from assistant.index.chunk import chunk_blocks
from assistant.index.discover import discover
from assistant.index.readers import READERS, ReadContext, UnreadableFile, read_blocks, reader_for
from assistant.records import Pick
from tests.conftest import CORPUS, drain

DOCS = CORPUS / "documents"
SPHINX = Path("/usr/share/doc/python3.11/html/_sources")


def read(path: Path, **ctx) -> list:
    blocks, _ = read_blocks(path, reader_for(path), ReadContext(**ctx))
    return blocks


def chunks_of(path: Path, token_counter, **ctx):
    return chunk_blocks(read(path, **ctx), token_counter.count, token_counter.split, budget=256, overlap=32)


@pytest.mark.parametrize(
    "name, fact, citation",
    [
        ("kestrel-handover.docx", "KS-4471", "¶3-5"),
        ("heron-retro-slides.pptx", "removed 11 nightly jobs", "slide 2"),
        ("coop-minutes-2025-03.odt", "38,500 SEK", "¶3-4"),
        ("harbour-air-guide.epub", "40 micrograms", "chapter 2 “Ships at berth”, ¶1-3"),
        ("mail/reine-cabin.eml", "code 4827", "“Reine cabin: arrival” 2025-07-15"),
        ("mail/coop-list.mbox", "Saturday 26 April 2025", "message 2 “Spring cleaning day” 2025-04-09"),
        ("kestrel-no2.ipynb", "17 exceedance hours", "cell 3"),
    ],
)
def test_each_format_reads_its_facts_with_a_citation(name, fact, citation, token_counter):
    chunks = chunks_of(DOCS / name, token_counter)
    holding = [c for c in chunks if fact in c.text]
    assert holding and holding[0].citation == citation
    assert all(c.citation for c in chunks)  # none of these formats is cited by line


def test_headings_come_from_each_format(token_counter):
    headings = {name: [c.heading for c in chunks_of(DOCS / name, token_counter)] for name in
                ("kestrel-handover.docx", "heron-retro-slides.pptx", "coop-minutes-2025-03.odt", "kestrel-no2.ipynb")}  # fmt: skip
    assert "Stations" in headings["kestrel-handover.docx"]
    assert "What went away" in headings["heron-retro-slides.pptx"]
    assert "Co-op board minutes, 11 March 2025 > Bike shed" in headings["coop-minutes-2025-03.odt"]
    assert "Kestrel: NO2 exceedances, January 2025 > Result" in headings["kestrel-no2.ipynb"]


def test_notebook_code_cells_only_with_include_code_and_outputs_never(tmp_path):
    import nbformat
    from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

    huge = "x" * 3_000_000  # a megabyte-sized output, as a plotted or printed DataFrame makes
    nb = new_notebook(cells=[new_markdown_cell("# Plot\n\nThe median is 12."),
                             new_code_cell("plot(df)", outputs=[new_output("stream", text=huge)])])  # fmt: skip
    path = tmp_path / "big.ipynb"
    nbformat.write(nb, str(path))
    assert path.stat().st_size > 3_000_000
    assert [b.text for b in read(path)] == ["# Plot", "The median is 12."]
    with_code = read(path, include_code=True)
    assert with_code[-1].text == "plot(df)" and with_code[-1].start_line == 2
    assert all("xxx" not in b.text for b in with_code)


def test_password_protected_docx_is_a_counted_skip(tmp_path):
    from msoffcrypto.format.ooxml import OOXMLFile

    locked = tmp_path / "locked.docx"
    with open(DOCS / "kestrel-handover.docx", "rb") as plain, open(locked, "wb") as out:
        OOXMLFile(plain).encrypt("hunter2", out)
    with pytest.raises(UnreadableFile, match="password-protected"):
        read(locked)


def drm(epub: Path, target: Path, algorithm: str) -> Path:
    """A copy of ``epub`` whose chapters are listed in META-INF/encryption.xml (and scrambled unless fonts)."""
    with zipfile.ZipFile(epub) as src, zipfile.ZipFile(target, "w") as out:
        chapters = [n for n in src.namelist() if n.endswith(("chapter1.xhtml", "chapter2.xhtml"))]
        for item in src.infolist():
            data = src.read(item)
            if item.filename in chapters and "embedding" not in algorithm:
                data = bytes(b ^ 0x5A for b in data)
            out.writestr(item, data)
        refs = "".join(
            f'<EncryptedData xmlns="http://www.w3.org/2001/04/xmlenc#"><EncryptionMethod Algorithm="{algorithm}"/>'
            f'<CipherData><CipherReference URI="{n}"/></CipherData></EncryptedData>'
            for n in chapters
        )
        out.writestr(
            "META-INF/encryption.xml",
            f'<encryption xmlns="urn:oasis:names:tc:opendocument:xmlns:container">{refs}</encryption>',
        )
    return target


def test_drm_epub_is_a_counted_skip_and_font_obfuscation_is_not(tmp_path):
    locked = drm(
        DOCS / "harbour-air-guide.epub", tmp_path / "locked.epub", "http://www.w3.org/2001/04/xmlenc#aes128-cbc"
    )
    with pytest.raises(UnreadableFile, match="DRM"):
        read(locked)
    fonts = drm(DOCS / "harbour-air-guide.epub", tmp_path / "fonts.epub", "http://www.idpf.org/2008/embedding")
    assert any("40 micrograms" in b.text for b in read(fonts))


@pytest.mark.parametrize("name", ["kestrel-handover.docx", "heron-retro-slides.pptx", "coop-minutes-2025-03.odt",
                                  "harbour-air-guide.epub"])  # fmt: skip
def test_truncated_zip_container_is_a_counted_skip(name, tmp_path):
    data = (DOCS / name).read_bytes()
    cut = tmp_path / name
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(UnreadableFile, match="truncated or broken zip"):
        read(cut)


def write_mbox(path: Path, small: int, big_bytes: int = 0) -> None:
    """``small`` ordinary messages, and one message of ``big_bytes`` (an attachment-sized body) in the middle."""
    box = mailbox.mbox(str(path))
    for i in range(small):
        m = EmailMessage()
        m["Subject"], m["From"], m["Date"] = f"note {i}", "a@example.org", "Tue, 15 Jul 2025 09:12:00 +0200"
        m.set_content(f"Message number {i} says the boat leaves at {i % 24:02d}:15.\n")
        box.add(m)
        if big_bytes and i == small // 2:
            box.flush()
            with open(path, "ab") as out:  # written line by line, so the test itself stays small in memory
                out.write(b"From big@example.org Tue Jul 15 09:12:00 2025\nSubject: huge\n\n")
                line = b"A" * 8191 + b"\n"
                out.writelines(line for _ in range(big_bytes // len(line)))
                out.write(b"\n")
    box.close()


def test_200_mb_mbox_is_streamed_and_its_huge_message_skipped(tmp_path):
    path = tmp_path / "archive.mbox"
    write_mbox(path, 6, big_bytes=200 * 2**20)
    assert path.stat().st_size > 200 * 2**20
    tracemalloc.start()
    ctx = ReadContext(max_part_bytes=20 * 2**20)
    blocks, warnings = read_blocks(path, reader_for(path), ctx)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 25 * 2**20  # never the whole file: at most one message under the part limit
    assert warnings == ["1 messages skipped (too large or unreadable)"]
    assert sum(b.level == 1 for b in blocks) == 6 and all("AAAA" not in b.text for b in blocks)
    # Discovery does not skip a streamed format for its size: its reader limits each message instead.
    assert discover([tmp_path], max_bytes=20 * 2**20).files == [path]
    path.unlink()


def test_sniffing_finds_an_mbox_without_extension_and_unknown_files_stay_unsupported(tmp_path):
    write_mbox(tmp_path / "Inbox", 2)  # Thunderbird keeps mail folders as extensionless mbox files
    (tmp_path / "photo.jpg").write_bytes(b"\xff\xd8\xff\xe0" + b"\x00" * 100)
    (tmp_path / "sheet.xlsx").write_bytes(_xlsx_like())
    found = discover([tmp_path], max_bytes=2**20)
    assert [p.name for p in found.files] == ["Inbox"] and found.readers[found.files[0]].name == "mbox"
    assert found.skipped_formats == {".jpg": 1, ".xlsx": 1}


def _xlsx_like() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("xl/workbook.xml", "<workbook/>")
    return buf.getvalue()


def test_rst_overlined_title_is_the_heading(token_counter):
    chunks = chunks_of(CORPUS / "projects/kestrel/plan.rst", token_counter)
    assert chunks[0].heading == "Project Kestrel: plan"
    assert all(c.heading.startswith("Project Kestrel: plan") for c in chunks)
    assert any(c.heading == "Project Kestrel: plan > Data flow" for c in chunks)


@pytest.mark.skipif(not SPHINX.is_dir(), reason="python3.11-doc is not installed")
def test_real_sphinx_sources_give_real_titles(token_counter):
    files = sorted(SPHINX.rglob("*.rst.txt"))[::9]
    assert len(files) > 40
    for path in files:
        for chunk in chunks_of(path, token_counter):
            assert all(any(ch.isalnum() for ch in title) for title in chunk.heading.split(" > ") if chunk.heading), (
                path,
                chunk.heading,
            )
    sqlite = chunks_of(SPHINX / "library/sqlite3.rst.txt", token_counter)
    assert (
        next(c.heading for c in sqlite if c.heading) == ":mod:`sqlite3` --- DB-API 2.0 interface for SQLite databases"
    )
    tutorial = chunks_of(SPHINX / "tutorial/index.rst.txt", token_counter)  # an overlined page title
    assert next(c.heading for c in tutorial if c.heading) == "The Python Tutorial"


def test_markdown_setext_headings(token_counter, tmp_path):
    path = tmp_path / "setext.md"
    path.write_text("Trip notes\n==========\n\nPack light.\n\nFerries\n-------\n\nThe 07:40 boat.\n")
    assert [c.heading for c in chunks_of(path, token_counter)] == ["Trip notes", "Trip notes > Ferries"]


def test_registry_is_complete_and_pick_cites_by_name():
    names = {r.name for r in READERS}
    assert {
        "docx",
        "epub",
        "odt",
        "eml",
        "mbox",
        "ipynb",
        "pptx",
        "pdf",
        "markdown",
        "rst",
        "html",
        "org",
        "text",
    } <= names
    assert reader_for(Path("a/b.rst.txt")).name == "rst" and reader_for(Path("x.DOCX")).name == "docx"
    pick = Pick(1, 7, "/n/deck.pptx", 4, 4, "", 0.5, 0.2, 0.3, 1.0, citation="slide 4")
    assert pick.location() == "deck.pptx, slide 4"
    assert Pick.from_row({**pick.to_row(), "session_id": 1}, 0.3, 1.0).citation == "slide 4"
    assert Pick(1, 7, "/n/a.md", 3, 9, "", 0.5, 0.2, 0.3, 1.0).location() == "a.md:3-9"


def test_index_mixed_formats_counts_skips_per_format_and_keeps_citations(tmp_path, make_assistant):
    from msoffcrypto.format.ooxml import OOXMLFile

    root = tmp_path / "documents"
    shutil.copytree(DOCS, root)
    with open(DOCS / "kestrel-handover.docx", "rb") as plain, open(root / "locked.docx", "wb") as out:
        OOXMLFile(plain).encrypt("pw", out)
    (root / "cut.pptx").write_bytes((DOCS / "heron-retro-slides.pptx").read_bytes()[:3000])
    drm(DOCS / "harbour-air-guide.epub", root / "drm.epub", "http://www.w3.org/2001/04/xmlenc#aes128-cbc")
    (root / "table.xlsx").write_bytes(_xlsx_like())
    a = make_assistant()
    report = drain(a.index([root]))
    assert report.added == 7  # every good file, whatever broke beside it
    assert (
        report.skipped["password-protected (encrypted Office file)"] == 1 and report.skipped["DRM-protected EPUB"] == 1
    )
    assert report.skipped["truncated or broken zip"] == 1
    assert report.skipped_formats == {"docx": 1, "pptx": 1, "epub": 1, ".xlsx": 1}
    ids = a.store.chunk_ids()
    citations = {r["citation"] for r in a.store.chunks(ids).values()}
    assert {"slide 2", "cell 3", "message 2 “Spring cleaning day” 2025-04-09"} <= citations
    assert "docx (.docx)" in a.status().formats
