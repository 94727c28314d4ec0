"""The chunks an answer learned from, in SIFT order, with a toggle to what plain NN would have picked."""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import DataTable, Static

from assistant.records import Pick

EIGHTHS = " ▏▎▍▌▋▊▉"


def bar(fraction: float, width: int = 6) -> str:
    """A horizontal bar in eighths of a cell: fine enough to tell 3% from 5%."""
    units = max(0, min(width * 8, round(fraction * width * 8)))
    full, part = divmod(units, 8)
    return ("█" * full + (EIGHTHS[part] if part else "")).ljust(width)


def location(path: str, start: int, end: int, width: int = 24, citation: str = "") -> str:
    """``name:lines`` or ``name, slide 4``; a long name keeps its start, which is how people recognise their files."""
    if citation:
        where, sep = citation[: max(8, width // 2)], ", "
    else:
        where, sep = (f"p{start}" if path.endswith(".pdf") and start == end else f"{start}-{end}"), ":"
    name = Path(path).name
    room = max(6, width - len(where) - len(sep))
    if len(name) > room:
        name = name[: room - 1] + "…"
    return f"{name}{sep}{where}"


def cite_numbers(sources: list[Pick]) -> list[int | None]:
    """The citation number of each pick: contexts are numbered over the unique picks, repeats share theirs."""
    first: dict[int, int] = {}
    numbers = []
    for s in sources:
        if s.chunk_id not in first and not s.repeat:
            first[s.chunk_id] = len(first) + 1
        numbers.append(first.get(s.chunk_id))
    return numbers


def find_citation(sources: list[Pick], n: int) -> Pick | None:
    """The source that ``[n]`` in an answer names, if any."""
    for source, cite in zip(sources, cite_numbers(sources)):
        if cite == n and not source.repeat:
            return source
    return None


class SourcesPanel(Vertical):
    """Rank, uncertainty reduction bar, file:lines and citation (↻ marks a repeat); the heading of the row in hand below."""

    BINDINGS = [
        Binding("n", "toggle_nn", "SIFT/NN"),
        Binding("1", "cite(1)", "Open [n]", key_display="1-9"),
        *[Binding(str(i), f"cite({i})", f"Open [{i}]", show=False) for i in range(2, 10)],
    ]

    class Opened(Message):
        """The user picked a source to read."""

        def __init__(self, source: Pick, cite: int | None) -> None:
            super().__init__()
            self.source = source
            self.cite = cite

    def __init__(self, *, id: str | None = None, classes: str = "") -> None:
        super().__init__(id=id, classes=f"sources-panel {classes}".strip())
        self.sources: list[Pick] = []
        self.nn: list[Pick] | None = None
        self.showing_nn = False
        self.marks: dict[int, str] = {}

    def compose(self) -> ComposeResult:
        yield DataTable(cursor_type="row", zebra_stripes=True, classes="source-table")
        yield Static("", classes="source-detail", markup=False)

    @property
    def table(self) -> DataTable:
        return self.query_one(DataTable)

    def on_mount(self) -> None:
        self.watch(self.app, "theme", lambda _: self._render_rows(), init=False)
        self._render_rows()

    def on_resize(self) -> None:
        self._render_rows()

    # ------------------------------------------------------------ data in

    def clear_sources(self) -> None:
        self.sources, self.nn, self.showing_nn, self.marks = [], None, False, {}
        self._render_rows()

    def add_source(self, source: Pick) -> None:
        self.sources.append(source)
        if not self.showing_nn:
            self._render_rows()

    def set_sources(self, sources: list[Pick], marks: dict[int, str] | None = None) -> None:
        self.sources, self.marks = list(sources), marks or {}
        self._render_rows()

    def set_nn(self, picks: list[Pick] | None) -> None:
        self.nn = picks
        self._render_rows()

    # ------------------------------------------------------------ rendering

    def _colour(self, name: str) -> str:
        return str(getattr(self.app.current_theme, name, None) or "cyan")

    def _render_rows(self) -> None:
        if not self.is_mounted:
            return
        table = self.table
        cursor = table.cursor_row
        table.clear(columns=True)
        width = max(self.size.width, 30)  # content width: what the columns and their padding share
        if self.showing_nn and self.nn is not None:
            self._render_nn(table, width)
        else:
            self._render_sift(table, width)
        if table.row_count:
            table.move_cursor(row=min(cursor, table.row_count - 1))
        self._show_detail()

    def _render_sift(self, table: DataTable, width: int) -> None:
        self.border_title = "Sources · SIFT order"
        self.border_subtitle = "n: vs NN" if self.nn else ""
        table.add_column("#", key="rank")
        table.add_column("σ² ↓", key="cut")
        table.add_column("source", key="source")
        table.add_column("ref", key="ref")
        cuts = [100 * s.variance_cut() for s in self.sources]
        top = max(cuts, default=0.0) or 1.0
        accent, warn = self._colour("accent"), self._colour("warning")
        for i, (s, cut, cite) in enumerate(zip(self.sources, cuts, cite_numbers(self.sources))):
            ref = Text(f"↻[{cite}]", style="dim") if s.repeat else Text(f"[{cite}]", style="bold")
            if s.rank in self.marks:
                ref.append(" ⚠", style=warn)
            cells = (
                Text(str(s.rank), style="dim"),
                Text.assemble((bar(cut / top, 5), accent), f"{cut:3.0f}%"),
                location(s.path, s.start_line, s.end_line, width - 23, s.citation),
                ref,
            )
            table.add_row(*cells, key=str(i))

    def _render_nn(self, table: DataTable, width: int) -> None:
        chosen = {s.chunk_id for s in self.sources}
        skipped = sum(1 for p in self.nn if p.chunk_id not in chosen)
        self.border_title = "Plain NN would pick"
        self.border_subtitle = f"{skipped} of {len(self.nn)} redundant · n: back"
        table.add_column("#", key="rank")
        table.add_column("sim", key="sim")
        table.add_column("source", key="source")
        table.add_column("", key="mark")
        for i, p in enumerate(self.nn):
            kept = p.chunk_id in chosen
            style = "" if kept else "dim"
            table.add_row(
                Text(str(p.rank), style="dim"),
                Text(f"{p.similarity:.2f}", style=style),
                Text(location(p.path, p.start_line, p.end_line, width - 19, p.citation), style=style),
                Text("✓" if kept else "✗ skip", style=self._colour("success") if kept else "dim"),
                key=f"nn{i}",
            )

    def _show_detail(self) -> None:
        detail = self.query_one(".source-detail", Static)
        pick = self._current()
        if pick is None:
            detail.update("SIFT's picks appear here." if not self.sources else "")
            return
        source, cite = pick
        if self.showing_nn:
            mark = f"✓ SIFT's [{cite}] · " if cite else "✗ skipped by SIFT, redundant · "
        else:
            mark = f"⚠ {self.marks[source.rank]} · " if source.rank in self.marks else ""
        detail.update(f"{mark}{source.heading or Path(source.path).name}\n{source.path}")

    def _current(self) -> tuple[Pick, int | None] | None:
        table = self.table
        if not table.row_count:
            return None
        index = table.cursor_row
        if self.showing_nn and self.nn is not None:
            pick = self.nn[index]
            numbers = dict(zip((s.chunk_id for s in self.sources), cite_numbers(self.sources)))
            return pick, numbers.get(pick.chunk_id)
        return self.sources[index], cite_numbers(self.sources)[index]

    # ------------------------------------------------------------ actions

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        event.stop()
        self._show_detail()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        pick = self._current()
        if pick is not None:
            self.post_message(self.Opened(*pick))

    def action_toggle_nn(self) -> None:
        if not self.nn:
            self.app.notify("Nothing to compare yet: the NN comparison comes with the next answer.")
            return
        self.showing_nn = not self.showing_nn
        self._render_rows()

    def action_cite(self, n: int) -> None:
        self.open_citation(n)

    def open_citation(self, n: int, sources: list[Pick] | None = None) -> bool:
        """Open source [n] of this panel's answer (or of ``sources``, an earlier answer's).

        Screens call this from their own handlers, where a message bubbling up from here would stop at
        the screen (Textual stops at the pump that is handling it), so it goes straight to the app."""
        source = find_citation(self.sources if sources is None else sources, n)
        if source is None:
            self.app.notify(f"No source [{n}] in this answer.", severity="warning")
            return False
        self.app.post_message(self.Opened(source, n))
        return True

    def unique_count(self) -> int:
        return sum(1 for s in self.sources if not s.repeat)
