"""Jupyter notebooks through nbformat: markdown cells (code cells too with include_code), located by cell.

Outputs are never read: they are results, often megabytes of data or images, not notes.
"""

from __future__ import annotations

from assistant.index.readers.base import Block, ReadContext, UnreadableFile, decode_text
from assistant.index.readers.markdown import read_markdown


def read_ipynb(data: bytes, ctx: ReadContext) -> list[Block]:
    import nbformat

    text, _ = decode_text(data)
    try:
        notebook = nbformat.reads(text, as_version=4, capture_validation_error={})
    except Exception as exc:  # noqa: BLE001 (nbformat raises JSON, validation and version errors of many types)
        raise UnreadableFile(f"broken notebook ({type(exc).__name__})") from None
    blocks: list[Block] = []
    for number, cell in enumerate(notebook.get("cells", []), start=1):
        source = cell.get("source", "")
        if isinstance(source, list):
            source = "".join(source)
        if cell.get("cell_type") == "markdown":
            blocks += [Block(b.text, number, number, b.level, "cell") for b in read_markdown(source)]
        elif cell.get("cell_type") == "code" and ctx.include_code and source.strip():
            blocks.append(Block(source, number, number, 0, "cell"))
    if not blocks:
        raise UnreadableFile("notebook has no markdown cells")
    return blocks
