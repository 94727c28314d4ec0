"""The Textual app. It drives the same ``Assistant`` and renders the same events as the CLI; no pipeline logic here.

Model, training and indexing work runs in thread workers that report only through ``post_message``;
the app routes those messages to the screens. Failures of every worker end in one handler.
"""

from __future__ import annotations

import threading
from contextlib import closing
from pathlib import Path

from textual import work
from textual.app import App
from textual.binding import Binding
from textual.reactive import var
from textual.worker import Worker, WorkerState, get_current_worker

from assistant.config import Config
from assistant.errors import AssistantError, Cancelled
from assistant.events import Done
from assistant.records import Pick
from assistant.tui.commands import AssistantCommands
from assistant.tui.messages import AskRequest, Facts, IndexRequest, OpenSession, PipelineEvent, SessionsChanged, StatusReady
from assistant.tui.screens.ask import AskScreen
from assistant.tui.screens.history import HistoryScreen
from assistant.tui.screens.index import IndexScreen
from assistant.tui.screens.settings import SettingsScreen
from assistant.tui.widgets.sources import SourcesPanel, cite_numbers

MAIN_SCREENS = {"ask": AskScreen, "history": HistoryScreen, "index": IndexScreen, "settings": SettingsScreen}


class AssistantApp(App):
    CSS_PATH = "app.tcss"
    TITLE = "assistant"
    COMMANDS = App.COMMANDS | {AssistantCommands}
    MODES = {name: name for name in MAIN_SCREENS}  # installed screens, so they live for the whole run
    DEFAULT_MODE = "ask"
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (100, "-medium"), (130, "-wide")]
    VERTICAL_BREAKPOINTS = [(0, "-short"), (32, "-tall")]
    BINDINGS = [
        Binding("f1", "show('ask')", "Ask", show=False),
        Binding("f2", "show('history')", "History", show=False),
        Binding("f3", "show('index')", "Index", show=False),
        Binding("f4", "show('settings')", "Settings", show=False),
        Binding("escape", "cancel", "Cancel"),
        Binding("ctrl+t", "toggle_theme", "Theme"),
        Binding("ctrl+q", "quit", "Quit", priority=True),
    ]

    facts: var[Facts | None] = var(None, always_update=True)
    """Assistant.status() plus the detected devices; None while loading; ``Facts.error`` if it failed."""
    busy: var[str] = var("")
    """What the running job is doing ("answering", "indexing"), or "" when idle: one job at a time."""

    def __init__(self, config: Config, assistant=None) -> None:
        super().__init__()
        if assistant is None:
            from assistant.core.facade import Assistant  # no model loads here: the Assistant loads them on first use

            assistant = Assistant(config)
        self.assistant = assistant
        self._cancel = threading.Event()
        for name, screen in MAIN_SCREENS.items():
            self.install_screen(screen(), name)

    @property
    def ask_screen(self) -> AskScreen:
        return self.get_screen("ask")

    @property
    def index_screen(self) -> IndexScreen:
        return self.get_screen("index")

    def on_mount(self) -> None:
        self.theme = "textual-dark"
        self.load_status()

    def safely(self, fn, *args, **kwargs):
        """Call a quick core function on the UI thread; a domain error becomes a notification and None."""
        try:
            return fn(*args, **kwargs)
        except AssistantError as exc:
            self.notify(str(exc), severity="error")
            return None

    def watch_busy(self) -> None:
        self.refresh_bindings()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "cancel":
            return True if self.busy else None
        return True

    # ------------------------------------------------------------ workers (threads; they only post messages)

    @work(thread=True, exclusive=True, exit_on_error=False, group="status")
    def load_status(self) -> None:
        status = self.assistant.status()
        try:
            from assistant.models.locate import detect_devices

            devices = tuple(detect_devices())
        except (ImportError, OSError, RuntimeError):  # a broken torch: the device line says cpu
            devices = ("cpu",)
        self.post_message(StatusReady(Facts(status, devices)))

    @work(thread=True, exclusive=True, exit_on_error=False, group="ask")
    def run_ask(self, question: str, adapter: int | None, cancel: threading.Event) -> None:
        worker = get_current_worker()
        for event in self.assistant.ask(question, adapter=adapter, cancel=cancel):
            if worker.is_cancelled:
                cancel.set()  # the core stops at its next check and records the session as interrupted
            self.post_message(PipelineEvent("ask", event))

    @work(thread=True, exclusive=True, exit_on_error=False, group="index")
    def run_index(self, paths: list[str]) -> None:
        worker = get_current_worker()
        with closing(self.assistant.index([Path(p).expanduser() for p in paths])) as events:
            for event in events:
                self.post_message(PipelineEvent("index", event))
                if worker.is_cancelled:
                    break  # closing releases the index lock; one transaction per file loses at most the file in hand

    async def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """The one place where workers end: turn failures into notifications, then free the app."""
        worker, state = event.worker, event.state
        if state not in (WorkerState.SUCCESS, WorkerState.ERROR, WorkerState.CANCELLED):
            return
        try:
            await self._finished(worker, state)
        finally:
            if worker.group in ("ask", "index"):
                self.busy = ""

    async def _finished(self, worker: Worker, state: WorkerState) -> None:
        error = worker.error if state == WorkerState.ERROR else None
        stopped = state == WorkerState.CANCELLED or isinstance(error, (Cancelled, KeyboardInterrupt))
        if worker.group == "ask" and stopped:
            await self.ask_screen.stopped("Cancelled: the session is kept as interrupted (if it had picked its sources).")
            self.post_message(SessionsChanged())
            return
        if worker.group == "index" and stopped:
            self.index_screen.stopped("Cancelled: what was indexed so far is kept.")
            return
        if error is None:
            return
        message = str(error) if isinstance(error, AssistantError) else f"{type(error).__name__}: {error}"
        self.notify(message, title="Error", severity="error", timeout=8)
        if worker.group == "status":
            self.facts = Facts(error=message)
        elif worker.group == "ask":
            await self.ask_screen.stopped(f"✗ {message}", "error")
        elif worker.group == "index":
            self.index_screen.stopped(f"✗ {message}")

    # ------------------------------------------------------------ requests and events

    async def on_ask_request(self, message: AskRequest) -> None:
        if self.busy:
            self.notify(f"Still {self.busy}: wait, or press Esc to cancel.", severity="warning")
            return
        if self.current_mode != "ask":
            await self.switch_mode("ask")
        self.busy = "answering"
        self._cancel = threading.Event()
        await self.ask_screen.start(message.question, message.adapter)
        self.run_ask(message.question, message.adapter, self._cancel)

    async def on_index_request(self, message: IndexRequest) -> None:
        if self.busy:
            self.notify(f"Still {self.busy}: wait, or press Esc to cancel.", severity="warning")
            return
        if self.current_mode != "index":
            await self.switch_mode("index")
        self.busy = "indexing"
        self.index_screen.start(message.paths)
        self.run_index(message.paths)

    async def on_pipeline_event(self, message: PipelineEvent) -> None:
        if message.job == "ask":
            await self.ask_screen.show(message.event)
            if isinstance(message.event, Done):
                self.post_message(SessionsChanged())
        else:
            self.index_screen.show(message.event)
        if isinstance(message.event, Done):
            self.load_status()

    def on_status_ready(self, message: StatusReady) -> None:
        self.facts = message.facts
        problem = message.facts.problem("device")
        if problem:
            self.notify(problem, title="Error", severity="error", timeout=8)

    def on_sessions_changed(self, message: SessionsChanged) -> None:
        history = self.get_screen("history")
        if history.is_mounted:
            history.refresh_rows()

    def on_open_session(self, message: OpenSession) -> None:
        from assistant.tui.screens.session import SessionScreen

        library = self.assistant.library
        session = self.safely(library.session, message.session_id)
        if session is not None:
            changed = self.safely(library.changed_sources, session) or {}
            self.push_screen(SessionScreen(session, changed))

    def on_sources_panel_opened(self, message: SourcesPanel.Opened) -> None:
        from assistant.tui.screens.source import SourceScreen

        neighbours = self.safely(self.assistant.library.neighbours, message.source.chunk_id) or []
        self.push_screen(SourceScreen(message.source, neighbours, message.cite))

    def on_evidence_list_opened(self, message) -> None:
        """Enter on an evidence line: its chunk with the text around it; `e` opens the file at that line."""
        from assistant.tui.screens.source import SourceScreen

        e = message.evidence
        panel = self.ask_screen.sources
        known = [p for p in [*panel.sources, *(panel.nn or [])] if p.chunk_id == e.chunk_id]
        pick = known[0] if known else Pick(rank=0, chunk_id=e.chunk_id, path=e.path, start_line=e.line, end_line=e.line,
                                           heading=e.heading, similarity=0.0, variance=0.0, previous=0.0, prior=0.0,
                                           text=e.text)  # fmt: skip
        neighbours = self.safely(self.assistant.library.neighbours, e.chunk_id) or []
        self.push_screen(SourceScreen(pick, neighbours, line=e.line))

    def current_citations(self) -> list[tuple[int, Pick]]:
        """(citation number, source) for each unique source of the answer on the Ask screen."""
        sources = self.ask_screen.sources.sources if self.ask_screen.is_mounted else []
        return [(n, s) for s, n in zip(sources, cite_numbers(sources)) if not s.repeat]

    # ------------------------------------------------------------ actions (keys and the command palette)

    async def action_show(self, mode: str) -> None:
        await self.switch_mode(mode)

    def action_cancel(self) -> None:
        if self.busy == "answering":
            self._cancel.set()
            self.notify("Cancelling… the run stops at its next step.")
        elif self.busy == "indexing":
            self.workers.cancel_group(self, "index")
            self.notify("Cancelling indexing…")

    def action_toggle_theme(self) -> None:
        self.theme = "textual-light" if self.theme == "textual-dark" else "textual-dark"

    async def action_add_folder(self) -> None:
        await self.switch_mode("index")
        self.index_screen.action_add()

    async def action_reindex(self) -> None:
        await self.switch_mode("index")
        self.index_screen.action_reindex()

    async def action_toggle_nn(self) -> None:
        await self.switch_mode("ask")
        self.ask_screen.sources.action_toggle_nn()

    async def action_open_citation(self, n: int) -> None:
        await self.switch_mode("ask")
        self.ask_screen.sources.open_citation(n)

    def action_open_latest(self) -> None:
        rows = self.safely(self.assistant.library.history, None, 1)
        if rows:
            self.post_message(OpenSession(rows[0].id))
        elif rows is not None:
            self.notify("No sessions yet: ask something first.")

    async def action_search_history(self) -> None:
        await self.switch_mode("history")
        self.get_screen("history").action_search()

    async def action_save_settings(self) -> None:
        await self.switch_mode("settings")
        self.get_screen("settings").action_save()

    async def action_quit(self) -> None:
        self._cancel.set()  # a running ask stops at its next step instead of keeping the process alive
        self.workers.cancel_all()
        self.exit()


def run_app(config: Config) -> None:
    AssistantApp(config).run()
