"""Attribution: link each answer sentence to the evidence line that supports it, and flag what nothing supports.

A sentence is supported when a source line is close to it (the embedder's cosine plus word overlap, over a
threshold calibrated on the QA eval) and every fact it states (a number, date, time, code, path or name) is
written somewhere in the picked chunks. "08:45" in an answer whose sources only say "07:40" is flagged.
"""

from __future__ import annotations

import re
import numpy as np

from assistant.answer.prompt import CITATION
from assistant.records import Claim, Evidence, Pick

SUPPORT_THRESHOLD = 0.45  # 0.6 * cosine + 0.4 * word overlap; calibrated on corpus/QUESTIONS.md (README, "Grounding")
_SENTENCE = re.compile(r"(?<=[.!?。！？])\s+|\n+")
# Facts a reader acts on: numbers with their separators (07:40, 1,500, 2024-06-14), codes with digits (TP753,
# LX-4471), paths, and capitalised names that are not the first word of the sentence.
_NUMBER = re.compile(r"(?<![\w])[A-Z]*[-]?\d[\w:.,/-]*\w|(?<![\w])\d(?![\w])")
_PATH = re.compile(r"(?:~|\.{1,2})?/[\w.-]+(?:/[\w.-]+)+")
_NAME = re.compile(r"(?<=[\w,;:] )[A-Z][a-zà-ÿ]+(?:[ -][A-Z][a-zà-ÿ]+)*")
_WORD = re.compile(r"\w+")


def sentences(answer: str) -> list[str]:
    return [s.strip() for s in _SENTENCE.split(answer) if len(_WORD.findall(s)) >= 2]


def facts(sentence: str) -> list[str]:
    """The checkable facts a sentence states."""
    text = CITATION.sub("", sentence)
    found = _PATH.findall(text) + _NUMBER.findall(text) + _NAME.findall(text)
    return list(dict.fromkeys(f.rstrip(".,:;") for f in found if f.rstrip(".,:;")))


def _squash(text: str) -> str:
    return " ".join(text.lower().split())


def _overlap(sentence: str, source: str) -> float:
    words = {w for w in _WORD.findall(sentence.lower()) if len(w) > 2}
    return len(words & set(_WORD.findall(source.lower()))) / len(words) if words else 0.0


def attribute(answer: str, evidence: list[Evidence], picks: list[Pick], embedder,
              threshold: float = SUPPORT_THRESHOLD, opening: str = "") -> list[Claim]:  # fmt: skip
    """One ``Claim`` per sentence of ``answer``, against the evidence lines (cited) and the whole picked chunks.
    ``opening``, the best evidence line quoted verbatim at the start, is the notes' own words: supported by [1]."""
    if opening and answer.startswith(opening):
        quoted = [Claim(s, 1, 1.0, True, []) for s in sentences(opening)]
        return quoted + attribute(answer[len(opening) :], evidence, picks, embedder, threshold)
    parts = sentences(answer)
    if not parts:
        return []
    chunks = list(dict.fromkeys(p.text for p in picks))
    sources = [e.text for e in evidence] + chunks
    haystack = _squash("\n".join([*chunks, *(e.text for e in evidence)]))
    if not sources:
        return [Claim(s, None, 0.0, False, facts(s)) for s in parts]
    vectors = embedder.embed([CITATION.sub("", s) for s in parts] + sources)
    cos = vectors[: len(parts)] @ vectors[len(parts) :].T
    claims = []
    for i, sentence in enumerate(parts):
        overlap = np.array([_overlap(CITATION.sub("", sentence), src) for src in sources])
        scores = 0.6 * cos[i] + 0.4 * overlap
        best = int(np.argmax(scores))
        missing = [f for f in facts(sentence) if _squash(f) not in haystack]
        cite = best + 1 if best < len(evidence) else _best_evidence(scores, len(evidence))
        supported = float(scores[best]) >= threshold and not missing
        claims.append(Claim(sentence, cite, float(scores[best]), supported, missing))
    return claims


def _best_evidence(scores: np.ndarray, n_evidence: int) -> int | None:
    return int(np.argmax(scores[:n_evidence])) + 1 if n_evidence else None
