"""Write a peft LoRA as a llama.cpp adapter GGUF.

Metadata: general.architecture (the base model's), general.type = "adapter", adapter.type = "lora",
adapter.lora.alpha (llama.cpp scales by alpha / rank). Tensors keep peft's shapes untransposed:
``blk.{i}.{attn_q|...}.weight.lora_a`` (r, in) and ``.lora_b`` (out, r). For the llama architecture,
llama.cpp's converter permutes the rows of q_proj / k_proj so rotary pairs sit side by side;
transformers undoes that when it loads a GGUF, so the LoRA's q/k ``lora_b`` rows must be permuted
the same way here, or llama.cpp applies the update to the wrong rows.

The rule per architecture (each checked by tests/test_adapter_archs.py: llama.cpp's log-probs under
the exported adapter match torch's within the base model's own torch-vs-llama.cpp gap):
- llama: permute q_proj lora_B rows over n_head, k_proj lora_B rows over n_kv_head (converter's
  ``LlamaModel.permute``). Mistral GGUFs are written as arch "llama" with the same permutation.
- qwen2, qwen3: no permutation (the converter keeps HF's row order; qwen3's q/k norms are not LoRA targets).
- phi3: fused ``qkv_proj`` -> attn_qkv and ``gate_up_proj`` -> ffn_up, no permutation; refused for
  learning until a converted phi3 loads in llama.cpp (see gguf_info.REFUSED_WHY).
- gemma3: no permutation; refused for learning, because transformers' copy of a gemma3 GGUF already
  disagrees with llama.cpp on the base model, so no adapter could be checked.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

_MODULES = {
    "self_attn.q_proj": "attn_q",
    "self_attn.k_proj": "attn_k",
    "self_attn.v_proj": "attn_v",
    "self_attn.o_proj": "attn_output",
    "mlp.gate_proj": "ffn_gate",
    "mlp.up_proj": "ffn_up",
    "mlp.down_proj": "ffn_down",
    # phi3 keeps llama.cpp's fused layout: q, k, v rows stacked in one matrix, gate and up rows in another
    "self_attn.qkv_proj": "attn_qkv",
    "mlp.gate_up_proj": "ffn_up",
}
_KEY = re.compile(r"layers\.(\d+)\.(self_attn\.\w+|mlp\.\w+)\.lora_([AB])(?:\.default)?\.weight$")
PERMUTED_ARCHS = {"llama"}  # qwen2, qwen3 and gemma3 are converted without the q/k permutation


def layers_of(state: dict) -> list[int]:
    """The transformer layers a peft LoRA state dict holds tensors for (its keys name them)."""
    return sorted({int(m.group(1)) for m in map(_KEY.search, state) if m})


def permute_rows(weights: np.ndarray, n_head: int) -> np.ndarray:
    """llama.cpp's ``LlamaModel.permute`` applied to the output rows."""
    rows = weights.shape[0]
    return weights.reshape(n_head, 2, rows // n_head // 2, *weights.shape[1:]).swapaxes(1, 2).reshape(weights.shape)


def gguf_tensors(state: dict, arch: str, n_head: int, n_kv_head: int, *, permute: bool = True) -> dict[str, np.ndarray]:
    """Map peft state-dict keys to llama.cpp adapter tensor names (and permute q/k for llama)."""
    out: dict[str, np.ndarray] = {}
    for key, tensor in state.items():
        match = _KEY.search(key)
        if not match:
            raise ValueError(f"cannot place LoRA tensor {key!r} in a llama.cpp adapter")
        layer, module, ab = match.groups()
        if module not in _MODULES:
            raise ValueError(f"llama.cpp adapters do not cover module {module!r}")
        weights = tensor.detach().float().cpu().numpy() if hasattr(tensor, "detach") else np.asarray(tensor, np.float32)
        if permute and arch in PERMUTED_ARCHS and ab == "B":
            if module == "self_attn.q_proj":
                weights = permute_rows(weights, n_head)
            elif module == "self_attn.k_proj":
                weights = permute_rows(weights, n_kv_head)
        out[f"blk.{layer}.{_MODULES[module]}.weight.lora_{ab.lower()}"] = np.ascontiguousarray(weights, dtype=np.float32)
    return out


def gguf_arch(path: Path) -> str:
    from assistant.models.gguf_info import read_info

    return read_info(path).arch


def export_gguf(result, tm, out_path: Path, *, permute: bool = True) -> Path:
    """Write ``result`` (a tune.LoraResult) for the base model held by ``tm`` (a tune.TrainingModel)."""
    import gguf

    config = tm.model.config if tm._peft is None else tm._peft.base_model.model.config
    n_head = config.num_attention_heads
    n_kv_head = getattr(config, "num_key_value_heads", None) or n_head
    arch = gguf_arch(tm.gguf_path)  # transformers' model_type can differ (gemma3_text vs gemma3)
    tensors = gguf_tensors(result.state, arch, n_head, n_kv_head, permute=permute)
    out_path = Path(out_path)
    tmp = out_path.with_name(out_path.name + ".tmp")
    writer = gguf.GGUFWriter(str(tmp), arch=arch)
    writer.add_string("general.type", "adapter")
    writer.add_string("adapter.type", "lora")
    writer.add_float32("adapter.lora.alpha", float(result.alpha))
    for name, weights in sorted(tensors.items()):
        writer.add_tensor(name, weights)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    tmp.replace(out_path)
    return out_path
