"""Adapter files under the home dir: staged writes, checksums, orphan sweeps.

An adapter folder is written as ``.partial-<id>`` and renamed into place right before the
session row that names it is committed, so a crash leaves either nothing or a folder the next
command can recognise as orphaned and delete.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import time
import uuid
from pathlib import Path

from assistant.errors import AdapterError
from assistant.records import AdapterInfo

GGUF_NAME = "adapter.gguf"
ORPHAN_GRACE_S = 120  # a folder this new may belong to an ask that is about to commit


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def staging_dir(adapters_dir: Path) -> Path:
    adapters_dir.mkdir(parents=True, exist_ok=True)
    path = adapters_dir / f".partial-{uuid.uuid4().hex[:12]}"
    path.mkdir()
    (path / "pid").write_text(str(os.getpid()))
    return path


def publish(staged: Path) -> Path:
    """Move a staged adapter folder to its final name."""
    final = staged.with_name(staged.name.removeprefix(".partial-"))
    (staged / "pid").unlink(missing_ok=True)
    staged.rename(final)
    return final


def verify(adapter: AdapterInfo, session_id: int) -> Path:
    """The GGUF adapter of a session, after checking it still exists and matches its sha256."""
    if adapter.forgotten_at:
        raise AdapterError(f"the adapter of session {session_id} was forgotten: {adapter.forgotten_reason}")
    path = Path(adapter.gguf_path)
    if not path.is_file():
        raise AdapterError(f"adapter file missing: {path} (session {session_id}); it will not be loaded")
    if sha256_file(path) != adapter.sha256:
        raise AdapterError(f"adapter file {path} fails its sha256 check (session {session_id}); it will not be loaded")
    return path


def delete(adapter: AdapterInfo | None) -> None:
    if adapter:
        shutil.rmtree(adapter.path, ignore_errors=True)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def sweep_orphans(adapters_dir: Path, known: set[str]) -> list[Path]:
    """Delete adapter folders no session row names (left by a crash or a kill -9)."""
    removed: list[Path] = []
    if not adapters_dir.is_dir():
        return removed
    for entry in adapters_dir.iterdir():
        if not entry.is_dir() or str(entry) in known:
            continue
        if entry.name.startswith(".partial-"):
            try:
                pid = int((entry / "pid").read_text())
            except (OSError, ValueError):
                pid = -1
            if pid > 0 and _pid_alive(pid) and pid != os.getpid():
                continue
        elif time.time() - entry.stat().st_mtime < ORPHAN_GRACE_S:
            continue
        shutil.rmtree(entry, ignore_errors=True)
        removed.append(entry)
    return removed
