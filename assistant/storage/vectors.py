"""The hnswlib index: a derived, rebuildable cache of the chunk vectors held in SQLite.

Chunk ids are the labels. A sidecar JSON lists the labels marked deleted, so a check against
the store can tell live labels from dead ones without touching the graph. It also holds a
fingerprint of the live labels (count, sum, mixed sum; see ``Store.chunk_fingerprint``): when it
equals the store's, opening skips the label-by-label check, which costs seconds at 10^6 chunks.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from assistant.records import Record, serialisable
from assistant.storage.store import MIX, MIX_CAP, MIX_MOD, Store


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
    EF_SEARCH = 1600  # query-time beam, at least k: recall@200 >= 0.95 at 10^6 text-like vectors (README "Scale")

    def __init__(self, path: Path, dim: int):
        import hnswlib

        self.path = Path(path)
        self.dim = dim
        self.deleted: set[int] = set()
        self.fingerprint: list[int] | None = None  # of the live labels, as last saved
        # Deletions only flip a flag in the graph: they go to the sidecar alone (small), and are applied
        # again on load until the next full write, so forgetting a file never rewrites a 1.6 GB graph.
        self.unflushed: set[int] = set()
        self.graph_dirty = False
        self.index = hnswlib.Index(space="ip", dim=dim)
        self._hnswlib = hnswlib

    @property
    def meta_path(self) -> Path:
        return self.path.with_suffix(".json")

    # ------------------------------------------------------------ lifecycle

    def _fresh(self, capacity: int = 1024) -> None:
        self.index = self._hnswlib.Index(space="ip", dim=self.dim)
        self.index.init_index(max_elements=max(capacity, 1024), ef_construction=self.EF_CONSTRUCTION, M=self.M)
        self.deleted, self.unflushed, self.graph_dirty = set(), set(), True

    def _load(self) -> None:
        meta = json.loads(self.meta_path.read_text())
        if meta.get("dim") != self.dim:
            raise ValueError(f"index has dim {meta.get('dim')}, embedder has {self.dim}")
        self.index = self._hnswlib.Index(space="ip", dim=self.dim)
        self.index.load_index(str(self.path), max_elements=int(meta["capacity"]))
        labels = np.asarray(self.index.get_ids_list(), dtype=np.int64)
        self.deleted = set(meta.get("deleted", [])) & set(labels.tolist())  # a sidecar newer than the graph
        self.unflushed, self.graph_dirty = set(meta.get("unflushed", [])) & self.deleted, False
        # The fingerprint of what the graph file really holds, not what the sidecar says: after a crash
        # between save()'s two renames the pair can be one save apart. One numpy pass, no per-label Python work.
        live = labels[~np.isin(labels, np.fromiter(self.deleted, dtype=np.int64, count=len(self.deleted)))]
        self.fingerprint = fingerprint(live)
        for label in self.unflushed:
            try:
                self.index.mark_deleted(label)
            except RuntimeError:  # already flagged in the graph file
                pass

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
        if vi.fingerprint is not None and vi.fingerprint == store.chunk_fingerprint():
            return vi, repair  # same live labels as the store: nothing to check one by one
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
        self._fresh(store.counts()["chunks"] + 1024)
        for ids, vectors in store.vector_batches():
            self.add(ids, vectors)
        self.save()
        return self.count

    def save(self) -> None:
        """Write what changed, atomically (temp file, fsync, rename): the graph only after additions,
        the sidecar after any change; nothing when nothing changed."""
        live = self.live_fingerprint()
        if not self.graph_dirty and live == self.fingerprint and self.meta_path.exists():
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".tmp")
        if self.graph_dirty:
            self.index.save_index(str(tmp))
            with open(tmp, "rb") as fh:
                os.fsync(fh.fileno())
            self.unflushed = set()
        meta = {"dim": self.dim, "capacity": self.index.get_max_elements(), "deleted": sorted(self.deleted),
                "unflushed": sorted(self.unflushed), "fingerprint": live}  # fmt: skip
        tmp_meta = self.meta_path.with_name(self.meta_path.name + ".tmp")
        tmp_meta.write_text(json.dumps(meta))
        if self.graph_dirty:
            os.replace(tmp, self.path)
        os.replace(tmp_meta, self.meta_path)
        self.fingerprint, self.graph_dirty = live, False

    # ------------------------------------------------------------ contents

    def live_fingerprint(self) -> list[int]:
        labels = np.asarray(self.index.get_ids_list(), dtype=np.int64)
        if self.deleted:
            labels = labels[~np.isin(labels, np.fromiter(self.deleted, np.int64, len(self.deleted)))]
        return fingerprint(labels)

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
        self.graph_dirty = True

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
            self.unflushed.add(label)

    def vectors(self, ids) -> tuple[np.ndarray, list[int]]:
        """The vectors of ``ids`` as the graph holds them (row i for ids[i]), and the positions of the ids
        it holds no live vector for (their rows are zeros). Reading the graph in memory instead of 200
        SQLite blobs is most of a warm top-200 (see README "Scale")."""
        ids = [int(i) for i in ids]
        if not ids:
            return np.zeros((0, self.dim), np.float32), []
        try:
            return np.asarray(self.index.get_items(ids, return_type="numpy"), np.float32), []
        except RuntimeError:  # hnswlib stops at the first unknown or deleted label: go one by one
            pass
        out, missing = np.zeros((len(ids), self.dim), np.float32), []
        for n, label in enumerate(ids):
            try:
                out[n] = self.index.get_items([label], return_type="numpy")[0]
            except RuntimeError:
                missing.append(n)
        return out, missing

    def search(self, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top-k chunk ids by inner product, and their similarities, best first."""
        k = min(k, self.count)
        if k <= 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        self.index.set_ef(max(k, self.EF_SEARCH))
        labels, distances = self.index.knn_query(np.asarray(query, dtype=np.float32).reshape(1, -1), k=k)
        return labels[0].astype(np.int64), (1.0 - distances[0]).astype(np.float32)


def fingerprint(ids: np.ndarray) -> list[int]:
    """[count, sum, mixed sum] of chunk ids; ``Store.chunk_fingerprint`` computes the same in SQL.

    Chunk ids are never reused (AUTOINCREMENT), so an index behind the store differs in count or sum;
    the mixed sum catches the rest. ``assistant index --rebuild`` remains the exact repair."""
    ids = np.asarray(ids, dtype=np.int64)
    return [len(ids), int(ids.sum()), int(((ids % MIX_MOD) ** 2 * MIX % MIX_CAP).sum())]
