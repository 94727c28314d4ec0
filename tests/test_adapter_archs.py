"""Per-architecture adapter agreement: a LoRA trained in torch and exported must give llama.cpp the
same log-probabilities as torch, within the gap the base model already has between the two runtimes.

Each architecture: a tiny random model built with transformers, converted by llama.cpp's own
convert_hf_to_gguf.py (tests/tiny_models.py), loaded as the training copy, a LoRA trained for a few
steps, exported with learn/lora_gguf.py and applied by llama.cpp. Converted models are cached for the session.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tiny_models import CONFIGS

TEXT = "The lighthouse keeper logs the tide at dawn and dusk, and the ferry leaves when the log says so."


@pytest.fixture(scope="session")
def tiny_ggufs(tmp_path_factory):
    from tiny_models import build, find_converter, save_tokenizer

    work = tmp_path_factory.mktemp("tiny-models")
    try:
        converter = find_converter(work)
    except Exception as exc:  # no sdist reachable: nothing to convert with
        pytest.skip(f"llama.cpp's converter is not available: {exc}")
    tokenizer_dir = work / "tokenizer"
    tokenizer_dir.mkdir()
    save_tokenizer(tokenizer_dir)
    return lambda arch: build(arch, work, tokenizer_dir, converter)


def agreement(gguf_path, cache_dir, adapter_path):
    """(mean |Δ log-prob| base, with adapter, adapter's own shift in torch) between torch and llama.cpp."""
    from assistant.answer.generator import Generator
    from assistant.learn.lora_gguf import export_gguf
    from assistant.learn.tune import TrainConfig, TrainingModel, fit_lora

    tm = TrainingModel(gguf_path, "cpu", cache_dir)
    ids = tm.encode(TEXT, 64)
    import torch

    def torch_logprobs(lora):
        return torch.log_softmax(tm.logits(ids, lora).double(), dim=-1).numpy()

    base_torch = torch_logprobs(None)
    result = fit_lora(tm, [TEXT] * 4, TrainConfig(lr=1e-2, r=4, alpha=8))
    lora_torch = torch_logprobs(result)
    export_gguf(result, tm, adapter_path)
    gen = Generator(gguf_path, n_ctx=256, logits_all=True)
    try:
        tokens = ids[0].tolist()
        base_cpp = gen.token_logprobs(tokens)
        gen.set_adapter(adapter_path)
        lora_cpp = gen.token_logprobs(tokens)
    finally:
        gen.close()
    targets = ids[0, 1:].numpy()

    def picked(lp):  # log-prob of each actual next token
        return lp[np.arange(len(targets)), targets]

    base_gap = float(np.abs(picked(base_torch) - picked(base_cpp)).mean())
    lora_gap = float(np.abs(picked(lora_torch) - picked(lora_cpp)).mean())
    shift = float(np.abs(picked(lora_torch) - picked(base_torch)).mean())
    return base_gap, lora_gap, shift


AGREEING = ("llama", "mistral", "qwen2", "qwen3")


@pytest.mark.parametrize("arch", AGREEING)
def test_adapter_matches_torch(arch, tiny_ggufs, tmp_path):
    base_gap, lora_gap, shift = agreement(tiny_ggufs(arch), tmp_path / "cache", tmp_path / "adapter.gguf")
    print(f"\n{arch}: base gap {base_gap:.2e}  with adapter {lora_gap:.2e}  adapter shift {shift:.2e}")
    assert shift > 20 * max(base_gap, 1e-4), "the LoRA barely moved the model: the check could not tell"
    assert lora_gap <= max(3 * base_gap, 1e-3), f"{arch}: llama.cpp disagrees with torch under the adapter"


@pytest.mark.parametrize("arch", sorted(set(CONFIGS) - set(AGREEING)))
def test_unproven_architecture_is_refused(arch, tiny_ggufs, tmp_path):
    from assistant.errors import ModelNotFound
    from assistant.learn.tune import TrainingModel

    with pytest.raises(ModelNotFound, match=f"cannot learn on tiny-{arch}.gguf \\(architecture {arch}\\).*--no-learn"):
        TrainingModel(tiny_ggufs(arch), "cpu", tmp_path)


def test_models_use_then_ask_end_to_end(tiny_ggufs, tmp_path, home, warm_models):
    """A user picks a model found on the machine, then asks: the answer comes from that model, with a LoRA."""
    import json
    import shutil

    from click.testing import CliRunner

    from assistant.cli.main import cli

    folder = tmp_path / "my-models"
    folder.mkdir()
    model = Path(shutil.copy(tiny_ggufs("llama"), folder / "tiny-llama.gguf"))
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "ferry.md").write_text("# Ferry\n\nThe ferry to Vis leaves Split at 06:15.\n")
    home.mkdir(parents=True, exist_ok=True)
    (home / "config.toml").write_text(f'model_dirs = "{folder}"\nn = 2\nmax_tokens = 8\nmax_train_tokens = 64\n'
                                      f'n_ctx = 512\nserver = false\n')  # fmt: skip
    runner = CliRunner()
    out = runner.invoke(cli, ["models", "use", "tiny-llama"])
    assert out.exit_code == 0 and "Using tiny-llama.gguf (llama" in out.output, out.output
    assert str(model) in (home / "config.toml").read_text()
    assert runner.invoke(cli, ["index", str(notes)]).exit_code == 0
    out = runner.invoke(cli, ["status"], env={"COLUMNS": "200"})
    assert out.exit_code == 0 and "tiny-llama.gguf" in out.output and "gguf (" in out.output, out.output
    out = runner.invoke(cli, ["ask", "When does the ferry to Vis leave?", "--json"])
    assert out.exit_code == 0, out.output
    payload = json.loads(out.stdout)
    assert payload["status"] == "complete" and payload["picks"], payload
    assert Path(payload["adapter"]["gguf_path"]).is_file()
