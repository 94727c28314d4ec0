"""States the other tests left uncovered: an index ahead of the store, an hnsw/json pair out of step, the
embedder guard, a touched but unchanged file, cancel while answering, cancel of an index from the TUI,
the CLI's ask flags end to end and `index --watch` from the CLI."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest
from click.testing import CliRunner

from assistant import faults
from assistant.cli.main import cli
from assistant.errors import AssistantError
from assistant.events import Step, Token
from tests.conftest import ROOT, default_ctrl_c, drain
from tests.test_index import CountingEmbedder, consistent, notes


def test_index_ahead_of_the_store_is_repaired(tmp_path, make_assistant, home):
    """What a crash inside `forget --source` leaves: chunks gone from SQLite, still live in the saved index."""
    root = notes(tmp_path)
    a = make_assistant()
    drain(a.index([root]))
    a.store.remove_document(root / "note0.md")  # the index is never told
    b = make_assistant()
    vectors = b.catalog.vectors
    assert b.catalog.last_repair.deleted == 1 and consistent(b)
    hits, _ = vectors.search(b.models.embedder.embed(["locker code room 0"])[0], 10)
    assert len(hits) == 5 and set(hits.tolist()) == set(b.store.chunk_ids().tolist())


@pytest.mark.parametrize("stale", ["hnsw", "json"])
def test_hnsw_and_json_out_of_step(tmp_path, make_assistant, home, stale):
    """A crash between the two renames of ``VectorIndex.save``: one file of the pair is one save behind."""
    root = notes(tmp_path)
    drain(make_assistant().index([root]))
    old = {"hnsw": (home / "vectors.hnsw").read_bytes(), "json": (home / "vectors.json").read_bytes()}
    (root / "note1.md").unlink()
    (root / "extra.md").write_text("# Extra\n\nThe boat is blue.\n")
    drain(make_assistant().index([root]))
    (home / f"vectors.{stale}").write_bytes(old[stale])
    b = make_assistant()
    vectors = b.catalog.vectors
    assert consistent(b) and vectors.count == b.store.counts()["chunks"] == 6
    hits, _ = vectors.search(b.models.embedder.embed(["the boat"])[0], 10)
    assert set(hits.tolist()) == set(b.store.chunk_ids().tolist())


def test_the_embedder_guard_refuses_to_mix_vectors(tmp_path, make_assistant):
    root = notes(tmp_path, 2)
    a = make_assistant()
    drain(a.index([root]))
    a.store.set_meta("embedder", "some-other-embedder")
    (root / "new.md").write_text("# New\n\nA new fact.\n")
    out = CliRunner().invoke(cli, ["index", str(root)])
    assert out.exit_code == 1
    assert out.output.strip().splitlines() == [
        "Error: this index was built with the embedder 'some-other-embedder', but the config names "
        f"'{a.models.embedder.name}': use another ASSISTANT_HOME or switch the embedder back"
    ]
    assert a.store.counts()["documents"] == 2


def test_a_touched_file_with_unchanged_content_reembeds_nothing(tmp_path, make_assistant, embedder):
    root = notes(tmp_path)
    drain(make_assistant().index([root]))
    later = time.time() + 60
    os.utime(root / "note3.md", (later, later))
    b = make_assistant()
    b.models._embedder = CountingEmbedder(embedder)
    report = drain(b.index([root]))
    assert (report.updated, report.unchanged) == (0, 6) and b.models._embedder.calls == 0
    assert b.store.document(root / "note3.md")["mtime"] == later  # so the next run skips it on size and mtime alone
    assert consistent(b)


@pytest.mark.slow
def test_cancel_while_answering_keeps_an_interrupted_session_and_no_adapter(tmp_path, warm_assistant):
    import threading

    a = warm_assistant(n=2, max_tokens=32, max_train_tokens=64)
    drain(a.index([notes(tmp_path, 3)]))
    cancel = threading.Event()
    seen = []
    with pytest.raises(AssistantError, match="during answering"):
        for event in a.ask("What is the locker code for room 1?", cancel=cancel):
            seen.append(event)
            if isinstance(event, Token):
                cancel.set()
    assert any(isinstance(e, Step) for e in seen)  # it had learned: a staged adapter existed
    [summary] = a.store.sessions()
    session = a.store.session(summary.id)
    assert session.status == "interrupted" and session.adapter is None and session.answer
    assert not a.config.adapters_dir.exists() or list(a.config.adapters_dir.iterdir()) == []


@pytest.mark.slow
def test_cli_ask_flags_end_to_end(tmp_path, warm_assistant, monkeypatch):
    """--n, --method, --no-learn and --adapter through the real CLI command and the real core."""
    import assistant.core.facade

    made = warm_assistant(max_tokens=8, max_train_tokens=64)
    drain(made.index([notes(tmp_path, 4)]))

    def factory(config):  # the CLI's own config (its flags applied), the session's warm models
        a = warm_assistant(**{k: getattr(config, k) for k in ("k", "n", "method", "max_tokens", "max_train_tokens")})
        return a

    monkeypatch.setattr(assistant.core.facade, "Assistant", factory)
    runner = CliRunner()
    q = "What is the locker code for room 2?"
    first = runner.invoke(cli, ["ask", q, "--n", "2", "--method", "nn", "--json"])
    assert first.exit_code == 0, first.output
    first = json.loads(first.output)
    assert first["params"]["method"] == "nn" and first["params"]["n"] == 2 and len(first["picks"]) == 2
    assert first["adapter"]["steps"] == 2
    plain = json.loads(runner.invoke(cli, ["ask", q, "--no-learn", "--json"]).output)
    assert plain["adapter"] is None and plain["params"]["learn"] is False
    again = runner.invoke(cli, ["ask", q, "--adapter", str(first["id"]), "--json"])
    assert again.exit_code == 0, again.output
    again = json.loads(again.output)
    assert again["params"]["adapter_from"] == first["id"] and again["params"]["learn"] is False
    assert again["adapter"] is None  # it answered through session 1's adapter, and made none of its own
    missing = runner.invoke(cli, ["ask", q, "--adapter", "999"])
    assert missing.exit_code == 1 and "no session with id 999" in missing.output


def test_index_watch_from_the_cli(tmp_path, home):
    root = notes(tmp_path, 2)
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASSISTANT_")}
    env.update(ASSISTANT_HOME=str(home), HF_HUB_OFFLINE="1")
    proc = subprocess.Popen([sys.executable, "-m", "assistant.cli", "index", "--watch", str(root)], env=env, cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=default_ctrl_c)  # fmt: skip
    try:
        for line in proc.stdout:  # the first run, then the watch begins
            if line.startswith("Watching"):
                break
        new = root / "boat.md"
        found, deadline = [], time.monotonic() + 120
        while not found and time.monotonic() < deadline:
            new.write_text(f"# Boat\n\nThe boat is blue ({time.monotonic()}).\n")  # each save is an event
            for _ in range(40):
                with sqlite3.connect(home / "assistant.db") as conn:
                    found = conn.execute("SELECT id FROM documents WHERE path = ?", [str(new)]).fetchall()
                if found:
                    break
                time.sleep(0.1)
        assert found, "the watcher never indexed the new file"
    finally:
        proc.send_signal(signal.SIGINT)
        _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "Traceback" not in err


async def test_cancel_an_index_run_from_the_tui(tmp_path, make_assistant, home):
    """Esc while the real indexer stands inside a commit: the run stops, the lock is freed, nothing is torn."""
    from filelock import FileLock
    from textual.widgets import Input

    from assistant.tui.app import AssistantApp
    from tests.test_tui import text_of, wait_until

    root = notes(tmp_path, 4)
    flag = tmp_path / "reached"
    a = make_assistant()
    app = AssistantApp(a.config, assistant=a)
    faults.arm("mid-index-commit", flag)
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.press("f3")
            box = app.screen.query_one("#add-folder", Input)
            box.value = str(root)
            box.focus()
            await pilot.press("enter")
            assert await wait_until(pilot, flag.exists, timeout=60)
            assert app.busy
            await pilot.press("escape")
            flag.unlink()  # let the worker reach its next event, where it sees the cancel
            assert await wait_until(pilot, lambda: not app.busy, timeout=60)
            assert "Cancelled" in text_of(app, "#index-summary")
            # the worker thread outlives its CANCELLED state by a moment: wait until it lets go of the lock
            FileLock(str(home / "index.lock")).acquire(timeout=60).lock.release()
            await pilot.pause()
    finally:
        faults.arm(None)
    b = make_assistant()
    report = drain(b.index([root]))  # the lock was released; the run finishes what was left
    assert report.files == 4 and consistent(b)
