"""One past session: answer, sources, uncertainty curve, adapter; re-ask with its adapter, export, forget."""

from __future__ import annotations

from pathlib import Path

from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Footer, Input, Label, Markdown, Sparkline

from ..messages import AskRequest
from ..widgets.sources import SourcesPanel
from .confirm import ConfirmScreen


def sources_of(session: dict) -> list[dict]:
    return [
        {"rank": s["rank"], "chunk_id": s["chunk_id"], "path": s["document_path"], "start_line": s["start_line"],
         "end_line": s["end_line"], "heading": s["heading"], "variance": s["variance_after"], "repeat": bool(s["repeat"]),
         "text": s["text"], "similarity": s["similarity"]}
        for s in session["selections"]
    ]  # fmt: skip


class SessionScreen(ModalScreen):
    BINDINGS = [
        ("escape,q", "dismiss", "Close"),
        ("r", "reask", "Re-ask with adapter"),
        ("x", "export", "Export"),
        ("f", "forget", "Forget"),
    ]

    def __init__(self, assistant, session: dict) -> None:
        super().__init__()
        self.assistant = assistant
        self.session = session

    def compose(self) -> ComposeResult:
        s = self.session
        with VerticalScroll(id="session-body"):
            yield Label(f"Session {s['id']} · {s['created_at'][:16].replace('T', ' ')} · {s['status']} · {s['device']}", id="session-title")
            yield Label(f"Q: {s['question']}", id="session-question")
            yield Markdown(s["answer"] or "_(no answer)_", id="session-answer")
            if s.get("note"):
                yield Label(f"note: {s['note']}", classes="warning")
            curve = [s["prior"] or 0.0] + [x["variance_after"] for x in s["selections"]]
            yield Label(f"Uncertainty {curve[0]:.3f} → {curve[-1]:.3f}")
            yield Sparkline(curve, id="session-curve")
            yield SourcesPanel(id="session-sources")
            yield Label(self._adapter_text(), id="session-adapter")
            yield Input(placeholder="export to folder… (enter)", id="export-dir", classes="hidden")
        yield Footer()

    def _adapter_text(self) -> str:
        a = self.session.get("adapter")
        if not a:
            return "No adapter (learning was off or failed)."
        if a.get("forgotten_at"):
            return f"Adapter forgotten {a['forgotten_at']}: {a['forgotten_reason']}"
        return f"Adapter r={a['rank']} alpha={a['alpha']:g} steps={a['steps']} {a['bytes'] / 1e6:.2f} MB sha256 {a['sha256'][:12]}"

    def on_mount(self) -> None:
        self.query_one(SourcesPanel).set_sources(sources_of(self.session), self.session["prior"] or 0.0)

    def on_sources_panel_opened(self, event: SourcesPanel.Opened) -> None:
        from .source import SourceScreen

        self.app.push_screen(SourceScreen(event.source, self.assistant.store.neighbours(event.source["chunk_id"])))

    def action_reask(self) -> None:
        a = self.session.get("adapter")
        if not a or a.get("forgotten_at"):
            self.app.notify("This session has no adapter to re-use.", severity="warning")
            return
        self.dismiss()
        self.app.post_message(AskRequest(self.session["question"], adapter=self.session["id"]))

    def action_export(self) -> None:
        box = self.query_one("#export-dir", Input)
        box.remove_class("hidden")
        box.focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        from ...errors import AssistantError
        from ...review import export_session

        try:
            written = export_session(self.assistant.store, self.session["id"], Path(event.value).expanduser())
        except (AssistantError, OSError) as exc:
            self.app.notify(str(exc), severity="error")
            return
        self.app.notify(f"Exported {len(written)} files to {event.value}")
        event.input.add_class("hidden")

    def action_forget(self) -> None:
        def done(yes: bool | None) -> None:
            if yes:
                from ...review import forget_session

                forget_session(self.assistant.store, self.session["id"])
                self.app.notify(f"Forgot session {self.session['id']} and its adapter.")
                self.dismiss()

        self.app.push_screen(ConfirmScreen(f"Forget session {self.session['id']} and delete its adapter?"), done)
