"""Session review without the LLM: adapter files, checksums, forgetting, exporting."""

import os
import time
from pathlib import Path

import numpy as np
import pytest

from assistant import adapters as adapter_files
from assistant.errors import AdapterError
from assistant.ingest import Chunk
from assistant.review import changed_sources, export_session, forget_session, forget_source
from assistant.store import Store


def seed_store(tmp_path: Path) -> tuple[Store, Path, int]:
    store = Store(tmp_path / "s.db")
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
    sid = store.record_session(
        status="complete", question="q", answer="a", model="m", embedder="e", device="cpu", params={}, timings={},
        prior=1.0, note=None,
        selections=[{"rank": 1, "chunk_id": ids[0], "document_path": str(doc), "start_line": 1, "end_line": 3,
                     "heading": "A", "chunk_sha256": row["sha256"], "text": "fact", "similarity": 0.9,
                     "variance_after": 0.5, "repeat": 0, "loss": 1.0}],
        adapter={"path": str(final), "gguf_path": str(gguf), "sha256": adapter_files.sha256_file(gguf),
                 "bytes": gguf.stat().st_size, "rank": 8, "alpha": 16.0, "target_modules": "q_proj", "steps": 1},
    )  # fmt: skip
    return store, doc, sid


def test_verify_rejects_missing_and_tampered_adapters(tmp_path):
    store, _, sid = seed_store(tmp_path)
    row = {**store.session(sid)["adapter"], "session_id": sid}
    assert adapter_files.verify(row) == Path(row["gguf_path"])
    Path(row["gguf_path"]).write_bytes(b"tampered")
    with pytest.raises(AdapterError, match="sha256"):
        adapter_files.verify(row)
    Path(row["gguf_path"]).unlink()
    with pytest.raises(AdapterError, match="missing"):
        adapter_files.verify(row)


def test_sweep_removes_orphans_only(tmp_path):
    store, _, sid = seed_store(tmp_path)
    adapters = tmp_path / "adapters"
    dead = adapters / ".partial-dead"
    dead.mkdir()
    (dead / "pid").write_text("999999")
    orphan = adapters / "0123456789ab"
    orphan.mkdir()
    old = time.time() - 3600
    os.utime(orphan, (old, old))
    fresh = adapters / "fresh0000000"
    fresh.mkdir()
    removed = adapter_files.sweep_orphans(adapters, store.adapter_paths())
    assert sorted(p.name for p in removed) == [".partial-dead", "0123456789ab"]
    assert Path(store.session(sid)["adapter"]["path"]).is_dir() and fresh.is_dir()


def test_changed_and_vanished_sources(tmp_path):
    store, doc, sid = seed_store(tmp_path)
    assert changed_sources(store, store.session(sid)) == {}
    store.replace_document(path=doc, root=doc.parent, fmt="markdown", sha256="y", size=2, mtime=2.0,
                           chunks=[Chunk("new fact", "A", 1, 3, 2)], embeddings=np.ones((1, 4), np.float32))  # fmt: skip
    assert changed_sources(store, store.session(sid)) == {1: "changed since"}
    doc.unlink()
    assert changed_sources(store, store.session(sid)) == {1: "file vanished"}


def test_forget_source_deletes_adapters_and_marks_sessions(tmp_path):
    store, doc, sid = seed_store(tmp_path)
    adapter_dir = Path(store.session(sid)["adapter"]["path"])
    removed, affected = forget_source(store, doc)
    assert len(removed) == 1 and affected == [sid]
    assert not adapter_dir.exists() and store.document(doc) is None
    adapter = store.session(sid)["adapter"]
    assert adapter["forgotten_at"] and str(doc) in adapter["forgotten_reason"]
    with pytest.raises(AdapterError, match="forgotten"):
        adapter_files.verify({**adapter, "session_id": sid})


def test_forget_session_and_export(tmp_path):
    store, _, sid = seed_store(tmp_path)
    written = export_session(store, sid, tmp_path / "out")
    names = sorted(p.name for p in written)
    assert names == [adapter_files.GGUF_NAME, f"session-{sid}.json", f"session-{sid}.md"]
    assert "uncertainty −50.0%" in (tmp_path / "out" / f"session-{sid}.md").read_text()
    adapter_dir = Path(store.session(sid)["adapter"]["path"])
    forget_session(store, sid)
    assert not adapter_dir.exists() and store.sessions() == []
