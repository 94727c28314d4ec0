"""HTML: block elements with their source lines; scripts and styles dropped. EPUB chapters use it too."""

from __future__ import annotations

import re

from assistant.index.readers.base import Block, ReadContext

_BLOCKS = {
    "h1", "h2", "h3", "h4", "h5", "h6", "p", "li", "pre", "blockquote", "td", "th", "dt", "dd",
    "div", "section", "article", "main", "header", "footer", "nav", "aside", "ul", "ol", "dl",
    "table", "tr", "figure", "figcaption", "body", "title", "address", "details", "summary",
}  # fmt: skip


def read_html(text: str, ctx: ReadContext | None = None) -> list[Block]:
    from bs4 import BeautifulSoup, NavigableString

    soup = BeautifulSoup(text, "html.parser")
    for tag in soup(["script", "style", "noscript", "template", "svg"]):
        tag.decompose()
    blocks: list[Block] = []
    for tag in soup.find_all(_BLOCKS):
        line = tag.sourceline or 1
        if tag.find(_BLOCKS) is None:
            content = " ".join(tag.get_text(" ").split())
            level = int(tag.name[1]) if re.fullmatch(r"h[1-6]", tag.name) else 0
        else:  # loose text beside child blocks would otherwise be lost
            loose = [str(s) for s in tag.children if isinstance(s, NavigableString)]
            content, level = " ".join(" ".join(loose).split()), 0
        if tag.name == "title" and content:
            level = 1
        if content:
            end = line + str(tag).count("\n") if tag.find(_BLOCKS) is None else line
            blocks.append(Block(content, line, end, level))
    if not blocks:  # a fragment with no block tags at all
        content = " ".join(soup.get_text(" ").split())
        if content:
            blocks.append(Block(content, 1, max(1, text.count("\n") + 1)))
    return blocks
