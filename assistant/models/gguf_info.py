"""What a GGUF header says about its model, read with gguf's GGUFReader (memory-mapped, tensors never loaded)."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

from assistant.errors import ModelNotFound

# Architectures whose adapters pass the torch vs llama.cpp agreement test (tests/test_adapter_archs.py).
# Mistral GGUFs say "llama" (the converter writes them as llama, q/k permuted), so they are covered.
TRAINABLE_ARCHS = ("llama", "qwen2", "qwen3")
# Why the others are refused: measured, not guessed (README, "Models on this machine").
REFUSED_WHY = {
    "gemma3": "transformers' dequantised copy already disagrees with llama.cpp on the base model "
              "(mean |Δ log-prob| 0.44), so an adapter trained on it cannot be checked",
    "phi3": "llama.cpp rejects a converted phi3 with a GPT-2 vocabulary, so the fused qkv adapter is untested",
}


@dataclass(frozen=True)
class GgufInfo:
    path: Path
    arch: str
    name: str
    parameters: int  # counted from the tensor shapes in the header
    quantisation: str  # the most common tensor type, e.g. Q4_K, F16
    size: int  # file bytes
    chat_template: str
    n_layers: int
    n_embd: int
    n_ctx_train: int
    is_adapter: bool = False
    n_ff: int = 0
    n_vocab: int = 0

    @property
    def trainable(self) -> bool:
        return self.arch in TRAINABLE_ARCHS


def header_string(fields, key: str) -> str:
    field = fields.get(key)
    if field is None or not field.data:
        return ""
    return bytes(field.parts[field.data[0]]).decode("utf-8", errors="replace")


def _int(fields, key: str) -> int:
    field = fields.get(key)
    if field is None or not field.data:
        return 0
    return int(field.parts[field.data[0]][0])


def _n_tokens(fields) -> int:
    field = fields.get("tokenizer.ggml.tokens")
    return len(field.data) if field is not None else 0


def read_info(path: Path) -> GgufInfo:
    """The header facts of one GGUF; a file that is not a GGUF raises ``ModelNotFound``. Parsing the header
    (the whole vocabulary) takes ~3 s, and every adapter export needs the base's architecture: a file is
    read once per size and modification time."""
    path = Path(path)
    try:
        stat = path.stat()
    except OSError as exc:
        raise ModelNotFound(f"{path} is not a readable GGUF file: {exc}") from None
    return _read_info(path, stat.st_size, stat.st_mtime_ns)


@functools.lru_cache(maxsize=32)
def _read_info(path: Path, size: int, mtime_ns: int) -> GgufInfo:
    from collections import Counter

    from gguf import GGUFReader

    try:
        reader = GGUFReader(str(path))
    except (ValueError, OSError, IndexError, KeyError) as exc:
        raise ModelNotFound(f"{path} is not a readable GGUF file: {exc}") from None
    fields = reader.fields
    arch = header_string(fields, "general.architecture")
    parameters, kinds = 0, Counter()
    for tensor in reader.tensors:
        parameters += int(tensor.n_elements)
        kinds[tensor.tensor_type.name] += int(tensor.n_elements)
    return GgufInfo(path=path, arch=arch, name=header_string(fields, "general.name") or path.stem, parameters=parameters,
                    quantisation=kinds.most_common(1)[0][0] if kinds else "?", size=path.stat().st_size,
                    chat_template=header_string(fields, "tokenizer.chat_template"),
                    n_layers=_int(fields, f"{arch}.block_count"), n_embd=_int(fields, f"{arch}.embedding_length"),
                    n_ctx_train=_int(fields, f"{arch}.context_length"),
                    is_adapter=header_string(fields, "general.type") == "adapter",
                    n_ff=_int(fields, f"{arch}.feed_forward_length"), n_vocab=_n_tokens(fields))  # fmt: skip


def check_trainable(info: GgufInfo) -> None:
    """Refuse an architecture whose adapter is not proven right, rather than train it silently wrong."""
    if info.trainable:
        return
    why = REFUSED_WHY.get(info.arch, "no adapter agreement test covers it")
    raise ModelNotFound(f"cannot learn on {info.path.name} (architecture {info.arch or '?'}): {why}; "
                        f"use --no-learn, or a {', '.join(TRAINABLE_ARCHS)} model")  # fmt: skip
