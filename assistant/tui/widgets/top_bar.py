"""The one-line bar on top of every main screen: the screens with their keys, and what is indexed."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Static

from assistant.tui.messages import Facts

SCREENS = (("f1", "ask", "Ask"), ("f2", "history", "History"), ("f3", "index", "Index"), ("f4", "settings", "Settings"))


def summary(facts: Facts | None) -> tuple[str, str]:
    """(text, css class) for the status corner: counts and device, or what is wrong."""
    if facts is None:
        return "loading…", "muted"
    if facts.error or facts.status is None:
        return "⚠ " + facts.error, "error"
    if facts.problem("model"):
        return "⚠ model missing · F4", "error"
    if facts.problem("device"):
        return "⚠ device unavailable · F4", "error"
    if not facts.status.documents:
        return "no index yet · F3", "warning"
    return f"{facts.status.documents} docs · {facts.status.device}", "muted"


class NavTab(Static):
    """One screen's name and key; a click switches to it."""

    def __init__(self, key: str, mode: str, label: str, active: bool) -> None:
        super().__init__(f"{key.upper()} {label}", classes="nav-tab -active" if active else "nav-tab")
        self.mode = mode

    def on_click(self) -> None:
        self.app.switch_mode(self.mode)


class TopBar(Horizontal):
    def __init__(self, active: str) -> None:
        super().__init__(id="top-bar")
        self.active = active

    def compose(self) -> ComposeResult:
        yield Static("◆ assistant", id="brand")
        for key, mode, label in SCREENS:
            yield NavTab(key, mode, label, mode == self.active)
        yield Static("", id="facts", markup=False)

    def on_mount(self) -> None:
        self.watch(self.app, "facts", self.show_facts)

    def show_facts(self, facts: Facts | None) -> None:
        text, kind = summary(facts)
        corner = self.query_one("#facts", Static)
        corner.update(text)
        corner.set_classes(kind)
