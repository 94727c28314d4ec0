from pathlib import Path

import pytest

from assistant.index.chunk import chunk_blocks
from assistant.index.discover import discover
from assistant.index.readers import Block, UnreadableFile, read_blocks


def words(text: str) -> list[str]:
    return text.split()


@pytest.fixture
def chunker(token_counter):
    def run(blocks, budget=256, overlap=32):
        return chunk_blocks(blocks, token_counter.count, token_counter.split, budget=budget, overlap=overlap)

    return run


def test_markdown_headings_and_paragraphs():
    text = "# Title\n\nFirst para\nstill first.\n\n## Section\n\n```\ncode\n\nmore code\n```\n\nLast.\n"
    blocks, warnings = read_blocks(text.encode(), "markdown")
    assert warnings == []
    assert [(b.level, b.start_line, b.end_line) for b in blocks] == [(1, 1, 1), (0, 3, 4), (2, 6, 6), (0, 8, 12), (0, 14, 14)]
    assert "more code" in blocks[3].text  # a fenced block is never split at its blank line


def test_rst_heading_levels_follow_first_use():
    text = "Title\n=====\n\nIntro.\n\nPart\n----\n\nBody.\n\nOther\n=====\n"
    blocks, _ = read_blocks(text.encode(), "rst")
    assert [(b.level, b.start_line) for b in blocks] == [(1, 1), (0, 4), (2, 6), (0, 9), (1, 11)]


def test_org_headings():
    blocks, _ = read_blocks(b"* Top\ntext\n** Sub\nmore\n", "org")
    assert [(b.level, b.text) for b in blocks] == [(1, "* Top"), (0, "text"), (2, "** Sub"), (0, "more")]


def test_html_drops_scripts_and_keeps_source_lines():
    html = "<html><head><title>Trip</title><style>p{}</style></head>\n<body>\n<h1>Lisbon</h1>\n<p>Flight TP1351</p>\n<script>var x = 'secret';</script>\n<ul><li>one</li><li>two</li></ul></body></html>"
    blocks, _ = read_blocks(html.encode(), "html")
    texts = [b.text for b in blocks]
    assert "Flight TP1351" in texts and "one" in texts and "two" in texts
    assert not any("secret" in t or "p{}" in t for t in texts)
    h1 = next(b for b in blocks if b.text == "Lisbon")
    assert h1.level == 1 and h1.start_line == 3


def test_pdf_pages(tmp_path):
    from fpdf import FPDF

    pdf = FPDF()
    for body in ("Page one says hello.", "Page two holds the answer 42."):
        pdf.add_page()
        pdf.set_font("Helvetica", size=12)
        pdf.multi_cell(0, 10, body)
    data = bytes(pdf.output())
    blocks, _ = read_blocks(data, "pdf")
    assert [(b.start_line, "answer 42" in b.text) for b in blocks] == [(1, False), (2, True)]
    with pytest.raises(UnreadableFile, match="broken PDF"):
        read_blocks(data[: len(data) // 3], "pdf")


def test_encrypted_pdf_is_refused():
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_encryption(owner_password="owner", user_password="user")
    pdf.add_page()
    pdf.set_font("Helvetica", size=12)
    pdf.cell(0, 10, "secret")
    with pytest.raises(UnreadableFile, match="encrypted"):
        read_blocks(bytes(pdf.output()), "pdf")


def test_bad_bytes():
    with pytest.raises(UnreadableFile, match="empty"):
        read_blocks(b"", "text")
    with pytest.raises(UnreadableFile, match="binary"):
        read_blocks(b"abc\x00def", "text")
    blocks, warnings = read_blocks(b"caf\xe9 au lait", "text")
    assert warnings and "\ufffd" in blocks[0].text


def test_chunks_cover_all_text_and_respect_budget(chunker):
    corpus = Path(__file__).resolve().parent.parent / "corpus"
    paths = sorted(p for p in corpus.rglob("*.md") if p.name != "QUESTIONS.md")[:8]
    assert paths, "the sample corpus is missing"
    for path in paths:
        blocks, _ = read_blocks(path.read_bytes(), "markdown")
        chunks = chunker(blocks, budget=64, overlap=16)
        covered = " ".join(c.text for c in chunks)
        for block in blocks:
            for word in words(block.text):
                assert word in covered, (path, word)
        assert all(c.n_tokens <= 64 + 8 for c in chunks), path
        assert all(c.start_line <= c.end_line for c in chunks)


def test_heading_path_and_heading_starts_chunk(chunker):
    blocks = [Block("# A", 1, 1, 1), Block("alpha", 3, 3), Block("## B", 5, 5, 2), Block("beta", 7, 7), Block("# C", 9, 9, 1), Block("gamma", 11, 11)]
    chunks = chunker(blocks)
    assert [(c.heading, c.start_line, c.end_line) for c in chunks] == [("A", 1, 3), ("A > B", 5, 7), ("C", 9, 11)]


def test_overlap_repeats_a_short_previous_paragraph(chunker, token_counter):
    paras = [Block(f"Paragraph number {i} talks about topic {i} at length.", i, i) for i in range(1, 30)]
    chunks = chunker(paras, budget=40, overlap=20)
    assert len(chunks) > 3
    for prev, nxt in zip(chunks, chunks[1:]):
        assert prev.text.split("\n\n")[-1] == nxt.text.split("\n\n")[0]


def test_a_signature_is_repeated_in_the_chunk_of_its_body(chunker):
    body = "A subclass that uses SSL for communication with secure servers. Default port is 443. " * 2
    blocks = [Block("The module provides the following classes and more prose about them here.", 1, 1),
              Block(".. class:: HTTPSConnection(host, port=None)", 3, 3), Block("   " + body, 5, 6),
              Block("Packing list:", 8, 8), Block("- a passport and a charger and the tickets " * 4, 9, 9)]  # fmt: skip
    chunks = chunker(blocks, budget=64, overlap=4)
    assert [(c.start_line, c.end_line) for c in chunks] == [(1, 3), (3, 8), (8, 9)]  # each lead-in is repeated
    assert chunks[1].text.startswith(".. class:: HTTPSConnection") and "Default port" in chunks[1].text
    assert all(c.n_tokens <= 64 for c in chunks)


def test_huge_single_line_is_split_by_tokens(chunker):
    line = " ".join(f"word{i}" for i in range(5000))
    chunks = chunker([Block(line, 1, 1)], budget=128)
    assert len(chunks) > 10
    assert "".join(c.text for c in chunks) == line
    assert all(c.start_line == c.end_line == 1 for c in chunks)


def test_discovery_skips_and_counts(tmp_path):
    root = tmp_path / "notes"
    (root / "sub").mkdir(parents=True)
    (root / ".hidden").mkdir()
    (root / ".hidden" / "x.md").write_text("hidden")
    (root / "a.md").write_text("a")
    (root / "sub" / "b.txt").write_text("b")
    (root / "sub" / "drop.md").write_text("ignored")
    (root / "sub" / "image.png").write_bytes(b"\x89PNG")
    (root / "big.txt").write_text("x" * 2048)
    (root / ".gitignore").write_text("drop.md\n")
    (root / "sub" / "loop").symlink_to(root, target_is_directory=True)
    found = discover([root], max_bytes=1024)
    assert sorted(p.name for p in found.files) == ["a.md", "b.txt"]
    assert found.skipped["hidden"] == 2  # .hidden and .gitignore
    assert found.skipped["ignored"] == 1
    assert found.skipped["unsupported type"] == 1
    assert found.skipped["too large"] == 1
    assert found.skipped["symlink loop"] == 1


def test_a_file_reached_twice_is_listed_once(tmp_path):
    (tmp_path / "a.md").write_text("a")
    (tmp_path / "link.md").symlink_to(tmp_path / "a.md")
    (tmp_path / "hard.md").hardlink_to(tmp_path / "a.md")
    (tmp_path / "b.md").write_text("b")
    found = discover([tmp_path, tmp_path / "a.md"], max_bytes=1024)
    assert len(found.files) == 2 and {p.name for p in found.files} & {"b.md"}


def test_code_only_when_enabled(tmp_path):
    (tmp_path / "x.py").write_text("print(1)")
    assert discover([tmp_path], max_bytes=10**6).files == []
    assert [p.name for p in discover([tmp_path], max_bytes=10**6, include_code=True).files] == ["x.py"]
