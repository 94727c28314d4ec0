"""Ask: the conversation, the sources of the last answer beside it, live stages, and the question box."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import Footer, Input, Markdown

from assistant import events as ev
from assistant.tui.messages import AskRequest, Facts
from assistant.tui.widgets.conversation import Conversation
from assistant.tui.widgets.sources import SourcesPanel
from assistant.tui.widgets.stage_status import StageStatus
from assistant.tui.widgets.top_bar import TopBar


class AskScreen(Screen):
    AUTO_FOCUS = "#question"

    def compose(self) -> ComposeResult:
        yield TopBar("ask")
        with Horizontal(id="ask-main"):
            yield Conversation(id="conversation")
            yield SourcesPanel(id="sources")
        yield StageStatus(id="stages", classes="hidden")
        yield Input(placeholder="Ask about your documents…  (enter to ask)", id="question")
        yield Footer()

    def on_mount(self) -> None:
        self.watch(self.app, "facts", self._show_facts)

    @property
    def sources(self) -> SourcesPanel:
        return self.query_one("#sources", SourcesPanel)

    @property
    def conversation(self) -> Conversation:
        return self.query_one(Conversation)

    def _show_facts(self, facts: Facts | None) -> None:
        conversation = self.conversation
        if facts is None:
            conversation.set_hint("Loading the index…", "muted")
        elif facts.error or facts.status is None:
            conversation.set_hint(f"⚠ {facts.error}", "error")
        elif facts.problem("model"):
            conversation.set_hint(f"⚠ Model problem: {facts.problem('model')}. Set another model in Settings (F4).", "error")
        elif facts.problem("device"):
            conversation.set_hint(f"⚠ Device problem: {facts.problem('device')}. Pick another device in Settings (F4).", "error")
        elif not facts.status.documents:
            conversation.set_hint(
                "Nothing is indexed yet. Press F3 and type a folder to index it, or run `assistant index PATH` in a shell.",
                "warning",
            )
        else:
            s = facts.status
            conversation.set_hint(f"{s.documents} documents, {s.chunks} chunks indexed. Type a question below.", "muted")

    # ------------------------------------------------------------ input

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        question = event.value.strip()
        if not question:
            self.notify("Type a question first.", severity="warning")
            return
        if self.app.busy:
            self.notify(f"Still {self.app.busy}: wait, or press Esc to cancel.", severity="warning")
            return
        event.input.value = ""
        self.post_message(AskRequest(question))

    def on_markdown_link_clicked(self, event: Markdown.LinkClicked) -> None:
        event.stop()
        if event.href.startswith("cite:"):
            self.sources.open_citation(int(event.href.removeprefix("cite:")), self.conversation.sources_of(event.markdown))
        elif event.href.startswith(("http://", "https://")):
            self.app.open_url(event.href)

    # ------------------------------------------------------------ a run, driven by the app

    async def start(self, question: str, adapter: int | None) -> None:
        stages = self.query_one(StageStatus)
        stages.remove_class("hidden")
        stages.reset()
        self.sources.clear_sources()
        await self.conversation.start(question, adapter)

    async def show(self, event) -> None:
        self.query_one(StageStatus).show(event)
        if isinstance(event, ev.Selected):
            self.sources.add_source(event.pick)
        elif isinstance(event, ev.Token):
            await self.conversation.add(event.text)
        elif isinstance(event, ev.Done):
            r = event.result
            contexts = self.sources.unique_count() if r.params.get("context", True) else 0
            learned = f"learned {r.adapter.steps} steps" if r.adapter else (
                f"adapter of session {r.params['adapter_from']}" if r.params.get("adapter_from") else "no learning")
            total = r.timings.get("total")
            meta = f"session {r.id} · {learned} · {r.device}" + (f" · {total:.1f}s" if total else "")
            if r.note:
                meta += f"\n⚠ {r.note}"
            await self.conversation.finish(r.answer, contexts, meta, self.sources.sources, r)
            self.sources.set_nn(r.nn or None)  # what plain nearest neighbours would have picked

    async def stopped(self, why: str, kind: str = "warning") -> None:
        self.query_one(StageStatus).stopped(why)
        await self.conversation.stop(why, kind)
