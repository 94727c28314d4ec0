"""One source chunk with the text around it and its citation; e opens the file ($EDITOR for text, else the system opener)."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Footer, Static

from assistant.records import Pick


def lines(start: int | None, end: int | None, citation: str = "") -> str:
    """The place a person looks for: the citation (page, slide, chapter, message, cell) or the lines."""
    if citation:
        return citation
    return "" if start is None else f"lines {start}-{end}"


def system_opener(path: Path) -> list[str]:
    """The command that opens a file the way the desktop would (a .docx in the word processor)."""
    if sys.platform == "darwin":
        return ["open", str(path)]
    return ["xdg-open", str(path)]


class SourceScreen(ModalScreen):
    BINDINGS = [Binding("escape,q", "dismiss", "Close"), Binding("e", "edit", "Open the file")]

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
            where = f"line {self.line}" if self.line else lines(s.start_line, s.end_line, s.citation)
            yield Static(f"{ref}{Path(s.path).name} · {where} · {s.heading}".rstrip(" ·"),
                         classes="modal-title", markup=False)  # fmt: skip
            yield Static(s.path, id="source-path", markup=False)
            with VerticalScroll(id="source-body"):
                chunks = self.neighbours or [{"id": s.chunk_id, "text": s.text or "(the chunk is no longer indexed)",
                                              "start_line": s.start_line, "end_line": s.end_line, "citation": s.citation}]  # fmt: skip
                for chunk in chunks:
                    picked = chunk.get("id") == s.chunk_id
                    yield Static(lines(chunk["start_line"], chunk["end_line"], chunk.get("citation", "")), classes="chunk-lines picked" if picked else "chunk-lines", markup=False)
                    yield Static(chunk["text"].strip(), classes="chunk picked" if picked else "chunk context", markup=False)
        yield Footer()

    def on_mount(self) -> None:
        picked = self.query(".chunk.picked")
        if picked:
            self.call_after_refresh(picked.first().scroll_visible, animate=False, top=True)

    def action_edit(self) -> None:
        from assistant.index.readers import reader_for

        path = Path(self.source.path)
        if not path.is_file():
            self.notify(f"{path} no longer exists.", severity="error")
            return
        reader = reader_for(path, include_code=True)
        if reader is not None and not reader.editable:
            self._open_with_system(path)
            return
        self._open_in_editor(path)

    def _open_with_system(self, path: Path) -> None:
        """A document that is not plain text (docx, PDF, EPUB, ...) opens in its desktop application."""
        command = system_opener(path)
        try:
            subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                             start_new_session=True)  # fmt: skip
        except OSError as exc:
            self.notify(f"Could not start {command[0]}: {exc.strerror}", severity="error")
            return
        self.notify(f"Opening {path.name} ({self.source.location()})")

    def _open_in_editor(self, path: Path) -> None:
        from textual.app import SuspendNotSupported

        editor = os.environ.get("VISUAL") or os.environ.get("EDITOR")
        if not editor:
            self.notify("Set $EDITOR (or $VISUAL) to open files from here.", severity="warning")
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
