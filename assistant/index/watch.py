"""``assistant index --watch``: re-index changed folders, batching bursts of file events."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path


def watch_and_index(assistant, paths: list[Path], render: Callable, *, stop_event=None) -> None:
    """Block until Ctrl-C (or ``stop_event``), re-running the incremental index after each burst.

    Re-indexing the watched roots is cheap when little changed (unchanged files are skipped by
    size and mtime), so a burst of events becomes one incremental run.
    """
    from watchfiles import watch

    try:
        for _changes in watch(*paths, debounce=800, step=100, stop_event=stop_event, raise_interrupt=False):
            render(assistant.index(paths, prune=True))
    except KeyboardInterrupt:  # Ctrl-C is how a watch ends, during a pass too: each file commits on its own
        return
