"""Evidence lines: the sentences and lines of the picked chunks that best answer the question, with file:line.

A small model does not copy facts faithfully, so the tool shows the lines themselves. Each line is scored
together with its heading and the line before it (in documentation the line holding a value often says only
"The default is 300 seconds."), by the embedder's cosine plus a lexical overlap with the question. The same
line found in several files is shown once, with the files it appears in.
"""

from __future__ import annotations

import math
import re
import threading
import weakref
from collections import Counter, OrderedDict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from assistant.records import Evidence, Pick

TOP_LINES = 3
MAX_UNIT_CHARS = 300  # a 10,000-character line is cut into windows of this size
MIN_UNIT_CHARS = 12  # shorter pieces join their neighbour ("Yes." says nothing alone)
# Weights of the score: cosine of the line with its heading and previous line, cosine of the bare line, and
# the IDF-weighted share of the question's words the line (or its heading) holds. Chosen on corpus/QUESTIONS.md
# (see README "Evidence ranking"), reported on the Python-docs set.
WEIGHTS = {"context": 0.4, "bare": 0.2, "lexical": 0.4}
# Added for a line that sets a word of a question asking for a default (``flags=MAP_SHARED``); 0.05 to 0.2 all
# lifted evidence@3 on evalsets/pydocs-dev from 0.81 to 0.84 and left the notes unchanged.
DEFAULT_BONUS = 0.1
SAME_LINE = 0.97  # bare cosine above which two lines from different files count as the same fact

_SENTENCE_END = re.compile(r"(?<=[.!?。！？])\s+")
_WORD = re.compile(r"\w+", re.UNICODE)
_MARKUP_ONLY = re.compile(r"^[\s=\-~^*#`_|+:.]*$")
_STOP = frozenset(
    "a an and are as at be by did do does for from has have how i in is it its me my of on or our so that the "
    "their them there these this to was we were what when where which who whom why will with you your".split()
)


@dataclass
class _Unit:
    text: str
    pick: Pick
    offset: int  # line offset inside the chunk text
    before: str  # the unit before it in the same chunk
    subject: str = ""  # the term it defines part of, read with it as its heading is


_BLOCK_START = re.compile(r"^\s*([-*+]\s|\d+[.)]\s|#|\||>|\.\. |:\w+:)")
_LIST_ITEM = re.compile(r"^\s*([-*+]\s|\d+[.)]\s)")
_DIRECTIVE_OPTION = re.compile(r"^\s+:[\w-]+:(\s|$)")
_LEAD_MARKER = re.compile(r"^(?:[#>|]+\s*|[-*+]\s+)+")  # a heading's #, a quote, a bullet; not *emphasis*
_MID_SENTENCE_START = re.compile(r"^\s*(\d+[.)]\s|:\w+:`)")  # a number or a reST role can open a wrapped line


def _indent(raw: str) -> int:
    return len(raw) - len(raw.lstrip())


@dataclass
class _Para:
    starts: list[tuple[int, int]]  # (character position, line offset) of every joined line
    text: str
    subject: str = ""  # the term whose indented definition holds this paragraph (".. attribute:: Repr.maxstring")
    term: str = ""  # the term this paragraph opens with, the subject of its later sentences

    def join(self, offset: int, line: str) -> None:
        self.starts.append((len(self.text) + 1, offset))
        self.text += " " + line


def _paragraphs(text: str) -> list[_Para]:
    """Each paragraph, hard-wrapped lines joined; list items, table rows and headings start their own, so a
    sentence wrapped over two lines is read whole. A list item takes the lines that continue it ("- For Kestrel
    the contact is Ingrid's team, not the" / "  general support line.").

    A one-line term followed by an indented definition is one paragraph with the definition's first lines:
    ".. function:: timeit(..., number=1000000)" and the sentence under it, "--json-lines" and "Parse every
    input line as separate JSON object.", each say half of the fact. The definition's later paragraphs keep the
    term as their subject, as a section keeps its heading: "The default is ``30``." under Repr.maxstring."""
    out: list[_Para] = []
    open_para = False
    closed = False  # the open paragraph takes no wrapped lines: a heading, a table row, a directive
    term_indent = None  # the indent of a one-line paragraph that a more indented one may define
    terms: list[tuple[int, str]] = []  # (indent, term) of the definitions the current line sits in
    for offset, raw in enumerate(text.splitlines()):
        line = raw.strip()
        if not line or _MARKUP_ONLY.match(line):
            open_para = False
            continue
        if open_para and term_indent is not None and out[-1].text.startswith(".. ") and _DIRECTIVE_OPTION.match(raw):
            continue  # ".. class:: mmap(...)" / "   :noindex:": the option is no part of the term or its definition
        if open_para and out[-1].text.endswith("\\"):  # "HTTPSConnection(host, port=None, \" goes on: one line
            out[-1].text = out[-1].text[:-1].rstrip()
            out[-1].join(offset, line)
            continue
        block = _BLOCK_START.match(raw) and not (
            # "at most" / "45. If ..." and "defaults to" / ":attr:`x`." are a sentence wrapped, not a list
            _MID_SENTENCE_START.match(raw) and open_para and not closed and not _LIST_ITEM.match(out[-1].text)
            and not out[-1].text.endswith((".", ":", ";", "!", "?")))  # fmt: skip
        defines = (not open_para and term_indent is not None and _indent(raw) > term_indent and not block
                   and len(out[-1].text) < 200)  # fmt: skip
        if defines:
            terms.append((term_indent, out[-1].text))
            out[-1].term = out[-1].text
        wraps = open_para and not block and not closed and len(out[-1].text) < 2000
        if defines or wraps:
            out[-1].join(offset, line)
            closed, term_indent = False, None
        else:
            while terms and terms[-1][0] >= _indent(raw):
                terms.pop()
            out.append(_Para([(0, offset)], line, terms[-1][1] if terms else ""))
            closed, term_indent = bool(block and not _LIST_ITEM.match(raw)), _indent(raw)
        open_para = True
    return out


def _line_at(starts: list[tuple[int, int]], position: int) -> int:
    return max(offset for pos, offset in starts if pos <= position)


def _informative(unit: str) -> bool:
    """A heading word or a byline ("Notes: Maya.") is no evidence; a short line with a number can be."""
    return len(_WORD.findall(unit)) >= 4 or any(ch.isdigit() for ch in unit)


def split_units(text: str) -> list[tuple[int, str]]:
    """(line offset, text) for each sentence of a chunk; a 10,000-character run becomes windows."""
    return [(offset, unit) for offset, unit, _ in _sentences(text)]


def _sentences(text: str) -> list[tuple[int, str, str]]:
    """(line offset, text, subject) for each sentence of a chunk (see ``_Para.subject``)."""
    out: list[tuple[int, str, str]] = []
    for para in _paragraphs(text):
        position = 0
        merged: list[tuple[int, str]] = []
        for piece in _SENTENCE_END.split(para.text):
            at = para.text.index(piece, position)
            position = at + len(piece)
            if merged and len(piece) < MIN_UNIT_CHARS:
                merged[-1] = (merged[-1][0], merged[-1][1] + " " + piece)
            else:
                merged.append((at, piece))
        if len(merged) > 1 and len(merged[0][1]) < MIN_UNIT_CHARS:  # "1." opens the sentence after it
            merged[:2] = [(merged[0][0], merged[0][1] + " " + merged[1][1])]
        for n, (at, piece) in enumerate(merged):
            subject = para.term if n and para.term else para.subject
            clean = _LEAD_MARKER.sub("", piece).strip()
            for start in range(0, len(clean), MAX_UNIT_CHARS):
                window = clean[start : start + MAX_UNIT_CHARS]
                if _informative(window):
                    out.append((_line_at(para.starts, at + start), window, subject))
    return out


def _terms(text: str) -> list[str]:
    return [w for w in _WORD.findall(text.lower()) if w not in _STOP and (len(w) > 2 or w.isdigit())]


def lexical_scores(question: str, texts: list[str]) -> np.ndarray:
    """The IDF-weighted share of the question's words that each text holds (IDF over these texts)."""
    q = set(_terms(question))
    if not q or not texts:
        return np.zeros(len(texts))
    docs = [set(_terms(t)) for t in texts]
    df = Counter(w for d in docs for w in d if w in q)
    idf = {w: math.log(1 + len(docs) / (1 + df[w])) for w in q}
    total = sum(idf.values()) or 1.0
    return np.array([sum(idf[w] for w in q & d) / total for d in docs])


class UnitVectors:
    """Vectors of evidence units by text, per embedder. A warm process (the server, the TUI) meets the same
    notes again and again, and embedding every line of 16 picks cost 0.4 to 0.7 s of each ask on a CPU."""

    def __init__(self, limit: int = 20_000):  # 20,000 MiniLM vectors: 30 MB
        self.limit = limit
        self._by_embedder: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
        self._lock = threading.Lock()

    def __call__(self, embedder, texts: list[str]) -> np.ndarray:
        with self._lock:
            known: OrderedDict = self._by_embedder.setdefault(embedder, OrderedDict())
            missing = [t for t in dict.fromkeys(texts) if t not in known]
            if missing:
                known.update(zip(missing, embedder.embed(missing)))
            for text in texts:
                known.move_to_end(text)
            vectors = np.stack([known[t] for t in texts])
            while len(known) > self.limit:
                known.popitem(last=False)
            return vectors


unit_vectors = UnitVectors()


class SourceLines:
    """Finds a unit's real line in its file; remembers files it could not read."""

    def __init__(self) -> None:
        self._files: dict[str, list[str] | None] = {}

    def _lines(self, path: str) -> list[str] | None:
        if path not in self._files:
            try:
                if path.lower().endswith((".pdf", ".docx", ".epub", ".odt", ".pptx", ".ipynb", ".mbox", ".eml")):
                    raise OSError("not a text file")
                self._files[path] = Path(path).read_text(encoding="utf-8", errors="replace").splitlines()
            except OSError:
                self._files[path] = None
        return self._files[path]

    def locate(self, unit: _Unit) -> tuple[int, str]:
        """(line number, note). Searches the file near the chunk's lines for the unit's opening words."""
        guess = unit.pick.start_line + unit.offset
        if unit.pick.path.lower().endswith(".pdf"):
            return unit.pick.start_line, ""
        lines = self._lines(unit.pick.path)
        if lines is None:
            return guess, "the source file could not be read; the line number comes from the index"
        probe = unit.text[:40]
        lo, hi = max(0, unit.pick.start_line - 1), min(len(lines), unit.pick.end_line + 5)
        for number in range(lo, hi):
            if probe in lines[number]:
                return number + 1, ""
        return guess, ""


def extract_evidence(question: str, picks: list[Pick], embedder, *, top: int = TOP_LINES,
                     query: np.ndarray | None = None) -> list[Evidence]:  # fmt: skip
    """The ``top`` best lines of the distinct picks, best first, the same line across files merged.
    ``query``: the question's vector, when retrieval has embedded it already.

    Callers pass SIFT's picks and NN's: SIFT's spread serves what the adapter learns, while the prompt wants
    the most relevant lines, which NN's closest chunks often hold (README, "Evidence ranking")."""
    units = _units(picks)
    if not units:
        return []
    bare_texts = [u.text for u in units]
    context_texts = [" ".join(x for x in (u.pick.heading, u.subject, u.before, u.text) if x) for u in units]
    q = embedder.embed([question])[0] if query is None else query
    vectors = unit_vectors(embedder, [*bare_texts, *context_texts])
    bare, context = vectors[: len(units)], vectors[len(units) :]
    lexical = lexical_scores(question, [f"{u.pick.heading} {u.subject} {u.text}" for u in units])
    scores = WEIGHTS["context"] * (context @ q) + WEIGHTS["bare"] * (bare @ q) + WEIGHTS["lexical"] * lexical
    scores = scores + DEFAULT_BONUS * default_settings(question, bare_texts)
    return _merge(units, scores, bare, top)


_ASKS_DEFAULT = re.compile(r"\bdefault|\b(if|when|unless)\b[^?,]{0,30}\b(not|none|no|omitted)\b|\bwithout (an?|any) "
                           r"\w+|\botherwise\b", re.IGNORECASE)  # fmt: skip
_SETTING = re.compile(r"\b(\w+)\s*=\s*[^\s,)=]")


def default_settings(question: str, texts: list[str]) -> np.ndarray:
    """1 for a line that sets a word of the question (``flags=MAP_SHARED``) when the question asks for a default:
    an API reference writes a parameter's default in its signature, where the embedder sees little to match."""
    if not _ASKS_DEFAULT.search(question):
        return np.zeros(len(texts))
    words = set(_terms(question))
    return np.array([float(any(m.group(1).lower() in words for m in _SETTING.finditer(t))) for t in texts])


def _units(picks: list[Pick]) -> list[_Unit]:
    units: list[_Unit] = []
    seen: set[int] = set()
    for pick in picks:
        if pick.repeat or pick.chunk_id in seen:
            continue
        seen.add(pick.chunk_id)
        before = ""
        for offset, text, subject in _sentences(pick.text):
            units.append(_Unit(text, pick, offset, before, subject))
            before = text
    return units


def _norm(text: str) -> str:
    return " ".join(_WORD.findall(text.lower()))


def _same(a: str, b: str, cosine: float) -> bool:
    """The same fact: equal words, one line inside the other ("Hi Jonas, TAP flight ..."), or near-equal vectors."""
    a, b = _norm(a), _norm(b)
    short, long = sorted((a, b), key=len)
    return a == b or (len(short) >= 30 and short in long) or cosine >= SAME_LINE


def _merge(units: list[_Unit], scores: np.ndarray, bare: np.ndarray, top: int) -> list[Evidence]:
    lines = SourceLines()
    chosen: list[tuple[int, list[str]]] = []  # (unit index, files)
    for i in np.argsort(-scores, kind="stable"):
        same = next((c for c in chosen if _same(units[c[0]].text, units[i].text, float(bare[c[0]] @ bare[i]))), None)
        if same is not None:
            for path in [units[i].pick.path, *units[i].pick.copies]:
                if path not in same[1]:
                    same[1].append(path)
            continue
        if len(chosen) < top:
            chosen.append((int(i), list(dict.fromkeys([units[i].pick.path, *units[i].pick.copies]))))
    out = []
    for i, files in chosen:
        u = units[i]
        line, note = lines.locate(u)
        out.append(Evidence(u.text, u.pick.path, line, u.pick.heading, float(scores[i]), u.pick.chunk_id, files, note))
    return out
