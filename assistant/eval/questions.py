"""Questions files for the QA evaluation: ``corpus/QUESTIONS.md`` style Markdown, or JSONL."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from assistant.errors import AssistantError


@dataclass(frozen=True)
class Question:
    number: int
    question: str
    answer: str
    sources: tuple[str, ...]

    @property
    def answerable(self) -> bool:
        """False for questions marked ``- answer: UNANSWERABLE``: the notes do not say, and the tool should say so."""
        return self.answer.strip().upper() != UNANSWERABLE


UNANSWERABLE = "UNANSWERABLE"
_HEAD = re.compile(r"^##\s+(\d+)\.\s+(.+?)\s*$")
_FIELD = re.compile(r"^-\s+(answer|sources):\s*(.+?)\s*$", re.IGNORECASE)


def parse_questions(path: Path) -> list[Question]:
    """Markdown items ``## 1. question`` with ``- answer: ...`` and ``- sources: a, b``, or JSONL rows
    with ``question``, ``answer`` and ``sources`` (a list or a comma-separated string)."""
    text = Path(path).read_text(encoding="utf-8")
    if path.suffix == ".jsonl":
        out = []
        for i, line in enumerate(l for l in text.splitlines() if l.strip()):
            row = json.loads(line)
            sources = row.get("sources", [])
            if isinstance(sources, str):
                sources = [s.strip() for s in sources.split(",")]
            out.append(Question(i + 1, row["question"], str(row["answer"]), tuple(sources)))
        return out
    items: list[Question] = []
    current: dict | None = None
    for line in text.splitlines() + ["## 0. end"]:
        head = _HEAD.match(line)
        if head:
            if current and current.get("answer"):
                items.append(Question(current["n"], current["q"], current["answer"], tuple(current.get("sources", ()))))
            current = {"n": int(head.group(1)), "q": head.group(2)}
            continue
        field = _FIELD.match(line)
        if field and current is not None:
            key, value = field.group(1).lower(), field.group(2)
            current[key] = value if key == "answer" else [s.strip().strip("`") for s in value.split(",") if s.strip()]
    if not items:
        raise AssistantError(f"{path}: no questions found (expected '## 1. question' items)")
    return items


def normalise(text: str) -> str:
    return " ".join(re.sub(r"[^\w\s.:-]", " ", text.lower()).split())


def contains_answer(generated: str, gold: str) -> bool:
    return normalise(gold) in normalise(generated)
