"""``Assistant``: owns the loaded models and runs the index and ask flows as streams of events."""

from __future__ import annotations

import hashlib
import os
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from .config import Config
from .errors import AssistantError, ConfigError, IndexBusy, IndexEmpty
from .events import Done, Event, Progress, Stage
from .ingest import Chunk, UnreadableFile, chunk_blocks, discover, file_format, read_blocks
from .store import Store
from .vectors import Repair, VectorIndex
from .asking import AskMixin, AskResult  # noqa: F401  (AskResult is part of the public API)

EMBED_BATCH_CHUNKS = 128  # chunks gathered across files before one embedding call (less padding)
SAVE_EVERY_S = 15.0  # an interrupted run then re-adds at most this much work to the index


@dataclass
class IndexReport:
    added: int = 0
    updated: int = 0
    removed: int = 0
    unchanged: int = 0
    chunks: int = 0
    skipped: Counter = field(default_factory=Counter)
    warnings: list[tuple[str, str]] = field(default_factory=list)
    seconds: float = 0.0
    timings: dict[str, float] = field(default_factory=lambda: {"read": 0.0, "embed": 0.0, "store": 0.0})
    repair: Repair | None = None

    @property
    def files(self) -> int:
        return self.added + self.updated + self.unchanged


@dataclass
class _Pending:
    path: Path
    root: Path | None
    fmt: str
    sha256: str
    size: int
    mtime: float
    chunks: list[Chunk]
    warning: str | None
    existed: bool


def embed_text(chunk_text: str, heading: str) -> str:
    """What the embedder sees: the heading path gives a chunk its topic."""
    return f"{heading}\n{chunk_text}" if heading else chunk_text


class Assistant(AskMixin):
    """The headless core. Models load lazily on first use and stay warm."""

    def __init__(self, config: Config):
        self.config = config
        self._store: Store | None = None
        self._embedder = None
        self._vectors: VectorIndex | None = None
        self._tokens = None
        self.last_repair: Repair | None = None

    # ------------------------------------------------------------ lazy parts

    @property
    def store(self) -> Store:
        if self._store is None:
            self._store = Store(self.config.db_path)
        return self._store

    @property
    def device(self) -> str:
        from .models import pick_device

        return pick_device(self.config.device)

    @property
    def embedder(self):
        if self._embedder is None:
            from .embed import load_embedder
            from .models import resolve_embedder

            self._embedder = load_embedder(resolve_embedder(self.config.embedder), self.device, self.config.embed_batch)
        return self._embedder

    @property
    def gguf_path(self) -> Path:
        from .models import resolve_gguf

        return resolve_gguf(self.config.model)

    @property
    def tokens(self):
        if self._tokens is None:
            from .tokens import load_token_counter

            self._tokens = load_token_counter(self.gguf_path, self.config.cache_dir)
        return self._tokens

    def _index_dim(self) -> int:
        # The store remembers the dim, so an unchanged re-index never loads the embedder.
        stored = self.store.get_meta("dim")
        return int(stored) if stored else self.embedder.dim

    @property
    def vectors(self) -> VectorIndex:
        if self._vectors is None:
            self._vectors, self.last_repair = VectorIndex.open(self.config.index_path, self._index_dim(), self.store)
        return self._vectors

    def _check_embedder(self) -> None:
        built_with = self.store.get_meta("embedder")
        if built_with and built_with != self.embedder.name:
            raise ConfigError(
                f"this index was built with the embedder {built_with!r}, but the config names "
                f"{self.embedder.name!r}: use another ASSISTANT_HOME or switch the embedder back"
            )
        if not built_with:
            self.store.set_meta("embedder", self.embedder.name)
            self.store.set_meta("dim", str(self.embedder.dim))

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None

    # ------------------------------------------------------------ index

    def index(self, paths: list[Path], *, prune: bool = True, rebuild: bool = False) -> Iterator[Event]:
        """Bring the store and the vector index up to date with ``paths``."""
        from filelock import FileLock, Timeout

        missing = [str(p) for p in paths if not Path(p).exists()]
        if missing:
            raise AssistantError(f"path not found: {', '.join(missing)}")
        self.config.home.mkdir(parents=True, exist_ok=True)
        lock = FileLock(str(self.config.home / "index.lock"), timeout=0)
        try:
            lock.acquire()
        except Timeout:
            raise IndexBusy("another `assistant index` is running on this home dir; try again when it finishes") from None
        try:
            yield from self._index_locked([Path(p).absolute() for p in paths], prune=prune, rebuild=rebuild)
        finally:
            lock.release()

    def _index_locked(self, paths: list[Path], *, prune: bool, rebuild: bool) -> Iterator[Event]:
        start = time.perf_counter()
        report = IndexReport()
        if rebuild:
            yield Stage("rebuilding")
            self._check_embedder()
            self._vectors = VectorIndex(self.config.index_path, self._index_dim())
            n = self._vectors.rebuild(self.store)
            yield Stage("rebuilding", done=True, seconds=time.perf_counter() - start, detail=f"{n} vectors from SQLite")
        yield Stage("discovering")
        found = discover(paths, max_bytes=int(self.config.max_file_mb * 1024 * 1024), include_code=self.config.include_code)
        report.skipped.update(found.skipped)
        yield Stage("discovering", done=True, seconds=time.perf_counter() - start, detail=f"{len(found.files)} files")

        vectors = self.vectors if found.files or prune else None
        report.repair = self.last_repair
        roots = {p: p for p in paths if p.is_dir()}
        yield Stage("indexing")
        pending: list[_Pending] = []
        last_save = time.perf_counter()
        total = len(found.files)
        for done, path in enumerate(found.files, start=1):
            item = self._prepare(path, _root_of(path, roots), report)
            if item is not None:
                pending.append(item)
            if sum(len(p.chunks) for p in pending) >= EMBED_BATCH_CHUNKS or done == total:
                self._commit(pending, vectors, report)
                pending = []
                if time.perf_counter() - last_save > SAVE_EVERY_S:
                    vectors.save()
                    last_save = time.perf_counter()
            yield Progress(done, total, "files", detail=f"{report.chunks} chunks")

        seen = {str(p) for p in found.files}
        if prune:
            for root in roots:
                for stale in self.store.documents_under(root):
                    if stale not in seen:
                        vectors.mark_deleted(self.store.remove_document(stale))
                        report.removed += 1
        for root in roots:
            self.store.mark_root(root)
        if vectors is not None:
            t = time.perf_counter()
            vectors.save()
            report.timings["store"] += time.perf_counter() - t
        report.seconds = time.perf_counter() - start
        yield Stage("indexing", done=True, seconds=report.seconds)
        yield Done(report)

    def _prepare(self, path: Path, root: Path | None, report: IndexReport) -> _Pending | None:
        """Read and chunk one file unless it is unchanged. Reading errors become skip reasons."""
        t = time.perf_counter()
        try:
            try:
                st = path.stat()
                existing = self.store.document(path)
                if existing and existing["size"] == st.st_size and existing["mtime"] == st.st_mtime:
                    report.unchanged += 1
                    return None
                data = path.read_bytes()
            except PermissionError:
                report.skipped["unreadable (permission)"] += 1
                return None
            except OSError as exc:
                report.skipped[f"unreadable ({exc.strerror or type(exc).__name__})"] += 1
                return None
            sha = hashlib.sha256(data).hexdigest()
            if existing and existing["sha256"] == sha:
                self.store.touch_document(existing["id"], st.st_size, st.st_mtime)
                report.unchanged += 1
                return None
            fmt = file_format(path, self.config.include_code) or "text"
            try:
                blocks, warnings = read_blocks(data, fmt)
            except UnreadableFile as exc:
                report.skipped[str(exc)] += 1
                return None
            chunks = chunk_blocks(
                blocks, self.tokens.count, self.tokens.split, budget=self.config.chunk_tokens, overlap=self.config.chunk_overlap
            )
            if not chunks:
                report.skipped["empty"] += 1
                return None
            for w in warnings:
                report.warnings.append((str(path), w))
            # The stat taken before reading is what we record: a file saved meanwhile differs next run.
            return _Pending(path, root, fmt, sha, st.st_size, st.st_mtime, chunks, "; ".join(warnings) or None, existing is not None)
        finally:
            report.timings["read"] += time.perf_counter() - t

    def _commit(self, pending: list[_Pending], vectors: VectorIndex, report: IndexReport) -> None:
        texts = [embed_text(c.text, c.heading) for p in pending for c in p.chunks]
        if not texts:
            return
        self._check_embedder()
        t = time.perf_counter()
        embeddings = self.embedder.embed(texts)
        report.timings["embed"] += time.perf_counter() - t
        t = time.perf_counter()
        offset = 0
        for item in pending:
            vecs = embeddings[offset : offset + len(item.chunks)]
            offset += len(item.chunks)
            old_ids, new_ids = self.store.replace_document(
                path=item.path, root=item.root, fmt=item.fmt, sha256=item.sha256, size=item.size,
                mtime=item.mtime, chunks=item.chunks, embeddings=vecs, warning=item.warning,
            )  # fmt: skip
            vectors.mark_deleted(old_ids)
            vectors.add(new_ids, vecs)
            report.chunks += len(new_ids)
            if item.existed:
                report.updated += 1
            else:
                report.added += 1
        report.timings["store"] += time.perf_counter() - t

    # ------------------------------------------------------------ status

    def status(self) -> dict:
        counts = self.store.counts()
        index_bytes = sum(p.stat().st_size for p in (self.config.index_path,) if p.exists())
        try:
            model = str(self.gguf_path)
        except AssistantError as exc:
            model = f"missing: {exc}"
        try:
            from .models import resolve_embedder

            embedder = str(resolve_embedder(self.config.embedder))
        except AssistantError as exc:
            embedder = f"missing: {exc}"
        try:
            device = self.device
        except AssistantError as exc:  # status still reports the rest when the configured device is gone
            device = f"unavailable: {exc}"
        return {
            "documents": counts["documents"],
            "chunks": counts["chunks"],
            "sessions": counts["sessions"],
            "index_bytes": index_bytes,
            "home": str(self.config.home),
            "model": model,
            "embedder": embedder,
            "device": device,
            "roots": self.store.roots(),
            "threads": self.config.threads or os.cpu_count(),
        }

    def require_index(self) -> VectorIndex:
        if self.store.counts()["chunks"] == 0:
            raise IndexEmpty("the index is empty: run `assistant index PATH` first")
        return self.vectors

    # ------------------------------------------------------------ review

    def explain(self, question: str, *, k: int | None = None, n: int | None = None, lam: float | None = None,
                method: str | None = None) -> dict:  # fmt: skip
        """Retrieval and selection only: the picks, and what plain NN would have picked instead."""
        from .asking import describe_picks

        sel, ids, rows, query, cands = self.select(question, k=k, n=n, lam=lam, method=method)
        nn = self.nn_alternative(sel, ids, rows, query, cands)
        return {"question": question, "prior": float(sel.prior), "method": sel.method, "picks": describe_picks(sel, ids, rows), "nn": nn}

    def forget_source(self, path: Path) -> tuple[list[int], list[int]]:
        from .review import forget_source

        removed, affected = forget_source(self.store, path)
        if removed:
            self.vectors.mark_deleted(removed)
            self.vectors.save()
        return removed, affected


def _root_of(path: Path, roots: dict[Path, Path]) -> Path | None:
    for root in roots:
        if root in path.parents:
            return root
    return None
