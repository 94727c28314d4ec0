"""The sources an answer learned from, in SIFT order, with a toggle to what plain NN would pick."""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual.message import Message
from textual.widgets import DataTable

from ...render import reduction_pct


def bar(fraction: float, width: int = 8) -> str:
    filled = max(0, min(width, round(fraction * width)))
    return "█" * filled + "░" * (width - filled)


class SourcesPanel(DataTable):
    """Rows: rank, file:lines, heading, uncertainty reduction bar, repeat marker."""

    BINDINGS = [("n", "toggle_nn", "SIFT/NN")]

    class Opened(Message):
        """The user picked a source to read."""

        def __init__(self, source: dict) -> None:
            super().__init__()
            self.source = source

    def __init__(self, **kwargs) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)
        self.sources: list[dict] = []
        self.nn: list[dict] = []
        self.prior = 0.0
        self.showing_nn = False

    def on_mount(self) -> None:
        self.add_columns("#", "uncertainty ↓", "source", "", "heading")

    def clear_sources(self) -> None:
        self.sources, self.nn, self.prior, self.showing_nn = [], [], 0.0, False
        self.clear()
        self.border_title = "Sources"

    def add_source(self, source: dict, prior: float) -> None:
        self.prior = prior
        self.sources.append(source)
        if not self.showing_nn:
            self._add_row(source, len(self.sources) - 1)

    def set_sources(self, sources: list[dict], prior: float) -> None:
        self.sources, self.prior = list(sources), prior
        self._render_rows()

    def set_nn(self, picks: list[dict]) -> None:
        self.nn = picks

    def _add_row(self, s: dict, index: int) -> None:
        prev = self.sources[index - 1]["variance"] if index else self.prior
        cut = reduction_pct(prev, s["variance"], self.prior) / 100
        self.add_row(
            str(s["rank"]), f"{bar(cut, 6)} {100 * cut:4.1f}%", f"{Path(s['path']).name}:{s['start_line']}-{s['end_line']}",
            "↻" if s.get("repeat") else "", (s.get("heading") or "")[:24], key=str(index),
        )  # fmt: skip

    def _render_rows(self) -> None:
        self.clear()
        if self.showing_nn:
            chosen = {s["chunk_id"] for s in self.sources}
            self.border_title = "What plain NN would pick (grey: redundant, skipped by SIFT)"
            for i, s in enumerate(self.nn):
                style = "" if s["chunk_id"] in chosen else "dim strike"
                self.add_row(*(Text(v, style=style) for v in (str(s["rank"]), f"sim {s['similarity']:.3f}",
                             f"{Path(s['path']).name}:{s['start_line']}-{s['end_line']}", "" if s["chunk_id"] in chosen else "✗",
                             (s.get("heading") or "")[:24])), key=f"nn{i}")  # fmt: skip
        else:
            self.border_title = "Sources (SIFT order)"
            for i, s in enumerate(self.sources):
                self._add_row(s, i)

    def action_toggle_nn(self) -> None:
        if not self.nn:
            self.app.notify("No NN comparison yet: ask a question first.")
            return
        self.showing_nn = not self.showing_nn
        self._render_rows()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        key = event.row_key.value or ""
        pool = self.nn if key.startswith("nn") else self.sources
        index = int(key.removeprefix("nn"))
        if 0 <= index < len(pool):
            self.post_message(self.Opened(pool[index]))
