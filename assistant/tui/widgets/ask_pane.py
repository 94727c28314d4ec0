"""The chat: questions and streamed Markdown answers above, live stages and sources, input below."""

from __future__ import annotations

import re
import time

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Input, Label, Markdown

from ... import events as ev
from ..messages import AskRequest
from .sources import SourcesPanel
from .stage_status import StageStatus

STREAM_REFRESH_S = 0.08  # re-render the growing Markdown at most this often


def link_citations(text: str, n_contexts: int) -> str:
    """[n] -> a Markdown link the app can follow to source n."""
    return re.sub(r"\[(\d+)\]", lambda m: f"[\\[{m.group(1)}\\]](cite:{m.group(1)})" if 1 <= int(m.group(1)) <= n_contexts else m.group(0), text)


class AskPane(Vertical):
    def compose(self) -> ComposeResult:
        with Horizontal(id="ask-main"):
            with VerticalScroll(id="conversation"):
                yield Label("Ask a question about your documents below.", id="hint")
            yield SourcesPanel(id="sources")
        yield StageStatus(id="stages")
        yield Input(placeholder="Ask about your notes…  (enter to ask, esc to cancel)", id="question")

    def on_mount(self) -> None:
        self._answer: Markdown | None = None
        self._text = ""
        self._last_render = 0.0
        self.query_one(SourcesPanel).clear_sources()

    def set_hint(self, text: str, error: bool = False) -> None:
        hint = self.query_one("#hint", Label)
        hint.update(text)
        hint.set_class(error, "error")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        question = event.value.strip()
        if not question:
            self.app.notify("Type a question first.", severity="warning")
            return
        event.input.value = ""
        self.post_message(AskRequest(question))

    def start(self, question: str, adapter: int | None) -> None:
        conversation = self.query_one("#conversation", VerticalScroll)
        label = f"› {question}" + (f"  (adapter of session {adapter})" if adapter else "")
        conversation.mount(Label(label, classes="question"))
        self._answer = Markdown("", classes="answer")
        conversation.mount(self._answer)
        self._text = ""
        self.query_one(StageStatus).reset()
        self.query_one(SourcesPanel).clear_sources()
        conversation.scroll_end(animate=False)

    def show(self, event) -> None:
        self.query_one(StageStatus).show(event)
        if isinstance(event, ev.Selected):
            self.query_one(SourcesPanel).add_source(
                {"rank": event.rank, "chunk_id": event.chunk_id, "path": event.path, "start_line": event.start_line,
                 "end_line": event.end_line, "heading": event.heading, "variance": event.variance, "repeat": event.repeat,
                 "similarity": event.similarity}, event.prior)  # fmt: skip
        elif isinstance(event, ev.Token) and self._answer is not None:
            self._text += event.text
            now = time.monotonic()
            if now - self._last_render > STREAM_REFRESH_S:
                self._last_render = now
                self._answer.update(self._text)
                self.query_one("#conversation", VerticalScroll).scroll_end(animate=False)
        elif isinstance(event, ev.Done) and self._answer is not None:
            result = event.result
            contexts = sum(1 for s in result.selections if not s["repeat"]) if result.params.get("context") else 0
            self._answer.update(link_citations(result.answer or "_(empty answer)_", contexts))
            self.query_one("#conversation", VerticalScroll).scroll_end(animate=False)

    def cancelled(self) -> None:
        if self._answer is not None:
            self._answer.update((self._text or "") + "\n\n*— cancelled —*")

    def source_for_citation(self, n: int) -> dict | None:
        unique = [s for s in self.query_one(SourcesPanel).sources if not s.get("repeat")]
        return unique[n - 1] if 1 <= n <= len(unique) else None
