"""Session review without the LLM: adapter files, checksums, forgetting, exporting."""

import os
from pathlib import Path

import numpy as np
import pytest

from assistant.learn import adapters as adapter_files
from assistant.errors import AdapterError
from assistant.index.chunk import Chunk
from assistant.config import load_config
from assistant.core.library import Library
from assistant.records import AdapterInfo, Pick, Session
from assistant.storage.catalog import Catalog
from assistant.storage.store import Store


def library_for(store: Store, tmp_path: Path) -> Library:
    """A real Library over the seeded store (the vector index opens only if a test forgets a source)."""
    catalog = Catalog(load_config(home=tmp_path), embedder=lambda: pytest.fail("no embedder needed"))
    catalog._store = store
    store.set_meta("dim", "4")
    return Library(catalog)


def seed_store(tmp_path: Path) -> tuple[Store, Path, int]:
    store = Store(tmp_path / "assistant.db")
    doc = tmp_path / "notes" / "a.md"
    doc.parent.mkdir()
    doc.write_text("# A\n\nfact\n")
    _, ids = store.replace_document(path=doc, root=doc.parent, fmt="markdown", sha256="x", size=1, mtime=1.0,
                                    chunks=[Chunk("fact", "A", 1, 3, 2)], embeddings=np.ones((1, 4), np.float32))  # fmt: skip
    row = store.chunks(ids)[ids[0]]
    staged = adapter_files.staging_dir(tmp_path / "adapters")
    (staged / adapter_files.GGUF_NAME).write_bytes(b"GGUF fake adapter bytes")
    final = adapter_files.publish(staged)
    gguf = final / adapter_files.GGUF_NAME
    pick = Pick(rank=1, chunk_id=ids[0], path=str(doc), start_line=1, end_line=3, heading="A", similarity=0.9,
                variance=0.5, previous=1.0, prior=1.0, chunk_sha256=row["sha256"], text="fact", loss=1.0)
    adapter = AdapterInfo(path=str(final), gguf_path=str(gguf), sha256=adapter_files.sha256_file(gguf),
                          bytes=gguf.stat().st_size, rank=8, alpha=16.0, target_modules="q_proj", steps=1)
    sid = store.record_session(Session(id=None, question="q", answer="a", status="complete", picks=[pick], prior=1.0,
                                       timings={}, device="cpu", adapter=adapter, note=None, params={}, model="m",
                                       embedder="e"))  # fmt: skip
    return store, doc, sid


def test_verify_rejects_missing_and_tampered_adapters(tmp_path):
    store, _, sid = seed_store(tmp_path)
    adapter = store.session(sid).adapter
    assert adapter_files.verify(adapter, sid) == Path(adapter.gguf_path)
    Path(adapter.gguf_path).write_bytes(b"tampered")
    with pytest.raises(AdapterError, match="sha256"):
        adapter_files.verify(adapter, sid)
    Path(adapter.gguf_path).unlink()
    with pytest.raises(AdapterError, match="missing"):
        adapter_files.verify(adapter, sid)


def test_sweep_deletes_unnamed_folders_mends_committed_ones_and_spares_live_ones(tmp_path):
    store, _, sid = seed_store(tmp_path)
    adapters = tmp_path / "adapters"
    dead = adapters / ".partial-dead"
    dead.mkdir()
    (dead / "pid").write_text("999999")
    orphan = adapters / "0123456789ab"  # a published folder no row names (a crash inside `forget`): no grace period
    orphan.mkdir()
    live = adapters / ".partial-live"  # a running ask in another process
    live.mkdir()
    (live / "pid").write_text(str(os.getppid()))
    committed = adapter_files.staging_dir(adapters)  # its row committed, then the process died before the rename
    (committed / "pid").write_text("999999")
    final = adapter_files.final_dir(committed)
    previous = Path(store.session(sid).adapter.path)  # no longer named once the row names ``final``
    store.db.execute("UPDATE adapters SET path = ? WHERE session_id = ?", [str(final), sid])
    removed = adapter_files.sweep_orphans(adapters, store.adapter_paths)
    assert sorted(p.name for p in removed) == sorted([".partial-dead", "0123456789ab", previous.name])
    assert final.is_dir() and not committed.exists() and not (final / "pid").exists()
    assert live.is_dir()


def test_changed_and_vanished_sources(tmp_path):
    store, doc, sid = seed_store(tmp_path)
    changed_sources = library_for(store, tmp_path).changed_sources
    assert changed_sources(store.session(sid)) == {}
    store.replace_document(path=doc, root=doc.parent, fmt="markdown", sha256="y", size=2, mtime=2.0,
                           chunks=[Chunk("new fact", "A", 1, 3, 2)], embeddings=np.ones((1, 4), np.float32))  # fmt: skip
    assert changed_sources(store.session(sid)) == {1: "changed since"}
    doc.unlink()
    assert changed_sources(store.session(sid)) == {1: "file vanished"}


def test_forget_source_deletes_adapters_and_marks_sessions(tmp_path):
    store, doc, sid = seed_store(tmp_path)
    adapter_dir = Path(store.session(sid).adapter.path)
    forgotten = library_for(store, tmp_path).forget_source(doc)
    assert len(forgotten.chunks) == 1 and forgotten.sessions == [sid]
    assert not adapter_dir.exists() and store.document(doc) is None
    adapter = store.session(sid).adapter
    assert adapter.forgotten_at and str(doc) in adapter.forgotten_reason
    with pytest.raises(AdapterError, match="forgotten"):
        adapter_files.verify(adapter, sid)


def test_forget_session_and_export(tmp_path):
    store, _, sid = seed_store(tmp_path)
    library = library_for(store, tmp_path)
    written = library.export(sid, tmp_path / "out")
    names = sorted(p.name for p in written)
    assert names == [adapter_files.GGUF_NAME, f"session-{sid}.json", f"session-{sid}.md"]
    assert "uncertainty −50.0%" in (tmp_path / "out" / f"session-{sid}.md").read_text()
    adapter_dir = Path(store.session(sid).adapter.path)
    library.forget(sid)
    assert not adapter_dir.exists() and store.sessions() == []
