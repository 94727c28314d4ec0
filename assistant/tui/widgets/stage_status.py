"""Live stages of a question: retrieving, selecting (variance going down), learning (bar, loss), answering."""

from __future__ import annotations

import time

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Label, ProgressBar, Sparkline

from assistant import events as ev
from assistant.records import StageName

STAGES = ("retrieving", "selecting", "learning", "answering")


class StageStatus(Vertical):
    """Each stage as it starts and finishes, with the numbers that move while it runs."""

    def compose(self) -> ComposeResult:
        with Horizontal(id="stage-line"):
            for name in STAGES:
                yield Label(f"○ {name}", id=f"stage-{name}", classes="stage")
        with Horizontal(id="meter-line"):
            yield Label("σ²", id="variance-label", classes="meter-label")
            yield Sparkline([], id="variance-spark", classes="spark")
            yield ProgressBar(total=1, show_eta=False, show_percentage=False, id="learn-bar")
            yield Label("", id="learn-label", classes="meter-label")
            yield Sparkline([], id="loss-spark", classes="spark hidden")
        yield Label("", id="stage-detail", markup=False)

    def on_mount(self) -> None:
        self.reset()
        self.set_interval(0.25, self._tick)

    def reset(self) -> None:
        self._running: str | None = None
        self._started = 0.0
        self._variances: list[float] = []
        self._losses: list[float] = []
        for name in STAGES:
            label = self.query_one(f"#stage-{name}", Label)
            label.update(f"○ {name}")
            label.set_classes("stage")
        self.query_one("#learn-bar", ProgressBar).update(total=1, progress=0)
        self.query_one("#learn-label", Label).update("")
        self.query_one("#variance-label", Label).update("σ²")
        self.query_one("#variance-spark", Sparkline).data = []
        self.query_one("#loss-spark", Sparkline).data = []
        self.query_one("#loss-spark", Sparkline).add_class("hidden")  # a flat line until there is a loss
        self.query_one("#stage-detail", Label).update("")

    def _tick(self) -> None:
        """The running stage shows its elapsed time, so a long step never looks frozen."""
        if self._running:
            elapsed = time.monotonic() - self._started
            self.query_one(f"#stage-{self._running}", Label).update(f"● {self._running} {elapsed:.1f}s")

    def _detail(self, text: str) -> None:
        self.query_one("#stage-detail", Label).update(text)

    def stopped(self, why: str) -> None:
        """The run ended early (cancelled or failed): the running stage says so."""
        if self._running:
            label = self.query_one(f"#stage-{self._running}", Label)
            label.update(f"✗ {self._running}")
            label.set_classes("stage failed")
            self._running = None
        self._detail(why)

    def show(self, event) -> None:
        if isinstance(event, ev.Stage):
            if event.name not in STAGES:
                return
            label = self.query_one(f"#stage-{event.name}", Label)
            if event.skipped:
                label.update(f"– {event.name} skipped")
                label.set_classes("stage skipped")
                self._detail(f"{event.name} skipped: {event.detail}")
            elif event.done:
                self._running = None
                label.update(f"✓ {event.name} {event.seconds or 0:.1f}s")
                label.set_classes("stage done")
                if event.detail:
                    self._detail(f"{event.name}: {event.detail}")
            else:
                if event.name == StageName.ANSWERING and "done" not in self.query_one("#stage-learning", Label).classes:
                    skipped = self.query_one("#stage-learning", Label)
                    skipped.update("– learning skipped")
                    skipped.set_classes("stage skipped")
                if event.name == StageName.LEARNING:
                    self.query_one("#learn-bar", ProgressBar).update(total=None)  # pulses until the first step
                self._running, self._started = event.name, time.monotonic()
                label.update(f"● {event.name}")
                label.set_classes("stage running")
        elif isinstance(event, ev.Selected):
            pick = event.pick
            if not self._variances:
                self._variances.append(pick.prior)
            self._variances.append(pick.variance)
            self.query_one("#variance-label", Label).update(f"σ² {self._variances[0]:.2f}→{pick.variance:.2f}")
            self.query_one("#variance-spark", Sparkline).data = list(self._variances)
        elif isinstance(event, ev.Step):
            self._losses.append(event.loss)
            self.query_one("#learn-bar", ProgressBar).update(total=event.n, progress=event.i)
            self.query_one("#learn-label", Label).update(f"step {event.i}/{event.n} · loss {event.loss:.2f}")
            spark = self.query_one("#loss-spark", Sparkline)
            spark.data = list(self._losses)
            spark.remove_class("hidden")
        elif isinstance(event, ev.Warning):
            self._detail(f"⚠ {event.message}")
