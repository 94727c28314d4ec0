"""The warm server with real processes and real sockets: each test starts real servers (which load the real
models), so there are few of them and each checks several things. Nothing sleeps to wait for state: tests
wait on a process's output lines, its exit, or the server's socket."""

from __future__ import annotations

import os
import signal
import sqlite3
import stat
import subprocess
import sys

import psutil
import pytest
from conftest import CORPUS, ROOT, default_ctrl_c, share_model_cache

from assistant.server import client
from assistant.server.protocol import log_path, socket_path, supported

pytestmark = pytest.mark.skipif(not supported(), reason="the warm server needs Unix domain sockets")
QUESTION = "What is Kestrel?"


@pytest.fixture
def home(home, make_assistant, monkeypatch, training_model):
    """A home dir with two indexed notes, small answers, and any server it starts stopped at the end."""
    monkeypatch.delenv("ASSISTANT_SERVER")
    home.mkdir(parents=True, exist_ok=True)
    share_model_cache(home, training_model)
    (home / "config.toml").write_text("max_tokens = 8\nk = 20\nn = 4\nkeep_alive = -1\n")
    a = make_assistant()
    for _ in a.index([CORPUS / "projects" / "kestrel"]):
        pass
    a.close()
    yield home
    client.stop(home)


def cli(home, *args, env=None):
    """The real CLI in a child process, with unbuffered output so a test can follow it line by line."""
    full = {**os.environ, "PYTHONPATH": str(ROOT), "ASSISTANT_HOME": str(home), "PYTHONUNBUFFERED": "1",
            "COLUMNS": "200", **(env or {})}  # fmt: skip
    return subprocess.Popen([sys.executable, "-m", "assistant.cli", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, env=full, preexec_fn=default_ctrl_c)  # fmt: skip


def finish(proc) -> tuple[int, str]:
    out, _ = proc.communicate(timeout=600)
    return proc.returncode, out


def read_until(proc, marker: str) -> str:
    seen = ""
    for line in proc.stdout:
        seen += line
        if marker in line:
            return seen
    raise AssertionError(f"{marker!r} never came:\n{seen}")


def answer(home, *args) -> str:
    import json

    code, out = finish(cli(home, "ask", QUESTION, "--no-learn", "--json", *args))
    assert code == 0, out
    return json.loads(out[out.index("{") :])["answer"]


def sessions(home) -> list[tuple[str, str]]:
    with sqlite3.connect(home / "assistant.db") as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        return db.execute("SELECT question, status FROM sessions ORDER BY id").fetchall()


def test_first_ask_starts_the_server_and_the_next_reuses_it(home):
    assert client.status(home) is None
    served = answer(home)
    first = client.status(home)
    assert first is not None and first["jobs"] == 1 and "llama.cpp" in first["loaded"]
    assert stat.S_IMODE(os.stat(socket_path(home)).st_mode) == 0o600
    assert answer(home) == served
    again = client.status(home)
    assert again["pid"] == first["pid"] and again["jobs"] == 2
    assert answer(home, "--no-server") == served  # same answer in-process, deterministic settings
    assert client.status(home)["jobs"] == 2
    code, out = finish(cli(home, "server", "status"))
    assert code == 0 and str(first["pid"]) in out and "jobs served  2" in out and "MiB" in out
    code, out = finish(cli(home, "status"))
    assert code == 0 and f"running, pid {first['pid']}" in out
    assert "job 2" in log_path(home).read_text()


def test_clients_wait_their_turn_and_ctrl_c_cancels_only_its_own_job(home, tmp_path):
    import time

    # The server holds the first job at its first LoRA step (a fault point) until the test lets it go,
    # so the second client and the Ctrl-C always meet it running, however fast the machine is.
    held = tmp_path / "held"
    first = cli(home, "ask", QUESTION, "--n", "8", env={"ASSISTANT_FAULT": f"mid-learning:{held}"})
    deadline = time.monotonic() + 300
    while not held.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert held.exists(), "the first job never reached learning"
    second = cli(home, "ask", "Who works on Kestrel?", "--no-learn")
    read_until(second, "waiting: the server is answering “What is Kestrel?”")
    first.send_signal(signal.SIGINT)
    time.sleep(0.5)  # the cancel reaches the server; the job sees it at its next step
    held.unlink()
    code, out = finish(first)
    assert code == 130 and "Interrupted." in out and "Traceback" not in out
    code, out = finish(second)
    assert code == 0 and "Answer" in out, out
    assert sessions(home) == [(QUESTION, "interrupted"), ("Who works on Kestrel?", "complete")]
    log = log_path(home).read_text()
    assert log.index("job cancelled") < log.index("job 2:")  # one after the other
    assert client.status(home)["jobs"] == 2


def test_a_server_killed_mid_ask_is_replaced_and_the_store_stays_consistent(home):
    running = cli(home, "ask", QUESTION, "--n", "8", env={"ASSISTANT_MAX_TOKENS": "400"})
    read_until(running, "selecting")
    dead = client.status(home)["pid"]
    os.kill(dead, signal.SIGKILL)
    code, out = finish(running)
    assert code == 1 and "stopped in the middle of the job" in out and "Traceback" not in out
    assert len(out.strip().splitlines()[-1]) < 200
    assert socket_path(home).exists()  # left behind by the dead server
    assert client.status(home) is None
    answer(home)  # recovers: the stale socket is removed and a new server starts
    assert client.status(home)["pid"] != dead
    assert "removed a stale socket" in log_path(home).read_text()
    assert [s for s in sessions(home) if s[1] not in ("complete", "interrupted")] == []


def test_a_server_of_another_version_or_load_settings_is_replaced_once(home):
    from assistant.config import load_config

    old = client.start(load_config(), version="0.0.1-old")  # plays a server left by an earlier release
    code, out = finish(cli(home, "explain", QUESTION))
    assert code == 0 and out.count("Restarting the warm server: version") == 1, out
    new = client.status(home)
    assert new["pid"] != old["pid"] and not psutil.pid_exists(old["pid"])  # reaped by start()'s thread
    code, out = finish(cli(home, "explain", QUESTION, env={"ASSISTANT_N_CTX": "2048"}))
    assert code == 0 and out.count("Restarting the warm server: n_ctx 4096 → 2048") == 1, out
    code, out = finish(cli(home, "explain", QUESTION, env={"ASSISTANT_N_CTX": "2048"}))
    assert code == 0 and "Restarting" not in out
    assert client.status(home)["fingerprint"]["n_ctx"] == 2048


def test_an_idle_server_exits_after_keep_alive(home):
    from assistant.config import load_config

    info = client.start(load_config(keep_alive=1))
    psutil.Process(info["pid"]).wait(timeout=60)
    assert not socket_path(home).exists()
    assert "idle for 1s: exiting" in log_path(home).read_text()
