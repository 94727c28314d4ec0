"""The command palette (ctrl+p): every action and screen of the app, searchable."""

from __future__ import annotations

from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider

ACTIONS = [
    ("Ask: go to the chat", "show('ask')", "F1 · ask a question about your documents"),
    ("History: past sessions", "show('history')", "F2 · browse, search and reopen past answers"),
    ("Index: indexed folders", "show('index')", "F3 · folders, counts, last run"),
    ("Settings", "show('settings')", "F4 · model, embedder, device, K, n, learning, context"),
    ("Index a folder", "add_folder", "Type a folder to add to the index"),
    ("Re-index all folders", "reindex", "Read what changed in every indexed folder"),
    ("Cancel the running job", "cancel", "Esc · stop learning, answering or indexing"),
    ("Sources: SIFT picks / plain NN", "toggle_nn", "n · what nearest neighbours would have picked, redundant ones greyed"),
    ("Open the latest session", "open_latest", "Its answer, sources, uncertainty curve and adapter"),
    ("Search history", "search_history", "/ · find a past question or answer"),
    ("Save settings", "save_settings", "ctrl+s · write config.toml"),
    ("Toggle dark / light theme", "toggle_theme", "ctrl+t"),
    ("Quit", "quit", "ctrl+q"),
]


class AssistantCommands(Provider):
    """Static actions, plus one command per source of the answer on screen."""

    def _commands(self) -> list[tuple[str, str, str]]:
        commands = list(ACTIONS)
        for cite, source in self.app.current_citations():
            commands.append((f"Open source [{cite}] {source.location()}",
                             f"open_citation({cite})", source.heading or source.path))  # fmt: skip
        return commands

    async def discover(self) -> Hits:
        for name, action, help_text in self._commands():
            yield DiscoveryHit(name, partial(self.app.run_action, action), help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for name, action, help_text in self._commands():
            score = matcher.match(name)
            if score > 0:
                yield Hit(score, matcher.highlight(name), partial(self.app.run_action, action), help=help_text)
