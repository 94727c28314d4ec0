"""Indexed folders with counts and last run; add a folder or re-index with a live progress bar."""

from __future__ import annotations

import time

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import Button, DataTable, Input, Label, ProgressBar

from ... import events as ev


class IndexPane(Vertical):
    class Run(Message):
        def __init__(self, paths: list[str]) -> None:
            super().__init__()
            self.paths = paths

    def compose(self) -> ComposeResult:
        yield DataTable(cursor_type="row", id="roots-table")
        with Horizontal(id="index-controls"):
            yield Input(placeholder="folder to add, e.g. ~/notes", id="add-folder")
            yield Button("Re-index all", id="reindex")
        yield ProgressBar(total=1, show_eta=True, id="index-bar")
        yield Label("", id="index-rate")

    def on_mount(self) -> None:
        self.query_one(DataTable).add_columns("folder", "documents", "chunks", "last indexed")
        self._started = time.monotonic()

    def load(self, roots: list[dict]) -> None:
        table = self.query_one(DataTable)
        table.clear()
        for r in roots:
            table.add_row(r["path"], str(r["documents"]), str(r["chunks"]), r["last_indexed_at"][:16].replace("T", " "))
        table.border_title = "Indexed folders" if roots else "Nothing indexed yet: add a folder below"

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.value.strip():
            self.post_message(self.Run([event.value.strip()]))
            event.input.value = ""

    def on_button_pressed(self, event: Button.Pressed) -> None:
        roots = [r["path"] for r in self.app.assistant.store.roots()]
        if not roots:
            self.app.notify("No folders yet: type one in the box.", severity="warning")
            return
        self.post_message(self.Run(roots))

    def show(self, event) -> None:
        if isinstance(event, ev.Stage) and event.name == "indexing" and not event.done:
            self._started = time.monotonic()
        elif isinstance(event, ev.Progress):
            self.query_one(ProgressBar).update(total=max(event.total, 1), progress=event.done)
            elapsed = max(time.monotonic() - self._started, 1e-6)
            chunks = int(event.detail.split()[0]) if event.detail else 0
            self.query_one("#index-rate", Label).update(
                f"{event.done}/{event.total} files · {event.done / elapsed:.1f} files/s · {chunks / elapsed:.1f} chunks/s"
            )
        elif isinstance(event, ev.Done):
            r = event.result
            self.query_one("#index-rate", Label).update(
                f"Done in {r.seconds:.1f}s: {r.added} added, {r.updated} updated, {r.removed} removed, {r.unchanged} unchanged"
                + (f", skipped {sum(r.skipped.values())}" if r.skipped else "")
            )
