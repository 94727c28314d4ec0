"""Answering with llama.cpp: the prompt with numbered context, streaming, adapters, citations."""

from __future__ import annotations

import ctypes
import os
import re
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from assistant.errors import AdapterError, ModelNotFound

SYSTEM = (
    "You are a helpful assistant answering questions about the user's own notes. "
    "Use the numbered notes when they are relevant and cite them like [1]. "
    "Answer briefly and precisely."
)
MAX_CONTEXT_CHARS = 2400  # about 600 tokens: keeps prompt processing near a second on 2 cores, and a 135M model loses the question in longer prompts
MAX_CACHED_ADAPTERS = 4
REPEAT_PENALTY = 1.15  # a 135M model that just learned a chunk tends to loop on it without one


@dataclass(frozen=True)
class Context:
    n: int
    path: str
    start_line: int
    end_line: int
    heading: str
    text: str


def build_messages(question: str, contexts: list[Context] | None) -> list[dict]:
    """A chat with the numbered context (if any) followed by the question."""
    if not contexts:
        return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": question}]
    parts, used = [], 0
    for c in contexts:
        block = f"[{c.n}] {Path(c.path).name}" + (f" — {c.heading}" if c.heading else "") + f"\n{c.text.strip()}"
        if used and used + len(block) > MAX_CONTEXT_CHARS:
            break
        parts.append(block[:MAX_CONTEXT_CHARS])
        used += len(block)
    notes = "\n\n".join(parts)
    return [
        {"role": "system", "content": SYSTEM},
        {"role": "user", "content": f"Notes:\n\n{notes}\n\nQuestion: {question}"},
    ]


def citations(answer: str, n_contexts: int) -> list[int]:
    """The valid [n] citations in an answer, in order of first appearance."""
    seen: list[int] = []
    for match in re.finditer(r"\[(\d+)\]", answer):
        n = int(match.group(1))
        if 1 <= n <= n_contexts and n not in seen:
            seen.append(n)
    return seen


def gguf_metadata(path: Path, key: str) -> str:
    """One string field of a GGUF header, read without loading the model."""
    from gguf import GGUFReader

    field = GGUFReader(str(path)).fields.get(key)
    if field is None:
        return ""
    return bytes(field.parts[field.data[0]]).decode("utf-8", errors="replace")


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

    def generate(self, messages: list[dict], *, max_tokens: int = 256, temperature: float = 0.0, seed: int = 0,
                 on_token: Callable[[str], None] | None = None) -> str:  # fmt: skip
        """Stream the reply; greedy (deterministic) at temperature 0."""
        pieces = []
        stream = self.llm.create_chat_completion(messages=messages, max_tokens=max_tokens, temperature=temperature,
                                                 seed=seed, repeat_penalty=REPEAT_PENALTY, stream=True)  # fmt: skip
        for chunk in stream:
            text = chunk["choices"][0]["delta"].get("content")
            if text:
                pieces.append(text)
                if on_token:
                    on_token(text)
        return "".join(pieces)

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
