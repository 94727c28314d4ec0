"""Settings: model, embedder, device (and what was detected), K, n, adaptive stop, learning, context."""

from __future__ import annotations

from pathlib import Path

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widgets import Button, Footer, Input, Label, Select, Static, Switch

from assistant.config import DEVICES
from assistant.tui.messages import Facts
from assistant.tui.widgets.top_bar import TopBar


def short(path: str) -> str:
    """A model's file or folder name (a folder named ``model`` is known by its parent)."""
    p = Path(path)
    return p.parent.name if p.name == "model" else p.name


def found_label(m) -> str:
    """One found model as the settings list shows it: name, architecture, size, trainable or not."""
    learn = "learns" if m.info.trainable else "answers only"
    return f"{m.name} · {m.info.arch} · {m.info.parameters / 1e6:.0f}M params · {m.info.quantisation} · {learn}"


class SettingsScreen(Screen):
    BINDINGS = [Binding("ctrl+s", "save", "Save")]

    def compose(self) -> ComposeResult:
        c = self.app.assistant.config
        yield TopBar("settings")
        with VerticalScroll(id="settings-form"):
            yield from self.row("model", Input(c.model, placeholder="default: SmolLM2-135M-Instruct Q4_1", id="set-model", compact=True),
                                "a .gguf file or a folder with one")  # fmt: skip
            yield from self.row("found", Select([], prompt="models on this machine…", id="set-found", compact=True),
                                "Ollama, LM Studio, GPT4All, HF cache, model_dirs")  # fmt: skip
            yield from self.row("embedder", Input(c.embedder, placeholder="default: all-MiniLM-L6-v2", id="set-embedder", compact=True),
                                "a folder with config.json")  # fmt: skip
            yield from self.row("device", Select([(d, d) for d in DEVICES], value=c.device, allow_blank=False, id="set-device", compact=True),
                                "detecting…", help_id="detected")  # fmt: skip
            yield from self.row("K candidates", Input(str(c.k), type="integer", id="set-k", compact=True), "pulled from the index for SIFT")
            yield from self.row("n picks", Input(str(c.n), type="integer", id="set-n", compact=True), "0: 16 on CPU, 50 on GPU")
            yield from self.row("adaptive stop", Switch(c.stop > 0, id="set-stop"), "stop when a pick cuts σ² by < 1%")
            yield from self.row("learning", Switch(c.learn, id="set-learn"), "train a LoRA on the picks")
            yield from self.row("context", Switch(c.context, id="set-context"), "put the picks in the prompt")
            yield Static("", id="model-status", markup=False)
            with Horizontal(id="settings-actions"):
                yield Button("Save to config.toml", variant="primary", id="save-settings", compact=True)
                yield Label("ctrl+s", classes="muted")
        yield Footer()

    @staticmethod
    def row(name: str, widget, help_text: str, help_id: str | None = None):
        with Horizontal(classes="setting"):
            yield Label(name, classes="setting-name")
            with Horizontal(classes="setting-field"):
                yield widget
            yield Label(help_text, classes="setting-help", id=help_id, markup=False)

    def on_mount(self) -> None:
        self.watch(self.app, "facts", self.show_facts)
        self.list_found_models()

    def list_found_models(self) -> None:
        """The same list as `assistant models`: headers only, so it is quick."""
        from assistant.models.discover import discover, parse_dirs

        found = discover(parse_dirs(self.app.assistant.config.model_dirs))
        options = [(found_label(m), str(m.info.path)) for m in found]
        self.query_one("#set-found", Select).set_options(options)

    def on_select_changed(self, event: Select.Changed) -> None:
        if event.select.id == "set-found" and event.value is not Select.BLANK:
            event.stop()
            self.query_one("#set-model", Input).value = str(event.value)

    def show_facts(self, facts: Facts | None) -> None:
        if not facts or facts.status is None:
            return
        using = facts.status.device or "?"
        devices = facts.devices or (using,)
        self.query_one("#detected", Label).update(f"found {', '.join(devices)}; using {using}")
        status = self.query_one("#model-status", Static)
        if facts.problem("model"):
            status.update(f"⚠ {facts.problem('model')}")
            status.set_classes("error")
        else:
            status.update(f"model: {short(facts.status.model or '')} · embedder: {short(facts.status.embedder or '')}")
            status.set_classes("muted")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.action_save()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_save()

    def action_save(self) -> None:
        from assistant.config import save_config

        c = self.app.assistant.config
        changes = {
            "model": self.query_one("#set-model", Input).value.strip(),
            "embedder": self.query_one("#set-embedder", Input).value.strip(),
            "device": self.query_one("#set-device", Select).value,
            "k": self.query_one("#set-k", Input).value or c.k,
            "n": self.query_one("#set-n", Input).value or 0,
            "stop": (c.stop or 0.01) if self.query_one("#set-stop", Switch).value else 0.0,
            "learn": self.query_one("#set-learn", Switch).value,
            "context": self.query_one("#set-context", Switch).value,
        }
        restart = {k for k in ("model", "embedder", "device") if changes[k] != getattr(c, k)}
        new = self.app.safely(save_config, c, **changes)
        if new is None:
            return
        self.app.assistant.config = new
        note = f" {', '.join(sorted(restart))}: takes effect after a restart." if restart else ""
        self.notify(f"Saved to {new.home / 'config.toml'}.{note}")
        self.app.load_status()
