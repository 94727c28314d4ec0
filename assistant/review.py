"""Reviewing sessions: which sources changed since, forgetting, and exporting a session."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from . import adapters as adapter_files
from .errors import AssistantError
from .store import Store


def changed_sources(store: Store, session: dict) -> dict[int, str]:
    """Rank -> "changed" or "vanished" for each source whose chunk is no longer in that file."""
    marks: dict[int, str] = {}
    hashes: dict[str, set[str]] = {}
    for s in session["selections"]:
        path = s["document_path"]
        if path not in hashes:
            hashes[path] = store.chunk_hashes_for_path(path)
        if not Path(path).exists():
            marks[s["rank"]] = "file vanished"
        elif s["chunk_sha256"] not in hashes[path]:
            marks[s["rank"]] = "changed since"
    return marks


def forget_session(store: Store, session_id: int) -> dict:
    session = store.delete_session(session_id)
    adapter_files.delete(session["adapter"])
    return session


def sessions_for_source(store: Store, path: Path) -> list[int]:
    return store.sessions_learning_from(str(Path(path).absolute()))


def forget_source(store: Store, path: Path) -> tuple[list[int], list[int]]:
    """Remove a document from the index and delete every adapter that learned from it.

    Returns (removed chunk ids, affected session ids). The sessions stay, marked as forgotten.
    """
    path = Path(path).absolute()
    affected = store.sessions_learning_from(str(path))
    if store.document(path) is None and not affected:
        raise AssistantError(f"{path} is not in the index and no session learned from it")
    for session_id in affected:
        row = store.session(session_id)["adapter"]
        adapter_files.delete(row)
        if row and not row.get("forgotten_at"):
            store.forget_adapter(session_id, f"learned from {path}, which was forgotten")
    return store.remove_document(path), affected


def export_session(store: Store, session_id: int, out_dir: Path) -> list[Path]:
    """Write the peft adapter, the GGUF adapter and a JSON + Markdown report into ``out_dir``."""
    session = store.session(session_id)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    adapter = session["adapter"]
    if adapter and not adapter.get("forgotten_at"):
        adapter_files.verify({**adapter, "session_id": session_id})
        for item in Path(adapter["path"]).iterdir():
            target = out_dir / item.name
            if item.is_dir():
                shutil.copytree(item, target, dirs_exist_ok=True)
            else:
                shutil.copy2(item, target)
            written.append(target)
    report = out_dir / f"session-{session_id}.json"
    report.write_text(json.dumps(session, indent=2, default=str))
    written.append(report)
    md = out_dir / f"session-{session_id}.md"
    md.write_text(_markdown(session))
    written.append(md)
    return written


def _markdown(session: dict) -> str:
    lines = [f"# Session {session['id']}", "", f"*{session['created_at']} · {session['device']} · {session['status']}*", "",
             "## Question", "", session["question"], "", "## Answer", "", session["answer"] or "(none)", "", "## Sources", ""]  # fmt: skip
    prev = session["prior"] or 0.0
    for s in session["selections"]:
        cut = 100 * (prev - s["variance_after"]) / session["prior"] if session["prior"] else 0.0
        prev = s["variance_after"]
        repeat = " (repeat)" if s["repeat"] else ""
        lines.append(f"{s['rank']}. `{s['document_path']}:{s['start_line']}-{s['end_line']}` {s['heading']} — uncertainty −{cut:.1f}%{repeat}")
    adapter = session["adapter"]
    if adapter:
        lines += ["", "## Adapter", "", f"r={adapter['rank']} alpha={adapter['alpha']} steps={adapter['steps']} sha256 `{adapter['sha256']}`"]
    return "\n".join(lines) + "\n"
