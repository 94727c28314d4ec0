"""One past session: answer, sources, uncertainty curve and adapter; re-ask through its adapter, export, forget."""

from __future__ import annotations

from pathlib import Path

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Footer, Input, Label, Markdown, Sparkline, Static

from assistant.tui.messages import AskRequest, SessionsChanged
from assistant.tui.widgets.conversation import link_citations
from assistant.records import Session
from assistant.tui.widgets.sources import SourcesPanel
from assistant.tui.screens.confirm import ConfirmScreen
from assistant.tui.screens.history import when


def comparison_text(session: Session) -> str:
    """Without learning, then with it; ▸ marks a sentence the other answer does not have."""
    from rich.markup import escape

    from assistant.answer.compare import compare_answers

    if session.without_adapter is None:
        return ""
    comparison = compare_answers(session.answer, session.without_adapter)

    def block(title: str, lines) -> str:
        body = "\n".join(f"[b]▸ {escape(l.text)}[/b]" if l.changed else f"  {escape(l.text)}" for l in lines) or "  (empty)"
        return f"[b]{title}[/b]\n{body}"

    recipe = session.adapter.recipe if session.adapter else "adapter"
    same = "" if comparison.changed else "\n[dim]Learning did not change this answer.[/dim]"
    return block("Without learning", comparison.plain) + "\n\n" + block(f"With learning ({recipe})", comparison.learned) + same


def adapter_text(session: Session) -> tuple[str, str]:
    a = session.adapter
    if not a:
        return "No adapter: learning was off, failed or interrupted.", "muted"
    if not a.usable:
        return f"Adapter forgotten {when(a.forgotten_at)}: {a.forgotten_reason or ''}", "warning"
    return f"Adapter  LoRA r={a.rank} α={a.alpha:g} · {a.steps} steps · {a.bytes / 1e6:.1f} MB · sha256 {a.sha256[:12]}", ""


class SessionScreen(ModalScreen):
    BINDINGS = [
        Binding("escape,q", "dismiss", "Close"),
        Binding("r", "reask", "Re-ask with adapter"),
        Binding("x", "export", "Export"),
        Binding("f", "forget", "Forget"),
        Binding("c", "compare", "Compare without learning"),
    ]

    def __init__(self, session: Session, changed: dict[int, str] | None = None) -> None:
        super().__init__()
        self.session = session
        self.changed = changed or {}

    def compose(self) -> ComposeResult:
        s = self.session
        total = s.timings.get("total")
        with Vertical(id="session-box", classes="modal-box"):
            yield Static(
                f"Session {s.id} · {when(s.created_at)} · {s.status} · {s.device}" + (f" · {total:.1f}s" if total else ""),
                classes="modal-title", markup=False,
            )  # fmt: skip
            with VerticalScroll(id="session-body"):
                yield Static(f"› {s.question}", classes="question", markup=False)
                answer = link_citations((s.answer or "").strip(), len(s.sources())) or "*(no answer)*"
                yield Markdown(answer, classes="answer", open_links=False)
                if s.note:
                    yield Static(f"⚠ {s.note}", classes="meta warning", markup=False)
                curve = [s.prior or 0.0] + [p.variance for p in s.picks]
                with Horizontal(id="session-curve-line"):
                    cut = 100 * (1 - curve[-1] / curve[0]) if curve[0] else 0.0
                    yield Label(f"Uncertainty σ² {curve[0]:.2f} → {curve[-1]:.2f} (−{cut:.0f}%)", id="session-curve-label")
                    yield Sparkline(curve, id="session-curve")
                yield SourcesPanel(id="session-sources")
                text, kind = adapter_text(s)
                yield Static(text, id="session-adapter", classes=kind, markup=False)
                yield Static(comparison_text(s), id="session-compare", classes="" if s.without_adapter is not None else "hidden")
                if self.changed:
                    yield Static(f"⚠ {len(self.changed)} source(s) changed or vanished since this answer.", classes="warning")
            yield Input(placeholder="Export to folder, e.g. ~/exports/heron  (enter)", id="export-dir", classes="hidden")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(SourcesPanel).set_sources(self.session.picks, self.changed)

    def on_markdown_link_clicked(self, event: Markdown.LinkClicked) -> None:
        event.stop()
        if event.href.startswith("cite:"):
            self.query_one(SourcesPanel).open_citation(int(event.href.removeprefix("cite:")))

    def _adapter_ready(self, missing: str) -> bool:
        """The session's adapter can be used now; otherwise say why (``missing``, or the busy model)."""
        a = self.session.adapter
        if not a or not a.usable:
            self.notify(missing, severity="warning")
            return False
        if self.app.busy:
            self.notify(f"Still {self.app.busy}: wait, or press Esc to cancel.", severity="warning")
            return False
        return True

    def action_reask(self) -> None:
        if self._adapter_ready("This session has no adapter to re-use."):
            self.dismiss()
            self.app.post_message(AskRequest(self.session.question, adapter=self.session.id))

    def action_compare(self) -> None:
        if not self._adapter_ready("This session has no adapter: there is nothing learning changed to compare."):
            return
        self.notify("Answering again without the adapter…")
        self.run_worker(self._compare, thread=True, exclusive=True, group="compare", exit_on_error=False)

    def _compare(self) -> None:
        from assistant.errors import AssistantError

        try:
            session = self.app.assistant.compare(self.session.id)
        except AssistantError as exc:
            self.app.call_from_thread(self.notify, str(exc), severity="error")
            return
        self.app.call_from_thread(self._show_comparison, session)

    def _show_comparison(self, session: Session) -> None:
        self.session = session
        panel = self.query_one("#session-compare", Static)
        panel.update(comparison_text(session))
        panel.remove_class("hidden")
        panel.scroll_visible()

    def action_export(self) -> None:
        box = self.query_one("#export-dir", Input)
        box.remove_class("hidden")
        box.focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        target = event.value.strip()
        if not target:
            return
        written = self.app.safely(self.app.assistant.library.export, self.session.id, Path(target).expanduser())
        if written is not None:
            self.notify(f"Exported session {self.session.id}: {len(written)} files in {target}")
            event.input.add_class("hidden")
            self.query_one(SourcesPanel).table.focus()

    def action_forget(self) -> None:
        def decided(yes: bool | None) -> None:
            if not yes:
                return
            if self.app.safely(self.app.assistant.library.forget, self.session.id) is not None:
                self.notify(f"Forgot session {self.session.id} and deleted its adapter.")
                self.app.post_message(SessionsChanged())
                self.dismiss()

        self.app.push_screen(ConfirmScreen(f"Forget session {self.session.id} and delete its adapter?\nThis cannot be undone."), decided)
