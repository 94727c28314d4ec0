"""The command palette: every action of the app, searchable."""

from __future__ import annotations

from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider

ACTIONS = [
    ("Ask a question", "show_tab('ask')", "Go to the chat"),
    ("History", "show_tab('history')", "Browse past sessions"),
    ("Index", "show_tab('index')", "Indexed folders, add or re-index"),
    ("Settings", "show_tab('settings')", "Models, device, K, n, learning, context"),
    ("Cancel the running question", "cancel", "Stop learning or answering"),
    ("Toggle SIFT / NN sources", "toggle_nn", "Show what plain nearest neighbours would pick"),
    ("Re-index all folders", "reindex", "Incremental re-index of every indexed folder"),
    ("Toggle dark / light theme", "toggle_theme", "Switch between the dark and the light theme"),
    ("Quit", "quit", "Leave the app"),
]


class AssistantCommands(Provider):
    async def discover(self) -> Hits:
        for name, action, help_text in ACTIONS:
            yield DiscoveryHit(name, partial(self.app.run_action, action), help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for name, action, help_text in ACTIONS:
            score = matcher.match(name)
            if score > 0:
                yield Hit(score, matcher.highlight(name), partial(self.app.run_action, action), help=help_text)
