"""The prompt: the question with its evidence lines (best first), or with whole chunks (the older layout)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

SYSTEM = (
    "You are a helpful assistant answering questions about the user's own notes. "
    "Use the numbered notes when they are relevant and cite them like [1]. "
    "Answer briefly and precisely."
)
# A 135M model copies best from a short prompt that opens with the line it needs; it loses the question in
# long ones. Prompt processing runs at ~170 tokens/s on 2 cores, so every 100 tokens here cost ~0.6 s.
EVIDENCE_SYSTEM = (
    "You answer questions about the user's notes. Answer in one or two short sentences, "
    "copying names, numbers, dates and times exactly as the notes write them, and cite the note like [1]."
)
CITATION = re.compile(r"\s*\[(\d+)\]")  # "[2]", with the space before it: how answers cite a numbered note
# Past its answer a small model writes the prompt's layout again: a numbered note ("[2] 2024-12.md — Journal"), a
# "Question:" of its own, a quote of its own in the quoted opening's marks (with numbers it changed), or a
# citation for an answer ("The answer is: [2]"). A new line opening that way ends the answer. A citation alone on
# its line ("[2]" and then the line it cites) does not.
ECHO = re.compile(r"\n(\[\d+\] \S|Question:|Notes:|“|The answer is: \[)")
_ECHO_WORDS = ("\nQuestion:", "\nNotes:", "\n“", "\nThe answer is: [")
_ECHO_NOTE_OPENING = re.compile(r"\n\[\d*(\] ?)?")
MAX_CONTEXT_CHARS = 2400  # about 600 tokens of whole chunks
MAX_EVIDENCE_CHARS = 900  # about 220 tokens of evidence lines


@dataclass(frozen=True)
class Context:
    """One numbered block of the prompt: a whole chunk, or an evidence line with its heading."""

    n: int
    path: str
    start_line: int
    end_line: int
    heading: str
    text: str


def _block(c: Context) -> str:
    return f"[{c.n}] {Path(c.path).name}" + (f" — {c.heading}" if c.heading else "") + f"\n{c.text.strip()}"


def _numbered(contexts: list[Context], budget: int) -> str:
    parts, used = [], 0
    for c in contexts:
        block = _block(c)
        if used and used + len(block) > budget:
            break
        parts.append(block[:budget])
        used += len(block)
    return "\n\n".join(parts)


def build_messages(question: str, contexts: list[Context] | None, *, evidence: bool = False) -> list[dict]:
    """A chat with the numbered context (if any) followed by the question.

    ``evidence=True``: the blocks are evidence lines, best first, under a tighter budget and a system prompt
    that asks for a short, exact answer."""
    system = EVIDENCE_SYSTEM if evidence else SYSTEM
    if not contexts:
        return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": question}]
    notes = _numbered(contexts, MAX_EVIDENCE_CHARS if evidence else MAX_CONTEXT_CHARS)
    return [{"role": "system", "content": system}, {"role": "user", "content": f"Notes:\n\n{notes}\n\nQuestion: {question}"}]


def evidence_contexts(evidence: list) -> list[Context]:
    """The evidence lines (``records.Evidence``), best first, as numbered blocks."""
    return [Context(i, e.path, e.line, e.line, e.heading, e.text) for i, e in enumerate(evidence, 1)]


def chunk_contexts(picks: list) -> list[Context]:
    """The distinct picked chunks (``records.Pick``; a re-pick is cited once), as numbered blocks."""
    sources = [p for p in picks if not p.repeat]
    return [Context(i, p.path, p.start_line, p.end_line, p.heading, p.text) for i, p in enumerate(sources, 1)]


def echo_opening(text: str) -> int:
    """How many characters at the end of ``text`` could still turn into an ``ECHO`` (a new line, then "[2" or
    "Quest")."""
    tail = text[text.rfind("\n") :] if "\n" in text else ""
    opens = any(w.startswith(tail) for w in _ECHO_WORDS) or _ECHO_NOTE_OPENING.fullmatch(tail)
    return len(tail) if tail and opens else 0


def quote_opening(line: str) -> str:
    """The answer's opening when it quotes the best evidence line: the exact words, cited, then the model."""
    return f"“{' '.join(line.split())}” [1]\n"


def best_line_opening(evidence: list) -> str:
    """``quote_opening`` of the best evidence line (``records.Evidence``); '' when there is none."""
    return quote_opening(evidence[0].text) if evidence else ""


def citations(answer: str, n_contexts: int) -> list[int]:
    """The valid [n] citations in an answer, in order of first appearance."""
    seen: list[int] = []
    for match in CITATION.finditer(answer):
        n = int(match.group(1))
        if 1 <= n <= n_contexts and n not in seen:
            seen.append(n)
    return seen
