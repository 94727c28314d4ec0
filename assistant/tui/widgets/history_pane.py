"""Past sessions: a searchable table; enter opens one."""

from __future__ import annotations

import json

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import DataTable, Input


class HistoryPane(Vertical):
    class Open(Message):
        def __init__(self, session_id: int) -> None:
            super().__init__()
            self.session_id = session_id

    def compose(self) -> ComposeResult:
        yield Input(placeholder="search questions and answers…", id="history-search")
        yield DataTable(cursor_type="row", zebra_stripes=True, id="history-table")

    def on_mount(self) -> None:
        self.query_one(DataTable).add_columns("id", "date", "question", "sources", "device", "total", "status")

    def load(self, rows: list[dict]) -> None:
        table = self.query_one(DataTable)
        table.clear()
        for r in rows:
            total = json.loads(r["timings_json"]).get("total")
            table.add_row(str(r["id"]), r["created_at"][:16].replace("T", " "), r["question"][:40], str(r["sources"]),
                          r["device"], f"{total:.1f}s" if total else "", r["status"], key=str(r["id"]))  # fmt: skip
        table.border_title = f"{len(rows)} sessions"

    def on_input_changed(self, event: Input.Changed) -> None:
        self.refresh_rows()

    def refresh_rows(self) -> None:
        search = self.query_one("#history-search", Input).value.strip() or None
        self.load(self.app.assistant.store.sessions(search))

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        self.post_message(self.Open(int(event.row_key.value)))
