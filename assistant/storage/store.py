"""The SQLite store: the source of truth for documents, chunks (with vectors), sessions and adapters.

This and ``migrations.py`` are the only modules that write SQL.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
from sqlite_utils import Database

from assistant.errors import SessionNotFound, StoreError
from assistant.index.chunk import Chunk
from assistant.records import AdapterInfo, Root, Session, SessionSummary, decode, encode, picks_from_rows
from assistant.storage.migrations import migrations

# Chunk-id fingerprint mixing, a quadratic (a linear mix ties {1, 4} with {2, 3}); each term stays below 2^31,
# so the sum over a billion chunks fits in 64 bits.
MIX, MIX_MOD, MIX_CAP = 40503, 65521, 2147483647


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _sha(text: str) -> str:
    import hashlib

    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class Store:
    def __init__(self, path: Path):
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(str(self.path), timeout=30, check_same_thread=False)
            self.db = Database(conn)
            self.db.execute("PRAGMA foreign_keys = ON")
            # SQLite's lower() folds ASCII only, and notes say "Bodø" and "Däckia" (mention_shares).
            conn.create_function("casefold", 1, lambda text: (text or "").lower(), deterministic=True)
            if self.db.journal_mode != "wal":
                self.db.enable_wal()
            migrations.apply(self.db)
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"cannot open the store {self.path}: {exc}") from None
        except PermissionError as exc:
            raise StoreError(f"cannot create the store {self.path}: {exc.strerror}") from None

    def close(self) -> None:
        self.db.close()

    def _rows(self, sql: str, params: Sequence | dict = ()) -> list[dict]:
        return list(self.db.query(sql, params))

    # ------------------------------------------------------------ meta

    def get_meta(self, key: str) -> str | None:
        rows = self._rows("SELECT value FROM meta WHERE key = ?", [key])
        return rows[0]["value"] if rows else None

    def set_meta(self, key: str, value: str) -> None:
        self.db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", [key, value])

    # ------------------------------------------------------------ documents and chunks

    def document(self, path: Path | str) -> dict | None:
        rows = self._rows("SELECT * FROM documents WHERE path = ?", [str(path)])
        return rows[0] if rows else None

    def document_stamps(self) -> dict[str, dict]:
        """path -> {id, size, mtime, sha256, chunking} of every document: what a re-index compares files against."""
        cur = self.db.execute("SELECT path, id, size, mtime, sha256, chunking FROM documents")
        return {r[0]: {"id": r[1], "size": r[2], "mtime": r[3], "sha256": r[4], "chunking": r[5]} for r in cur}

    def touch_document(self, doc_id: int, size: int, mtime: float) -> None:
        with self.db.atomic():
            self.db.execute("UPDATE documents SET size = ?, mtime = ? WHERE id = ?", [size, mtime, doc_id])

    def replace_document(
        self,
        *,
        path: Path,
        root: Path | None,
        fmt: str,
        sha256: str,
        size: int,
        mtime: float,
        chunks: list[Chunk],
        embeddings: np.ndarray,
        warning: str | None = None,
        chunking: str = "",
    ) -> tuple[list[int], list[int]]:
        """Insert or replace a document and all its chunks in one transaction.

        Returns (old chunk ids, new chunk ids) so the caller can update the vector index.
        """
        if len(chunks) != len(embeddings):
            raise ValueError("one embedding per chunk")
        with self.db.atomic():
            old = self.document(path)
            old_ids: list[int] = []
            if old:
                old_ids = [r["id"] for r in self._rows("SELECT id FROM chunks WHERE document_id = ?", [old["id"]])]
                self.db.execute("DELETE FROM chunks WHERE document_id = ?", [old["id"]])
                doc_id = old["id"]
                self.db.execute(
                    "UPDATE documents SET root=?, format=?, sha256=?, size=?, mtime=?, n_chunks=?, indexed_at=?, warning=?, "
                    "chunking=? WHERE id=?",
                    [str(root) if root else None, fmt, sha256, size, mtime, len(chunks), now(), warning, chunking, doc_id],
                )
            else:
                cur = self.db.execute(
                    "INSERT INTO documents(path, root, format, sha256, size, mtime, n_chunks, indexed_at, warning, chunking) "
                    "VALUES (?,?,?,?,?,?,?,?,?,?)",
                    [str(path), str(root) if root else None, fmt, sha256, size, mtime, len(chunks), now(), warning, chunking],
                )
                doc_id = cur.lastrowid
            new_ids = []
            for ordinal, (chunk, vector) in enumerate(zip(chunks, embeddings)):
                cur = self.db.execute(
                    "INSERT INTO chunks(document_id, ordinal, text, heading, start_line, end_line, n_tokens, sha256, embedding, citation) "
                    "VALUES (?,?,?,?,?,?,?,?,?,?)",
                    [
                        doc_id, ordinal, chunk.text, chunk.heading, chunk.start_line, chunk.end_line,
                        chunk.n_tokens, _sha(chunk.text), np.asarray(vector, dtype=np.float32).tobytes(), chunk.citation,
                    ],
                )  # fmt: skip
                new_ids.append(cur.lastrowid)
        return old_ids, new_ids

    def remove_document(self, path: Path | str) -> list[int]:
        """Delete a document and its chunks; returns the removed chunk ids."""
        return self.remove_documents([path])

    def remove_documents(self, paths: Iterable[Path | str]) -> list[int]:
        """Delete documents and their chunks in one transaction (one commit, not one per file: pruning
        5,000 files took 28 s one by one); returns the removed chunk ids."""
        ids: list[int] = []
        with self.db.atomic():
            for path in paths:
                doc = self.document(path)
                if doc:
                    ids += [r[0] for r in self.db.execute("SELECT id FROM chunks WHERE document_id = ?", [doc["id"]])]
                    self.db.execute("DELETE FROM chunks WHERE document_id = ?", [doc["id"]])
                    self.db.execute("DELETE FROM documents WHERE id = ?", [doc["id"]])
        return ids

    def documents_under(self, root: Path) -> list[str]:
        prefix = str(root).rstrip("/") + "/"
        return [
            r["path"]
            for r in self._rows("SELECT path FROM documents WHERE path = ? OR substr(path, 1, ?) = ?", [str(root), len(prefix), prefix])
        ]

    def mark_root(self, root: Path) -> None:
        with self.db.atomic():
            self.db.execute("INSERT OR REPLACE INTO roots(path, last_indexed_at) VALUES (?, ?)", [str(root), now()])

    def roots(self) -> list[Root]:
        out = []
        for r in self._rows("SELECT path, last_indexed_at FROM roots ORDER BY path"):
            prefix = r["path"].rstrip("/") + "/"
            counts = self._rows(
                "SELECT count(*) AS documents, coalesce(sum(n_chunks), 0) AS chunks FROM documents WHERE substr(path, 1, ?) = ?",
                [len(prefix), prefix],
            )[0]
            out.append(Root(r["path"], r["last_indexed_at"], counts["documents"], counts["chunks"]))
        return out

    def counts(self) -> dict[str, int]:
        row = self._rows(
            "SELECT (SELECT count(*) FROM documents) AS documents, (SELECT count(*) FROM chunks) AS chunks, "
            "(SELECT count(*) FROM sessions) AS sessions"
        )[0]
        return dict(row)

    def chunk_ids(self) -> np.ndarray:
        return np.array([r["id"] for r in self._rows("SELECT id FROM chunks ORDER BY id")], dtype=np.int64)

    def chunk_fingerprint(self) -> list[int]:
        """[count, sum, mixed sum] of the chunk ids, as ``vectors.fingerprint`` computes it; one index scan."""
        row = self.db.execute(
            "SELECT count(*), coalesce(sum(id), 0), coalesce(sum((id % ?) * (id % ?) * ? % ?), 0) FROM chunks",
            [MIX_MOD, MIX_MOD, MIX, MIX_CAP],
        ).fetchone()
        return [int(v) for v in row]

    def vectors(self, ids: Iterable[int] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(ids, float32 matrix) for the given chunk ids, or for every chunk."""
        if ids is None:
            rows = self._rows("SELECT id, embedding FROM chunks ORDER BY id")
        else:
            wanted = [int(i) for i in ids]
            rows = []
            for start in range(0, len(wanted), 900):  # SQLite's bound-parameter limit
                part = wanted[start : start + 900]
                rows += self._rows(
                    f"SELECT id, embedding FROM chunks WHERE id IN ({','.join('?' * len(part))}) ORDER BY id", part
                )
        if not rows:
            return np.zeros(0, dtype=np.int64), np.zeros((0, 0), dtype=np.float32)
        return (
            np.array([r["id"] for r in rows], dtype=np.int64),
            np.stack([np.frombuffer(r["embedding"], dtype=np.float32) for r in rows]),
        )

    def chunk_keys(self, ids: Sequence[int]) -> dict[int, tuple[str, str]]:
        """chunk id -> (text sha256, document path), to tell exact copies apart from distinct texts."""
        wanted, out = [int(i) for i in ids], {}
        for start in range(0, len(wanted), 900):  # SQLite's bound-parameter limit
            part = wanted[start : start + 900]
            for r in self._rows(
                f"SELECT c.id, c.sha256, d.path FROM chunks c INDEXED BY chunks_keys JOIN documents d ON d.id = c.document_id "
                f"WHERE c.id IN ({','.join('?' * len(part))})", part
            ):  # fmt: skip
                out[r["id"]] = (r["sha256"], r["path"])
        return out

    def vector_batches(self, size: int = 50_000) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Every chunk's (ids, float32 matrix), ``size`` rows at a time: a rebuild at 10^6 chunks then
        holds one batch beside the graph instead of every vector twice (blobs plus matrix)."""
        after = 0
        while True:
            rows = self.db.execute("SELECT id, embedding FROM chunks WHERE id > ? ORDER BY id LIMIT ?", [after, size]).fetchall()
            if not rows:
                return
            ids = np.fromiter((r[0] for r in rows), np.int64, len(rows))
            yield ids, np.frombuffer(b"".join(r[1] for r in rows), dtype=np.float32).reshape(len(rows), -1)
            after = int(ids[-1])

    def chunks(self, ids: Sequence[int]) -> dict[int, dict]:
        """Chunk rows with their document path, keyed by id."""
        out: dict[int, dict] = {}
        wanted = [int(i) for i in ids]
        for start in range(0, len(wanted), 900):
            part = wanted[start : start + 900]
            for r in self._rows(
                "SELECT c.id, c.text, c.heading, c.start_line, c.end_line, c.citation, c.n_tokens, c.sha256, c.ordinal, "
                "c.document_id, d.path, d.format FROM chunks c JOIN documents d ON d.id = c.document_id "
                f"WHERE c.id IN ({','.join('?' * len(part))})",
                part,
            ):
                out[r["id"]] = r
        return out

    def mention_shares(self, words: Sequence[str]) -> dict[str, float]:
        """The share of all chunks whose heading, text or file path holds each word (every dotted part of it),
        case-folded: how much of the notes' background a name is. One pass over the chunks for all words."""
        parts = {w: [p for p in w.lower().split(".") if p] for w in dict.fromkeys(words)}
        parts = {w: ps for w, ps in parts.items() if ps}
        if not parts:
            return {}
        held = ", ".join("SUM(" + " AND ".join("instr(t, ?) > 0" for _ in ps) + ")" for ps in parts.values())
        row = self.db.execute(
            f"SELECT COUNT(*), {held} FROM (SELECT casefold(c.heading || ' ' || c.text || ' ' || d.path) AS t "
            "FROM chunks c JOIN documents d ON d.id = c.document_id)",
            [p for ps in parts.values() for p in ps],
        ).fetchone()
        total = row[0] or 1
        return {w: (n or 0) / total for w, n in zip(parts, row[1:])}

    def neighbours(self, chunk_id: int, around: int = 1) -> list[dict]:
        """The chunk and up to ``around`` chunks either side of it in the same document."""
        row = self._rows("SELECT document_id, ordinal FROM chunks WHERE id = ?", [chunk_id])
        if not row:
            return []
        return self._rows(
            "SELECT id, ordinal, text, heading, start_line, end_line, citation FROM chunks WHERE document_id = ? "
            "AND ordinal BETWEEN ? AND ? ORDER BY ordinal",
            [row[0]["document_id"], row[0]["ordinal"] - around, row[0]["ordinal"] + around],
        )

    def chunk_hashes_for_path(self, path: str) -> set[str]:
        return {
            r["sha256"]
            for r in self._rows("SELECT c.sha256 FROM chunks c JOIN documents d ON d.id = c.document_id WHERE d.path = ?", [path])
        }

    # ------------------------------------------------------------ sessions

    def record_session(self, session: Session) -> int:
        """Write a session, its picks and its adapter row in one transaction; returns the new id."""
        with self.db.atomic():
            cur = self.db.execute(
                "INSERT INTO sessions(created_at, status, question, answer, model, embedder, device, params_json, "
                "timings_json, prior, note, evidence_json, claims_json, looped, abstained, without_adapter) "
                "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                [now(), session.status, session.question, session.answer, session.model, session.embedder,
                 session.device, json.dumps(session.params), json.dumps(session.timings), session.prior, session.note,
                 json.dumps(encode(session.evidence)), json.dumps(encode(session.claims)), int(session.looped),
                 int(session.abstained), session.without_adapter],
            )  # fmt: skip
            session_id = cur.lastrowid
            for pick in session.picks:
                self.db.table("selections").insert({**pick.to_row(), "session_id": session_id})
            if session.adapter:
                self.db.table("adapters").insert({**session.adapter.to_row(), "session_id": session_id})
        return session_id

    def sessions(self, search: str | None = None, limit: int = 200) -> list[SessionSummary]:
        where, params = "", []
        if search:
            where = "WHERE s.question LIKE ? OR s.answer LIKE ?"
            params = [f"%{search}%", f"%{search}%"]
        rows = self._rows(
            "SELECT s.id, s.created_at, s.status, s.question, s.device, s.timings_json, "
            "(SELECT count(*) FROM selections WHERE session_id = s.id) AS sources "
            f"FROM sessions s {where} ORDER BY s.id DESC LIMIT ?",
            [*params, limit],
        )
        return [
            SessionSummary(r["id"], r["created_at"], r["status"], r["question"], r["device"], r["sources"],
                           json.loads(r["timings_json"] or "{}").get("total"))  # fmt: skip
            for r in rows
        ]

    def session(self, session_id: int) -> Session:
        rows = self._rows("SELECT * FROM sessions WHERE id = ?", [session_id])
        if not rows:
            raise SessionNotFound(f"no session with id {session_id} (see `assistant history`)")
        row = rows[0]
        picks = picks_from_rows(self._rows("SELECT * FROM selections WHERE session_id = ?", [session_id]), row["prior"])
        adapters = self._rows("SELECT * FROM adapters WHERE session_id = ?", [session_id])
        return Session(
            id=row["id"], question=row["question"], answer=row["answer"], status=row["status"], picks=picks,
            prior=row["prior"], timings=json.loads(row["timings_json"]), device=row["device"],
            adapter=AdapterInfo.from_row(adapters[0]) if adapters else None, note=row["note"],
            params=json.loads(row["params_json"]), created_at=row["created_at"], model=row["model"],
            embedder=row["embedder"], evidence=decode(json.loads(row.get("evidence_json") or "[]")),
            claims=decode(json.loads(row.get("claims_json") or "[]")), looped=bool(row.get("looped")),
            abstained=bool(row.get("abstained")), without_adapter=row.get("without_adapter"),
        )  # fmt: skip

    def set_without_adapter(self, session_id: int, text: str) -> None:
        with self.db.atomic():
            self.db.execute("UPDATE sessions SET without_adapter = ? WHERE id = ?", [text, session_id])

    def delete_session(self, session_id: int) -> Session:
        session = self.session(session_id)
        with self.db.atomic():
            self.db.execute("DELETE FROM selections WHERE session_id = ?", [session_id])
            self.db.execute("DELETE FROM adapters WHERE session_id = ?", [session_id])
            self.db.execute("DELETE FROM sessions WHERE id = ?", [session_id])
        return session

    def sessions_learning_from(self, path: str) -> list[int]:
        return [
            r["session_id"]
            for r in self._rows("SELECT DISTINCT session_id FROM selections WHERE document_path = ? ORDER BY session_id", [path])
        ]

    def forget_adapter(self, session_id: int, reason: str) -> None:
        with self.db.atomic():
            self.db.execute(
                "UPDATE adapters SET forgotten_at = ?, forgotten_reason = ? WHERE session_id = ?", [now(), reason, session_id]
            )

    def adapter_paths(self) -> set[str]:
        return {r["path"] for r in self._rows("SELECT path FROM adapters WHERE forgotten_at IS NULL")}
