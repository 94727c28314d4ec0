"""App-wide messages. Workers post them from their threads (post_message is thread-safe)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from textual.message import Message

from assistant.records import Status


@dataclass(frozen=True)
class Facts:
    """What the app knows about the core: its status and the detected devices, or why status failed."""

    status: Status | None = None
    devices: tuple[str, ...] = ()
    error: str = ""

    def problem(self, what: str) -> str | None:
        """The message of a problem with the model, embedder or device, if any."""
        found = self.status.problem(what) if self.status else None
        return found.message if found else None


class PipelineEvent(Message):
    """One event from ``Assistant.ask`` or ``Assistant.index``, tagged with the job that produced it."""

    def __init__(self, job: str, event: Any) -> None:
        super().__init__()
        self.job = job
        self.event = event


class StatusReady(Message):
    """``Assistant.status()`` plus the detected devices."""

    def __init__(self, facts: Facts) -> None:
        super().__init__()
        self.facts = facts


class AskRequest(Message):
    """Ask a question, optionally through the adapter of a past session."""

    def __init__(self, question: str, adapter: int | None = None) -> None:
        super().__init__()
        self.question = question
        self.adapter = adapter


class IndexRequest(Message):
    """Index (or re-index) these paths."""

    def __init__(self, paths: list[str]) -> None:
        super().__init__()
        self.paths = paths


class OpenSession(Message):
    """Show one past session."""

    def __init__(self, session_id: int) -> None:
        super().__init__()
        self.session_id = session_id


class SessionsChanged(Message):
    """A session was recorded or forgotten: lists of sessions are stale."""
