"""The ask flow: retrieve, select with SIFT, learn a fresh LoRA, answer through it, record the session.

Mixed into ``pipeline.Assistant``, which provides the store, the embedder and the vector index.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from .errors import AssistantError, Cancelled, IndexEmpty
from .events import Done, Event, Stage, Warning

# ---------------------------------------------------------------- ask


@dataclass
class AskResult:
    session_id: int | None
    question: str
    answer: str
    status: str  # complete | interrupted
    selections: list[dict]
    prior: float | None
    timings: dict[str, float]
    device: str
    adapter: dict | None
    note: str | None
    params: dict
    nn: list[dict] = field(default_factory=list)  # what plain nearest neighbours would have picked instead

    def to_dict(self) -> dict:
        from dataclasses import asdict

        return asdict(self)


def _in_thread(fn, cancel):
    """Run ``fn(emit)`` in a thread and yield what it emits; returns its result, re-raises its error.

    Training and generation report through callbacks; this turns them into this generator's events.
    """
    import queue
    import threading

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


class AskMixin:
    """The ask flow; mixed into ``Assistant`` to keep the index flow readable on its own."""

    _training = None
    _generator = None

    @property
    def training_model(self):
        if self._training is None:
            from .models import set_threads
            from .tune import TrainingModel

            set_threads(self.config.threads)
            self._training = TrainingModel(self.gguf_path, self.device, self.config.cache_dir)
        return self._training

    @property
    def generator(self):
        if self._generator is None:
            from .answer import Generator

            self._generator = Generator(
                self.gguf_path, n_ctx=self.config.n_ctx, threads=self.config.threads, seed=self.config.seed
            )
        return self._generator

    def default_n(self, device: str) -> int:
        return self.config.n or (50 if device == "cuda" else 16)

    def retrieve(self, question: str, k: int):
        """Embed the question and pull the top-k candidates: (query, ids, candidate vectors, similarities)."""
        import numpy as np

        vectors = self.require_index()
        query = self.embedder.embed([question])[0]
        ids, sims = vectors.search(query, k)
        found_ids, found = self.store.vectors(ids)
        order = {int(i): n for n, i in enumerate(found_ids)}
        keep = [i for i in ids if int(i) in order]  # the store wins over a stale index
        cands = np.stack([found[order[int(i)]] for i in keep]) if keep else np.zeros((0, len(query)), np.float32)
        return query, np.array(keep, dtype=np.int64), cands, np.array([s for i, s in zip(ids, sims) if int(i) in order])

    def select(self, question: str, *, k: int | None = None, n: int | None = None, method: str | None = None,
               lam: float | None = None, stop: float | None | str = "config", seed: int | None = None):  # fmt: skip
        """Retrieval plus selection: (Selection, candidate ids, chunk rows by id)."""
        from .sift import select

        question = question.strip()
        if not question:
            raise AssistantError("the question is empty")
        query, ids, cands, _sims = self.retrieve(question, k or self.config.k)
        if len(ids) == 0:
            raise IndexEmpty("the index is empty: run `assistant index PATH` first")
        stop_value = self.config.stop if stop == "config" else stop
        sel = select(
            query, cands, n or self.default_n(self.device), method=method or self.config.method,
            lam=lam if lam is not None else self.config.lam, stop=stop_value or None,
            seed=self.config.seed if seed is None else seed,
        )  # fmt: skip
        rows = self.store.chunks([int(ids[i]) for i in set(sel.indices)])
        return sel, ids, rows, query, cands

    def nn_alternative(self, sel, ids, rows, query, cands) -> list[dict]:
        """What plain nearest neighbours would have picked, as many distinct chunks as ``sel`` holds."""
        from .sift import select

        nn = select(query, cands, len(set(sel.indices)), method="nn")
        rows.update(self.store.chunks([int(ids[i]) for i in nn.indices if int(ids[i]) not in rows]))
        return describe_picks(nn, ids, rows)

    def ask(
        self,
        question: str,
        *,
        k: int | None = None,
        n: int | None = None,
        method: str | None = None,
        lam: float | None = None,
        learn: bool | None = None,
        context: bool | None = None,
        steps: int | None = None,
        adapter: int | None = None,
        cancel=None,
    ) -> Iterator[Event]:
        """Answer ``question``: retrieve, select, learn a fresh LoRA, answer through it, record the session."""
        import threading

        from . import adapters as adapter_files
        from .events import Selected, Token

        cfg = self.config
        cancel = cancel or threading.Event()
        learn = cfg.learn if learn is None else learn
        context = cfg.context if context is None else context
        timings: dict[str, float] = {}
        device = self.device
        reuse = None
        if adapter is not None:
            reuse = self.store.session(adapter)
            if not reuse["adapter"]:
                raise AssistantError(f"session {adapter} has no adapter to re-use")
            reused_path = adapter_files.verify({**reuse["adapter"], "session_id": adapter})
        adapter_files.sweep_orphans(cfg.adapters_dir, self.store.adapter_paths())
        params = {
            "k": k or cfg.k, "n": n or self.default_n(device), "method": method or cfg.method,
            "lam": cfg.lam if lam is None else lam, "stop": cfg.stop, "learn": learn and reuse is None,
            "context": context, "steps": steps, "adapter_from": adapter, "lr": cfg.lr, "lora_r": cfg.lora_r,
            "lora_alpha": cfg.lora_alpha, "lora_targets": cfg.lora_targets, "max_train_tokens": cfg.max_train_tokens,
            "max_tokens": cfg.max_tokens, "temperature": cfg.temperature, "seed": cfg.seed, "chunk_tokens": cfg.chunk_tokens,
        }  # fmt: skip
        state = {"selections": [], "answer": "", "prior": None, "note": None, "adapter": None, "staged": None, "nn": []}
        total = time.perf_counter()

        def stage(name):
            timings[name] = time.perf_counter()
            return Stage(name)

        def finish(name, detail=""):
            timings[name] = time.perf_counter() - timings[name]
            return Stage(name, done=True, seconds=timings[name], detail=detail)

        try:
            yield stage("retrieving")
            sel, ids, rows, query, cands = self.select(question, k=params["k"], n=params["n"], method=params["method"], lam=params["lam"])
            state["nn"] = self.nn_alternative(sel, ids, rows, query, cands)
            yield finish("retrieving", f"{len(ids)} candidates")
            yield stage("selecting")
            state["prior"] = sel.prior
            seen: set[int] = set()
            for rank, (pos, var, sim) in enumerate(zip(sel.indices, sel.variances, sel.similarities), start=1):
                row = rows[int(ids[pos])]
                repeat = pos in seen
                seen.add(pos)
                state["selections"].append({
                    "rank": rank, "chunk_id": row["id"], "document_path": row["path"], "start_line": row["start_line"],
                    "end_line": row["end_line"], "heading": row["heading"], "chunk_sha256": row["sha256"],
                    "text": row["text"], "similarity": float(sim), "variance_after": float(var), "repeat": int(repeat), "loss": None,
                })  # fmt: skip
                yield Selected(rank, row["id"], row["path"], row["start_line"], row["end_line"], row["heading"],
                               float(sim), float(var), float(sel.prior), repeat)  # fmt: skip
            yield finish("selecting", f"{len(sel.indices)} picks, variance {sel.prior:.3f} -> {sel.variances[-1]:.3f}")
            if cancel.is_set():  # Esc during retrieval or selection stops here, not after learning starts
                raise Cancelled("cancelled before learning")

            gguf_adapter = reused_path if reuse else None
            if learn and reuse is None:
                gguf_adapter = yield from self._learn(state, steps, cancel, stage, finish)
            yield stage("answering")
            from .answer import Context, build_messages

            contexts = None
            if context:
                unique = []
                for s in state["selections"]:
                    if not s["repeat"]:
                        unique.append(Context(len(unique) + 1, s["document_path"], s["start_line"], s["end_line"], s["heading"], s["text"]))
                contexts = unique
            gen = self.generator
            gen.set_adapter(gguf_adapter)
            messages = build_messages(question, contexts)

            def generate(emit):
                def on_token(piece):
                    if cancel.is_set():
                        raise Cancelled("cancelled during answering")
                    state["answer"] += piece
                    emit(Token(piece))

                return gen.generate(messages, max_tokens=cfg.max_tokens, temperature=cfg.temperature, seed=cfg.seed, on_token=on_token)

            yield from _in_thread(generate, cancel)
            yield finish("answering")
            timings["total"] = time.perf_counter() - total
            result = self._record("complete", question, device, params, timings, state)
            yield Done(result)
        except (Cancelled, KeyboardInterrupt, GeneratorExit):
            cancel.set()
            if state["selections"]:
                timings["total"] = time.perf_counter() - total
                state["note"] = "interrupted by the user"
                _discard_staged(state)
                self._record("interrupted", question, device, params, {k: v for k, v in timings.items() if v < 1e6}, state)
            raise
        finally:
            _discard_staged(state)

    def _learn(self, state, steps, cancel, stage, finish):
        """Train the LoRA on the picks; on failure warn and carry on without it. Returns the GGUF path or None."""
        from . import adapters as adapter_files
        from .lora_gguf import export_gguf
        from .tune import TrainConfig, fit_lora, save_peft

        cfg = self.config
        texts = [s["text"] for s in state["selections"]]
        if steps:
            texts = texts[:steps]
        yield stage("learning")
        try:
            tm = self.training_model
            train_cfg = TrainConfig(lr=cfg.lr, r=cfg.lora_r, alpha=cfg.lora_alpha, targets=cfg.lora_targets,
                                    max_tokens=cfg.max_train_tokens, seed=cfg.seed)  # fmt: skip

            def train(emit):
                return fit_lora(tm, texts, train_cfg, on_step=emit, should_cancel=cancel.is_set)

            result = yield from _in_thread(train, cancel)
            for note in result.notes:  # e.g. a GPU out-of-memory retry with shorter chunks
                yield Warning(note)
            for sel, loss in zip(state["selections"], result.losses):
                sel["loss"] = float(loss)
            staged = adapter_files.staging_dir(cfg.adapters_dir)
            state["staged"] = staged
            save_peft(result, tm, staged)
            gguf = export_gguf(result, tm, staged / adapter_files.GGUF_NAME)
            state["adapter"] = {
                "path": str(staged), "gguf_path": str(gguf), "sha256": adapter_files.sha256_file(gguf),
                "bytes": gguf.stat().st_size, "rank": result.r, "alpha": float(result.alpha),
                "target_modules": ",".join(result.targets), "steps": result.steps,
            }  # fmt: skip
            yield finish("learning", f"{result.steps} steps, loss {result.losses[0]:.2f} -> {result.losses[-1]:.2f}")
            return gguf
        except (Cancelled, KeyboardInterrupt, GeneratorExit):
            raise
        except Exception as exc:
            if os.environ.get("ASSISTANT_DEBUG"):
                raise
            _discard_staged(state)
            state["adapter"] = None
            state["note"] = f"learning failed, answered without an adapter: {type(exc).__name__}: {exc}"
            yield Warning(state["note"])
            yield finish("learning", "failed")
            return None

    def _record(self, status, question, device, params, timings, state) -> AskResult:
        from . import adapters as adapter_files

        adapter = state["adapter"]
        if adapter and status == "complete":
            final = adapter_files.publish(Path(adapter["path"]))
            state["staged"] = None
            adapter = {**adapter, "path": str(final), "gguf_path": str(final / adapter_files.GGUF_NAME)}
        else:
            adapter = None
        try:
            session_id = self.store.record_session(
                status=status, question=question, answer=state["answer"], model=self.gguf_path.name,
                embedder=self.embedder.name, device=device, params=params, timings=timings, prior=state["prior"],
                note=state["note"], selections=state["selections"], adapter=adapter,
            )  # fmt: skip
        except BaseException:
            adapter_files.delete(adapter)
            raise
        return AskResult(session_id, question, state["answer"], status, state["selections"], state["prior"],
                         timings, device, adapter, state["note"], params, state["nn"])  # fmt: skip


def describe_picks(selection, ids, rows) -> list[dict]:
    """One dict per pick: rank, chunk and where it lies, similarity, variance after it, repeat flag."""
    seen, out = set(), []
    for rank, (pos, var, sim) in enumerate(zip(selection.indices, selection.variances, selection.similarities), 1):
        row = rows[int(ids[pos])]
        out.append({"rank": rank, "chunk_id": row["id"], "path": row["path"], "start_line": row["start_line"],
                    "end_line": row["end_line"], "heading": row["heading"], "similarity": float(sim),
                    "variance": float(var), "repeat": pos in seen})  # fmt: skip
        seen.add(pos)
    return out


def _discard_staged(state) -> None:
    import shutil

    if state.get("staged"):
        shutil.rmtree(state["staged"], ignore_errors=True)
        state["staged"] = None
