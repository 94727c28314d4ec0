"""Faults, proven on real processes: the real CLI stopped at a named stage (assistant/faults.py), killed
with SIGKILL there, then the next command, then the store, the adapter folders and the index checked.

No sleeps wait for a state: each test waits for the flag file the armed process writes at its point.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from assistant.learn import adapters as adapter_files
from assistant.storage.vectors import VectorIndex
from tests.conftest import ROOT, share_model_cache

pytestmark = pytest.mark.slow
CLI = [sys.executable, "-m", "assistant.cli"]
SMALL = {"ASSISTANT_N": "2", "ASSISTANT_MAX_TOKENS": "6", "ASSISTANT_MAX_TRAIN_TOKENS": "64", "ASSISTANT_K": "20",
         "ASSISTANT_LEARN_BELOW": "1"}  # every ask learns, so a kill can land mid-learning
QUESTION = "Which database does Project Heron use?"


def write_notes(root: Path, names: dict[str, str]) -> Path:
    root.mkdir(parents=True)
    for name, body in names.items():
        (root / name).write_text(body)
    return root


NOTES = {
    "heron.md": "# Project Heron\n\nOn 2024-03-12 Project Heron moved its database from Postgres 14 to SQLite.\n",
    "ferry.md": "# Ferry\n\nThe ferry to Vis leaves Split at 06:15 every morning.\n",
    "buns.md": "# Buns\n\nThe cardamom bun dough rests 45 minutes at 24 degrees.\n",
}
MORE = {f"more{i}.md": f"# More {i}\n\nThe locker code for room {i} is {4000 + i}.\n" for i in range(3)}


def env_for(home: Path, fault: str | None = None, flag: Path | None = None) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASSISTANT_")}
    env.update(SMALL, ASSISTANT_HOME=str(home), HF_HUB_OFFLINE="1", ASSISTANT_SERVER="0")  # in-process: the kill hits the ask
    if fault:
        env["ASSISTANT_FAULT"] = f"{fault}:{flag}"
    return env


def run(home: Path, *args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *args], env=env_for(home), cwd=ROOT, capture_output=True, text=True, timeout=timeout)


def start_at(home: Path, fault: str, *args: str) -> tuple[subprocess.Popen, Path]:
    """Start the real CLI armed at ``fault``; returns once the process has announced it stands there."""
    flag = home.parent / f"{fault}.reached"
    proc = subprocess.Popen([*CLI, *args], env=env_for(home, fault, flag), cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)  # fmt: skip
    deadline = time.monotonic() + 300
    while not flag.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            _out, err = proc.communicate()
            pytest.fail(f"{fault} never reached (exit {proc.returncode}): {err[-2000:]}")
        time.sleep(0.05)
    assert int(flag.read_text()) == proc.pid
    return proc, flag


def kill(proc: subprocess.Popen) -> None:
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate()
    assert proc.returncode == -signal.SIGKILL


def release(proc: subprocess.Popen, flag: Path) -> subprocess.CompletedProcess:
    flag.unlink()
    out, err = proc.communicate(timeout=300)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def query(home: Path, sql: str, params=()) -> list[tuple]:
    with sqlite3.connect(home / "assistant.db") as conn:
        return conn.execute(sql, params).fetchall()


def check_home(home: Path) -> None:
    """What every fault must leave behind once the next command has run."""
    assert query(home, "PRAGMA integrity_check") == [("ok",)]
    with sqlite3.connect(home / "assistant.db") as conn:
        conn.row_factory = sqlite3.Row
        sessions = conn.execute("SELECT id, status, params_json FROM sessions").fetchall()
        adapters = {r["session_id"]: r for r in conn.execute("SELECT * FROM adapters WHERE forgotten_at IS NULL")}
    for s in sessions:  # every row has its adapter, or is interrupted with none
        if s["status"] == "interrupted":
            assert s["id"] not in adapters
        elif json.loads(s["params_json"])["learn"]:
            a = adapters[s["id"]]
            assert adapter_files.sha256_file(Path(a["gguf_path"])) == a["sha256"]
    folders = {str(p) for p in (home / "adapters").iterdir()} if (home / "adapters").exists() else set()
    assert folders == {a["path"] for a in adapters.values()}, "an adapter folder outlived its session"
    assert on_disk_index_agrees(home)


def on_disk_index_agrees(home: Path) -> bool:
    """The saved hnswlib file and its sidecar, read without repair, hold exactly the store's chunks."""
    vi = VectorIndex(home / "vectors.hnsw", int(query(home, "SELECT value FROM meta WHERE key = 'dim'")[0][0]))
    vi._load()
    live = {r[0] for r in query(home, "SELECT id FROM chunks")}
    return set(vi.index.get_ids_list()) - vi.deleted == live


@pytest.fixture(scope="module")
def seed(tmp_path_factory, training_model) -> Path:
    """One indexed home for the module, made by the real CLI; its model cache is shared by every copy."""
    base = tmp_path_factory.mktemp("seed")
    notes = write_notes(base / "notes", NOTES)
    home = base / "home"
    out = run(home, "index", str(notes))
    assert out.returncode == 0, out.stderr
    share_model_cache(home, training_model)
    return home


@pytest.fixture
def fresh(seed, tmp_path) -> Path:
    """A private copy of the seeded home (the store, the index), sharing the seed's model cache."""
    home = tmp_path / "home"
    home.mkdir()
    for name in ("assistant.db", "vectors.hnsw", "vectors.json"):
        shutil.copy2(seed / name, home / name)
    (home / "cache").symlink_to(seed / "cache", target_is_directory=True)
    return home


def partials(home: Path) -> list[Path]:
    return sorted((home / "adapters").glob(".partial-*"))


# ---------------------------------------------------------------- kill -9 at each stage of ask

ASK_STAGES = {  # point -> (session rows it leaves, what must be true at the point, before the kill)
    "after-retrieval": (0, lambda home: not (home / "adapters").exists() or not any((home / "adapters").iterdir())),
    "mid-learning": (0, lambda home: not partials(home)),
    "after-adapter-export": (0, lambda home: len(partials(home)) == 1),
    "between-record-and-publish": (1, lambda home: len(partials(home)) == 1
                                   and query(home, "SELECT count(*) FROM adapters")[0][0] == 1),  # fmt: skip
    "mid-answer": (0, lambda home: len(partials(home)) == 1),
}


@pytest.mark.parametrize("point", list(ASK_STAGES))
def test_kill_9_during_ask(fresh, point):
    rows, at_the_point = ASK_STAGES[point]
    proc, _ = start_at(fresh, point, "ask", QUESTION)
    assert at_the_point(fresh), f"the process stood at {point} but the home does not show it"
    kill(proc)
    out = run(fresh, "history")  # the next command: any command that opens the store mends
    assert out.returncode == 0, out.stderr
    assert query(fresh, "SELECT count(*) FROM sessions")[0][0] == rows
    assert not partials(fresh)
    check_home(fresh)  # with the row committed before the kill, its adapter is now in place and passes sha256


# ---------------------------------------------------------------- kill -9 inside index and forget --source


def test_kill_9_mid_index_commit_then_rerun(fresh, tmp_path):
    more = write_notes(tmp_path / "more", MORE)
    before = query(fresh, "SELECT count(*) FROM documents")[0][0]
    proc, _ = start_at(fresh, "mid-index-commit", "index", str(more))
    assert query(fresh, "SELECT count(*) FROM documents")[0][0] == before + 1  # committed, its vectors not saved
    assert not on_disk_index_agrees(fresh)
    kill(proc)
    out = run(fresh, "index", str(more))
    assert out.returncode == 0, out.stderr
    assert "2 added" in " ".join(out.stdout.split()) and "1 unchanged" in " ".join(out.stdout.split())
    assert query(fresh, "SELECT count(*) FROM documents")[0][0] == before + 3
    check_home(fresh)


def test_kill_9_mid_forget_source_then_ask(fresh, seed):
    heron = str(seed.parent / "notes" / "heron.md")
    proc, _ = start_at(fresh, "mid-forget-source", "forget", "--source", heron, "--yes")
    assert query(fresh, "SELECT count(*) FROM documents WHERE path = ?", [heron]) == [(0,)]
    assert not on_disk_index_agrees(fresh)  # the index is ahead of the store
    kill(proc)
    out = run(fresh, "ask", QUESTION, "--no-learn", "--json")
    assert out.returncode == 0, out.stderr
    assert heron not in {p["path"] for p in json.loads(out.stdout)["picks"]}
    check_home(fresh)


# ---------------------------------------------------------------- real concurrent processes


def test_while_an_index_run_holds_the_lock_a_second_refuses_and_ask_answers(fresh, tmp_path):
    more = write_notes(tmp_path / "more", MORE)
    first, flag = start_at(fresh, "mid-index-commit", "index", str(more))
    second = run(fresh, "index", str(more))
    assert second.returncode == 1
    assert second.stderr.strip().splitlines() == ["Error: another `assistant index` is running on this home dir; "
                                                  "try again when it finishes"]  # fmt: skip
    # ask takes no lock: it answers from what is committed (WAL readers never wait for the writer)
    asked = run(fresh, "ask", "When does the ferry to Vis leave?", "--no-learn", "--json")
    assert asked.returncode == 0, asked.stderr
    assert json.loads(asked.stdout)["status"] == "complete"
    done = release(first, flag)
    assert done.returncode == 0, done.stderr
    assert query(fresh, "SELECT count(*) FROM documents")[0][0] == len(NOTES) + len(MORE)
    check_home(fresh)


def test_two_asks_at_once_both_record_and_keep_their_adapters(fresh):
    """Intended: asks take no lock. Each records its own session; neither's sweep touches the other's adapter."""
    first, flag = start_at(fresh, "between-record-and-publish", "ask", QUESTION)
    staged = partials(fresh)
    second = run(fresh, "ask", "When does the ferry to Vis leave?", "--no-learn", "--json")  # its sweep runs all the same
    assert second.returncode == 0, second.stderr
    assert partials(fresh) == staged, "the second ask's sweep touched the first one's staged adapter"
    done = release(first, flag)
    assert done.returncode == 0, done.stderr
    assert query(fresh, "SELECT status FROM sessions ORDER BY id") == [("complete",), ("complete",)]
    assert query(fresh, "SELECT count(*) FROM adapters") == [(1,)]
    check_home(fresh)
