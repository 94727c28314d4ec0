"""Fault-injection points: a test stops a real process at a named stage, then kills or releases it.

``ASSISTANT_FAULT=NAME:FLAG`` arms one point. When the process reaches ``point(NAME)`` it writes
its pid to the file FLAG and waits there until the test either sends SIGKILL (the crash under
test) or deletes FLAG (the process carries on). So a test waits on a file the code writes, never
on a sleep. Unarmed, ``point`` is one comparison with None.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

ENV = "ASSISTANT_FAULT"

# The stages a test can stop at, in the order a run meets them.
POINTS = (
    "after-retrieval",  # ask: candidates and picks chosen, nothing learned or recorded
    "mid-learning",  # ask: after the first LoRA step
    "after-adapter-export",  # ask: the adapter is staged as .partial-*, no session row yet
    "between-record-and-publish",  # ask: the session row is committed, the adapter folder not yet renamed
    "mid-answer",  # ask: after the first answer token
    "mid-index-commit",  # index: a document is committed to SQLite, its vectors not yet in the index
    "mid-forget-source",  # forget --source: chunks deleted from SQLite, the index not yet saved
)


def _parse(value: str | None) -> tuple[str, Path] | None:
    if not value:
        return None
    name, _, flag = value.partition(":")
    if name not in POINTS or not flag:
        raise ValueError(f"{ENV} must be NAME:FLAG_FILE with NAME one of {', '.join(POINTS)}; got {value!r}")
    return name, Path(flag)


_armed = _parse(os.environ.get(ENV))


def arm(name: str | None, flag: Path | None = None) -> None:
    """Arm (or with None, disarm) a point in this process: for in-process tests such as the TUI's."""
    global _armed
    _armed = _parse(f"{name}:{flag}") if name else None


def point(name: str) -> None:
    """Stop here if a test armed this point: announce it in the flag file, wait until killed or released."""
    global _armed
    if _armed is None or _armed[0] != name:
        return
    flag = _armed[1]
    tmp = flag.with_name(flag.name + ".tmp")
    tmp.write_text(str(os.getpid()))
    os.replace(tmp, flag)  # the test never reads a half-written flag
    while flag.exists():
        time.sleep(0.02)
    _armed = None  # one stop per run: a released process carries on to the end
