"""Will the training copy fit? Estimated from the GGUF header before anything is loaded.

need = dequantised weights (fp32 on CPU, bf16 on a GPU that has it)
     + activations kept for backward at ``max_train_tokens`` (per layer, ~34 values per hidden unit
       per token as in Korthikanti et al. 2022, plus the logits, their softmax and gradient)
     + LoRA state (weights, gradients, Adam's two moments: 4 fp32 copies of r·(in+out) per projection)
     + 10% for the allocator and the framework.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from assistant.errors import ModelNotFound
from assistant.models.gguf_info import GgufInfo

GB = 1024**3


@dataclass(frozen=True)
class Estimate:
    weights: int
    activations: int
    lora: int

    @property
    def total(self) -> int:
        return int((self.weights + self.activations + self.lora) * 1.1)


def estimate(info: GgufInfo, max_train_tokens: int, lora_r: int, weight_bytes: int = 4) -> Estimate:
    d, layers = max(info.n_embd, 1), max(info.n_layers, 1)
    ff = info.n_ff or 4 * d
    activations = layers * max_train_tokens * d * 34 * 4 + 3 * max_train_tokens * max(info.n_vocab, 1) * 4
    per_layer = 4 * (d + d) + 3 * (d + ff)  # q, k, v, o and gate, up, down: r·(in+out) each
    lora = 4 * 4 * lora_r * per_layer * layers
    return Estimate(info.parameters * weight_bytes, activations, lora)


def available_bytes(device: str) -> int:
    """Free memory where the training copy will live: the GPU's free memory, else the machine's available RAM."""
    if device == "cuda":
        import torch

        free, _total = torch.cuda.mem_get_info()
        return int(free)
    import psutil

    return int(psutil.virtual_memory().available)


def check_fits(info: GgufInfo, device: str, max_train_tokens: int, lora_r: int, available: int | None = None) -> Estimate:
    """Raise a one-line ``ModelNotFound`` with the numbers when the training copy would not fit."""
    weight_bytes = 2 if device == "cuda" else 4
    need = estimate(info, max_train_tokens, lora_r, weight_bytes)
    have = available_bytes(device) if available is None else available
    if need.total > have:
        where = "GPU memory" if device == "cuda" else "RAM"
        raise ModelNotFound(
            f"{info.path.name} needs about {need.total / GB:.1f} GB to learn ({need.weights / GB:.1f} GB weights, "
            f"{need.activations / GB:.1f} GB activations at max_train_tokens={max_train_tokens}, "
            f"{need.lora / GB:.2f} GB LoRA state) but {have / GB:.1f} GB {where} is free: "
            "lower max_train_tokens, ask with --no-learn, or use a smaller model"
        )
    return need


def memory_limit_override() -> int | None:
    """ASSISTANT_MEMORY_LIMIT_GB pretends the machine has that much free memory (for tests and for caution)."""
    value = os.environ.get("ASSISTANT_MEMORY_LIMIT_GB")
    return int(float(value) * GB) if value else None
