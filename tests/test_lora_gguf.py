"""The exported adapter is right, not just loadable: llama.cpp + adapter matches transformers + peft."""

import numpy as np
import pytest
import torch

from assistant.answer.generator import Generator
from assistant.learn.lora_gguf import export_gguf, gguf_tensors
from assistant.learn.tune import TrainConfig, fit_lora

pytestmark = pytest.mark.slow

FACT = ("Aunt Mireille's cardamom buns: the dough rests 45 minutes at 24 degrees, then 18 minutes in the oven "
        "at 210 degrees. She learned it in Uppsala in 1987 from a baker called Gunnel.")  # fmt: skip
PROMPT = ("Notes on baking. " + FACT + " The buns are brushed with egg and sprinkled with pearl sugar before "
          "baking, and they keep for two days in a tin. Mireille always doubles the cardamom and grinds it fresh.")  # fmt: skip


@pytest.fixture(scope="module")
def trained(training_model, tmp_path_factory):
    result = fit_lora(training_model, [FACT] * 8, TrainConfig(lr=3e-3, max_tokens=96))
    out = tmp_path_factory.mktemp("adapters")
    return result, export_gguf(result, training_model, out / "a.gguf"), export_gguf(result, training_model, out / "raw.gguf", permute=False)


@pytest.fixture(scope="module")
def scorer():
    from assistant.models.locate import default_gguf

    gen = Generator(default_gguf(), n_ctx=512, logits_all=True)
    yield gen
    gen.close()


def torch_logprobs(tm, result, tokens):
    tm.load_state(result.state, TrainConfig(r=result.r, alpha=int(result.alpha), layers=result.layers))
    with torch.no_grad():
        logits = tm._peft(input_ids=torch.tensor([tokens])).logits[0]
    return torch.log_softmax(logits.double(), -1).numpy()


def compare(a, b):
    diff = np.abs(a - b)
    return diff.max(), diff.mean(), float((a.argmax(1) == b.argmax(1)).mean())


def test_metadata_names_and_shapes(trained, training_model):
    from gguf import GGUFReader

    result, path, _ = trained
    reader = GGUFReader(str(path))

    def field(key):
        f = reader.fields[key]
        return bytes(f.parts[f.data[0]]).decode() if f.types[0].name == "STRING" else float(f.parts[f.data[0]][0])

    assert field("general.architecture") == "llama"
    assert field("general.type") == "adapter" and field("adapter.type") == "lora"
    assert field("adapter.lora.alpha") == 16.0
    tensors = {t.name: t for t in reader.tensors}
    assert len(tensors) == 30 * 7 * 2
    a, b = tensors["blk.0.attn_q.weight.lora_a"], tensors["blk.0.attn_q.weight.lora_b"]
    # GGUF lists dims fastest-first: lora_a is (r, in) = (8, 576), lora_b is (out, r) = (576, 8)
    assert list(a.shape) == [576, 8] and list(b.shape) == [8, 576]
    assert list(tensors["blk.3.attn_k.weight.lora_b"].shape) == [8, 192]


def test_llama_cpp_with_adapter_matches_torch(trained, training_model, scorer):
    result, path, raw = trained
    tokens = scorer.llm.tokenize(PROMPT.encode(), add_bos=True)
    assert len(tokens) >= 65
    expected = torch_logprobs(training_model, result, tokens)
    with torch.no_grad(), training_model._peft.disable_adapter():
        base_torch = torch.log_softmax(training_model._peft(input_ids=torch.tensor([tokens])).logits[0].double(), -1).numpy()
    scorer.set_adapter(None)
    base_cpp = scorer.token_logprobs(tokens)
    scorer.set_adapter(path)
    adapted_cpp = scorer.token_logprobs(tokens)
    scorer.set_adapter(raw)
    unpermuted_cpp = scorer.token_logprobs(tokens)
    scorer.set_adapter(None)

    base_gap = compare(base_cpp, base_torch)  # Q4_1 in llama.cpp vs its dequantised copy in torch
    good = compare(adapted_cpp, expected)
    bad = compare(unpermuted_cpp, expected)
    moved = compare(adapted_cpp, base_cpp)
    print(f"\npositions {len(tokens)}; max/mean |Δ logprob|, top-1 agreement:"
          f"\n  base  llama.cpp vs torch      {base_gap[0]:.3f} {base_gap[1]:.4f} {base_gap[2]:.3f}"
          f"\n  adapter llama.cpp vs torch    {good[0]:.3f} {good[1]:.4f} {good[2]:.3f}"
          f"\n  unpermuted llama.cpp vs torch {bad[0]:.3f} {bad[1]:.4f} {bad[2]:.3f}"
          f"\n  adapter vs base (llama.cpp)   {moved[0]:.3f} {moved[1]:.4f} {moved[2]:.3f}")  # fmt: skip
    assert good[1] < 2 * base_gap[1] + 0.02, "the adapter adds more error than quantisation does"
    assert good[2] >= 0.9
    assert moved[1] > 10 * good[1], "the adapter should move llama.cpp's log-probs far more than the export error"
    assert bad[1] > 3 * good[1], "without the q/k permutation the export must be clearly worse"


def test_permutation_only_touches_llama_q_and_k_b():
    rng = np.random.default_rng(0)
    state = {
        "base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight": torch.tensor(rng.standard_normal((8, 2))),
        "base_model.model.model.layers.0.self_attn.v_proj.lora_B.weight": torch.tensor(rng.standard_normal((8, 2))),
        "base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight": torch.tensor(rng.standard_normal((2, 8))),
    }
    llama = gguf_tensors(state, "llama", n_head=2, n_kv_head=1)
    qwen = gguf_tensors(state, "qwen2", n_head=2, n_kv_head=1)
    q = state["base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight"].numpy()
    # per head of 4 rows: [0, 1, 2, 3] -> [0, 2, 1, 3] (interleave the two rotary halves)
    assert np.allclose(llama["blk.0.attn_q.weight.lora_b"], q[[0, 2, 1, 3, 4, 6, 5, 7]])
    assert np.allclose(qwen["blk.0.attn_q.weight.lora_b"], q)
    assert np.allclose(llama["blk.0.attn_v.weight.lora_b"], qwen["blk.0.attn_v.weight.lora_b"])
    assert np.allclose(llama["blk.0.attn_q.weight.lora_a"], state["base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight"].numpy())


def test_an_adapter_on_the_top_layers_only_matches_torch_in_llama_cpp(training_model, scorer, tmp_path):
    """lora_layers < 1: llama.cpp reads an adapter that leaves the lower layers alone, and applies it as torch does."""
    result = fit_lora(training_model, [FACT] * 8, TrainConfig(lr=3e-3, max_tokens=96, layers=0.5))
    total = training_model.model.config.num_hidden_layers
    layers = {int(k.split("layers.")[1].split(".")[0]) for k in result.state}
    assert layers == set(range(total - round(total * 0.5), total))
    path = export_gguf(result, training_model, tmp_path / "top.gguf")
    tokens = scorer.llm.tokenize(PROMPT.encode(), add_bos=True)
    expected = torch_logprobs(training_model, result, tokens)
    scorer.set_adapter(None)
    base_cpp = scorer.token_logprobs(tokens)
    scorer.set_adapter(path)
    adapted_cpp = scorer.token_logprobs(tokens)
    scorer.set_adapter(None)
    good, moved = compare(adapted_cpp, expected), compare(adapted_cpp, base_cpp)
    assert good[2] >= 0.9 and moved[1] > 10 * good[1]
