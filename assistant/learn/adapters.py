"""Adapter files under the home dir: staged writes, checksums, orphan sweeps that also mend.

An adapter folder is written as ``.partial-<id>``; the session row that names its final folder
``<id>`` commits first, and the rename follows. A crash therefore leaves one of: a staged folder
no row names (deleted by the next command), or a row plus its staged folder (renamed into place
by the next command). A final folder exists only once its row does.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import uuid
from collections.abc import Callable
from pathlib import Path

from assistant.errors import AdapterError
from assistant.records import AdapterInfo

GGUF_NAME = "adapter.gguf"


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


def final_dir(staged: Path) -> Path:
    """Where a staged adapter folder goes once its session row is committed."""
    return staged.with_name(staged.name.removeprefix(".partial-"))


def publish(staged: Path) -> Path:
    """Move a staged adapter folder to its final name (after its row is committed)."""
    final = final_dir(staged)
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


def sweep_orphans(adapters_dir: Path, known: Callable[[], set[str]]) -> list[Path]:
    """Mend or delete what a crash left: publish a staged folder whose row committed, delete one no row names.

    ``known`` gives the adapter folders the store names; it is read after the folder is listed, so a
    folder another process publishes meanwhile (its row commits before its rename) is always known.
    A staged folder whose process is still alive belongs to a running ask and is left alone.
    Returns the folders deleted.
    """
    removed: list[Path] = []
    if not adapters_dir.is_dir():
        return removed
    entries = [e for e in adapters_dir.iterdir() if e.is_dir()]
    named = known()
    for entry in entries:
        if str(entry) in named:
            continue
        if entry.name.startswith(".partial-"):
            if _owner_alive(entry):
                continue
            if str(final_dir(entry)) in named:
                publish(entry)  # the row committed, the rename did not happen: finish it
                continue
        shutil.rmtree(entry, ignore_errors=True)
        removed.append(entry)
    return removed


def _owner_alive(staged: Path) -> bool:
    try:
        pid = int((staged / "pid").read_text())
    except (OSError, ValueError):
        return False
    return pid > 0 and pid != os.getpid() and _pid_alive(pid)
