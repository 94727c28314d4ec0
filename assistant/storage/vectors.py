"""The hnswlib index: a derived, rebuildable cache of the chunk vectors held in SQLite.

Chunk ids are the labels. A sidecar JSON lists the labels marked deleted, so a check against
the store can tell live labels from dead ones without touching the graph.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from assistant.records import Record, serialisable
from assistant.storage.store import Store


@serialisable
@dataclass
class Repair(Record):
    added: int = 0
    deleted: int = 0
    rebuilt: bool = False
    reason: str = ""

    def __bool__(self) -> bool:
        return bool(self.added or self.deleted or self.rebuilt)


class VectorIndex:
    M = 16  # graph degree: hnswlib's recommended default for ~384-d text embeddings
    EF_CONSTRUCTION = 200

    def __init__(self, path: Path, dim: int):
        import hnswlib

        self.path = Path(path)
        self.dim = dim
        self.deleted: set[int] = set()
        self.index = hnswlib.Index(space="ip", dim=dim)
        self._hnswlib = hnswlib

    @property
    def meta_path(self) -> Path:
        return self.path.with_suffix(".json")

    # ------------------------------------------------------------ lifecycle

    def _fresh(self, capacity: int = 1024) -> None:
        self.index = self._hnswlib.Index(space="ip", dim=self.dim)
        self.index.init_index(max_elements=max(capacity, 1024), ef_construction=self.EF_CONSTRUCTION, M=self.M)
        self.deleted = set()

    def _load(self) -> None:
        meta = json.loads(self.meta_path.read_text())
        if meta.get("dim") != self.dim:
            raise ValueError(f"index has dim {meta.get('dim')}, embedder has {self.dim}")
        self.index = self._hnswlib.Index(space="ip", dim=self.dim)
        self.index.load_index(str(self.path), max_elements=int(meta["capacity"]))
        self.deleted = set(meta.get("deleted", [])) & set(self.index.get_ids_list())  # a sidecar newer than the graph

    @classmethod
    def open(cls, path: Path, dim: int, store: Store) -> tuple["VectorIndex", Repair]:
        """Load the index and reconcile it with the store; rebuild from SQLite if it is missing or broken."""
        vi = cls(path, dim)
        repair = Repair()
        if vi.path.exists() and vi.meta_path.exists():
            try:
                vi._load()
            except Exception as exc:  # hnswlib raises RuntimeError/ValueError/MemoryError on bad files
                repair.rebuilt, repair.reason = True, f"index file unreadable ({type(exc).__name__})"
        elif store.counts()["chunks"]:
            repair.rebuilt, repair.reason = True, "index file missing"
        else:
            vi._fresh()
            return vi, repair
        if repair.rebuilt:
            vi.rebuild(store)
            repair.added = vi.count
            return vi, repair
        live = set(store.chunk_ids().tolist())
        labels = set(vi.index.get_ids_list()) - vi.deleted
        missing, extra = live - labels, labels - live
        if missing:
            ids, vectors = store.vectors(sorted(missing))
            vi.add(ids, vectors)
            repair.added = len(ids)
        if extra:
            vi.mark_deleted(extra)
            repair.deleted = len(extra)
        if repair:
            repair.reason = "index was behind the store"
            vi.save()
        return vi, repair

    def rebuild(self, store: Store) -> int:
        """Recreate the index from the vectors in SQLite: nothing is re-embedded."""
        ids, vectors = store.vectors()
        self._fresh(len(ids) + 1024)
        if len(ids):
            self.add(ids, vectors)
        self.save()
        return len(ids)

    def save(self) -> None:
        """Write index and sidecar atomically: temp file, fsync, rename."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".tmp")
        self.index.save_index(str(tmp))
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        meta = {"dim": self.dim, "capacity": self.index.get_max_elements(), "deleted": sorted(self.deleted)}
        tmp_meta = self.meta_path.with_name(self.meta_path.name + ".tmp")
        tmp_meta.write_text(json.dumps(meta))
        os.replace(tmp, self.path)
        os.replace(tmp_meta, self.meta_path)

    # ------------------------------------------------------------ contents

    @property
    def count(self) -> int:
        return self.index.get_current_count() - len(self.deleted)

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        if len(ids) == 0:
            return
        needed = self.index.get_current_count() + len(ids)
        if needed > self.index.get_max_elements():
            self.index.resize_index(max(needed, 2 * self.index.get_max_elements()))
        self.index.add_items(np.asarray(vectors, dtype=np.float32), np.asarray(ids, dtype=np.int64))
        self.deleted -= set(int(i) for i in ids)

    def mark_deleted(self, ids) -> None:
        for label in ids:
            label = int(label)
            if label in self.deleted:
                continue
            try:
                self.index.mark_deleted(label)
            except RuntimeError as exc:
                # Unknown label: nothing to hide. Already deleted in the graph but not in our list: the
                # sidecar is one save behind the graph (a crash between save()'s two renames), so record it.
                if "already deleted" not in str(exc):
                    continue
            self.deleted.add(label)

    def search(self, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top-k chunk ids by inner product, and their similarities, best first."""
        k = min(k, self.count)
        if k <= 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        self.index.set_ef(max(k, 64))
        labels, distances = self.index.knn_query(np.asarray(query, dtype=np.float32).reshape(1, -1), k=k)
        return labels[0].astype(np.int64), (1.0 - distances[0]).astype(np.float32)
