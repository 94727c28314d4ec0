"""``Catalog``: the SQLite store and the hnswlib index of one home dir, opened lazily and kept in step."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from assistant.config import Config
from assistant.errors import ConfigError, IndexEmpty
from assistant.storage.store import Store
from assistant.storage.vectors import Repair, VectorIndex


class Catalog:
    """Opens the store on first use, and the vector index (checked against the store) on first search."""

    def __init__(self, config: Config, embedder: Callable[[], object]):
        self.config = config
        self._embedder = embedder  # called only when the dim or name is not yet recorded
        self._store: Store | None = None
        self._vectors: VectorIndex | None = None
        self.last_repair: Repair | None = None

    @property
    def store(self) -> Store:
        if self._store is None:
            self._store = Store(self.config.db_path)
            self.mend_adapters()  # every command that opens the store finishes what a crash left
        return self._store

    def mend_adapters(self) -> list:
        """Publish adapter folders whose session committed before a crash; delete folders no session names."""
        from assistant.learn.adapters import sweep_orphans

        return sweep_orphans(self.config.adapters_dir, self.store.adapter_paths)

    def index_dim(self) -> int:
        # The store remembers the dim, so an unchanged re-index never loads the embedder.
        stored = self.store.get_meta("dim")
        return int(stored) if stored else self._embedder().dim

    @property
    def vectors(self) -> VectorIndex:
        if self._vectors is None:
            self._vectors, self.last_repair = VectorIndex.open(self.config.index_path, self.index_dim(), self.store)
        return self._vectors

    def chunk_vectors(self, ids: list[int]) -> tuple[list[int], np.ndarray]:
        """(the ids that have a vector, their vectors in that order): from the graph in memory, and from
        the store for an id the graph no longer holds; an id neither holds is dropped.

        The graph's vector for an id is always the store's: a chunk's vector is never updated (changed
        text is a new row) and ids are never reused (AUTOINCREMENT). An index opened before another
        process wrote can only miss new chunks or hold deleted ones, which callers drop against the store
        first (``asker.distinct``). The CLI opens the index per command and the daemon per job, each
        checked against the store's fingerprint; the TUI indexes through this same catalog."""
        rows, missing = self.vectors.vectors(ids)
        if not missing:
            return list(ids), rows
        found_ids, found = self.store.vectors([ids[n] for n in missing])
        stored = dict(zip(found_ids.tolist(), found))
        for n in missing:
            rows[n] = stored.get(ids[n], np.nan)
        keep = [n for n in range(len(ids)) if n not in missing or ids[n] in stored]
        return [ids[n] for n in keep], rows[keep]

    def rebuild_vectors(self) -> int:
        self._vectors = VectorIndex(self.config.index_path, self.index_dim())
        return self._vectors.rebuild(self.store)

    def check_embedder(self) -> None:
        """Refuse to mix vectors of two embedders in one index; record the first one used."""
        embedder = self._embedder()
        built_with = self.store.get_meta("embedder")
        if built_with and built_with != embedder.name:
            raise ConfigError(
                f"this index was built with the embedder {built_with!r}, but the config names "
                f"{embedder.name!r}: use another ASSISTANT_HOME or switch the embedder back"
            )
        if not built_with:
            self.store.set_meta("embedder", embedder.name)
            self.store.set_meta("dim", str(embedder.dim))

    def require_index(self) -> VectorIndex:
        if self.store.counts()["chunks"] == 0:
            raise IndexEmpty("the index is empty: run `assistant index PATH` first")
        return self.vectors

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None
