"""`assistant index` on a real SQLite file, a real hnswlib index and the real MiniLM."""

import time
from pathlib import Path

import numpy as np
import pytest

from assistant.errors import AssistantError, IndexBusy
from assistant.index.chunk import chunking
from tests.conftest import drain


class CountingEmbedder:
    """The real embedder, counting how many texts it is asked to embed."""

    def __init__(self, inner):
        self.inner, self.name, self.dim, self.calls = inner, inner.name, inner.dim, 0

    def embed(self, texts):
        self.calls += len(texts)
        return self.inner.embed(texts)


def notes(tmp_path: Path, n: int = 6) -> Path:
    root = tmp_path / "notes"
    root.mkdir()
    for i in range(n):
        (root / f"note{i}.md").write_text(f"# Note {i}\n\nThe locker code for room {i} is {1000 + i}.\n\nSecond paragraph {i}.\n")
    return root


@pytest.fixture
def counted(make_assistant, embedder):
    def make():
        a = make_assistant()
        a.models._embedder = CountingEmbedder(embedder)
        return a

    return make


def consistent(a) -> bool:
    labels = set(a.catalog.vectors.index.get_ids_list()) - a.catalog.vectors.deleted
    return labels == set(a.store.chunk_ids().tolist())


def test_index_then_incremental_rerun_embeds_nothing(tmp_path, counted):
    root = notes(tmp_path)
    a = counted()
    report = drain(a.index([root]))
    assert (report.added, report.unchanged, report.chunks) == (6, 0, 6)
    assert a.models._embedder.calls == 6 and consistent(a)
    b = counted()
    report = drain(b.index([root]))
    assert (report.added, report.updated, report.unchanged) == (0, 0, 6)
    assert b.models._embedder is None or b.models._embedder.calls == 0


def test_a_new_chunk_budget_rechunks_unchanged_files_once(tmp_path, make_assistant, embedder):
    """How each file was chunked is recorded with it: a changed budget (or chunker) re-chunks the unchanged files
    on the next index, and only once. An index from before the record (chunking '') is re-chunked too."""
    root = notes(tmp_path, 3)
    (root / "long.md").write_text("# Long\n\n" + "\n\n".join(f"Paragraph {i} says the tide turns at {i}:15." for i in range(30)))
    drain(make_assistant().index([root]))
    a = make_assistant(chunk_tokens=64, chunk_overlap=8)
    a.models._embedder = CountingEmbedder(embedder)
    before = a.store.counts()["chunks"]
    report = drain(a.index([root]))
    assert (report.added, report.updated, report.rechunked, report.unchanged) == (0, 4, 4, 0)
    assert a.store.counts()["chunks"] > before
    assert a.models._embedder.calls == report.chunks and consistent(a)
    assert {s["chunking"] for s in a.store.document_stamps().values()} == {chunking(64, 8)}
    assert drain(a.index([root])).unchanged == 4
    a.store.db.execute("UPDATE documents SET chunking = '' WHERE path LIKE '%note0.md'")
    assert (drain(a.index([root])).updated, consistent(a)) == (1, True)


def test_changed_file_replaces_its_chunks(tmp_path, counted):
    root = notes(tmp_path)
    a = counted()
    drain(a.index([root]))
    old_ids = set(a.store.chunk_ids().tolist())
    (root / "note2.md").write_text("# Note 2\n\nThe locker code for room 2 is now 7777.\n")
    report = drain(a.index([root]))
    assert (report.updated, report.unchanged) == (1, 5)
    new_ids = set(a.store.chunk_ids().tolist())
    assert len(old_ids - new_ids) == 1 and len(new_ids - old_ids) == 1
    hits, _ = a.catalog.vectors.search(a.models.embedder.embed(["locker code room 2 7777"])[0], 6)
    assert not (set(hits.tolist()) & (old_ids - new_ids)), "a deleted vector came back from search"
    assert consistent(a)


def test_deleted_file_is_pruned(tmp_path, counted):
    root = notes(tmp_path)
    a = counted()
    drain(a.index([root]))
    (root / "note0.md").unlink()
    report = drain(a.index([root]))
    assert report.removed == 1 and a.store.counts()["documents"] == 5 and consistent(a)
    (root / "note1.md").unlink()
    report = drain(a.index([root], prune=False))
    assert report.removed == 0 and a.store.counts()["documents"] == 5


def test_missing_path_and_empty_folder(tmp_path, make_assistant):
    a = make_assistant()
    with pytest.raises(AssistantError, match="path not found"):
        drain(a.index([tmp_path / "nope"]))
    (tmp_path / "empty").mkdir()
    report = drain(a.index([tmp_path / "empty"]))
    assert report.files == 0 and a.store.counts()["documents"] == 0


def test_bad_files_are_skipped_with_reasons_and_nothing_else_is_lost(tmp_path, make_assistant, monkeypatch):
    from fpdf import FPDF

    root = notes(tmp_path, 2)
    (root / "zero.txt").write_bytes(b"")
    (root / "latin1.txt").write_bytes(b"Caf\xe9 cr\xe8me recipe: 3 eggs.")
    (root / "bin.txt").write_bytes(b"\x00\x01\x02binary")
    (root / "long.txt").write_text(" ".join(f"token{i}" for i in range(3000)))
    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("Helvetica", size=12)
    pdf.cell(0, 10, "A fine page.")
    good = bytes(pdf.output())
    (root / "truncated.pdf").write_bytes(good[: len(good) // 2])
    secret = FPDF()
    secret.set_encryption(owner_password="o", user_password="u")
    secret.add_page()
    secret.set_font("Helvetica", size=12)
    secret.cell(0, 10, "hidden")
    (root / "locked.pdf").write_bytes(bytes(secret.output()))
    (root / "noperm.md").write_text("secret")
    # Named fake: this machine runs as root, so chmod 000 cannot make a file unreadable here.
    real_read = Path.read_bytes
    monkeypatch.setattr(Path, "read_bytes", lambda self: (_ for _ in ()).throw(PermissionError(13, "Permission denied")) if self.name == "noperm.md" else real_read(self))
    a = make_assistant()
    report = drain(a.index([root]))
    assert report.skipped["empty"] == 1
    assert report.skipped["binary"] == 1
    assert report.skipped["encrypted PDF"] == 1
    assert sum(n for r, n in report.skipped.items() if r.startswith("broken PDF")) == 1
    assert report.skipped["unreadable (permission)"] == 1
    assert report.added == 4  # two notes, latin1, long
    assert any("invalid UTF-8" in w for _, w in report.warnings)
    long_doc = a.store.document(root / "long.txt")
    assert long_doc["n_chunks"] > 10


def test_file_changed_while_indexing_is_redone_next_run(tmp_path, make_assistant, monkeypatch):
    root = notes(tmp_path, 2)
    target = root / "note1.md"
    real_read = Path.read_bytes

    def read_then_edit(self):
        data = real_read(self)
        if self == target and b"8888" not in data:
            time.sleep(0.01)
            self.write_text("# Note 1\n\nEdited: the code is 8888.\n")
        return data

    monkeypatch.setattr(Path, "read_bytes", read_then_edit)
    a = make_assistant()
    drain(a.index([root]))
    monkeypatch.setattr(Path, "read_bytes", real_read)
    report = drain(a.index([root]))
    assert report.updated == 1
    texts = [r["text"] for r in a.store.chunks(a.store.chunk_ids().tolist()).values()]
    assert any("8888" in t for t in texts)


def test_second_index_run_refuses_while_first_holds_the_lock(tmp_path, make_assistant, home):
    from filelock import FileLock

    root = notes(tmp_path, 1)
    a = make_assistant()
    home.mkdir(parents=True, exist_ok=True)
    with FileLock(str(home / "index.lock")):
        with pytest.raises(IndexBusy):
            drain(a.index([root]))
    assert drain(a.index([root])).added == 1


def test_deleted_or_corrupt_index_file_is_rebuilt_from_sqlite(tmp_path, counted, home):
    root = notes(tmp_path)
    drain(counted().index([root]))
    for damage in ("delete", "corrupt"):
        index_file = home / "vectors.hnsw"
        if damage == "delete":
            index_file.unlink()
        else:
            index_file.write_bytes(b"garbage" * 100)
        b = counted()
        report = drain(b.index([root]))
        assert report.repair and report.repair.rebuilt
        assert b.models._embedder is None or b.models._embedder.calls == 0
        assert consistent(b) and b.catalog.vectors.count == 6


def test_index_behind_store_is_repaired_without_reembedding(tmp_path, counted, home):
    root = notes(tmp_path)
    drain(counted().index([root]))
    saved = (home / "vectors.hnsw").read_bytes(), (home / "vectors.json").read_text()
    (root / "extra.md").write_text("# Extra\n\nA new fact: the boat is blue.\n")
    drain(counted().index([root]))
    (home / "vectors.hnsw").write_bytes(saved[0])  # as if the last save never happened
    (home / "vectors.json").write_text(saved[1])
    b = counted()
    report = drain(b.index([root]))
    assert report.repair and report.repair.added == 1 and not report.repair.rebuilt
    assert b.models._embedder is None or b.models._embedder.calls == 0
    assert consistent(b)


def test_rebuild_flag(tmp_path, counted):
    root = notes(tmp_path)
    drain(counted().index([root]))
    b = counted()
    drain(b.index([], rebuild=True))
    assert b.models._embedder.calls == 0 and consistent(b) and b.catalog.vectors.count == 6


def test_indexing_works_with_network_unreachable(tmp_path, home, monkeypatch):
    """Fresh model loads (no warm fixtures) with every socket connection refused."""
    import socket

    def refuse(*args, **kwargs):
        raise OSError("network unreachable (blocked by test)")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    from assistant.config import load_config
    from assistant.core.facade import Assistant

    a = Assistant(load_config())
    report = drain(a.index([notes(tmp_path, 2)]))
    assert report.added == 2
    vec = a.models.embedder.embed(["locker code"])[0]
    assert np.isclose(np.linalg.norm(vec), 1.0, atol=1e-4)
    a.close()
