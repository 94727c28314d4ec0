"""Answering with llama.cpp: streaming generation with DRY sampling and a loop guard, and adapters switched in place."""

from __future__ import annotations

import ctypes
import os
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from assistant.answer.prompt import ECHO, echo_opening
from assistant.errors import AdapterError, ModelNotFound

MAX_CACHED_ADAPTERS = 4
REPEAT_PENALTY = 1.15  # a 135M model that just learned a chunk tends to loop on it without one
REPEAT_LAST_N = 64
# DRY (p-e-w's "don't repeat yourself" sampler, llama.cpp's llama_sampler_init_dry): penalises extending a
# sequence the answer already produced, growing with its length. Only the answer's own tokens are accepted
# into the sampler's history, so copying a line from the prompt costs nothing.
DRY_MULTIPLIER, DRY_BASE, DRY_ALLOWED_LENGTH = 0.8, 1.75, 2
DRY_BREAKERS = ["\n", ":", "\"", "*"]


@dataclass(frozen=True)
class Generation:
    """One answer: its text (without a cut repeat), and whether it was cut because it started to loop."""

    text: str
    looped: bool
    tokens: int


def _chat_format(path: Path):
    """The model's own chat template (Jinja2), or ChatML when it has none or it fails to render."""
    from assistant.models.chat_template import choose

    return choose(path)


def _file_identity(path: Path) -> tuple:
    """Path plus inode, mtime and size: a file rewritten at the same path is a different adapter."""
    try:
        st = os.stat(path)
    except OSError:
        raise AdapterError(f"adapter file not found: {path}") from None
    return (str(path), st.st_ino, st.st_mtime_ns, st.st_size)


def _stop_at(text: str, stops: list[str], start: int = 0) -> int | None:
    """Where the first stop string, or the model's echo of the prompt (``prompt.ECHO``), begins in ``text`` at or
    after ``start``."""
    found = [i for i in (text.find(s, start) for s in stops) if i >= 0]
    if (echo := ECHO.search(text, start)) is not None:
        found.append(echo.start())
    return min(found, default=None)


def _stop_opening(text: str, stops: list[str]) -> int:
    """How many characters at the end of ``text`` could open a stop: they wait for the next token."""
    plain = max((k for s in stops for k in range(1, len(s)) if text.endswith(s[:k])), default=0)
    return max(plain, echo_opening(text))


class Generator:
    """llama.cpp with the base model loaded once; adapters are switched in place."""

    def __init__(self, gguf_path: Path, *, n_ctx: int = 4096, threads: int = 0, seed: int = 0,
                 logits_all: bool = False, verbose: bool = False):  # fmt: skip
        from llama_cpp import Llama

        self.gguf_path = Path(gguf_path)
        if not self.gguf_path.is_file():
            raise ModelNotFound(f"model file not found: {self.gguf_path}")
        try:
            self.chat_template = _chat_format(self.gguf_path)
            self.llm = Llama(model_path=str(self.gguf_path), n_ctx=n_ctx, n_threads=threads or os.cpu_count(), seed=seed,
                             logits_all=logits_all, verbose=verbose, **self.chat_template.llama_kwargs())  # fmt: skip
        except (ValueError, RuntimeError) as exc:
            raise ModelNotFound(f"llama.cpp cannot load {self.gguf_path.name}: {exc}") from None
        self._adapters: OrderedDict[tuple, object] = OrderedDict()  # file identity -> llama.cpp handle
        self._applied: tuple | None = None  # identity of the adapter in the context now

    @property
    def adapter(self) -> Path | None:
        """The adapter file applied now, if any."""
        return Path(self._applied[0]) if self._applied else None

    def set_adapter(self, path: Path | None, scale: float = 1.0) -> None:
        """Apply one adapter (or none) to the warm context, then drop the cached prefix KV."""
        import llama_cpp

        key = _file_identity(path) if path else None
        if key == self._applied:
            return
        ctx = self.llm._ctx.ctx
        if key is None:
            llama_cpp.llama_set_adapters_lora(ctx, None, 0, None)
        else:
            handle = self._adapters.get(key)
            if handle is None:
                handle = llama_cpp.llama_adapter_lora_init(self.llm._model.model, str(path).encode("utf-8"))
                if not handle:
                    raise AdapterError(f"llama.cpp cannot load the adapter {path}")
                self._adapters[key] = handle
                self._evict(keep=key)
            self._adapters.move_to_end(key)
            adapters = (llama_cpp.llama_adapter_lora_p_ctypes * 1)(handle)
            scales = (ctypes.c_float * 1)(scale)
            if llama_cpp.llama_set_adapters_lora(ctx, adapters, 1, scales):
                raise AdapterError(f"llama.cpp cannot apply the adapter {path}")
        self._applied = key
        self.llm.reset()  # the cached prefix was computed with the old adapter: its logits are stale

    def _evict(self, keep: tuple) -> None:
        import llama_cpp

        while len(self._adapters) > MAX_CACHED_ADAPTERS:
            old_key, handle = next(iter(self._adapters.items()))
            if old_key in (keep, self._applied):
                self._adapters.move_to_end(old_key)
                continue
            del self._adapters[old_key]
            llama_cpp.llama_adapter_lora_free(handle)

    def _sampler(self, temperature: float, seed: int):
        from llama_cpp._internals import LlamaSampler

        sampler = LlamaSampler()
        sampler.add_penalties(self.llm.n_vocab(), REPEAT_LAST_N, REPEAT_PENALTY, 0.0, 0.0)
        sampler.add_dry(self.llm._model, DRY_MULTIPLIER, DRY_BASE, DRY_ALLOWED_LENGTH, -1, DRY_BREAKERS)
        if temperature <= 0:
            sampler.add_greedy()
        else:
            sampler.add_temp(temperature)
            sampler.add_dist(seed)
        return sampler

    def generate(self, messages: list[dict], *, max_tokens: int = 256, temperature: float = 0.0, seed: int = 0,
                 on_token: Callable[[str], None] | None = None, prefix: str = "", prefix_shown: bool = False) -> Generation:  # fmt: skip
        """Stream the reply; greedy (deterministic) at temperature 0. Stops at the end of turn, a stop string
        (the chat template's), the model's echo of the prompt (``prompt.ECHO``), ``max_tokens``, or the first
        repeated sentence (which the caller never sees). ``prefix`` opens the reply: it is shown first (unless the
        caller already showed it), and the model continues after it."""
        import codecs

        import llama_cpp

        from assistant.answer.loops import LoopGuard

        formatted = self.chat_template.format(messages)
        stops = [s for s in ([formatted.stop] if isinstance(formatted.stop, str) else formatted.stop or []) if s]
        tokens = self.llm.tokenize((formatted.prompt + prefix).encode("utf-8"), add_bos=True, special=True)
        self.llm.reset()
        self.llm.eval(tokens)
        sampler = self._sampler(temperature, seed)
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        guard, raw, shown, produced = LoopGuard(), prefix, [], 0
        fed = len(prefix)  # raw[:fed] has gone to the guard; the rest may still open a stop string
        vocab = self.llm._model.vocab

        def show(text: str) -> None:
            if text:
                shown.append(text)
                if on_token:
                    on_token(text)

        opened = guard.feed(prefix)  # the guard knows the prefix: the model must not repeat it either
        if prefix_shown:
            shown.append(opened)
        else:
            show(opened)
        try:
            for produced in range(1, max_tokens + 1):
                token = sampler.sample(self.llm._ctx, -1)
                if llama_cpp.llama_vocab_is_eog(vocab, token):
                    break
                sampler.accept(token)
                raw += decoder.decode(self.llm.detokenize([token], special=False))
                # a stop can begin only in what is still held (or at the prefix's closing newline): no rescan
                cut = _stop_at(raw, stops, max(0, fed - 1))
                if cut is not None:  # the stop and what follows it are never shown
                    raw = raw[:cut]
                safe = len(raw) if cut is not None else len(raw) - _stop_opening(raw, stops)
                show(guard.feed(raw[fed:safe]))
                fed = max(fed, safe)
                if cut is not None or guard.stopped:
                    break
                self.llm.eval([token])
            show(guard.feed(raw[fed:]))  # the end came on what only looked like the start of a stop string
            show(guard.flush())
        finally:
            sampler.close()
        return Generation("".join(shown), guard.stopped, produced)

    def token_logprobs(self, tokens: list[int]):
        """Next-token log-probabilities at every position (needs ``logits_all=True``)."""
        import numpy as np

        self.llm.reset()
        self.llm.eval(tokens)
        scores = np.array(self.llm.scores[: len(tokens)], dtype=np.float64)
        scores -= scores.max(axis=1, keepdims=True)
        return scores - np.log(np.exp(scores).sum(axis=1, keepdims=True))

    def close(self) -> None:
        import llama_cpp

        try:
            llama_cpp.llama_set_adapters_lora(self.llm._ctx.ctx, None, 0, None)
        finally:
            for handle in self._adapters.values():
                llama_cpp.llama_adapter_lora_free(handle)
            self._adapters.clear()
            self.llm.close()
