"""The Textual app. It consumes the same Assistant and events as the CLI and holds no pipeline logic."""

from __future__ import annotations

import threading

from textual import work
from textual.app import App, ComposeResult
from textual.widgets import Footer, Header, Markdown, TabbedContent, TabPane
from textual.worker import Worker, WorkerState, get_current_worker

from ..config import Config
from ..errors import AssistantError
from .commands import AssistantCommands
from .messages import AskRequest, ExplainReady, PipelineEvent, StatusReady
from .widgets.ask_pane import AskPane
from .widgets.history_pane import HistoryPane
from .widgets.index_pane import IndexPane
from .widgets.settings_pane import SettingsPane
from .widgets.sources import SourcesPanel


class AssistantApp(App):
    CSS_PATH = "app.tcss"
    TITLE = "assistant"
    SUB_TITLE = "learns from your notes when you ask"
    COMMANDS = App.COMMANDS | {AssistantCommands}
    BINDINGS = [
        ("f1", "show_tab('ask')", "Ask"),
        ("f2", "show_tab('history')", "History"),
        ("f3", "show_tab('index')", "Index"),
        ("f4", "show_tab('settings')", "Settings"),
        ("escape", "cancel", "Cancel"),
        ("ctrl+t", "toggle_theme", "Theme"),
        ("ctrl+q", "quit", "Quit"),
    ]

    def __init__(self, config: Config, assistant=None) -> None:
        super().__init__()
        if assistant is None:
            from ..pipeline import Assistant

            assistant = Assistant(config)
        self.assistant = assistant
        self.cancel_event = threading.Event()
        self.last_question: str | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        with TabbedContent(initial="ask"):
            with TabPane("Ask", id="ask"):
                yield AskPane()
            with TabPane("History", id="history"):
                yield HistoryPane()
            with TabPane("Index", id="index"):
                yield IndexPane()
            with TabPane("Settings", id="settings"):
                yield SettingsPane()
        yield Footer()

    def on_mount(self) -> None:
        self.theme = "textual-dark"
        self.load_status()
        self.query_one("#question").focus()

    # ------------------------------------------------------------ actions

    def action_show_tab(self, tab: str) -> None:
        self.query_one(TabbedContent).active = tab
        if tab == "history":
            self.query_one(HistoryPane).refresh_rows()
        elif tab == "index":
            self.query_one(IndexPane).load(self.assistant.store.roots())

    def action_toggle_theme(self) -> None:
        self.theme = "textual-light" if self.theme == "textual-dark" else "textual-dark"

    def action_cancel(self) -> None:
        if any(w.group == "ask" and w.state == WorkerState.RUNNING for w in self.workers):
            self.cancel_event.set()
            self.notify("Cancelling…")

    def action_toggle_nn(self) -> None:
        self.query_one("#sources", SourcesPanel).action_toggle_nn()

    def action_reindex(self) -> None:
        roots = [r["path"] for r in self.assistant.store.roots()]
        if roots:
            self.run_index(roots)

    # ------------------------------------------------------------ workers (threads; they only post messages)

    @work(thread=True, exclusive=True, exit_on_error=False, group="status")
    def load_status(self) -> None:
        from ..models import detect_devices

        facts = self.assistant.status()
        if "devices" not in facts:
            try:
                facts["devices"] = detect_devices()
            except Exception:  # torch missing or broken: the device line says so
                facts["devices"] = ["cpu"]
        self.post_message(StatusReady(facts))

    @work(thread=True, exclusive=True, exit_on_error=False, group="ask")
    def run_ask(self, question: str, adapter: int | None) -> None:
        worker = get_current_worker()
        self.cancel_event.clear()
        for event in self.assistant.ask(question, adapter=adapter, cancel=self.cancel_event):
            if worker.is_cancelled:
                self.cancel_event.set()
            self.post_message(PipelineEvent("ask", event))
        if not self.cancel_event.is_set():
            self.post_message(ExplainReady(self.assistant.explain(question)))

    @work(thread=True, exclusive=True, exit_on_error=False, group="index")
    def run_index(self, paths: list[str]) -> None:
        from pathlib import Path

        for event in self.assistant.index([Path(p).expanduser() for p in paths]):
            self.post_message(PipelineEvent("index", event))

    # ------------------------------------------------------------ messages

    def on_ask_request(self, message: AskRequest) -> None:
        self.action_show_tab("ask")
        self.last_question = message.question
        self.query_one(AskPane).start(message.question, message.adapter)
        self.run_ask(message.question, message.adapter)

    def on_pipeline_event(self, message: PipelineEvent) -> None:
        if message.job == "ask":
            self.query_one(AskPane).show(message.event)
        else:
            pane = self.query_one(IndexPane)
            pane.show(message.event)
            from ..events import Done

            if isinstance(message.event, Done):
                pane.load(self.assistant.store.roots())
                self.load_status()

    def on_explain_ready(self, message: ExplainReady) -> None:
        self.query_one("#sources", SourcesPanel).set_nn(message.facts["nn"])

    def on_status_ready(self, message: StatusReady) -> None:
        facts = message.facts
        pane = self.query_one(AskPane)
        if str(facts["model"]).startswith("missing"):
            pane.set_hint(f"Model problem: {facts['model'].removeprefix('missing: ')}. Fix it in Settings (F4).", error=True)
        elif not facts["documents"]:
            pane.set_hint("Nothing indexed yet. Press F3 to add a folder, or run `assistant index PATH` in a shell.")
        else:
            pane.set_hint(f"{facts['documents']} documents, {facts['chunks']} chunks indexed · device {facts['device']}. Ask below.")
        self.query_one(SettingsPane).show_detected(facts)
        self.query_one(IndexPane).load(facts.get("roots", []))

    def on_history_pane_open(self, message: HistoryPane.Open) -> None:
        from .screens.session import SessionScreen

        self.push_screen(SessionScreen(self.assistant, self.assistant.store.session(message.session_id)))

    def on_index_pane_run(self, message: IndexPane.Run) -> None:
        self.run_index(message.paths)

    def on_sources_panel_opened(self, message: SourcesPanel.Opened) -> None:
        from .screens.source import SourceScreen

        self.push_screen(SourceScreen(message.source, self.assistant.store.neighbours(message.source["chunk_id"])))

    def on_markdown_link_clicked(self, message: Markdown.LinkClicked) -> None:
        if message.href.startswith("cite:"):
            source = self.query_one(AskPane).source_for_citation(int(message.href.removeprefix("cite:")))
            if source:
                from .screens.source import SourceScreen

                self.push_screen(SourceScreen(source, self.assistant.store.neighbours(source["chunk_id"])))

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state != WorkerState.ERROR:
            return
        error = event.worker.error
        from ..errors import Cancelled

        if isinstance(error, (Cancelled, KeyboardInterrupt)):
            self.query_one(AskPane).cancelled()
            self.notify("Cancelled. The session was recorded as interrupted.")
        elif isinstance(error, AssistantError):
            self.notify(str(error), severity="error")
        else:
            self.notify(f"{type(error).__name__}: {error}", severity="error")


def run_app(config: Config) -> None:
    AssistantApp(config).run()
