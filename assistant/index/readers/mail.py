"""Mail through the standard ``email`` and ``mailbox`` modules: .eml whole, mbox streamed one message at a time.

Each message is a heading (its subject), its sender and date, and the paragraphs of its text body
(the HTML body through the HTML reader when there is no plain one). Attachments are not read.
"""

from __future__ import annotations

import email
import email.header
import email.policy
import email.utils
import re
from pathlib import Path

from assistant.index.readers.base import Block, ReadContext, UnreadableFile, paragraphs
from assistant.index.readers.html import read_html

_HEADER = re.compile(
    rb"^(received|return-path|from|to|cc|subject|date|message-id|mime-version|delivered-to|x-[\w-]+):",
    re.IGNORECASE | re.MULTILINE,
)


def sniff_eml(head: bytes, path: Path) -> bool:
    return len({m.lower() for m in _HEADER.findall(head[:4096])}) >= 3


def sniff_mbox(head: bytes, path: Path) -> bool:
    return head.startswith(b"From ") and sniff_eml(head, path)


def _header(message, name: str) -> str:
    """A header decoded once (RFC 2047 words included); the compat32 policy leaves headers raw, which is fast."""
    raw = message.get(name)
    if raw is None:
        return ""
    try:
        return " ".join(str(email.header.make_header(email.header.decode_header(str(raw)))).split())
    except (LookupError, ValueError, UnicodeError):
        return " ".join(str(raw).split())


def _when(raw: str) -> str:
    try:
        return email.utils.parsedate_to_datetime(raw).strftime("%Y-%m-%d")
    except (TypeError, ValueError, IndexError):
        return raw.strip()


def _body(message) -> list[Block]:
    """The first plain-text part, else the first HTML part; attachments are never decoded."""
    found: dict[str, object] = {}
    for part in message.walk():
        if part.is_multipart() or part.get_content_disposition() == "attachment":
            continue
        found.setdefault(part.get_content_type(), part)
    part = found.get("text/plain") or found.get("text/html")
    if part is None:
        return []
    payload = part.get_payload(decode=True) or b""
    try:
        text = payload.decode(part.get_content_charset() or "utf-8", errors="replace")
    except LookupError:  # an unknown charset name
        text = payload.decode("utf-8", errors="replace")
    if part.get_content_type() == "text/html":
        return [Block(b.text, 1, 1) for b in read_html(text)]
    return list(paragraphs(text.splitlines()))


def message_blocks(message, number: int, label: str = "") -> list[Block]:
    """One message as blocks located by ``number``; the citation names its subject and date."""
    subject = _header(message, "subject") or "(no subject)"
    date = _header(message, "date")
    where = f"{label}“{subject[:80]}” {_when(date)}".strip()
    head = [Block(subject, number, number, 1, "message", where)]
    sender = " ".join(
        f"{k}: {v}" for k in ("From", "To", "Date") if (v := _header(message, k) if k != "Date" else date)
    )
    if sender:
        head.append(Block(sender, number, number, 0, "message", where))
    return head + [Block(b.text, number, number, 0, "message", where) for b in _body(message)]


def read_eml(data: bytes, ctx: ReadContext) -> list[Block]:
    try:
        message = email.message_from_bytes(data, policy=email.policy.compat32)
        blocks = message_blocks(message, 1)
    except (LookupError, ValueError, TypeError, AttributeError) as exc:
        raise UnreadableFile(f"broken mail ({type(exc).__name__})") from None
    if not message.keys():
        raise UnreadableFile("not a mail message")
    return blocks


def read_mbox(path: Path, ctx: ReadContext) -> list[Block]:
    """Stream the mailbox: the table of contents is built by one pass, then messages are parsed one by one."""
    import mailbox

    try:
        box = mailbox.mbox(str(path), create=False)
    except (OSError, mailbox.Error) as exc:
        raise UnreadableFile(f"unreadable mbox ({type(exc).__name__})") from None
    blocks: list[Block] = []
    skipped = 0
    try:
        for number, key in enumerate(box.iterkeys(), start=1):
            handle = box.get_file(key)
            handle.seek(0, 2)
            if handle.tell() > ctx.max_part_bytes:  # measured on disk, so a huge message is never loaded
                skipped += 1
                continue
            handle.seek(0)
            try:
                message = email.message_from_binary_file(handle, policy=email.policy.compat32)
                blocks += message_blocks(message, number, f"message {number} ")
            except (LookupError, ValueError, TypeError, AttributeError):
                skipped += 1
    finally:
        box.close()
    if skipped:
        ctx.warnings.append(f"{skipped} messages skipped (too large or unreadable)")
    if not blocks:
        raise UnreadableFile("mbox has no readable messages")
    return blocks
