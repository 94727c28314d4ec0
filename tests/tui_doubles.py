"""Test doubles for the TUI. They emit the same events as the real Assistant, without the models.

`ScriptedAssistant` is a real Assistant (real SQLite store, real index) whose ask() and explain()
are replaced by a scripted run, with a delay per training step so tests can act while it learns.
`FrozenAssistant` serves fixed data only, so snapshot tests render the same screen every time.
"""

from __future__ import annotations

import threading
import time

from assistant import events as ev
from assistant.asking import AskResult
from assistant.errors import Cancelled
from assistant.pipeline import Assistant

SOURCES = [
    ("/notes/projects/heron/log.md", 12, 16, "Project Heron > 2024-03-12", 0.62, False),
    ("/notes/meetings/2024-03-12-heron-sync.md", 5, 9, "Heron weekly sync > Database", 0.48, False),
    ("/notes/projects/heron/log.md", 12, 16, "Project Heron > 2024-03-12", 0.41, True),
    ("/notes/projects/heron/architecture.md", 1, 9, "Heron architecture", 0.37, False),
]
ANSWER = "Project Heron moved its database from Postgres 14 to **SQLite** on 2024-03-12 [1], because it runs on one Raspberry Pi [2]."


def scripted_events(question: str, cancel: threading.Event, step_delay: float, steps: int = 4):
    yield ev.Stage("retrieving")
    yield ev.Stage("retrieving", done=True, seconds=0.1, detail="200 candidates")
    yield ev.Stage("selecting")
    selections = []
    for rank, (path, a, b, heading, var, repeat) in enumerate(SOURCES, start=1):
        selections.append({"rank": rank, "chunk_id": rank if not repeat else 1, "document_path": path, "start_line": a,
                           "end_line": b, "heading": heading, "chunk_sha256": "x", "text": f"chunk {rank}",
                           "similarity": 0.8 - rank / 20, "variance_after": var, "repeat": int(repeat), "loss": None})  # fmt: skip
        yield ev.Selected(rank, rank if not repeat else 1, path, a, b, heading, 0.8 - rank / 20, var, 1.0, repeat)
    yield ev.Stage("selecting", done=True, seconds=0.0, detail="4 picks, variance 1.000 -> 0.370")
    yield ev.Stage("learning")
    for i in range(1, steps + 1):
        time.sleep(step_delay)
        if cancel.is_set():
            raise Cancelled("cancelled during learning")
        yield ev.Step(i, steps, 3.2 - 0.4 * i, 0.6 * i)
    yield ev.Stage("learning", done=True, seconds=2.4, detail=f"{steps} steps, loss 2.80 -> 1.60")
    yield ev.Stage("answering")
    for word in ANSWER.split(" "):
        yield ev.Token(word + " ")
    yield ev.Stage("answering", done=True, seconds=0.5)
    yield ev.Done(AskResult(7, question, ANSWER + " ", "complete", selections, 1.0, {"total": 3.0}, "cpu", None, None,
                            {"context": True, "learn": True}))  # fmt: skip


NN = [{"rank": i, "chunk_id": cid, "path": p, "start_line": 12, "end_line": 16, "heading": "Project Heron",
       "similarity": 0.8 - i / 20, "variance": 0.5, "repeat": False} for i, (cid, p) in
      enumerate([(1, "/notes/projects/heron/log.md"), (9, "/notes/journal/2024-03.md"), (10, "/notes/email-drafts/heron-board-update.txt"), (2, "/notes/meetings/2024-03-12-heron-sync.md")], start=1)]  # fmt: skip


class ScriptedAssistant(Assistant):
    """Real store and index; ask() and explain() replay a scripted run (test double, no LLM)."""

    step_delay = 0.3
    asked: list = []

    def ask(self, question, *, adapter=None, cancel=None, **options):
        self.asked = [*self.asked, (question, adapter)]
        return scripted_events(question, cancel or threading.Event(), self.step_delay)

    def explain(self, question, **options):
        return {"question": question, "prior": 1.0, "method": "sift", "picks": [], "nn": NN}


class FrozenStore:
    """Fixed sessions and folders for snapshots (test double of assistant.store.Store)."""

    def sessions(self, search=None, limit=200):
        rows = [
            {"id": 3, "created_at": "2024-11-02T09:14:00+00:00", "status": "complete", "question": "What database did Heron move to?", "device": "cpu", "timings_json": '{"total": 21.4}', "sources": 9},
            {"id": 2, "created_at": "2024-11-01T18:02:00+00:00", "status": "complete", "question": "How long does the bun dough rest?", "device": "cpu", "timings_json": '{"total": 19.8}', "sources": 7},
            {"id": 1, "created_at": "2024-11-01T17:40:00+00:00", "status": "interrupted", "question": "When does the Lisbon flight leave?", "device": "cpu", "timings_json": '{"total": 6.1}', "sources": 5},
        ]  # fmt: skip
        return [r for r in rows if not search or search.lower() in r["question"].lower()]

    def roots(self):
        return [{"path": "/home/maya/notes", "documents": 44, "chunks": 179, "last_indexed_at": "2024-11-02T09:00:00+00:00"}]

    def neighbours(self, chunk_id, around=1):
        return [{"id": chunk_id, "text": "On 2024-03-12 the Heron team decided to move the database from Postgres 14 to SQLite."}]

    def session(self, session_id):
        return {"id": session_id, "created_at": "2024-11-02T09:14:00+00:00", "status": "complete", "device": "cpu",
                "question": "What database did Heron move to?", "answer": ANSWER, "note": None, "prior": 1.0,
                "selections": [{"rank": i + 1, "chunk_id": i + 1, "document_path": p, "start_line": a, "end_line": b, "heading": h,
                                "variance_after": v, "repeat": int(r), "text": "chunk", "similarity": 0.7} for i, (p, a, b, h, v, r) in enumerate(SOURCES)],
                "adapter": {"rank": 8, "alpha": 16.0, "steps": 4, "bytes": 4_700_000, "sha256": "3f9a0c1d2e4b" + "0" * 52, "forgotten_at": None}}  # fmt: skip


class FrozenAssistant:
    """Fixed status, config and store (test double of assistant.pipeline.Assistant) for snapshots."""

    def __init__(self, config):
        self.config = config
        self.store = FrozenStore()

    def status(self):
        return {"documents": 44, "chunks": 179, "sessions": 3, "index_bytes": 0, "home": "~", "model": "SmolLM2-135M-Instruct.Q4_1.gguf",
                "embedder": "all-MiniLM-L6-v2", "device": "cpu", "roots": self.store.roots(), "threads": 2}  # fmt: skip

    def ask(self, question, *, adapter=None, cancel=None, **options):
        return scripted_events(question, cancel or threading.Event(), 0.0)

    def explain(self, question, **options):
        return {"question": question, "prior": 1.0, "method": "sift", "picks": [], "nn": NN}
