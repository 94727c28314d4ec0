"""Typed progress events. The core yields them; the CLI, the TUI and the warm server render or send them.

Every event round-trips through ``to_dict`` / ``from_dict`` (see ``records``), so the server can send
them to a client as JSON lines and the client renders exactly what an in-process run renders.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from assistant.records import Pick, Record, decode, serialisable


@serialisable
@dataclass(frozen=True)
class Stage(Record):
    """A stage (a ``records.StageName``) started (``done=False``) or finished (``done=True``, with seconds)."""

    name: str
    done: bool = False
    seconds: float | None = None
    detail: str = ""
    skipped: bool = False  # the stage did not run; ``detail`` says why


@serialisable
@dataclass(frozen=True)
class Progress(Record):
    """Work counted in units (files, questions) within the current stage; ``chunks`` counts chunks written."""

    done: int
    total: int
    unit: str = "files"
    chunks: int = 0


@serialisable
@dataclass(frozen=True)
class Selected(Record):
    """SIFT (or a baseline) picked one chunk."""

    pick: Pick


@serialisable
@dataclass(frozen=True)
class Step(Record):
    """One LoRA training step finished."""

    i: int
    n: int
    loss: float
    elapsed: float


@serialisable
@dataclass(frozen=True)
class Token(Record):
    """A streamed piece of the answer."""

    text: str


@serialisable
@dataclass(frozen=True)
class Warning(Record):
    """Something went wrong but the job goes on (for example learning failed, answering without it)."""

    message: str


@serialisable
@dataclass(frozen=True)
class Waiting(Record):
    """The warm server is busy with another client's job; this one waits its turn."""

    question: str


@serialisable
@dataclass(frozen=True)
class Done(Record):
    """The job finished; ``result`` is an IndexReport, a Session or an eval summary."""

    result: Any = field(default=None)


@serialisable
@dataclass(frozen=True)
class Failed(Record):
    """The job stopped with an error (sent by the warm server; in-process runs raise instead)."""

    message: str
    kind: str = "AssistantError"


Event = Stage | Progress | Selected | Step | Token | Warning | Waiting | Done | Failed


def event_from_dict(data: dict) -> Event:
    """The event a ``to_dict()`` produced."""
    event = decode(data)
    if not isinstance(event, (Stage, Progress, Selected, Step, Token, Warning, Waiting, Done, Failed)):
        raise ValueError(f"not an event: {data.get('type')!r}")
    return event
