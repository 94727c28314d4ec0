"""``Library``: past sessions and indexed documents. History, show, forget, forget a source, export."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

from assistant import faults
from assistant.errors import AssistantError
from assistant.learn import adapters as adapter_files
from assistant.records import Record, Root, Session, SessionSummary, serialisable
from assistant.storage.catalog import Catalog


@serialisable
@dataclass(frozen=True)
class Forgotten(Record):
    """What ``forget --source`` removed: chunk ids, and the sessions whose adapters were deleted."""

    chunks: list[int]
    sessions: list[int]


class Library:
    """Everything the faces read about the past goes through here, as typed records."""

    def __init__(self, catalog: Catalog):
        self.catalog = catalog

    @property
    def store(self):
        return self.catalog.store

    def history(self, search: str | None = None, limit: int = 200) -> list[SessionSummary]:
        return self.store.sessions(search, limit)

    def session(self, session_id: int) -> Session:
        return self.store.session(session_id)

    def latest(self) -> Session | None:
        rows = self.store.sessions(None, 1)
        return self.store.session(rows[0].id) if rows else None

    def roots(self) -> list[Root]:
        return self.store.roots()

    def neighbours(self, chunk_id: int, around: int = 1) -> list[dict]:
        """The chunk and its neighbours in the same document (for the source view)."""
        return self.store.neighbours(chunk_id, around)

    def changed_sources(self, session: Session) -> dict[int, str]:
        """Rank -> "file vanished" or "changed since" for each source whose chunk is no longer in that file."""
        marks: dict[int, str] = {}
        hashes: dict[str, set[str]] = {}
        for pick in session.picks:
            if pick.path not in hashes:
                hashes[pick.path] = self.store.chunk_hashes_for_path(pick.path)
            if not Path(pick.path).exists():
                marks[pick.rank] = "file vanished"
            elif pick.chunk_sha256 not in hashes[pick.path]:
                marks[pick.rank] = "changed since"
        return marks

    def forget(self, session_id: int) -> Session:
        session = self.store.delete_session(session_id)
        adapter_files.delete(session.adapter)
        return session

    def sessions_for_source(self, path: Path) -> list[int]:
        return self.store.sessions_learning_from(str(Path(path).absolute()))

    def forget_source(self, path: Path) -> Forgotten:
        """Remove a document from the index and delete every adapter that learned from it.

        The sessions stay, with their adapters marked as forgotten: an adapter memorises what it learned.
        """
        path = Path(path).absolute()
        store = self.store
        affected = store.sessions_learning_from(str(path))
        if store.document(path) is None and not affected:
            raise AssistantError(f"{path} is not in the index and no session learned from it")
        for session_id in affected:
            adapter = store.session(session_id).adapter
            adapter_files.delete(adapter)
            if adapter and not adapter.forgotten_at:
                store.forget_adapter(session_id, f"learned from {path}, which was forgotten")
        removed = store.remove_document(path)
        faults.point("mid-forget-source")
        if removed:
            vectors = self.catalog.vectors
            vectors.mark_deleted(removed)
            vectors.save()
        return Forgotten(removed, affected)

    def export(self, session_id: int, out_dir: Path) -> list[Path]:
        """Write the peft adapter, the GGUF adapter and a JSON + Markdown report into ``out_dir``."""
        session = self.store.session(session_id)
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        written: list[Path] = []
        if session.adapter and session.adapter.usable:
            adapter_files.verify(session.adapter, session_id)
            for item in Path(session.adapter.path).iterdir():
                target = out_dir / item.name
                if item.is_dir():
                    shutil.copytree(item, target, dirs_exist_ok=True)
                else:
                    shutil.copy2(item, target)
                written.append(target)
        report = out_dir / f"session-{session_id}.json"
        report.write_text(json.dumps(session.to_dict(), indent=2, default=str))
        md = out_dir / f"session-{session_id}.md"
        md.write_text(session_markdown(session))
        return [*written, report, md]


def session_markdown(session: Session) -> str:
    lines = [f"# Session {session.id}", "", f"*{session.created_at} · {session.device} · {session.status}*", "",
             "## Question", "", session.question, "", "## Answer", "", session.answer or "(none)", ""]  # fmt: skip
    if session.without_adapter is not None:
        lines += ["## Answer without learning", "", session.without_adapter or "(none)", ""]
    if session.evidence:
        lines += ["## Evidence", ""]
        lines += [f"> {e.text}  \n> — `{e.location()}`" for e in session.evidence]
        lines.append("")
    lines += ["## Sources", ""]
    for p in session.picks:
        repeat = " (repeat)" if p.repeat else ""
        where = f"{p.path}, {p.citation}" if p.citation else f"{p.path}:{p.start_line}-{p.end_line}"
        lines.append(f"{p.rank}. `{where}` {p.heading} — uncertainty −{100 * p.variance_cut():.1f}%{repeat}")
    if session.adapter:
        a = session.adapter
        lines += ["", "## Adapter", "", f"r={a.rank} alpha={a.alpha} steps={a.steps} recipe={a.recipe} sha256 `{a.sha256}`"]
    return "\n".join(lines) + "\n"
