"""Typed progress events. The pipeline yields them; the CLI and the TUI render them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Stage:
    """A pipeline stage started (``done=False``) or finished (``done=True``, with seconds)."""

    name: str
    done: bool = False
    seconds: float | None = None
    detail: str = ""


@dataclass(frozen=True)
class Progress:
    """Work counted in units (files, chunks) within the current stage."""

    done: int
    total: int
    unit: str = "files"
    detail: str = ""


@dataclass(frozen=True)
class Selected:
    """SIFT (or a baseline) picked one chunk; ``variance`` is the posterior variance after it."""

    rank: int
    chunk_id: int
    path: str
    start_line: int
    end_line: int
    heading: str
    similarity: float
    variance: float
    prior: float
    repeat: bool


@dataclass(frozen=True)
class Step:
    """One LoRA training step finished."""

    i: int
    n: int
    loss: float
    elapsed: float


@dataclass(frozen=True)
class Token:
    """A streamed piece of the answer."""

    text: str


@dataclass(frozen=True)
class Warning:
    """Something went wrong but the job goes on (for example learning failed, answering without it)."""

    message: str


@dataclass(frozen=True)
class Done:
    """The job finished; ``result`` is an IndexReport or an AskResult."""

    result: Any = field(default=None)


Event = Stage | Progress | Selected | Step | Token | Warning | Done
