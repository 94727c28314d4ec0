"""Model, embedder, device (and what was detected), K, n, adaptive stop, learning, context: saved to config.toml."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Grid, VerticalScroll
from textual.widgets import Button, Input, Label, Select, Switch


class SettingsPane(VerticalScroll):
    def compose(self) -> ComposeResult:
        c = self.app.assistant.config
        with Grid(id="settings-grid"):
            yield Label("model (.gguf)")
            yield Input(c.model, placeholder="default: SmolLM2-135M-Instruct Q4_1", id="set-model")
            yield Label("embedder folder")
            yield Input(c.embedder, placeholder="default: all-MiniLM-L6-v2", id="set-embedder")
            yield Label("device")
            yield Select([(d, d) for d in ("auto", "cuda", "mps", "cpu")], value=c.device, allow_blank=False, id="set-device")
            yield Label("K candidates")
            yield Input(str(c.k), type="integer", id="set-k")
            yield Label("n picks (0 = auto)")
            yield Input(str(c.n), type="integer", id="set-n")
            yield Label("adaptive stop")
            yield Switch(c.stop > 0, id="set-stop")
            yield Label("learning")
            yield Switch(c.learn, id="set-learn")
            yield Label("context")
            yield Switch(c.context, id="set-context")
        yield Label("detected devices: …", id="detected")
        yield Button("Save to config.toml", variant="primary", id="save-settings")

    def show_detected(self, facts: dict) -> None:
        self.query_one("#detected", Label).update(
            f"detected devices: {', '.join(facts.get('devices', [facts.get('device', '?')]))} · using {facts.get('device', '?')}"
        )

    def on_button_pressed(self, event: Button.Pressed) -> None:
        from ...config import save_config
        from ...errors import AssistantError

        c = self.app.assistant.config
        try:
            changes = {
                "model": self.query_one("#set-model", Input).value.strip(),
                "embedder": self.query_one("#set-embedder", Input).value.strip(),
                "device": self.query_one("#set-device", Select).value,
                "k": int(self.query_one("#set-k", Input).value or c.k),
                "n": int(self.query_one("#set-n", Input).value or 0),
                "stop": (c.stop or 0.01) if self.query_one("#set-stop", Switch).value else 0.0,
                "learn": self.query_one("#set-learn", Switch).value,
                "context": self.query_one("#set-context", Switch).value,
            }
            self.app.assistant.config = save_config(c, **changes)
        except (AssistantError, ValueError) as exc:
            self.app.notify(str(exc), severity="error")
            return
        self.app.notify("Settings saved to config.toml. Model and device changes apply on restart.")
