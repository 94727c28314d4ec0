"""Typed records and events: every event survives a JSON round trip (the warm server sends them as lines)."""

import json

import pytest

from assistant import events as ev
from assistant.core.asker import Explanation
from assistant.core.library import Forgotten
from assistant.index.indexer import IndexReport
from assistant.records import AdapterInfo, Pick, Problem, Root, Session, SessionSummary, StageName, Status, picks_from_rows
from assistant.storage.vectors import Repair


def pick(rank=1, variance=0.5, previous=1.0, repeat=False) -> Pick:
    return Pick(rank=rank, chunk_id=10 + rank, path=f"/notes/n{rank}.md", start_line=3, end_line=9, heading="H > I",
                similarity=0.8, variance=variance, previous=previous, prior=1.0, repeat=repeat, chunk_sha256="ab",
                text="some text", loss=2.5, copies=["/notes/copy.md"])  # fmt: skip


def session() -> Session:
    adapter = AdapterInfo(path="/a", gguf_path="/a/adapter.gguf", sha256="f" * 64, bytes=10, rank=8, alpha=16.0,
                          target_modules="all-linear", steps=2, recipe="chat")  # fmt: skip
    return Session(id=3, question="q?", answer="a.", status="complete", picks=[pick(1), pick(2, 0.4, 0.5, True)],
                   prior=1.0, timings={"total": 2.0}, device="cpu", adapter=adapter, note=None,
                   params={"k": 200, "learn": True}, nn=[pick(1)])  # fmt: skip


EVENTS = [
    ev.Stage(StageName.LEARNING),
    ev.Stage(StageName.ANSWERING, done=True, seconds=1.5, detail="12 tokens"),
    ev.Progress(3, 10, "files", chunks=42),
    ev.Selected(pick()),
    ev.Step(1, 4, 2.25, 0.5),
    ev.Token("Hel"),
    ev.Warning("learning failed"),
    ev.Waiting("another question"),
    ev.Failed("boom", "IndexEmpty"),
    ev.Done(session()),
    ev.Done(IndexReport(added=2, skipped={"binary": 1}, warnings=[["/x", "w"]], repair=Repair(added=1, reason="r"))),
    ev.Done(Explanation("q", "sift", 1.0, [pick()], [pick(2)])),
    ev.Done(Forgotten([1, 2], [3])),
    ev.Done(Status(1, 2, 3, 4, "/h", "m", "e", None, [Root("/n", "t", 1, 2)], 2,
                   problems=[Problem("unavailable", "device", "no mps")])),
    ev.Done([SessionSummary(1, "t", "complete", "q", "cpu", 3, 1.5)]),
]


@pytest.mark.parametrize("event", EVENTS, ids=lambda e: type(e).__name__ + ":" + type(getattr(e, "result", e)).__name__)
def test_every_event_round_trips_through_json(event):
    line = json.dumps(event.to_dict())
    again = ev.event_from_dict(json.loads(line))
    assert again == event


def test_a_non_event_is_refused():
    with pytest.raises(ValueError, match="not an event"):
        ev.event_from_dict(pick().to_dict())


def test_pick_variance_cut_and_location_are_written_once():
    p = pick(2, variance=0.4, previous=0.5)
    assert p.variance_cut() == pytest.approx(0.1)
    assert p.location() == "n2.md:3-9"
    rows = [pick(1).to_row(), pick(2, 0.4, 0.5).to_row()]
    rebuilt = picks_from_rows(rows, prior=1.0)
    assert [r.previous for r in rebuilt] == [1.0, 0.5] and rebuilt[1].variance_cut() == pytest.approx(0.1)


def test_session_sources_skip_repeats():
    assert [p.rank for p in session().sources()] == [1]
