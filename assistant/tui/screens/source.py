"""One source chunk with the text around it and its document path; e opens the file in $EDITOR."""

from __future__ import annotations

import os
import shlex
import subprocess
from pathlib import Path

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Footer, Static

from assistant.records import Pick


def lines(start: int | None, end: int | None) -> str:
    return "" if start is None else f"lines {start}-{end}"


class SourceScreen(ModalScreen):
    BINDINGS = [Binding("escape,q", "dismiss", "Close"), Binding("e", "edit", "Open in $EDITOR")]

    def __init__(self, source: Pick, neighbours: list[dict], cite: int | None = None, line: int | None = None) -> None:
        super().__init__()
        self.source = source
        self.line = line  # an evidence line: the editor opens there, not at the chunk's first line
        self.neighbours = neighbours
        self.cite = cite

    def compose(self) -> ComposeResult:
        s = self.source
        ref = f"[{self.cite}] " if self.cite else ""
        with Vertical(id="source-box", classes="modal-box"):
            where = f"line {self.line}" if self.line else lines(s.start_line, s.end_line)
            yield Static(f"{ref}{Path(s.path).name} · {where} · {s.heading}".rstrip(" ·"),
                         classes="modal-title", markup=False)  # fmt: skip
            yield Static(s.path, id="source-path", markup=False)
            with VerticalScroll(id="source-body"):
                chunks = self.neighbours or [{"id": s.chunk_id, "text": s.text or "(the chunk is no longer indexed)",
                                              "start_line": s.start_line, "end_line": s.end_line}]  # fmt: skip
                for chunk in chunks:
                    picked = chunk.get("id") == s.chunk_id
                    yield Static(lines(chunk["start_line"], chunk["end_line"]), classes="chunk-lines picked" if picked else "chunk-lines", markup=False)
                    yield Static(chunk["text"].strip(), classes="chunk picked" if picked else "chunk context", markup=False)
        yield Footer()

    def on_mount(self) -> None:
        picked = self.query(".chunk.picked")
        if picked:
            self.call_after_refresh(picked.first().scroll_visible, animate=False, top=True)

    def action_edit(self) -> None:
        from textual.app import SuspendNotSupported

        editor = os.environ.get("VISUAL") or os.environ.get("EDITOR")
        path = Path(self.source.path)
        if not editor:
            self.notify("Set $EDITOR (or $VISUAL) to open files from here.", severity="warning")
            return
        if not path.is_file():
            self.notify(f"{path} no longer exists.", severity="error")
            return
        try:
            with self.app.suspend():
                code = subprocess.call([*shlex.split(editor), f"+{self.line or self.source.start_line}", str(path)])
        except SuspendNotSupported:
            self.notify("This terminal cannot hand the screen to an editor.", severity="error")
            return
        except OSError as exc:
            self.notify(f"Could not start {editor}: {exc.strerror}", severity="error")
            return
        if code:
            self.notify(f"{editor} exited with status {code}.", severity="warning")
