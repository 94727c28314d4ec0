import numpy as np
import pytest
from sqlite_utils import Database

from assistant.errors import SessionNotFound, StoreError
from assistant.index.chunk import Chunk
from assistant.records import Pick, Session
from assistant.storage.migrations import migrations
from assistant.storage.store import Store


def test_migrations_build_the_schema_on_a_blank_database():
    db = Database(memory=True)
    migrations.apply(db)
    assert set(db.table_names()) >= {"documents", "chunks", "sessions", "selections", "adapters", "roots", "meta"}
    assert db["chunks"].columns_dict["embedding"] is bytes
    assert {"chunk_sha256", "variance_after", "loss", "document_path"} <= set(db["selections"].columns_dict)
    assert {"sha256", "bytes", "rank", "alpha", "target_modules", "steps"} <= set(db["adapters"].columns_dict)
    migrations.apply(db)  # idempotent
    assert {"evidence_json", "claims_json"} <= set(db["sessions"].columns_dict) and "recipe" in db["adapters"].columns_dict
    assert [m.name for m in migrations.applied(db)] == ["m001_initial", "m002_evidence_and_recipe", "m003_answer_outcome", "m004_citations"]
    assert "citation" in db["chunks"].columns_dict and "citation" in db["selections"].columns_dict
    assert {"looped", "abstained"} <= set(db["sessions"].columns_dict)


def test_store_uses_wal_and_round_trips_vectors(tmp_path):
    store = Store(tmp_path / "a.db")
    assert store.db.journal_mode == "wal"
    chunks = [Chunk("alpha", "H", 1, 2, 3), Chunk("beta", "H", 3, 4, 3)]
    vectors = np.random.default_rng(0).standard_normal((2, 8)).astype(np.float32)
    old, new = store.replace_document(path=tmp_path / "x.md", root=tmp_path, fmt="markdown", sha256="s", size=1, mtime=1.0,
                                      chunks=chunks, embeddings=vectors)  # fmt: skip
    assert old == [] and len(new) == 2
    ids, got = store.vectors()
    assert ids.tolist() == new and np.array_equal(got, vectors)
    old2, new2 = store.replace_document(path=tmp_path / "x.md", root=tmp_path, fmt="markdown", sha256="t", size=2, mtime=2.0,
                                        chunks=chunks[:1], embeddings=vectors[:1])  # fmt: skip
    assert old2 == new and min(new2) > max(new), "chunk ids (hnswlib labels) must never be reused"


def test_corrupt_store_is_a_clear_error(tmp_path):
    bad = tmp_path / "bad.db"
    bad.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError, match="cannot open the store"):
        Store(bad)


def test_session_round_trip_and_delete(tmp_path):
    store = Store(tmp_path / "a.db")
    pick = Pick(rank=1, chunk_id=7, path="/p", start_line=1, end_line=2, heading="", similarity=0.5, variance=0.4,
                previous=1.0, prior=1.0, chunk_sha256="h", text="t", loss=2.0)
    sid = store.record_session(Session(id=None, question="q?", answer="a.", status="complete", picks=[pick], prior=1.0,
                                       timings={"total": 1.0}, device="cpu", adapter=None, note=None, params={"k": 3},
                                       model="m", embedder="e"))  # fmt: skip
    session = store.session(sid)
    assert session.params == {"k": 3} and session.picks == [pick]
    assert session.picks[0].variance_cut() == pytest.approx(0.6)
    assert store.sessions("q?")[0].sources == 1 and store.sessions("zzz") == []
    store.delete_session(sid)
    with pytest.raises(SessionNotFound):
        store.session(sid)
