"""The chat: a welcome with what to do first, then each question with its answer streamed as Markdown."""

from __future__ import annotations

import re

from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Markdown, Static

WELCOME = (
    "[b]Ask anything about your documents.[/b]\n"
    "[dim]Each question retrieves candidates, picks the most informative with SIFT, "
    "trains a small LoRA on them, then answers with citations.[/dim]"
)


def link_citations(text: str, n_contexts: int) -> str:
    """``[n]`` -> a Markdown link the app follows to source n (only for numbers that name a context)."""

    def link(m: re.Match) -> str:
        n = int(m.group(1))
        return f"[\\[{n}\\]](cite:{n})" if 1 <= n <= n_contexts else m.group(0)

    return re.sub(r"(?<!\\)\[(\d+)\](?!\()", link, text)


class Conversation(VerticalScroll):
    """Turns of question, answer and a muted line of facts about the run."""

    can_focus = False

    def compose(self) -> ComposeResult:
        yield Static(WELCOME, id="welcome")
        yield Static("", id="hint", markup=False)

    def on_mount(self) -> None:
        self._sources: dict[Markdown, list[dict]] = {}  # each answer's sources, so its citations stay right
        self._answer: Markdown | None = None
        self._stream = None
        self._text = ""
        self._meta: Static | None = None

    def set_hint(self, text: str, kind: str = "") -> None:
        hint = self.query_one("#hint", Static)
        hint.update(text)
        hint.set_classes(kind)

    @property
    def answer_text(self) -> str:
        return self._text

    @property
    def answer(self) -> Markdown | None:
        return self._answer

    async def start(self, question: str, adapter: int | None) -> None:
        await self._close_stream()
        through = f"  · through the adapter of session {adapter}" if adapter else ""
        self._answer = Markdown("", classes="answer", open_links=False)
        self._meta = Static("", classes="meta", markup=False)
        await self.mount_all([Static(f"› {question}{through}", classes="question", markup=False), self._answer, self._meta])
        self._text = ""
        self._stream = Markdown.get_stream(self._answer)
        self.scroll_end(animate=False)

    async def add(self, text: str) -> None:
        if self._stream is None:
            return
        self._text += text
        await self._stream.write(text)
        self._follow()

    def _follow(self) -> None:
        """Stay at the bottom while an answer grows, once there is more than a screenful.

        (Anchoring earlier would push short content to the bottom of the pane.)"""
        if not self.is_anchored and self.max_scroll_y > 0:
            self.anchor()

    def sources_of(self, answer: Markdown) -> list[dict] | None:
        return self._sources.get(answer)

    async def finish(self, answer: str, n_contexts: int, meta: str, sources: list, session=None) -> None:
        await self._close_stream()
        if self._answer is not None:
            self._sources[self._answer] = list(sources)
            self._text = answer
            await self._answer.update(link_citations(answer.strip(), n_contexts) or "*(empty answer)*")
            self._meta.update(meta)
            if session is not None:
                await self._ground(session)
        self._follow()
        self.scroll_end(animate=False)

    async def _ground(self, session) -> None:
        """What the answer rests on: unsupported sentences, then the evidence lines (focusable)."""
        from assistant.tui.widgets.evidence import EvidenceList, unsupported_note

        note = unsupported_note(session.claims)
        if note is not None:
            await self.mount(note)
        if session.evidence:
            await self.mount(EvidenceList(session.evidence, closest=session.abstained))

    async def stop(self, why: str, kind: str = "warning") -> None:
        await self._close_stream()
        if self._meta is not None:
            self._meta.update(why)
            self._meta.set_classes(f"meta {kind}")
        self.scroll_end(animate=False)

    async def _close_stream(self) -> None:
        if self._stream is not None:
            stream, self._stream = self._stream, None
            await stream.stop()
