"""History: past sessions in a searchable table; Enter opens one."""

from __future__ import annotations


from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Input, Static

from assistant.tui.messages import OpenSession
from assistant.tui.widgets.top_bar import TopBar

STATUS_STYLE = {"complete": "green", "interrupted": "yellow"}


def when(created_at: str) -> str:
    return created_at[:16].replace("T", " ")


class HistoryScreen(Screen):
    BINDINGS = [Binding("slash", "search", "Search")]
    AUTO_FOCUS = "#history-table"

    def compose(self) -> ComposeResult:
        yield TopBar("history")
        yield Input(placeholder="Search questions and answers…  (/)", id="history-search")
        yield Static("", id="history-empty", markup=False)
        yield DataTable(cursor_type="row", zebra_stripes=True, id="history-table")
        yield Footer()

    def on_screen_resume(self) -> None:
        self.refresh_rows()

    def on_resize(self) -> None:
        self.refresh_rows()

    def action_search(self) -> None:
        self.query_one("#history-search", Input).focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        self.refresh_rows()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.query_one(DataTable).focus()

    def refresh_rows(self) -> None:
        if not self.is_mounted:
            return
        search = self.query_one("#history-search", Input).value.strip() or None
        rows = self.app.safely(self.app.assistant.library.history, search)
        if rows is None:
            return
        table = self.query_one(DataTable)
        table.clear(columns=True)
        room = max(16, self.size.width - 57)  # what the id, when, src, time and status columns leave
        table.add_column("id", key="id")
        table.add_column("when", key="when")
        table.add_column("question", key="question", width=room)
        table.add_column("src", key="sources")
        table.add_column("time", key="time")
        table.add_column("status", key="status")
        for r in rows:
            question = r.question if len(r.question) <= room else r.question[: room - 1] + "…"
            table.add_row(
                Text(str(r.id), style="dim"), when(r.created_at), question, str(r.sources),
                f"{r.seconds:.1f}s" if r.seconds else "", Text(r.status, style=STATUS_STYLE.get(r.status, "")),
                key=str(r.id),
            )  # fmt: skip
        empty = self.query_one("#history-empty", Static)
        empty.display = not rows
        if search:
            empty.update(f"No session matches “{search}”.")
        else:
            empty.update("No sessions yet. Ask something on the Ask screen (F1); every answer is kept here.")

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.post_message(OpenSession(int(event.row_key.value)))

