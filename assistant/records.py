"""Typed records that cross layers: store rows, events, the CLI, the TUI, JSON output and the socket.

Every record is a dataclass registered with ``@serialisable``; ``to_dict`` / ``from_dict`` round-trip
it (nested records included) so the warm server can send it as one JSON line.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field, fields
from enum import Enum, StrEnum
from pathlib import Path
from typing import Any, ClassVar

_TYPES: dict[str, type] = {}


def serialisable(cls):
    """Register a dataclass so ``decode`` can rebuild it from its ``type`` tag."""
    _TYPES[cls.__name__] = cls
    return cls


def encode(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        out: dict[str, Any] = {"type": type(value).__name__}
        for f in fields(value):
            out[f.name] = encode(getattr(value, f.name))
        return out
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, (list, tuple)):
        return [encode(v) for v in value]
    if isinstance(value, dict):
        return {str(k): encode(v) for k, v in value.items()}
    if hasattr(value, "item") and callable(value.item):  # numpy scalars
        return value.item()
    return value


def decode(value: Any) -> Any:
    if isinstance(value, dict):
        cls = _TYPES.get(value.get("type", "")) if isinstance(value.get("type"), str) else None
        if cls is not None:
            return cls.from_dict(value)
        return {k: decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [decode(v) for v in value]
    return value


class Record:
    """Mixin: ``to_dict`` / ``from_dict`` through the registry."""

    def to_dict(self) -> dict[str, Any]:
        return encode(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]):
        known = {f.name: f for f in fields(cls)}
        kwargs = {name: decode(value) for name, value in data.items() if name in known}
        return cls(**kwargs)


# ---------------------------------------------------------------- closed sets


class StageName(StrEnum):
    """The stages the core reports, in the order a run goes through them."""

    REBUILDING = "rebuilding"
    DISCOVERING = "discovering"
    INDEXING = "indexing"
    RETRIEVING = "retrieving"
    SELECTING = "selecting"
    LEARNING = "learning"
    ANSWERING = "answering"
    COMPARING = "comparing"
    EVALUATING = "evaluating"


class SessionStatus(StrEnum):
    COMPLETE = "complete"
    INTERRUPTED = "interrupted"


# ---------------------------------------------------------------- picks and sessions


def cite(path: str, start: int, end: int, citation: str = "") -> str:
    """Where a chunk is, for a person: ``notes.md:12-30`` by lines, else ``deck.pptx, slide 4``."""
    name = Path(path).name
    if citation:
        return f"{name}, {citation}"
    return f"{name}:{start}" if start == end else f"{name}:{start}-{end}"



@serialisable
@dataclass(frozen=True)
class Pick(Record):
    """One chunk chosen for learning (and context), with the variance it left behind."""

    rank: int
    chunk_id: int
    path: str
    start_line: int
    end_line: int
    heading: str
    similarity: float
    variance: float  # posterior variance of the question after this pick
    previous: float  # ... and before it
    prior: float  # before any pick
    repeat: bool = False  # re-picks a chunk chosen earlier in the same selection
    chunk_sha256: str = ""
    text: str = ""
    loss: float | None = None  # training loss of the step spent on it
    copies: list[str] = field(default_factory=list)  # other files that hold the same text
    citation: str = ""  # "page 3", "slide 4", 'chapter 2 “Salt”, ¶4-9'; '' means the lines are the citation

    def location(self) -> str:
        """``file.md:12-30``, or ``deck.pptx, slide 4``: the file and the place in it a person can find."""
        return cite(self.path, self.start_line, self.end_line, self.citation)

    def variance_cut(self) -> float:
        """The share of the prior variance this pick removed."""
        return (self.previous - self.variance) / self.prior if self.prior > 0 else 0.0

    def to_row(self) -> dict[str, Any]:
        """The ``selections`` row (without the session id)."""
        return {
            "rank": self.rank, "chunk_id": self.chunk_id, "document_path": self.path, "start_line": self.start_line,
            "end_line": self.end_line, "heading": self.heading, "chunk_sha256": self.chunk_sha256, "text": self.text,
            "similarity": self.similarity, "variance_after": self.variance, "repeat": int(self.repeat), "loss": self.loss,
            "citation": self.citation,
        }  # fmt: skip

    @classmethod
    def from_row(cls, row: dict[str, Any], previous: float, prior: float) -> Pick:
        return cls(
            rank=row["rank"], chunk_id=row["chunk_id"], path=row["document_path"], start_line=row["start_line"],
            end_line=row["end_line"], heading=row["heading"], similarity=row["similarity"],
            variance=row["variance_after"], previous=previous, prior=prior, repeat=bool(row["repeat"]),
            chunk_sha256=row["chunk_sha256"], text=row["text"], loss=row["loss"], citation=row.get("citation") or "",
        )  # fmt: skip


def picks_from_rows(rows: list[dict[str, Any]], prior: float | None) -> list[Pick]:
    """Rebuild the picks of a session, in rank order; each one's ``previous`` is the variance before it."""
    out, previous = [], prior or 0.0
    for row in sorted(rows, key=lambda r: r["rank"]):
        out.append(Pick.from_row(row, previous=previous, prior=prior or 0.0))
        previous = row["variance_after"]
    return out


@serialisable
@dataclass(frozen=True)
class Evidence(Record):
    """One line an answer can rest on."""

    text: str
    path: str
    line: int
    heading: str
    score: float
    chunk_id: int
    files: list[str] = field(default_factory=list)  # every file holding this line, ``path`` first
    note: str = ""  # why the line number is only approximate, when it is

    def location(self) -> str:
        name = Path(self.path).name
        return f"{name}:p{self.line}" if self.path.lower().endswith(".pdf") else f"{name}:{self.line}"


@serialisable
@dataclass(frozen=True)
class Claim(Record):
    """One sentence of an answer and what it rests on."""

    text: str
    cite: int | None  # 1-based index of the evidence line that supports it best
    score: float
    supported: bool
    unsupported: list[str] = field(default_factory=list)  # facts it states that no picked chunk holds


@serialisable
@dataclass(frozen=True)
class AdapterInfo(Record):
    """A LoRA adapter on disk: the peft folder and the llama.cpp GGUF inside it."""

    path: str
    gguf_path: str
    sha256: str
    bytes: int
    rank: int
    alpha: float
    target_modules: str
    steps: int
    recipe: str = "raw"
    forgotten_at: str | None = None
    forgotten_reason: str | None = None

    COLUMNS: ClassVar[tuple[str, ...]] = (
        "path", "gguf_path", "sha256", "bytes", "rank", "alpha", "target_modules", "steps", "recipe",
    )  # fmt: skip

    def to_row(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.COLUMNS}

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> AdapterInfo:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in row.items() if k in known})

    @property
    def usable(self) -> bool:
        return self.forgotten_at is None


@serialisable
@dataclass(frozen=True)
class Session(Record):
    """One ask: the question, the answer, what it learned from and the adapter it made."""

    id: int | None
    question: str
    answer: str
    status: str
    picks: list[Pick]
    prior: float | None
    timings: dict[str, float]
    device: str
    adapter: AdapterInfo | None
    note: str | None
    params: dict[str, Any]
    created_at: str = ""
    model: str = ""
    embedder: str = ""
    nn: list[Pick] = field(default_factory=list)  # what plain nearest neighbours would have picked instead
    evidence: list[Evidence] = field(default_factory=list)  # the lines the answer rests on, best first
    claims: list[Claim] = field(default_factory=list)  # one per answer sentence, with its support
    looped: bool = False  # the answer was cut at its first repeated sentence
    abstained: bool = False  # the best evidence was too weak: the tool said the notes do not answer
    without_adapter: str | None = None  # `--compare`: the answer from the same prompt with no adapter

    def unsupported(self) -> list[Claim]:
        """The answer sentences nothing in the picked sources supports."""
        return [c for c in self.claims if not c.supported]

    @property
    def session_id(self) -> int | None:
        return self.id

    def sources(self) -> list[Pick]:
        """The distinct chunks, in pick order (a re-pick is learned twice but cited once)."""
        return [p for p in self.picks if not p.repeat]


@serialisable
@dataclass(frozen=True)
class SessionSummary(Record):
    """A history row."""

    id: int
    created_at: str
    status: str
    question: str
    device: str
    sources: int
    seconds: float | None


# ---------------------------------------------------------------- status


class ProblemKind(StrEnum):
    MISSING = "missing"  # a model file or folder is not there
    UNAVAILABLE = "unavailable"  # the configured device is not on this machine


@serialisable
@dataclass(frozen=True)
class Problem(Record):
    kind: str  # a ProblemKind
    what: str  # model | embedder | device
    message: str


@serialisable
@dataclass(frozen=True)
class Root(Record):
    path: str
    last_indexed_at: str
    documents: int
    chunks: int


@serialisable
@dataclass(frozen=True)
class Status(Record):
    documents: int
    chunks: int
    sessions: int
    index_bytes: int
    home: str
    model: str | None
    embedder: str | None
    device: str | None
    roots: list[Root]
    threads: int
    problems: list[Problem] = field(default_factory=list)
    formats: list[str] = field(default_factory=list)
    chat_template: str = ""
    server: str = ""

    def problem(self, what: str) -> Problem | None:
        return next((p for p in self.problems if p.what == what), None)
