"""Index: the indexed folders with counts and last run; add a folder or re-index with a live progress bar."""

from __future__ import annotations

import time

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Button, DataTable, Footer, Input, Label, ProgressBar, Static

from assistant import events as ev
from assistant.records import StageName
from assistant.tui.messages import IndexRequest
from assistant.tui.widgets.top_bar import TopBar
from assistant.tui.screens.history import when

HELP = (
    "[b]Enter[/b] on a folder re-indexes it, [b]r[/b] re-indexes them all. A re-index reads only files whose size, "
    "time or SHA-256 changed, and drops the ones that are gone. Hidden, binary and oversized files and those named "
    "in .assistantignore are skipped. From a shell: [b]assistant index PATH[/b]."
)


def per_second(rate: float) -> str:
    return f"{rate:.1f}" if rate < 10 else f"{rate:.0f}"


class IndexScreen(Screen):
    BINDINGS = [Binding("a", "add", "Add folder"), Binding("r", "reindex", "Re-index all")]
    AUTO_FOCUS = "#roots-table"

    def compose(self) -> ComposeResult:
        yield TopBar("index")
        yield DataTable(cursor_type="row", zebra_stripes=True, id="roots-table")
        yield Static("", id="index-empty", markup=False)
        with Horizontal(id="index-controls"):
            yield Input(placeholder="Folder to index, e.g. ~/notes  (enter)", id="add-folder")
            yield Button("Re-index all", id="reindex")
        with Vertical(id="index-progress", classes="hidden"):
            with Horizontal(id="index-bar-line"):
                yield ProgressBar(total=None, show_eta=False, id="index-bar")
                yield Label("", id="index-rate")
            yield Label("", id="index-summary", markup=False)
        yield Static(HELP, id="index-help")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one("#roots-table", DataTable)
        table.add_columns("folder", "documents", "chunks", "last indexed")
        self._started = time.monotonic()

    def on_screen_resume(self) -> None:
        self.load_roots()
        if self.app.facts and self.app.facts.status and not self.app.facts.status.documents:
            self.query_one("#add-folder", Input).focus()

    def load_roots(self) -> None:
        roots = self.app.safely(self.app.assistant.library.roots)
        if roots is None or not self.is_mounted:
            return
        table = self.query_one("#roots-table", DataTable)
        table.clear()
        for r in roots:
            table.add_row(r.path, str(r.documents), str(r.chunks), when(r.last_indexed_at), key=r.path)
        self.query_one("#index-empty", Static).update(
            "" if roots else "Nothing indexed yet. Type a folder below and press Enter: Markdown, text, reST, Org, HTML "
            "and PDF files are read, and re-indexing later only reads what changed."
        )  # fmt: skip

    # ------------------------------------------------------------ requests

    def action_add(self) -> None:
        self.query_one("#add-folder", Input).focus()

    def action_reindex(self) -> None:
        roots = self.app.safely(self.app.assistant.library.roots)
        if not roots:
            self.notify("No folders yet: type one in the box below.", severity="warning")
            self.action_add()
            return
        self.post_message(IndexRequest([r.path for r in roots]))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if event.value.strip():
            self.post_message(IndexRequest([event.value.strip()]))
            event.input.value = ""

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.action_reindex()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.post_message(IndexRequest([event.row_key.value]))

    # ------------------------------------------------------------ a run, driven by the app

    def start(self, paths: list[str]) -> None:
        self.query_one("#index-progress").remove_class("hidden")
        self.query_one("#index-bar", ProgressBar).update(total=None, progress=0)
        self.query_one("#index-rate", Label).update("")
        self.query_one("#index-summary", Label).update(f"Indexing {', '.join(paths)}…")
        self._started = time.monotonic()

    def show(self, event) -> None:
        if isinstance(event, ev.Stage) and not event.done:
            if event.name == StageName.INDEXING:
                self._started = time.monotonic()
            self.query_one("#index-summary", Label).update(f"{event.name}…")
        elif isinstance(event, ev.Stage) and event.detail:
            self.query_one("#index-summary", Label).update(f"{event.name}: {event.detail}")
        elif isinstance(event, ev.Progress):
            self.query_one("#index-bar", ProgressBar).update(total=max(event.total, 1), progress=event.done)
            elapsed = max(time.monotonic() - self._started, 1e-6)
            chunks = event.chunks
            rate = event.done / elapsed
            eta = f" · {(event.total - event.done) / rate:.0f}s left" if event.done < event.total and rate else ""
            self.query_one("#index-rate", Label).update(
                f"{event.done}/{event.total} files · {per_second(rate)} files/s · {per_second(chunks / elapsed)} chunks/s{eta}"
            )
        elif isinstance(event, ev.Done):
            r = event.result
            if not r.files and not r.removed:
                self.query_one("#index-bar", ProgressBar).update(total=1, progress=1)
            skipped = f", skipped {sum(r.skipped.values())}" if r.skipped else ""
            self.query_one("#index-summary", Label).update(
                f"✓ Done in {r.seconds:.1f}s: {r.added} added, {r.updated} updated, {r.removed} removed, "
                f"{r.unchanged} unchanged, {r.chunks} new chunks{skipped}."
            )
            self.load_roots()

    def stopped(self, why: str) -> None:
        self.query_one("#index-summary", Label).update(why)
