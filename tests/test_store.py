import json

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
    assert "without_adapter" in db["sessions"].columns_dict
    assert [m.name for m in migrations.applied(db)] == ["m001_initial", "m002_evidence_and_recipe", "m003_answer_outcome", "m004_citations",
                                                        "m005_compare", "m006_chunk_keys_index", "m007_document_chunking"]
    assert "citation" in db["chunks"].columns_dict and "citation" in db["selections"].columns_dict
    assert db["documents"].columns_dict["chunking"] is str
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


def _doc(store, tmp_path, name, n, seed):
    vectors = np.random.default_rng(seed).standard_normal((n, 8)).astype(np.float32)
    chunks = [Chunk(f"{name} {i}", "H", 1, 1, 2) for i in range(n)]
    return store.replace_document(path=tmp_path / name, root=tmp_path, fmt="text", sha256=name, size=n, mtime=float(n),
                                  chunks=chunks, embeddings=vectors)[1]  # fmt: skip


def test_open_trusts_a_matching_fingerprint_and_still_repairs_an_index_behind_the_store(tmp_path):
    from assistant.storage.vectors import VectorIndex, fingerprint

    store = Store(tmp_path / "a.db")
    first = _doc(store, tmp_path, "a.md", 3, 0)
    path = tmp_path / "v.hnsw"
    VectorIndex(path, 8).rebuild(store)
    vi, repair = VectorIndex.open(path, 8, store)
    assert not repair and vi.fingerprint == store.chunk_fingerprint() == fingerprint(np.array(first))
    second = _doc(store, tmp_path, "b.md", 2, 1)  # the store moves on; the index file is not saved
    vi, repair = VectorIndex.open(path, 8, store)
    assert repair.added == 2 and not repair.rebuilt
    assert set(vi.index.get_ids_list()) - vi.deleted == set(first + second)
    store.remove_document(tmp_path / "a.md")
    vi, repair = VectorIndex.open(path, 8, store)
    assert repair.deleted == 3 and vi.fingerprint == store.chunk_fingerprint() == fingerprint(np.array(second))
    vi, repair = VectorIndex.open(path, 8, store)
    assert not repair


def test_fingerprint_in_sql_matches_numpy_and_tells_sets_apart(tmp_path):
    from assistant.storage.vectors import fingerprint

    store = Store(tmp_path / "a.db")
    ids = _doc(store, tmp_path, "a.md", 50, 0)
    assert store.chunk_fingerprint() == fingerprint(np.array(ids))
    assert fingerprint(np.array([1, 4])) != fingerprint(np.array([2, 3]))  # same count and sum
    assert fingerprint(np.array([], dtype=np.int64)) == [0, 0, 0] == Store(tmp_path / "b.db").chunk_fingerprint()


def test_document_stamps_hold_what_a_rewalk_compares(tmp_path):
    store = Store(tmp_path / "a.db")
    _doc(store, tmp_path, "a.md", 2, 0)
    stamps = store.document_stamps()
    assert stamps == {str(tmp_path / "a.md"): {"id": 1, "size": 2, "mtime": 2.0, "sha256": "a.md", "chunking": ""}}


def test_fingerprint_of_a_million_large_ids_does_not_overflow():
    from assistant.storage.vectors import fingerprint

    ids = np.arange(2**40, 2**40 + 1_000_000, dtype=np.int64)
    count, total, mixed = fingerprint(ids)
    assert count == 10**6 and total == int(ids.astype(object).sum()) and 0 < mixed < 2**63


def test_deletions_touch_only_the_sidecar_and_survive_a_reopen(tmp_path):
    from assistant.storage.vectors import VectorIndex

    store = Store(tmp_path / "a.db")
    keep = _doc(store, tmp_path, "a.md", 3, 0)
    gone = _doc(store, tmp_path, "b.md", 2, 1)
    path = tmp_path / "v.hnsw"
    vi = VectorIndex(path, 8)
    vi.rebuild(store)
    graph = path.read_bytes()
    path.touch()
    stamp = path.stat().st_mtime_ns, vi.meta_path.stat().st_mtime_ns
    vi.save()  # nothing changed: nothing written
    assert (path.stat().st_mtime_ns, vi.meta_path.stat().st_mtime_ns) == stamp
    vi.mark_deleted(store.remove_document(tmp_path / "b.md"))
    vi.save()
    assert path.read_bytes() == graph, "a deletion must not rewrite the graph"
    again, repair = VectorIndex.open(path, 8, store)
    assert not repair and again.unflushed == set(gone)
    query = np.random.default_rng(1).standard_normal(8).astype(np.float32)
    assert set(again.search(query, 5)[0].tolist()) == set(keep)
    again.add(np.array(gone), np.zeros((2, 8), np.float32) + 1)  # an addition writes the graph and flushes
    again.save()
    assert path.read_bytes() != graph and again.unflushed == set()
    assert json.loads(again.meta_path.read_text())["unflushed"] == []


def test_vector_batches_page_through_every_vector_in_id_order(tmp_path):
    store = Store(tmp_path / "a.db")
    _doc(store, tmp_path, "a.md", 5, 0)
    _doc(store, tmp_path, "b.md", 4, 1)
    store.remove_document(tmp_path / "a.md")
    _doc(store, tmp_path, "c.md", 3, 2)
    ids, vectors = store.vectors()
    batches = list(store.vector_batches(size=2))
    assert [len(b[0]) for b in batches] == [2, 2, 2, 1]
    assert np.array_equal(np.concatenate([b[0] for b in batches]), ids)
    assert np.array_equal(np.concatenate([b[1] for b in batches]), vectors)


def test_remove_documents_in_one_go_returns_every_chunk_id(tmp_path):
    store = Store(tmp_path / "a.db")
    a = _doc(store, tmp_path, "a.md", 2, 0)
    b = _doc(store, tmp_path, "b.md", 3, 1)
    c = _doc(store, tmp_path, "c.md", 1, 2)
    removed = store.remove_documents([tmp_path / "a.md", tmp_path / "missing.md", tmp_path / "c.md"])
    assert sorted(removed) == sorted(a + c) and store.chunk_ids().tolist() == b
    assert set(store.document_stamps()) == {str(tmp_path / "b.md")}


def test_retrieval_returns_the_stores_vectors_and_drops_another_process_deletions(tmp_path):
    from assistant.config import Config
    from assistant.core.asker import Asker
    from assistant.storage.catalog import Catalog

    config = Config(home=tmp_path / "home")
    store = Store(config.db_path)
    store.set_meta("dim", "8")
    a, b = _doc(store, tmp_path, "a.md", 6, 0), _doc(store, tmp_path, "b.md", 5, 1)
    asker = Asker(config, models=None, catalog=Catalog(config, embedder=lambda: None))
    query = np.random.default_rng(3).standard_normal(8).astype(np.float32)
    cands = asker.retrieve_vector(query, 8)  # opens the real hnswlib index (rebuilt from the store)
    _ids, want = store.vectors(cands.ids)  # in id order
    assert len(cands.ids) == 8 and np.array_equal(cands.vectors[np.argsort(cands.ids)], want)
    assert Store(config.db_path).remove_document(tmp_path / "a.md") == a  # another process, index already open
    cands = asker.retrieve_vector(query, 20)
    assert sorted(cands.ids.tolist()) == b, "the store wins: deleted chunks are not candidates"
    assert np.array_equal(cands.vectors[np.argsort(cands.ids)], store.vectors(b)[1])


def test_mention_shares_count_chunks_by_heading_text_and_path_case_folded(tmp_path):
    """How much of the notes a name runs through: non-ASCII capitals fold (SQLite's lower() would not)."""
    store = Store(tmp_path / "a.db")
    texts = [("Tyres at Däckia Högsbo", "Car"), ("zlib compress level", "zlib"), ("Maya ran", "Log"), ("Maya swam", "Log")]
    chunks = [Chunk(text, heading, 1, 1, 2) for text, heading in texts]
    vectors = np.zeros((len(chunks), 8), dtype=np.float32)
    store.replace_document(path=tmp_path / "Volvo.md", root=tmp_path, fmt="markdown", sha256="s", size=1, mtime=1.0,
                           chunks=chunks, embeddings=vectors)  # fmt: skip
    shares = store.mention_shares(["däckia", "maya", "zlib.compress", "volvo", "porto", "."])
    assert shares == {"däckia": 0.25, "maya": 0.5, "zlib.compress": 0.25, "volvo": 1.0, "porto": 0.0}
    assert store.mention_shares([]) == {}
