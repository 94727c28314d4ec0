"""Live stage display: retrieving, selecting (variance), learning (bar, loss sparkline), answering."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Label, ProgressBar, Sparkline

from ... import events as ev

STAGES = ("retrieving", "selecting", "learning", "answering")


class StageStatus(Vertical):
    """Shows each stage of a running ask as it starts and finishes."""

    def compose(self) -> ComposeResult:
        with Horizontal(id="stage-line"):
            for name in STAGES:
                yield Label(f"○ {name}", id=f"stage-{name}", classes="stage")
        with Horizontal(id="learn-line"):
            yield ProgressBar(total=1, show_eta=False, id="learn-bar")
            yield Label("", id="learn-label")
            yield Sparkline([], id="loss-spark")
        yield Label("", id="stage-detail")

    def reset(self) -> None:
        for name in STAGES:
            label = self.query_one(f"#stage-{name}", Label)
            label.update(f"○ {name}")
            label.set_classes("stage")
        self.query_one("#learn-bar", ProgressBar).update(total=1, progress=0)
        self.query_one("#learn-label", Label).update("")
        self.query_one("#loss-spark", Sparkline).data = []
        self.query_one("#stage-detail", Label).update("")
        self._losses: list[float] = []
        self._variances: list[float] = []

    def on_mount(self) -> None:
        self.reset()

    def show(self, event) -> None:
        if isinstance(event, ev.Stage):
            label = self.query_one(f"#stage-{event.name}", Label) if event.name in STAGES else None
            if label is None:
                return
            if event.done:
                label.update(f"✓ {event.name} {event.seconds:.1f}s")
                label.set_classes("stage done")
                if event.detail:
                    self.query_one("#stage-detail", Label).update(f"{event.name}: {event.detail}")
            else:
                label.update(f"● {event.name}…")
                label.set_classes("stage running")
        elif isinstance(event, ev.Selected):
            self._variances.append(event.variance)
            self.query_one("#stage-detail", Label).update(
                f"selecting: {event.rank} picked, variance {event.prior:.3f} → {event.variance:.3f}"
            )
        elif isinstance(event, ev.Step):
            self._losses.append(event.loss)
            self.query_one("#learn-bar", ProgressBar).update(total=event.n, progress=event.i)
            self.query_one("#learn-label", Label).update(f"step {event.i}/{event.n}  loss {event.loss:.3f}")
            self.query_one("#loss-spark", Sparkline).data = list(self._losses)
        elif isinstance(event, ev.Warning):
            self.query_one("#stage-detail", Label).update(f"⚠ {event.message}")
