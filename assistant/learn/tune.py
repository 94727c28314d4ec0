"""Test-time learning: a fresh LoRA per question, one gradient step per selected chunk.

The base model is loaded once into torch from the same GGUF that llama.cpp runs (transformers
dequantises it), cached as safetensors keyed by the GGUF's sha256, and never modified: each call
re-initialises the LoRA, so no question learns from another's chunks.
"""

from __future__ import annotations

import math
import shutil
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from assistant.learn.adapters import sha256_file
from assistant.learn.recipes import Example
from assistant.errors import Cancelled, ModelNotFound
from assistant.events import Step

# Noise from peft/transformers that says nothing to a user: the base comes from a GGUF, not a hub folder.
warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*")
warnings.filterwarnings("ignore", message="Could not find a config file.*")


@dataclass(frozen=True)
class TrainConfig:
    lr: float = 2e-3  # 5e-5 (the paper's full fine-tuning rate) barely moves a LoRA in 16 steps; 2e-3 cut bpb ~20%
    r: int = 8  # rank 8 holds a few chunks' facts; larger ranks cost steps on CPU for no measured gain
    alpha: int = 16  # scale alpha / r = 2, the common LoRA default
    targets: str = "all-linear"  # attention and MLP projections: the reference run's setting
    # The share of layers, from the top, that get a LoRA. Backward then stops at the lowest of them: with the
    # top half a warm learning ask answers in 0.75x the time on a CPU (README, "Defaults and why"). All layers
    # here, as in the reference protocol eval lm follows; the product's default (Config.lora_layers) is 0.5.
    layers: float = 1.0
    max_tokens: int = 256  # chunks are cut to this; it matches the chunk budget so nothing is dropped
    eps: float = 1e-8  # Adam eps of the paper's reference setup
    clip: float = 1.0  # gradient norm clip of the paper's reference setup
    seed: int = 0  # LoRA init seed: same chunks, same adapter
    # Divergence guard: every few steps (and after the last) the loss on the first pick is measured again;
    # above this multiple of its value before learning, training stops and the best adapter so far is kept.
    # On the Python docs an NN run ended at 4.7 bits per byte against a base of 1.5 to 1.9: learning must
    # never do that silently.
    diverge: float = 1.5
    probe_tokens: int = 64
    # A probe (a 64-token forward pass) took 0.2 s, a third of a step, on a CPU, so probing after every step
    # made learning 25% slower. Every third step keeps the guard: a diverging run takes at most two more
    # steps before it is stopped, and the adapter kept is still a probed one.
    probe_every: int = 3

    @classmethod
    def of(cls, config) -> TrainConfig:
        """The training settings of a ``Config``: the ask and ``eval qa`` train alike."""
        return cls(lr=config.lr, r=config.lora_r, alpha=config.lora_alpha, targets=config.lora_targets,
                   layers=config.lora_layers, max_tokens=config.max_train_tokens, seed=config.seed)  # fmt: skip


@dataclass
class LoraResult:
    state: dict  # peft state dict (lora_A / lora_B tensors), on the CPU in fp32
    losses: list[float]
    steps: int
    seconds: float
    device: str
    r: int
    alpha: float
    targets: list[str]  # resolved module names, e.g. ["q_proj", "k_proj", ...]
    notes: list[str] = field(default_factory=list)
    layers: float = 1.0  # the share of layers, from the top, that carry it (TrainConfig.layers)


def cpu_has_bf16(cpuinfo: str | None = None) -> bool:
    """Whether the CPU multiplies bfloat16 natively (AMX or AVX512-BF16), from Linux's /proc/cpuinfo."""
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text(errors="replace")
        except OSError:
            return False
    flags = next((line.split(":", 1)[1].split() for line in cpuinfo.splitlines() if line.startswith("flags")), [])
    return "amx_bf16" in flags or "avx512_bf16" in flags


def train_dtype(device: str, setting: str = "auto"):
    """The base model's dtype for training (the LoRA weights are fp32 whatever this is). ``auto``: bf16 on a
    GPU that has it, fp32 on a CPU. bf16 on a CPU that multiplies it natively is opt-in: a step took 0.69x to
    0.85x the fp32 time (scripts/bench_tune.py) and held-out bits after learning tied fp32, but on the sample
    questions 3 answers lost the gold fact and none gained it (README, "Defaults and why")."""
    import torch

    if setting != "auto":
        return getattr(torch, setting)
    if device == "cuda" and torch.cuda.is_bf16_supported():
        return torch.bfloat16
    return torch.float32


class TrainingModel:
    """The base model in torch, loaded once and kept warm; a fresh LoRA is made on it per question."""

    def __init__(self, gguf_path: Path, device: str, cache_dir: Path, dtype: str = "auto"):
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
        hf_logging.set_verbosity_error()
        self.gguf_path = Path(gguf_path)
        self.device = device
        self.cache_dir = Path(cache_dir)
        self.dtype = train_dtype(device, dtype)
        from assistant.models.gguf_info import check_trainable, read_info

        check_trainable(read_info(self.gguf_path))
        start = time.perf_counter()
        self.sha256 = sha256_file(self.gguf_path)
        cached = Path(cache_dir) / "models" / self.sha256[:16]
        if (cached / "config.json").exists():
            self.load_path = "cache"
            source = {"pretrained_model_name_or_path": str(cached)}
        else:
            self.load_path = "gguf"
            source = {"pretrained_model_name_or_path": str(self.gguf_path.parent), "gguf_file": self.gguf_path.name}
        try:
            model = AutoModelForCausalLM.from_pretrained(**source, dtype=torch.float32)
            self.tokenizer = AutoTokenizer.from_pretrained(**source)
        except (OSError, ValueError, KeyError, RuntimeError) as exc:
            raise ModelNotFound(f"cannot load {self.gguf_path.name} for training: {exc}") from None
        if self.load_path == "gguf":
            self._write_cache(model, cached)
        self.model = model.to(device=device, dtype=self.dtype)
        if device == "cpu" and self.dtype == torch.bfloat16:
            # torch's CPU flash-attention backward is 2.4x slower in bf16 than in fp32; eager's bf16 matmuls are fast.
            self.model.set_attn_implementation("eager")
        self.model.requires_grad_(False)
        self.arch = model.config.model_type
        self.load_seconds = time.perf_counter() - start
        self._peft = None
        self._peft_key = None

    def _write_cache(self, model, cached: Path) -> None:
        """Dequantising a GGUF takes seconds; a warm start reads these safetensors instead."""
        tmp = cached.with_name(cached.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        try:
            from safetensors.torch import save_model

            tmp.mkdir(parents=True)
            save_model(model, str(tmp / "model.safetensors"))  # handles the tied embedding / lm_head
            config = model.config
            if hasattr(config, "quantization_config"):
                del config.quantization_config  # the weights are plain fp32 now
            config.save_pretrained(str(tmp))
            self.tokenizer.save_pretrained(str(tmp))
            if not cached.exists():
                tmp.rename(cached)
        except OSError:
            pass  # a read-only cache only costs speed
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    # ------------------------------------------------------------ the LoRA

    def fresh_lora(self, cfg: TrainConfig):
        """The peft model with newly initialised LoRA weights (seeded), built once per (r, alpha, targets, layers)."""
        import torch
        from peft import LoraConfig, get_peft_model
        from peft.tuners.lora import LoraLayer

        key = (cfg.r, cfg.alpha, cfg.targets, cfg.layers)
        if self._peft is not None and self._peft_key != key:
            self.model = self._peft.unload()
            self._peft = None
        torch.manual_seed(cfg.seed)
        if self._peft is None:
            targets = cfg.targets if cfg.targets == "all-linear" else [t.strip() for t in cfg.targets.split(",")]
            layers = None
            if cfg.layers < 1.0:
                total = int(self.model.config.num_hidden_layers)
                layers = list(range(total - max(1, round(total * cfg.layers)), total))
                if targets == "all-linear":  # peft takes a layer list only with named modules
                    targets = self._linear_names()
            lora = LoraConfig(r=cfg.r, lora_alpha=cfg.alpha, target_modules=targets, lora_dropout=0.0, bias="none",
                              layers_to_transform=layers)  # fmt: skip
            self._peft = get_peft_model(self.model, lora)
            self._peft_key = key
        else:
            for module in self._peft.modules():
                if isinstance(module, LoraLayer):
                    module.reset_lora_parameters("default", True)
        for name, param in self._peft.named_parameters():
            param.requires_grad = "lora_" in name
            if "lora_" in name and param.dtype != torch.float32:
                param.data = param.data.float()  # LoRA weights train in fp32 even on a bf16 base
        return self._peft

    def _linear_names(self) -> list[str]:
        """The names of the linear modules inside the transformer layers: what "all-linear" means to peft."""
        import torch

        return _leaf_names(self.model, torch.nn.Linear, inside=".layers.")

    def target_names(self) -> list[str]:
        from peft.tuners.lora import LoraLayer

        return _leaf_names(self._peft, LoraLayer)

    def load_state(self, state: dict, cfg: TrainConfig) -> None:
        from peft import set_peft_model_state_dict

        peft = self.fresh_lora(cfg)
        set_peft_model_state_dict(peft, {k: v.to(self.device) for k, v in state.items()})

    def logits(self, ids, lora: LoraResult | str | None = None):
        """Logits at every position of ``ids`` (batch of one) under the base model (``lora=None``),
        a given LoRA, or the LoRA currently in the model (``lora="live"``, to trace training)."""
        import contextlib

        import torch

        if isinstance(lora, LoraResult):
            self.load_state(lora.state, TrainConfig(r=lora.r, alpha=int(lora.alpha), targets=_targets_key(self, lora),
                                                    layers=lora.layers))  # fmt: skip
        base_only = lora is None and self._peft is not None
        context = self._peft.disable_adapter() if base_only else contextlib.nullcontext()
        model = self._peft if self._peft is not None else self.model
        with torch.no_grad(), context:
            return model(input_ids=ids).logits[0]

    def encode(self, text: str, max_tokens: int):
        """Token ids with BOS first, so every token of the text is predicted (and trained)."""
        import torch

        ids = self.tokenizer(text, add_special_tokens=False, truncation=True, max_length=max_tokens)["input_ids"]
        bos = self.tokenizer.bos_token_id
        if bos is None:
            bos = self.tokenizer.eos_token_id
        return torch.tensor([[bos, *ids]], device=self.device)

    def encode_example(self, example: Example, max_tokens: int):
        """(ids, labels) for one example: the prompt's positions are masked (-100) so the loss is on the
        reply only; the reply is cut to ``max_tokens``. An empty prompt is plain text after BOS."""
        import torch

        if not example.prompt:
            ids = self.encode(example.reply, max_tokens)
            return ids, ids
        prompt = self.tokenizer(example.prompt, add_special_tokens=False)["input_ids"]
        reply = self.tokenizer(example.reply.strip() + (self.tokenizer.eos_token or ""), add_special_tokens=False)["input_ids"]
        ids = torch.tensor([prompt + reply[:max_tokens]], device=self.device)
        labels = ids.clone()
        labels[0, : len(prompt)] = -100
        return ids, labels

    def chat_prompt(self, user: str) -> str:
        """``user`` as a user turn in the model's chat template, with the assistant's turn opened."""
        return self.tokenizer.apply_chat_template([{"role": "user", "content": user}], add_generation_prompt=True, tokenize=False)


def _leaf_names(model, kind, inside: str = "") -> list[str]:
    """The last name part ("q_proj", ...) of every ``kind`` module whose dotted path holds ``inside``."""
    return sorted({name.rsplit(".", 1)[-1] for name, m in model.named_modules()
                   if isinstance(m, kind) and inside in name})  # fmt: skip


def _lora_state(model) -> dict:
    from peft import get_peft_model_state_dict

    return {k: v.detach().float().cpu().clone() for k, v in get_peft_model_state_dict(model).items()}


def _probe(model, encoded) -> float:
    import torch

    ids, labels = encoded
    with torch.no_grad():
        return float(model(input_ids=ids, labels=labels).loss)


def _step(model, optimiser, params, tm: TrainingModel, example: Example, cfg: TrainConfig, limit: list[int], notes: list[str]) -> float:
    """One Adam step on ``example``'s reply; on a GPU out of memory it is retried shorter (``limit`` shrinks)."""
    import torch

    while True:
        try:
            ids, labels = tm.encode_example(example, limit[0])
            loss = model(input_ids=ids, labels=labels).loss
            loss.backward()
            break
        except torch.cuda.OutOfMemoryError:
            optimiser.zero_grad(set_to_none=True)
            torch.cuda.empty_cache()
            if limit[0] <= 32:
                raise
            limit[0] //= 2
            notes.append(f"GPU out of memory: retrying with {limit[0]}-token chunks")
    torch.nn.utils.clip_grad_norm_(params, cfg.clip)
    optimiser.step()
    optimiser.zero_grad(set_to_none=True)
    return float(loss.detach())


def fit_lora(
    tm: TrainingModel,
    examples: list[Example] | list[str],
    cfg: TrainConfig,
    *,
    on_step: Callable[[Step], None] | None = None,
    should_cancel: Callable[[], bool] | None = None,
) -> LoraResult:
    """One Adam step per example, in order (repeats included), with the loss on each reply (a plain string is
    a reply with no prompt: the causal-LM loss on the text); stops and keeps the best probed adapter when the
    loss on the first example (probed every ``cfg.probe_every`` steps) rises past ``cfg.diverge`` times its
    value before learning."""
    import torch

    examples = [Example("", e) if isinstance(e, str) else e for e in examples]
    if not examples:
        raise ValueError("nothing to learn from")
    model = tm.fresh_lora(cfg)
    model.train()
    params = [p for p in model.parameters() if p.requires_grad]
    optimiser = torch.optim.Adam(params, lr=cfg.lr, eps=cfg.eps)
    losses: list[float] = []
    notes: list[str] = []
    limit = [cfg.max_tokens]
    probe_ids = tm.encode_example(examples[0], min(cfg.probe_tokens, cfg.max_tokens))
    base = best = _probe(model, probe_ids)
    # The best weights so far, as plain tensor copies: a peft state dict per step cost 0.1 s of key handling.
    best_params, best_step = [p.detach().clone() for p in params], 0
    start, diverged = time.perf_counter(), False
    for i, example in enumerate(examples, start=1):
        if should_cancel and should_cancel():
            raise Cancelled("learning cancelled")
        losses.append(_step(model, optimiser, params, tm, example, cfg, limit, notes))
        if on_step:
            on_step(Step(i, len(examples), losses[-1], time.perf_counter() - start))
        if i % cfg.probe_every and i < len(examples):
            continue
        probe = _probe(model, probe_ids)
        if probe < best:
            best, best_step = probe, i
            for kept, p in zip(best_params, params):
                kept.copy_(p.detach())
        if not math.isfinite(probe) or probe > cfg.diverge * base:
            diverged = True
            notes.append(f"learning diverged at step {i} (loss on the first pick {base:.2f} -> {probe:.2f}); "
                         f"kept the adapter of step {best_step}" + (" (no change to the model)" if best_step == 0 else ""))
            break
    model.eval()
    if diverged:
        with torch.no_grad():
            for kept, p in zip(best_params, params):
                p.copy_(kept)
    state = _lora_state(model)
    return LoraResult(state, losses, best_step if diverged else len(losses), time.perf_counter() - start, tm.device, cfg.r, float(cfg.alpha),
                      tm.target_names(), notes, cfg.layers)  # fmt: skip


def save_peft(result: LoraResult, tm: TrainingModel, out_dir: Path) -> Path:
    """The adapter in peft's own format: adapter_model.safetensors + adapter_config.json."""
    from peft import LoraConfig
    from safetensors.torch import save_file

    from assistant.learn.lora_gguf import layers_of

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in result.state.items()}, str(out_dir / "adapter_model.safetensors"))
    layers = layers_of(result.state) if result.layers < 1.0 else None
    config = LoraConfig(r=result.r, lora_alpha=result.alpha, target_modules=result.targets, lora_dropout=0.0,
                        layers_to_transform=layers, base_model_name_or_path=str(tm.gguf_path))  # fmt: skip
    config.save_pretrained(str(out_dir))
    return out_dir


def load_peft(adapter_dir: Path) -> LoraResult:
    import json

    from safetensors.torch import load_file

    adapter_dir = Path(adapter_dir)
    config = json.loads((adapter_dir / "adapter_config.json").read_text())
    state = load_file(str(adapter_dir / "adapter_model.safetensors"))
    targets = config["target_modules"]
    layers = config.get("layers_to_transform")  # the top layers of the model, so the last is its top one
    return LoraResult(state, [], 0, 0.0, "cpu", int(config["r"]), float(config["lora_alpha"]),
                      sorted(targets) if isinstance(targets, list) else [targets], [],
                      len(layers) / (max(layers) + 1) if layers else 1.0)  # fmt: skip


def bits_from_logits(logits, targets, n_bytes: int) -> float:
    """Bits per byte: the summed negative log2-likelihood of ``targets`` under ``logits``, over ``n_bytes``."""
    import torch

    logp = torch.log_softmax(logits.float(), dim=-1)
    nats = -logp.gather(-1, targets.unsqueeze(-1)).sum()
    return float(nats.detach()) / math.log(2) / n_bytes


def bits_per_byte(tm: TrainingModel, text: str, *, lora: LoraResult | str | None = None, max_tokens: int = 256) -> float:
    """bpb of ``text`` (cut to ``max_tokens``) under the base model, a LoRA or the live one (see ``logits``)."""
    ids = tm.encode(text, max_tokens)
    covered = tm.tokenizer.decode(ids[0, 1:].tolist())
    n_bytes = max(1, len(covered.encode("utf-8")))
    return bits_from_logits(tm.logits(ids, lora)[:-1], ids[0, 1:], n_bytes)


def _targets_key(tm: TrainingModel, lora: LoraResult) -> str:
    # The live peft model was built for a targets string; reuse it when it resolves to the same modules.
    if tm._peft is not None and tm._peft_key and tm.target_names() == lora.targets:
        return tm._peft_key[2]
    return ",".join(lora.targets)
