"""A source chunk with its surrounding text and its path; e opens the file in $EDITOR."""

from __future__ import annotations

import os
import shlex
import subprocess

from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Footer, Label, Static


class SourceScreen(ModalScreen):
    BINDINGS = [("escape,q", "dismiss", "Close"), ("e", "edit", "Open in $EDITOR")]

    def __init__(self, source: dict, neighbours: list[dict]) -> None:
        super().__init__()
        self.source = source
        self.neighbours = neighbours

    def compose(self) -> ComposeResult:
        s = self.source
        yield Label(f"{s['path']}  lines {s['start_line']}-{s['end_line']}  {s.get('heading') or ''}", id="source-title")
        with VerticalScroll(id="source-body"):
            chunks = self.neighbours or [{"id": s.get("chunk_id"), "text": s.get("text", "")}]
            for chunk in chunks:
                classes = "chunk picked" if chunk.get("id") == s.get("chunk_id") else "chunk context"
                yield Static(chunk["text"], classes=classes, markup=False)
        yield Footer()

    def action_edit(self) -> None:
        editor = os.environ.get("EDITOR") or os.environ.get("VISUAL")
        if not editor:
            self.app.notify("Set $EDITOR to open files from here.", severity="warning")
            return
        with self.app.suspend():
            subprocess.call([*shlex.split(editor), f"+{self.source['start_line']}", self.source["path"]])
