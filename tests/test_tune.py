"""Test-time LoRA training on the real SmolLM2-135M."""

import math
from dataclasses import replace

import pytest
import torch

from assistant.errors import Cancelled
from assistant.learn.tune import (TrainConfig, TrainingModel, bits_from_logits, bits_per_byte, cpu_has_bf16, fit_lora, load_peft,
                                  save_peft, train_dtype)

FACT = "Project Heron moved its database from Postgres 14 to SQLite on 2024-03-12, because the whole deployment runs on one laptop."
CFG = TrainConfig(max_tokens=64)

pytestmark = pytest.mark.slow


def base_logits(tm):
    ids = tm.encode("The quick brown fox", 16)
    model = tm._peft if tm._peft is not None else tm.model
    with torch.no_grad():
        if tm._peft is not None:
            with tm._peft.disable_adapter():
                return model(input_ids=ids).logits
        return model(input_ids=ids).logits


def test_bits_from_logits_by_hand():
    # two tokens over a vocabulary of 2, uniform: one bit each; 2 bits over 2 bytes = 1 bit per byte
    assert bits_from_logits(torch.zeros(2, 2), torch.tensor([0, 1]), 2) == pytest.approx(1.0)
    # p = 0.75 / 0.25: -log2(0.75) - log2(0.25) = 0.415 + 2 = 2.415 bits over 3 bytes
    logits = torch.tensor([[math.log(3.0), 0.0], [math.log(3.0), 0.0]])
    expected = (-math.log2(0.75) - math.log2(0.25)) / 3
    assert bits_from_logits(logits, torch.tensor([0, 1]), 3) == pytest.approx(expected)


def test_auto_trains_in_fp32_on_a_cpu_and_bf16_is_asked_for():
    amx = "processor : 0\nflags : fpu sse avx512f amx_bf16 amx_tile\n"
    plain = "processor : 0\nflags : fpu sse avx2 avx512f\n"
    assert cpu_has_bf16(amx) and cpu_has_bf16(plain.replace("avx512f", "avx512f avx512_bf16"))
    assert not cpu_has_bf16(plain) and not cpu_has_bf16("")
    assert train_dtype("cpu") == train_dtype("mps") == torch.float32
    assert train_dtype("cpu", "bfloat16") == torch.bfloat16 and train_dtype("cpu", "float32") == torch.float32


def test_bf16_training_learns_nearly_what_fp32_learns(training_model):
    """The speed-up must not cost the learning: measured by the fp32 model, a bf16-trained adapter lowers the
    fact's bits by at least 80% as much as an fp32-trained one (here 88%; on held-out documents the two tie)."""
    fp32 = TrainingModel(training_model.gguf_path, "cpu", training_model.cache_dir, "float32")
    bf16 = TrainingModel(training_model.gguf_path, "cpu", training_model.cache_dir, "bfloat16")
    assert (fp32.dtype, bf16.dtype) == (torch.float32, torch.bfloat16)
    a, b = fit_lora(fp32, [FACT] * 5, CFG), fit_lora(bf16, [FACT] * 5, CFG)
    assert abs(a.losses[0] - b.losses[0]) < 0.02 * a.losses[0]  # before any step the two forward passes agree
    assert all(v.dtype == torch.float32 for v in b.state.values())  # the adapter is fp32 whatever the base was
    base = bits_per_byte(fp32, FACT)
    assert base - bits_per_byte(fp32, FACT, lora=b) >= 0.8 * (base - bits_per_byte(fp32, FACT, lora=a))


def test_learning_lowers_loss_and_bpb_and_leaves_the_base_alone(training_model):
    tm = training_model
    before = base_logits(tm)
    bpb_base = bits_per_byte(tm, FACT)
    steps = []
    result = fit_lora(tm, [FACT] * 6, CFG, on_step=steps.append)
    assert [s.i for s in steps] == list(range(1, 7)) and all(s.n == 6 for s in steps)
    assert result.losses[-1] < 0.6 * result.losses[0]
    assert bits_per_byte(tm, FACT, lora=result) < 0.8 * bpb_base
    assert bits_per_byte(tm, FACT) == pytest.approx(bpb_base, rel=1e-6)
    assert torch.equal(base_logits(tm), before), "the base weights must never change"
    assert result.targets == ["down_proj", "gate_proj", "k_proj", "o_proj", "q_proj", "up_proj", "v_proj"]


def test_each_call_starts_from_a_fresh_lora(training_model):
    first = fit_lora(training_model, [FACT, FACT], CFG)
    fit_lora(training_model, ["Something else entirely: a recipe for bread."] * 3, CFG)
    again = fit_lora(training_model, [FACT, FACT], CFG)
    assert first.losses == again.losses
    assert all(torch.equal(first.state[k], again.state[k]) for k in first.state)


def test_cancel_between_steps(training_model):
    seen = []
    with pytest.raises(Cancelled):
        fit_lora(training_model, [FACT] * 5, CFG, on_step=seen.append, should_cancel=lambda: len(seen) >= 2)
    assert len(seen) == 2


def test_peft_files_round_trip(training_model, tmp_path):
    result = fit_lora(training_model, [FACT] * 2, CFG)
    save_peft(result, training_model, tmp_path)
    assert (tmp_path / "adapter_model.safetensors").exists() and (tmp_path / "adapter_config.json").exists()
    loaded = load_peft(tmp_path)
    assert (loaded.r, loaded.alpha, loaded.targets) == (result.r, result.alpha, result.targets)
    assert bits_per_byte(training_model, FACT, lora=loaded) == pytest.approx(bits_per_byte(training_model, FACT, lora=result), rel=1e-6)


def test_warm_start_reads_the_safetensors_cache(training_model):
    warm = TrainingModel(training_model.gguf_path, "cpu", training_model.cache_dir)
    assert training_model.load_path == "gguf" and warm.load_path == "cache"
    ids = warm.encode(FACT, 32)
    with torch.no_grad():
        assert torch.allclose(warm.model(input_ids=ids).logits, base_logits_for(training_model, ids), atol=1e-5)


def base_logits_for(tm, ids):
    with torch.no_grad():
        if tm._peft is not None:
            with tm._peft.disable_adapter():
                return tm._peft(input_ids=ids).logits
        return tm.model(input_ids=ids).logits


def test_gpu_out_of_memory_retries_with_shorter_chunks(training_model, monkeypatch):
    """Named fake: no GPU here, so the model's forward raises torch's CUDA OOM once for long inputs."""
    peft = training_model.fresh_lora(CFG)
    real_forward = type(peft).forward
    calls = {"n": 0}

    def fake_oom_forward(self, *args, **kwargs):
        if not torch.is_grad_enabled():  # the divergence guard's probe: not a training step
            return real_forward(self, *args, **kwargs)
        calls["n"] += 1
        if kwargs["input_ids"].shape[1] > 33 and calls["n"] == 1:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory (fake)")
        return real_forward(self, *args, **kwargs)

    monkeypatch.setattr(type(peft), "forward", fake_oom_forward)
    result = fit_lora(training_model, [FACT], CFG)
    assert result.notes == ["GPU out of memory: retrying with 32-token chunks"]
    assert result.steps == 1


def test_a_diverging_run_keeps_the_best_adapter_and_says_so(training_model):
    """A learning rate 100x too high: training stops, and the adapter is no worse than the base model."""
    texts = [FACT, "The ferry to Vis leaves Split at 06:15 every Tuesday.", FACT, "Gunnel's bakery is on Svartbäcksgatan 12."]
    result = fit_lora(training_model, texts * 2, TrainConfig(lr=0.2, max_tokens=64))
    assert any("diverged" in note for note in result.notes), result.notes
    assert result.steps < len(texts) * 2
    for text in set(texts):
        base = bits_per_byte(training_model, text, max_tokens=64)
        assert bits_per_byte(training_model, text, lora=result, max_tokens=64) <= base * 1.02, text


def test_a_sane_run_is_not_cut(training_model):
    result = fit_lora(training_model, [FACT] * 4, CFG)
    assert result.steps == 4 and not result.notes


def test_the_divergence_guard_probes_every_few_steps_and_after_the_last(training_model, monkeypatch):
    """A probe costs a third of a step on a CPU: one before learning, then every probe_every steps and the last."""
    peft = training_model.fresh_lora(CFG)
    real_forward = type(peft).forward
    probes = []

    def counting_forward(self, *args, **kwargs):
        if not torch.is_grad_enabled():
            probes.append(kwargs["input_ids"].shape[1])
        return real_forward(self, *args, **kwargs)

    monkeypatch.setattr(type(peft), "forward", counting_forward)
    result = fit_lora(training_model, [FACT] * 7, replace(CFG, probe_every=3))
    assert result.steps == 7 and not result.notes
    assert len(probes) == 1 + 3  # before learning, after steps 3, 6 and 7


def test_a_lora_on_the_top_half_of_the_layers_learns_and_round_trips(training_model, tmp_path):
    """lora_layers 0.5: backward stops halfway down, the fact is still learned, and a saved adapter keeps its layers."""
    before = bits_per_byte(training_model, FACT, max_tokens=64)
    result = fit_lora(training_model, [FACT] * 4, replace(CFG, layers=0.5))
    total = training_model.model.config.num_hidden_layers
    assert min(int(k.split("layers.")[1].split(".")[0]) for k in result.state) == total - total // 2
    assert bits_per_byte(training_model, FACT, lora=result, max_tokens=64) < before * 0.9
    save_peft(result, training_model, tmp_path)
    loaded = load_peft(tmp_path)
    assert loaded.layers == 0.5
    assert bits_per_byte(training_model, FACT, lora=loaded, max_tokens=64) == pytest.approx(
        bits_per_byte(training_model, FACT, lora=result, max_tokens=64), rel=1e-5)
