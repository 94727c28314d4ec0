"""``Asker``: ask as short stages over one typed run record.

retrieve -> select -> learn -> answer -> record. Each stage is a generator of events; the run record
carries what the later stages and the session row need.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from assistant import faults
from assistant.answer.coverage import best_score, learns
from assistant.config import Config
from assistant.core.models import Models
from assistant.errors import AssistantError, Cancelled, IndexEmpty
from assistant.events import Done, Event, Selected, Stage, Token, Warning
from assistant.learn import adapters as adapter_files
from assistant.records import AdapterInfo, Claim, Evidence, Pick, Record, Session, SessionStatus, StageName, serialisable
from assistant.storage.catalog import Catalog


ABSTAIN_TEXT = "Your notes do not seem to answer this. The closest lines are below."


def abstain_text(unmentioned: list[str]) -> str:
    """The abstention, with the reason when it is a specific the close lines do not say."""
    from assistant.answer.coverage import ASKED_KINDS

    kinds = {k.gap: k.reason for k in ASKED_KINDS}
    named = [f"“{w}”" for w in unmentioned if w not in kinds]
    reasons = [f"no close line mentions {', '.join(named)}"] if named else []
    reasons += [kinds[w] for w in unmentioned if w in kinds]
    if not reasons:
        return ABSTAIN_TEXT
    return f"Your notes do not seem to answer this: {'; '.join(reasons)}. The closest lines are below."


@dataclass(frozen=True)
class AskOptions:
    """Per-question overrides of the config; ``None`` means the config's value."""

    k: int | None = None
    n: int | None = None
    method: str | None = None
    lam: float | None = None
    learn: bool | None = None  # True: learn even where the best line already answers (past learn_below)
    context: bool | None = None
    steps: int | None = None
    adapter: int | None = None  # re-use this session's adapter and skip learning
    compare: bool = False  # also answer without the adapter, from the same prompt
    recipe: str | None = None  # one of RECIPES


@dataclass(frozen=True)
class Candidates:
    """What retrieval found: the question's vector, the candidates' ids, vectors and chunk rows."""

    query: np.ndarray
    ids: np.ndarray
    vectors: np.ndarray
    rows: dict[int, dict]
    copies: dict[int, list[str]] = field(default_factory=dict)  # chunk id -> other files with the same text


@serialisable
@dataclass(frozen=True)
class Explanation(Record):
    """``explain``: what SIFT picks for a question, next to what plain NN would pick."""

    question: str
    method: str
    prior: float
    picks: list[Pick]
    nn: list[Pick]


class Timings:
    """Seconds per finished stage; a stage that never finished is simply absent."""

    def __init__(self) -> None:
        self._started: dict[str, float] = {}
        self.seconds: dict[str, float] = {}
        self._t0 = time.perf_counter()

    def start(self, name: str) -> Stage:
        self._started[name] = time.perf_counter()
        return Stage(name)

    def finish(self, name: str, detail: str = "") -> Stage:
        self.seconds[name] = time.perf_counter() - self._started.pop(name)
        return Stage(name, done=True, seconds=self.seconds[name], detail=detail)

    def total(self) -> dict[str, float]:
        return {**self.seconds, "total": time.perf_counter() - self._t0}


@dataclass
class AskRun:
    """One ask in flight: its settings and everything the stages have produced so far."""

    question: str
    params: dict[str, Any]
    device: str
    cancel: threading.Event
    reuse: Path | None = None  # the verified GGUF of a re-used adapter
    picks: list[Pick] = field(default_factory=list)
    nn: list[Pick] = field(default_factory=list)
    query: np.ndarray | None = None  # the question's vector from retrieval, reused for the evidence lines
    prior: float | None = None
    gguf: Path | None = None  # the adapter answering uses
    adapter: AdapterInfo | None = None
    staged: Path | None = None
    evidence: list[Evidence] = field(default_factory=list)
    claims: list[Claim] = field(default_factory=list)
    answer: str = ""
    without_adapter: str | None = None
    looped: bool = False
    abstained: bool = False
    unmentioned: list[str] = field(default_factory=list)  # what the question names and no close line mentions
    note: str | None = None
    timings: Timings = field(default_factory=Timings)

    def check_cancel(self, where: str) -> None:
        if self.cancel.is_set():
            raise Cancelled(f"cancelled {where}")


COPY_OVERSAMPLE = 2  # search this many times K, so that K distinct texts remain after copies collapse


def distinct(ids, keys: dict[int, tuple[str, str]], k: int) -> tuple[list[int], dict[int, list[str]]]:
    """The first ``k`` ids (in similarity order) with distinct text, and for each the paths of its copies.
    An id the store no longer has (a stale index) is dropped: the store wins."""
    first: dict[str, int] = {}
    copies: dict[int, list[str]] = {}
    for i in (int(x) for x in ids):
        if i not in keys:
            continue
        sha, path = keys[i]
        if sha in first:
            kept = first[sha]
            if path not in copies[kept] and path != keys[kept][1]:
                copies[kept].append(path)
        elif len(first) < k:
            first[sha] = i
            copies[i] = []
    return list(first.values()), {i: c for i, c in copies.items() if c}


def picks_of(selection, cands: Candidates) -> list[Pick]:
    """The picks of a ``sift.Selection`` as typed records, with repeats flagged."""
    seen: set[int] = set()
    out, previous = [], float(selection.prior)
    for rank, (pos, var, sim) in enumerate(zip(selection.indices, selection.variances, selection.similarities), start=1):
        row = cands.rows[int(cands.ids[pos])]
        out.append(Pick(
            rank=rank, chunk_id=row["id"], path=row["path"], start_line=row["start_line"], end_line=row["end_line"],
            heading=row["heading"], similarity=float(sim), variance=float(var), previous=previous,
            prior=float(selection.prior), repeat=pos in seen, chunk_sha256=row["sha256"], text=row["text"],
            citation=row.get("citation") or "",
        ))  # fmt: skip
        seen.add(pos)
        previous = float(var)
    return out


def in_thread(fn, cancel: threading.Event):
    """Run ``fn(emit)`` in a thread and yield what it emits; returns its result, re-raises its error.

    Training and generation report through callbacks; this turns them into this generator's events.
    """
    import queue

    q: queue.Queue = queue.Queue()
    finished = object()
    outcome: dict = {}

    def target():
        try:
            outcome["value"] = fn(q.put)
        except BaseException as exc:  # handed to the caller's thread
            outcome["error"] = exc
        finally:
            q.put(finished)

    worker = threading.Thread(target=target, daemon=True)
    worker.start()
    try:
        while True:
            try:
                item = q.get(timeout=0.1)
            except queue.Empty:
                continue
            if item is finished:
                break
            yield item
    except BaseException:
        cancel.set()
        worker.join()
        raise
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("value")


class Asker:
    """Retrieve, select, learn a fresh LoRA, answer through it, record the session."""

    def __init__(self, config: Config, models: Models, catalog: Catalog):
        self.config = config
        self.models = models
        self.catalog = catalog

    def default_n(self, device: str) -> int:
        return self.config.n or (50 if device == "cuda" else 16)

    # ------------------------------------------------------------ retrieval and selection

    def retrieve(self, question: str, k: int) -> Candidates:
        """Embed the question and pull the top-k candidates with their vectors and chunk rows."""
        self.catalog.require_index()  # an empty index fails before the embedder loads
        return self.retrieve_vector(self.models.embedder.embed([question])[0], k)

    def retrieve_vector(self, query: np.ndarray, k: int) -> Candidates:
        """The top-k distinct candidates of an embedded question: HNSW, exact copies collapsed, then the
        vectors from the graph in memory. Copies must not shrink what SIFT chooses from: with every chunk
        copied 4x the top 200 held ~50 distinct texts. Each kept chunk remembers the other files that hold its text.

        At 10^6 chunks the chunk rows are 4 GB: the copy keys come from a covering index and the vectors
        from the graph, so no candidate's row is read (README "Scale")."""
        ids, _sims = self.catalog.require_index().search(query, k * COPY_OVERSAMPLE)
        keep, copies = distinct(ids, self.catalog.store.chunk_keys(ids), k)  # the store wins: deleted ids go here
        keep, cands = self.catalog.chunk_vectors(keep)
        return Candidates(query, np.array(keep, dtype=np.int64), cands.reshape(len(keep), len(query)), {}, copies)

    def select(self, question: str, *, k: int | None = None, n: int | None = None, method: str | None = None,
               lam: float | None = None, stop: float | None = None, seed: int | None = None):  # fmt: skip
        """Retrieval plus selection: (Selection, Candidates with the picked rows loaded)."""
        from assistant.selection.sift import select

        question = question.strip()
        if not question:
            raise AssistantError("the question is empty")
        cands = self.retrieve(question, k or self.config.k)
        if len(cands.ids) == 0:
            raise IndexEmpty("the index is empty: run `assistant index PATH` first")
        sel = select(
            cands.query, cands.vectors, n or self.default_n(self.models.device), method=method or self.config.method,
            lam=self.config.lam if lam is None else lam, stop=(self.config.stop if stop is None else stop) or None,
            seed=self.config.seed if seed is None else seed,
        )  # fmt: skip
        cands.rows.update(self.catalog.store.chunks([int(cands.ids[i]) for i in set(sel.indices)]))
        return sel, cands

    def nn_alternative(self, sel, cands: Candidates) -> list[Pick]:
        """What plain nearest neighbours would have picked: as many distinct chunks as ``sel`` holds."""
        from assistant.selection.sift import select

        nn = select(cands.query, cands.vectors, len(set(sel.indices)), method="nn")
        missing = [int(cands.ids[i]) for i in nn.indices if int(cands.ids[i]) not in cands.rows]
        cands.rows.update(self.catalog.store.chunks(missing))
        return picks_of(nn, cands)

    def explain(self, question: str, *, k: int | None = None, n: int | None = None, lam: float | None = None,
                method: str | None = None) -> Explanation:  # fmt: skip
        sel, cands = self.select(question, k=k, n=n, lam=lam, method=method)
        return Explanation(question, sel.method, float(sel.prior), picks_of(sel, cands), self.nn_alternative(sel, cands))

    # ------------------------------------------------------------ ask

    def ask(self, question: str, options: AskOptions | None = None, cancel: threading.Event | None = None) -> Iterator[Event]:
        """Answer ``question``; yields stage, pick, step and token events, then ``Done(Session)``."""
        run = self._start(question, options or AskOptions(), cancel or threading.Event())
        try:
            yield from self._retrieve_and_select(run)
            faults.point("after-retrieval")
            run.check_cancel("before learning")  # Esc during retrieval or selection stops here
            if skip := self._why_not_learn(run):
                yield Stage(StageName.LEARNING, done=True, seconds=0.0, detail=skip, skipped=True)
            else:
                yield from self._learn(run)
            if run.abstained:
                yield from self._abstain(run)
            else:
                yield from self._answer(run)
                if run.params["compare"] and run.gguf:
                    yield from self._compare(run)
            session = self._record(run, SessionStatus.COMPLETE)
        except (Cancelled, KeyboardInterrupt, GeneratorExit):
            run.cancel.set()
            if run.picks:
                run.note = "interrupted by the user"
                self._discard_staged(run)
                self._record(run, SessionStatus.INTERRUPTED)
            raise
        finally:
            self._discard_staged(run)
        yield Done(session)  # outside the try: a caller that stops reading at Done does not add an "interrupted" row

    def _start(self, question: str, opts: AskOptions, cancel: threading.Event) -> AskRun:
        cfg = self.config
        device = self.models.device
        reuse = None
        if opts.adapter is not None:
            source = self.catalog.store.session(opts.adapter)
            if source.adapter is None:
                raise AssistantError(f"session {opts.adapter} has no adapter to re-use")
            reuse = adapter_files.verify(source.adapter, opts.adapter)
        self.catalog.mend_adapters()
        learn = cfg.learn if opts.learn is None else opts.learn
        params = {
            "k": opts.k or cfg.k, "n": opts.n or self.default_n(device), "method": opts.method or cfg.method,
            "lam": cfg.lam if opts.lam is None else opts.lam, "stop": cfg.stop, "learn": learn and reuse is None,
            "context": cfg.context if opts.context is None else opts.context, "steps": opts.steps,
            "adapter_from": opts.adapter, "lr": cfg.lr, "lora_r": cfg.lora_r, "lora_alpha": cfg.lora_alpha,
            "lora_targets": cfg.lora_targets, "lora_layers": cfg.lora_layers, "max_train_tokens": cfg.max_train_tokens,
            "max_tokens": cfg.max_tokens,
            "temperature": cfg.temperature, "seed": cfg.seed, "chunk_tokens": cfg.chunk_tokens, "prompt": cfg.prompt,
            "abstain_below": cfg.abstain_below, "recipe": opts.recipe or cfg.recipe, "compare": opts.compare,
            "quote_first": cfg.quote_first,
            # --learn and --compare ask for an adapter outright; otherwise learning waits on the evidence
            "learn_below": cfg.learn_below, "learn_asked": "--compare" if opts.compare else "--learn" if opts.learn else None,
        }  # fmt: skip
        return AskRun(question, params, device, cancel, reuse=reuse, gguf=reuse)

    def _retrieve_and_select(self, run: AskRun) -> Iterator[Event]:
        p = run.params
        yield run.timings.start(StageName.RETRIEVING)
        sel, cands = self.select(run.question, k=p["k"], n=p["n"], method=p["method"], lam=p["lam"])
        run.nn = self.nn_alternative(sel, cands)
        run.query = cands.query
        yield run.timings.finish(StageName.RETRIEVING, f"{len(cands.ids)} candidates")
        yield run.timings.start(StageName.SELECTING)
        run.prior = float(sel.prior)
        for pick in picks_of(sel, cands):
            run.picks.append(pick)
            yield Selected(pick)
        self._find_evidence(run)
        yield run.timings.finish(
            StageName.SELECTING, f"{len(sel.indices)} picks, variance {sel.prior:.3f} -> {sel.variances[-1]:.3f}"
        )

    def _find_evidence(self, run: AskRun) -> None:
        """The lines the answer should rest on, from SIFT's picks and NN's (the prompt wants the most relevant)."""
        from assistant.answer.coverage import abstains
        from assistant.answer.evidence import extract_evidence

        try:
            run.evidence = extract_evidence(run.question, run.picks + run.nn, self.models.embedder, query=run.query)
        except (ValueError, RuntimeError) as exc:  # odd text must not cost the answer
            run.note = f"the evidence lines could not be read ({exc}); answered from whole chunks"
        if self.config.abstain_unmentioned:
            run.unmentioned = self.unmentioned(run.question, run.evidence, run.picks + run.nn)
        weak = abstains(best_score(run.evidence), run.unmentioned, self.config.abstain_below)
        run.abstained = weak and run.params["context"]

    def unmentioned(self, question: str, evidence: list[Evidence], picks: list[Pick]) -> list[str]:
        """What the question pins down and the close lines do not say (``coverage.unmentioned``), with each
        name's share of all the chunks, so that a name that runs through the notes is read as background."""
        from assistant.answer.coverage import specifics, unmentioned

        shares = self.catalog.store.mention_shares(sorted(specifics(question)[1]))
        return unmentioned(question, evidence, picks, shares)

    @staticmethod
    def _why_not_learn(run: AskRun) -> str | None:
        """Why this ask does not train an adapter, in words for the user; None when it does."""
        if run.params["adapter_from"] is not None:
            return f"re-using the adapter of session {run.params['adapter_from']}"
        if not run.params["learn"]:
            return "learning is off (--no-learn, or learn = false)"
        if run.abstained:
            return "no line of your notes answers the question"
        best, below = best_score(run.evidence), run.params["learn_below"]
        if not run.params["learn_asked"] and not learns(best, below):
            return f"the best line already answers (score {best:.2f} ≥ learn_below {below:.2f}; --learn learns anyway)"
        return None

    @staticmethod
    def _why_learn(run: AskRun) -> str:
        """Why this ask trains an adapter, for the learning stage's line."""
        if run.params["learn_asked"]:
            return f"asked for by {run.params['learn_asked']}"
        if run.params["learn_below"] >= 1.0:
            return "learn_below = 1: always"
        return f"the best line scores {best_score(run.evidence):.2f} < learn_below {run.params['learn_below']:.2f}"

    def _abstain(self, run: AskRun) -> Iterator[Event]:
        """The notes do not answer this: say so plainly (the closest lines still come with the session)."""
        yield run.timings.start(StageName.ANSWERING)
        run.answer = abstain_text(run.unmentioned)
        run.note = "learning skipped: no line of the notes answers the question"
        yield Token(run.answer)
        yield run.timings.finish(StageName.ANSWERING, "abstained")

    def _learn(self, run: AskRun) -> Iterator[Event]:
        """Train the LoRA on the picks; on failure warn and answer without it."""
        from assistant.learn.lora_gguf import export_gguf
        from assistant.learn.recipes import build_examples
        from assistant.learn.tune import TrainConfig, fit_lora, save_peft

        cfg = self.config
        yield run.timings.start(StageName.LEARNING)
        try:
            tm = self.models.training
            recipe = run.params["recipe"]
            examples = build_examples(recipe, run.question, run.picks, run.evidence, tm.chat_prompt)
            examples = examples[: run.params["steps"] or None]
            train_cfg = TrainConfig.of(cfg)
            result = yield from in_thread(
                lambda emit: fit_lora(tm, examples, train_cfg, on_step=lambda s: (emit(s), faults.point("mid-learning")),
                                     should_cancel=run.cancel.is_set),
                run.cancel,
            )
            for note in result.notes:  # e.g. a GPU out-of-memory retry with shorter chunks
                yield Warning(note)
            for example, loss in zip(examples, result.losses):  # a pick learned from shows its own loss
                if example.pick is not None:
                    run.picks[example.pick] = replace(run.picks[example.pick], loss=float(loss))
            run.staged = adapter_files.staging_dir(cfg.adapters_dir)
            save_peft(result, tm, run.staged)
            gguf = export_gguf(result, tm, run.staged / adapter_files.GGUF_NAME)
            run.adapter = AdapterInfo(
                path=str(run.staged), gguf_path=str(gguf), sha256=adapter_files.sha256_file(gguf),
                bytes=gguf.stat().st_size, rank=result.r, alpha=float(result.alpha),
                target_modules=",".join(result.targets), steps=result.steps, recipe=recipe,
            )  # fmt: skip
            run.gguf = gguf
            faults.point("after-adapter-export")
            yield run.timings.finish(StageName.LEARNING, f"{recipe} recipe, {result.steps} steps, loss {result.losses[0]:.2f} -> "
                                     f"{result.losses[-1]:.2f} ({self._why_learn(run)})")  # fmt: skip
        except (Cancelled, KeyboardInterrupt, GeneratorExit):
            raise
        except Exception as exc:
            if os.environ.get("ASSISTANT_DEBUG"):
                raise
            self._discard_staged(run)
            run.adapter, run.gguf = None, None
            run.note = f"learning failed, answered without an adapter: {type(exc).__name__}: {exc}"
            yield Warning(run.note)
            yield run.timings.finish(StageName.LEARNING, "failed")

    def _contexts(self, run: AskRun) -> list:
        from assistant.answer.prompt import chunk_contexts, evidence_contexts

        if not run.params.get("context", True):
            return []
        if run.params.get("prompt") == "evidence" and run.evidence:
            return evidence_contexts(run.evidence)
        return chunk_contexts(run.picks)

    @staticmethod
    def _opening(run: AskRun) -> str:
        """The best evidence line, quoted, when the answer opens with it (the model then goes on from it)."""
        from assistant.answer.prompt import best_line_opening

        quoting = run.params.get("quote_first") and run.params.get("prompt") == "evidence" and run.params.get("context", True)
        return best_line_opening(run.evidence) if quoting else ""

    def _messages(self, run: AskRun) -> list[dict]:
        from assistant.answer.prompt import build_messages

        return build_messages(run.question, self._contexts(run), evidence=run.params.get("prompt") == "evidence")

    def _generate(self, run: AskRun, adapter: Path | None, on_token, opening_shown: bool = False):
        """The run's prompt (and quoted opening) through llama.cpp with ``adapter`` (None: the base model)."""
        cfg = self.config
        gen = self.models.generator
        gen.set_adapter(adapter)
        return gen.generate(self._messages(run), max_tokens=cfg.max_tokens, temperature=cfg.temperature, seed=cfg.seed,
                            on_token=on_token, prefix=self._opening(run), prefix_shown=opening_shown)  # fmt: skip

    def _plain_answer(self, run: AskRun) -> str:
        """What the answer would have been without learning."""
        return self._generate(run, None, lambda _: run.check_cancel("while comparing")).text

    def _compare(self, run: AskRun) -> Iterator[Event]:
        yield run.timings.start(StageName.COMPARING)
        run.without_adapter = yield from in_thread(lambda emit: self._plain_answer(run), run.cancel)
        yield run.timings.finish(StageName.COMPARING)

    def compare(self, session_id: int) -> Session:
        """A past answer's prompt (its question and stored evidence) without its adapter; saved with the session."""
        session = self.catalog.store.session(session_id)
        if session.adapter is None or not session.adapter.usable:
            raise AssistantError(f"session {session_id} has no adapter: there is nothing learning changed to compare")
        run = AskRun(session.question, session.params, session.device, threading.Event(), picks=session.picks,
                     evidence=session.evidence)  # fmt: skip
        text = self._plain_answer(run)
        self.catalog.store.set_without_adapter(session_id, text)
        return replace(session, without_adapter=text)

    def _answer(self, run: AskRun) -> Iterator[Event]:
        from assistant.answer.attribute import attribute

        yield run.timings.start(StageName.ANSWERING)
        # The quoted opening is the notes' own line: show it before llama.cpp loads or reads the prompt
        # (seconds on a cold start), and let the model go on from it.
        opening = self._opening(run)
        if opening:
            run.answer += opening
            yield Token(opening)

        def generate(emit):
            def on_token(piece):
                if run.cancel.is_set():
                    raise Cancelled("cancelled during answering")
                run.answer += piece
                emit(Token(piece))
                faults.point("mid-answer")

            return self._generate(run, run.gguf, on_token, opening_shown=bool(opening))

        generation = yield from in_thread(generate, run.cancel)
        run.looped = generation.looped
        run.claims = attribute(run.answer, run.evidence, run.picks + run.nn, self.models.embedder,
                               opening=opening)  # fmt: skip
        yield run.timings.finish(StageName.ANSWERING, "stopped at a repeated sentence" if run.looped else "")

    def _record(self, run: AskRun, status: SessionStatus) -> Session:
        # Record, then publish: the row names the adapter's final folder and commits while the files are
        # still staged; the rename comes after. A crash in between leaves a row and its staged folder,
        # which the next command renames into place (adapters.sweep_orphans). So a published folder
        # always has its row, and an unnamed one is deleted at once: no grace period, no lost adapter.
        adapter = None
        if run.adapter and status == SessionStatus.COMPLETE:
            final = adapter_files.final_dir(Path(run.adapter.path))
            adapter = replace(run.adapter, path=str(final), gguf_path=str(final / adapter_files.GGUF_NAME))
        session = Session(
            id=None, question=run.question, answer=run.answer, status=str(status), picks=run.picks, prior=run.prior,
            timings=run.timings.total(), device=run.device, adapter=adapter, note=run.note, params=run.params,
            model=self.models.gguf_path.name, embedder=self.models.embedder.name, nn=run.nn, evidence=run.evidence,
            claims=run.claims, looped=run.looped, abstained=run.abstained, without_adapter=run.without_adapter,
        )  # fmt: skip
        session_id = self.catalog.store.record_session(session)  # on failure the finally discards the staged files
        if adapter:
            staged, run.staged = run.staged, None  # committed: from here on the next command mends, never deletes
            faults.point("between-record-and-publish")
            adapter_files.publish(staged)
        return replace(session, id=session_id)

    @staticmethod
    def _discard_staged(run: AskRun) -> None:
        import shutil

        if run.staged:
            shutil.rmtree(run.staged, ignore_errors=True)
            run.staged = None
