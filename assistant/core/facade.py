"""``Assistant``: the small facade the CLI, the TUI and the server call. It only wires the parts."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path

from assistant.config import Config
from assistant.core.asker import Asker, AskOptions, Explanation
from assistant.core.library import Library
from assistant.core.models import Models
from assistant.errors import AssistantError
from assistant.events import Event
from assistant.index.indexer import Indexer
from assistant.records import Problem, ProblemKind, Status
from assistant.storage.catalog import Catalog


class Assistant:
    """The headless core: ``models`` (lazy, warm), ``indexer``, ``asker`` and ``library``."""

    def __init__(self, config: Config):
        self.config = config
        self.models = Models(config)
        self.catalog = Catalog(config, lambda: self.models.embedder)
        self.indexer = Indexer(config, self.models, self.catalog)
        self.asker = Asker(config, self.models, self.catalog)
        self.library = Library(self.catalog)

    @property
    def store(self):
        return self.catalog.store

    def index(self, paths: list[Path], *, prune: bool = True, rebuild: bool = False) -> Iterator[Event]:
        return self.indexer.index(paths, prune=prune, rebuild=rebuild)

    def ask(self, question: str, options: AskOptions | None = None, *, cancel: threading.Event | None = None,
            **overrides) -> Iterator[Event]:  # fmt: skip
        """``overrides`` are ``AskOptions`` fields, for callers that pass a few by name."""
        return self.asker.ask(question, options or AskOptions(**overrides), cancel)

    def compare(self, session_id: int) -> Session:
        """The session's answer without its adapter, from the same prompt (``ask --compare`` after the fact)."""
        return self.asker.compare(session_id)

    def explain(self, question: str, **options) -> Explanation:
        return self.asker.explain(question, **options)

    def status(self) -> Status:
        counts = self.store.counts()
        problems: list[Problem] = []
        model = embedder = device = None
        chat_template = ""
        try:
            model = str(self.models.gguf_path)
            from assistant.models.chat_template import choose

            chat_template = choose(self.models.gguf_path).label
        except AssistantError as exc:
            problems.append(Problem(ProblemKind.MISSING, "model", str(exc)))
        try:
            from assistant.models.locate import resolve_embedder

            embedder = str(resolve_embedder(self.config.embedder))
        except AssistantError as exc:
            problems.append(Problem(ProblemKind.MISSING, "embedder", str(exc)))
        try:
            device = self.models.device
        except AssistantError as exc:  # status still reports the rest when the configured device is gone
            problems.append(Problem(ProblemKind.UNAVAILABLE, "device", str(exc)))
        index_path = self.config.index_path
        from assistant.index.readers import formats

        return Status(
            documents=counts["documents"], chunks=counts["chunks"], sessions=counts["sessions"],
            index_bytes=index_path.stat().st_size if index_path.exists() else 0, home=str(self.config.home),
            model=model, embedder=embedder, device=device, roots=self.library.roots(),
            threads=self.config.threads or os.cpu_count() or 1, problems=problems, chat_template=chat_template,
            formats=formats(self.config.include_code),
        )  # fmt: skip

    def close(self) -> None:
        """Close the store. The models stay loaded: a warm process (TUI, server) frees them with ``models.close()``."""
        self.catalog.close()
