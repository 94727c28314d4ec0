import threading
import time

from assistant.index.watch import watch_and_index
from tests.conftest import drain


def wait_for(predicate, timeout=30.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


def test_watch_reflects_saves_adds_renames_and_deletes(tmp_path, make_assistant):
    root = tmp_path / "notes"
    root.mkdir()
    (root / "a.md").write_text("# A\n\nThe gate code is 1234.\n")
    a = make_assistant()
    drain(a.index([root]))
    stop = threading.Event()
    runs = []
    watcher = threading.Thread(target=watch_and_index, args=(a, [root], lambda events: runs.append(drain(events))),
                               kwargs={"stop_event": stop}, daemon=True)  # fmt: skip
    watcher.start()
    time.sleep(1.0)

    def paths():
        return sorted(p.rsplit("/", 1)[-1] for p in a.store.documents_under(root))

    try:
        (root / "b.md").write_text("# B\n\nThe boat is blue.\n")
        assert wait_for(lambda: paths() == ["a.md", "b.md"])
        (root / "a.md").write_text("# A\n\nThe gate code is now 9876.\n")
        assert wait_for(lambda: any("9876" in r["text"] for r in a.store.chunks(a.store.chunk_ids().tolist()).values()))
        (root / "b.md").rename(root / "c.md")
        assert wait_for(lambda: paths() == ["a.md", "c.md"])
        (root / "a.md").unlink()
        assert wait_for(lambda: paths() == ["c.md"])
    finally:
        stop.set()
        watcher.join(timeout=10)
    labels = set(a.catalog.vectors.index.get_ids_list()) - a.catalog.vectors.deleted
    assert labels == set(a.store.chunk_ids().tolist())
