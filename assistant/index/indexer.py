"""``Indexer``: bring the store and the vector index up to date with folders of documents."""

from __future__ import annotations

import hashlib
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from assistant import faults
from assistant.config import Config
from assistant.core.models import Models
from assistant.errors import AssistantError, IndexBusy
from assistant.events import Done, Event, Progress, Stage
from assistant.index.chunk import Chunk, chunk_blocks, chunking
from assistant.index.discover import discover
from assistant.index.readers import ReadContext, Reader, UnreadableFile, read_blocks
from assistant.records import Record, StageName, serialisable
from assistant.storage.catalog import Catalog
from assistant.storage.vectors import Repair, VectorIndex  # noqa: F401

EMBED_BATCH_CHUNKS = 128  # chunks gathered across files before one embedding call (less padding)
SAVE_EVERY_S = 15.0  # an interrupted run then re-adds at most this much work to the index


@serialisable
@dataclass
class IndexReport(Record):
    added: int = 0
    updated: int = 0
    rechunked: int = 0  # of the updated: unchanged files cut again because the chunker or its budget changed
    removed: int = 0
    unchanged: int = 0
    chunks: int = 0
    skipped: dict[str, int] = field(default_factory=Counter)  # reason -> files
    skipped_formats: dict[str, int] = field(default_factory=Counter)  # format ('.ext' when unsupported) -> files
    warnings: list[list[str]] = field(default_factory=list)
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


class Indexer:
    """Walks, reads, chunks and embeds; one transaction per file, so an interrupted run loses at most the file in hand."""

    def __init__(self, config: Config, models: Models, catalog: Catalog):
        self.config = config
        self.models = models
        self.catalog = catalog

    @property
    def store(self):
        return self.catalog.store

    @property
    def _chunking(self) -> str:
        return chunking(self.config.chunk_tokens, self.config.chunk_overlap)

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
            yield Stage(StageName.REBUILDING)
            self.catalog.check_embedder()
            n = self.catalog.rebuild_vectors()
            yield Stage(StageName.REBUILDING, done=True, seconds=time.perf_counter() - start, detail=f"{n} vectors from SQLite")
        yield Stage(StageName.DISCOVERING)
        found = discover(paths, max_bytes=int(self.config.max_file_mb * 1024 * 1024), include_code=self.config.include_code)
        report.skipped.update(found.skipped)
        report.skipped_formats.update(found.skipped_formats)
        yield Stage(StageName.DISCOVERING, done=True, seconds=time.perf_counter() - start, detail=f"{len(found.files)} files")

        vectors = self.catalog.vectors if found.files or prune else None
        report.repair = self.catalog.last_repair
        roots = {p: p for p in paths if p.is_dir()}
        yield Stage(StageName.INDEXING)
        pending: list[_Pending] = []
        last_save = time.perf_counter()
        total = len(found.files)
        known = self.store.document_stamps()  # one query, not one per file: 50,000 files walk in seconds
        for done, path in enumerate(found.files, start=1):
            item = self._prepare(path, found.readers[path], _root_of(path, roots), known.get(str(path)), report)
            if item is not None:
                pending.append(item)
            if sum(len(p.chunks) for p in pending) >= EMBED_BATCH_CHUNKS or done == total:
                self._commit(pending, vectors, report)
                pending = []
                if time.perf_counter() - last_save > SAVE_EVERY_S:
                    vectors.save()
                    last_save = time.perf_counter()
            yield Progress(done, total, "files", chunks=report.chunks)

        seen = {str(p) for p in found.files}
        if prune:
            stale = list(dict.fromkeys(p for root in roots for p in self.store.documents_under(root) if p not in seen))
            vectors.mark_deleted(self.store.remove_documents(stale))
            report.removed += len(stale)
        for root in roots:
            self.store.mark_root(root)
        if vectors is not None:
            t = time.perf_counter()
            vectors.save()
            report.timings["store"] += time.perf_counter() - t
        report.seconds = time.perf_counter() - start
        yield Stage(StageName.INDEXING, done=True, seconds=report.seconds)
        yield Done(report)

    def _prepare(self, path: Path, reader: Reader, root: Path | None, existing: dict | None,
                 report: IndexReport) -> _Pending | None:  # fmt: skip
        """Read and chunk one file unless it is unchanged (``existing``: its stamp row, if indexed before).
        Reading errors become skip reasons."""
        t = time.perf_counter()
        try:
            try:
                st = path.stat()
                rechunk = existing is not None and existing["chunking"] != self._chunking
                if existing and not rechunk and existing["size"] == st.st_size and existing["mtime"] == st.st_mtime:
                    report.unchanged += 1
                    return None
                # A streamed format is hashed in pieces and read by its reader; the rest is read once here.
                data = path if reader.streamed else path.read_bytes()
                sha = _sha256_file(path) if reader.streamed else hashlib.sha256(data).hexdigest()
            except OSError as exc:
                why = "permission" if isinstance(exc, PermissionError) else exc.strerror or type(exc).__name__
                self._skip(report, f"unreadable ({why})", reader)
                return None
            if existing and not rechunk and existing["sha256"] == sha:
                self.store.touch_document(existing["id"], st.st_size, st.st_mtime)
                report.unchanged += 1
                return None
            report.rechunked += bool(rechunk and existing["sha256"] == sha)
            ctx = ReadContext(self.config.include_code, int(self.config.max_file_mb * 1024 * 1024))
            try:
                blocks, warnings = read_blocks(data, reader, ctx)
            except UnreadableFile as exc:
                self._skip(report, str(exc), reader)
                return None
            chunks = chunk_blocks(
                blocks, self.models.tokens.count, self.models.tokens.split, budget=self.config.chunk_tokens, overlap=self.config.chunk_overlap
            )
            if not chunks:
                self._skip(report, "empty", reader)
                return None
            for w in warnings:
                report.warnings.append((str(path), w))
            # The stat taken before reading is what we record: a file saved meanwhile differs next run.
            return _Pending(path, root, reader.name, sha, st.st_size, st.st_mtime, chunks, "; ".join(warnings) or None, existing is not None)
        finally:
            report.timings["read"] += time.perf_counter() - t

    @staticmethod
    def _skip(report: IndexReport, reason: str, reader: Reader) -> None:
        report.skipped[reason] += 1
        report.skipped_formats[reader.name] += 1

    def _commit(self, pending: list[_Pending], vectors: VectorIndex, report: IndexReport) -> None:
        texts = [embed_text(c.text, c.heading) for p in pending for c in p.chunks]
        if not texts:
            return
        self.catalog.check_embedder()
        t = time.perf_counter()
        embeddings = self.models.embedder.embed(texts)
        report.timings["embed"] += time.perf_counter() - t
        t = time.perf_counter()
        offset = 0
        for item in pending:
            vecs = embeddings[offset : offset + len(item.chunks)]
            offset += len(item.chunks)
            old_ids, new_ids = self.store.replace_document(
                path=item.path, root=item.root, fmt=item.fmt, sha256=item.sha256, size=item.size,
                mtime=item.mtime, chunks=item.chunks, embeddings=vecs, warning=item.warning, chunking=self._chunking,
            )  # fmt: skip
            faults.point("mid-index-commit")
            vectors.mark_deleted(old_ids)
            vectors.add(new_ids, vecs)
            report.chunks += len(new_ids)
            if item.existed:
                report.updated += 1
            else:
                report.added += 1
        report.timings["store"] += time.perf_counter() - t


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while piece := handle.read(1 << 20):
            digest.update(piece)
    return digest.hexdigest()


def _root_of(path: Path, roots: dict[Path, Path]) -> Path | None:
    for root in roots:
        if root in path.parents:
            return root
    return None
