"""EPUB through ebooklib: the spine's chapters, each read by the HTML reader, located by chapter and paragraph."""

from __future__ import annotations

import io
import re
import warnings
import zipfile

from assistant.index.readers.base import Block, ReadContext, UnreadableFile, guarded
from assistant.index.readers.html import read_html

# Font obfuscation is allowed by the EPUB spec and leaves the text readable; anything else encrypted is DRM.
_FONT_OBFUSCATION = ("http://www.idpf.org/2008/embedding", "http://ns.adobe.com/pdf/enc#RC")


def _check_drm(data: bytes) -> None:
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        names = set(z.namelist())
        if "META-INF/rights.xml" in names:
            raise UnreadableFile("DRM-protected EPUB")
        if "META-INF/encryption.xml" in names:
            xml = z.read("META-INF/encryption.xml").decode("utf-8", errors="replace")
            # EncryptionMethod names the cipher; font obfuscation is the only kind that keeps text readable
            methods = re.findall(r'EncryptionMethod[^>]*Algorithm="([^"]+)"', xml)
            if any(m not in _FONT_OBFUSCATION for m in methods):
                raise UnreadableFile("DRM-protected EPUB")


def _parse(data: bytes) -> list[Block]:
    import ebooklib
    from ebooklib import epub

    _check_drm(data)
    with warnings.catch_warnings():  # ebooklib warns about options it will change in a future release
        warnings.simplefilter("ignore")
        book = epub.read_epub(io.BytesIO(data), {"ignore_ncx": True})
    blocks: list[Block] = []
    chapter = 0
    for idref, _linear in book.spine:
        item = book.get_item_with_id(idref)
        if item is None or item.get_type() != ebooklib.ITEM_DOCUMENT or isinstance(item, epub.EpubNav):
            continue
        html = read_html(item.get_content().decode("utf-8", errors="replace"))
        html = [b for b in html if b.text.strip()]
        if not html:
            continue
        chapter += 1
        title = next((b.text for b in html if b.level), "")
        where = f"chapter {chapter}" + (f" “{title[:60]}”" if title else "")
        blocks += [Block(b.text, n, n, b.level, "paragraph", where) for n, b in enumerate(html, start=1)]
    return blocks


def read_epub(data: bytes, ctx: ReadContext) -> list[Block]:
    return guarded("EPUB", _parse, data)
