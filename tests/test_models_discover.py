"""`assistant models`: GGUFs found in Ollama, LM Studio, GPT4All, HF-cache and model_dirs layouts built
here from tiny real GGUF files (gguf's GGUFWriter); headers read, nothing loaded."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from assistant.cli.main import cli

CHATML = "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}" \
         "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"  # fmt: skip


def write_gguf(path: Path, arch: str = "llama", *, template: str = CHATML, kind: str = "model") -> Path:
    import gguf

    path.parent.mkdir(parents=True, exist_ok=True)
    writer = gguf.GGUFWriter(str(path), arch=arch)
    writer.add_name(f"tiny {arch}")
    if kind == "adapter":
        writer.add_string("general.type", "adapter")
    writer.add_block_count(1)
    writer.add_embedding_length(8)
    writer.add_token_list(["<s>", "</s>", "a"])
    writer.add_bos_token_id(0)
    writer.add_eos_token_id(1)
    if template:
        writer.add_chat_template(template)
    writer.add_tensor("token_embd.weight", np.zeros((3, 8), np.float32))
    writer.add_tensor("blk.0.attn_q.weight", np.zeros((8, 8), np.float16))
    writer.add_tensor("blk.0.ffn_up.weight", np.zeros((8, 8), np.float16))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


@pytest.fixture
def machine(tmp_path, monkeypatch):
    """A fake user home holding each app's layout (the files are real GGUFs)."""
    user = tmp_path / "user"
    monkeypatch.setenv("HOME", str(user))
    monkeypatch.setenv("OLLAMA_MODELS", str(tmp_path / "ollama"))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf" / "hub"))
    monkeypatch.delenv("HF_HOME", raising=False)
    ollama = tmp_path / "ollama"
    digest = "sha256:" + "ab" * 32
    write_gguf(ollama / "blobs" / ("sha256-" + "ab" * 32), "qwen2")
    manifest = ollama / "manifests" / "registry.ollama.ai" / "library" / "qwen2.5" / "0.5b"
    manifest.parent.mkdir(parents=True)
    manifest.write_text(json.dumps({"layers": [
        {"mediaType": "application/vnd.ollama.image.template", "digest": "sha256:" + "cd" * 32},
        {"mediaType": "application/vnd.ollama.image.model", "digest": digest}]}))  # fmt: skip
    write_gguf(user / ".lmstudio" / "models" / "lmstudio-community" / "gemma" / "gemma-3-1b.gguf", "gemma3")
    write_gguf(user / ".local" / "share" / "nomic.ai" / "GPT4All" / "phi-3-mini.gguf", "phi3")
    snapshot = tmp_path / "hf" / "hub" / "models--org--tiny-llama" / "snapshots" / "abc123"
    write_gguf(snapshot / "tiny-llama.gguf", "llama")
    write_gguf(snapshot / "lora-adapter.gguf", "llama", kind="adapter")  # adapters are not models
    (snapshot / "broken.gguf").write_bytes(b"not a gguf")  # unreadable files are skipped
    extra = tmp_path / "extra"
    write_gguf(extra / "my-qwen3.gguf", "qwen3")
    return extra


def test_discover_finds_every_layout(machine):
    from assistant.models.discover import discover

    found = {m.name: m for m in discover([machine])}
    assert set(found) == {"ollama:qwen2.5:0.5b", "gemma-3-1b.gguf", "phi-3-mini.gguf", "hf:org/tiny-llama/tiny-llama.gguf",
                          "my-qwen3.gguf"}  # fmt: skip
    assert {n: m.source for n, m in found.items()} == {
        "ollama:qwen2.5:0.5b": "ollama", "gemma-3-1b.gguf": "lmstudio", "phi-3-mini.gguf": "gpt4all",
        "hf:org/tiny-llama/tiny-llama.gguf": "hf-cache", "my-qwen3.gguf": "model_dirs"}  # fmt: skip
    llama = found["hf:org/tiny-llama/tiny-llama.gguf"].info
    assert (llama.arch, llama.parameters, llama.quantisation) == ("llama", 3 * 8 + 2 * 64, "F16")
    assert llama.trainable and not found["gemma-3-1b.gguf"].info.trainable


def test_models_command_lists_and_uses(machine, home):
    home.mkdir(parents=True, exist_ok=True)
    (home / "config.toml").write_text(f'model_dirs = "{machine}"\n')
    result = CliRunner().invoke(cli, ["models"], env={"COLUMNS": "250"})
    assert result.exit_code == 0, result.output
    for text in ("ollama:qwen2.5:0.5b", "qwen2", "gemma3", "my-qwen3.gguf", "hf-cache", "F16"):
        assert text in result.output
    result = CliRunner().invoke(cli, ["models", "use", "ollama:qwen2.5:0.5b"])
    assert result.exit_code == 0, result.output
    config = (home / "config.toml").read_text()
    assert "sha256-" + "ab" * 32 in config and "model_dirs" in config
    result = CliRunner().invoke(cli, ["models", "use", "no-such-model"])
    assert result.exit_code == 1 and "no model named 'no-such-model'" in result.output
    result = CliRunner().invoke(cli, ["models", "use", ".gguf"])
    assert result.exit_code == 1 and "matches" in result.output


def test_model_dirs_must_be_folders(home, tmp_path):
    from assistant.config import load_config
    from assistant.errors import ConfigError

    home.mkdir(parents=True, exist_ok=True)
    (home / "config.toml").write_text(f'model_dirs = "{tmp_path / "nowhere"}"\n')
    with pytest.raises(ConfigError, match="model_dirs.*is not a folder"):
        load_config()
    assert CliRunner().invoke(cli, ["models"]).exit_code == 1


def test_chat_template_from_the_model_or_fallback(tmp_path):
    from assistant.models.chat_template import choose, from_template

    own = choose(write_gguf(tmp_path / "a.gguf"))
    assert own.label == "gguf (tiny llama)" and own.formatter is not None
    prompt = own.formatter(messages=[{"role": "user", "content": "hi"}]).prompt
    assert prompt == "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n"
    assert choose(write_gguf(tmp_path / "b.gguf", template="")).chat_format == "chatml"
    broken = from_template("{% for m in messages %}{{ m.content | nosuchfilter }}", "<s>", "</s>", "x")
    assert broken.chat_format == "chatml" and "fails" in broken.label
    raises = from_template("{{ raise_exception('roles must alternate') }}", "<s>", "</s>", "x")
    assert raises.chat_format == "chatml" and "roles must alternate" in raises.label
    assert "drops the question" in from_template("hello", "<s>", "</s>", "x").label
    with_bos = from_template(CHATML, "<s>", "</s>", "x", add_bos=True).formatter(messages=[{"role": "user", "content": "hi"}])
    assert with_bos.prompt.startswith("<s><|im_start|>user")


def write_7b_header(path: Path) -> Path:
    """A Llama-2-7B-shaped Q4_0 GGUF: the real header, the tensor data a sparse hole (no disk, no RAM)."""
    import gguf
    from gguf.constants import GGML_QUANT_SIZES

    writer = gguf.GGUFWriter(str(path), arch="llama")
    writer.add_name("llama 7b header")
    writer.add_block_count(32)
    writer.add_embedding_length(4096)
    writer.add_feed_forward_length(11008)
    writer.add_token_list([f"t{i}" for i in range(32000)])
    block, size = GGML_QUANT_SIZES[gguf.GGMLQuantizationType.Q4_0]
    shapes = {"token_embd.weight": (32000, 4096), "output.weight": (32000, 4096)}
    for i in range(32):
        for name in ("attn_q", "attn_k", "attn_v", "attn_output"):
            shapes[f"blk.{i}.{name}.weight"] = (4096, 4096)
        for name in ("ffn_gate", "ffn_up", "ffn_down"):
            shapes[f"blk.{i}.{name}.weight"] = (11008, 4096)
    data = 0
    for name, shape in shapes.items():
        nbytes = shape[0] * shape[1] // block * size
        writer.add_tensor_info(name, shape, np.dtype(np.float32), nbytes, raw_dtype=gguf.GGMLQuantizationType.Q4_0)
        data += nbytes + 32  # each tensor is aligned to 32 bytes
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_ti_data_to_file()
    header = writer.fout[0].tell()
    writer.close()
    os.truncate(path, header + 32 + data)
    return path


def test_preflight_refuses_a_7b_header_on_24gb(tmp_path, home, monkeypatch):
    from assistant.config import load_config
    from assistant.core.models import Models
    from assistant.errors import ModelNotFound
    from assistant.learn.preflight import GB, check_fits
    from assistant.models.gguf_info import read_info

    big = write_7b_header(tmp_path / "llama-2-7b.Q4_0.gguf")
    info = read_info(big)
    assert (info.parameters, info.quantisation, info.n_layers) == (6_738_149_376, "Q4_0", 32)
    monkeypatch.setenv("ASSISTANT_MEMORY_LIMIT_GB", "24")
    models = Models(load_config(model=str(big), device="cpu"))
    with pytest.raises(ModelNotFound) as caught:
        models.training  # the preflight refuses before anything is loaded
    message = str(caught.value)
    assert "\n" not in message and "needs about 32.7 GB" in message and "24.0 GB RAM is free" in message
    assert "max_train_tokens=256" in message and "--no-learn" in message and "smaller model" in message
    assert models._training is None
    assert check_fits(info, "cuda", 256, 8, available=24 * GB).total < 24 * GB  # bf16 on a GPU: it fits
    with pytest.raises(ModelNotFound, match="GPU memory is free"):
        check_fits(info, "cuda", 4096, 8, available=16 * GB)


def test_a_header_is_read_once_per_version_of_the_file(tmp_path, monkeypatch):
    """Every adapter export asks for the base's architecture: the header (seconds for a real vocabulary) is
    parsed once, and again only when the file changes."""
    import gguf

    from assistant.models.gguf_info import read_info

    path = write_gguf(tmp_path / "m.gguf", "llama")
    assert read_info(path).arch == "llama"
    parsed = []
    real = gguf.GGUFReader
    monkeypatch.setattr(gguf, "GGUFReader", lambda *a, **k: parsed.append(a) or real(*a, **k))
    assert read_info(path).arch == "llama" and parsed == []
    write_gguf(path, "qwen2", template="x" * 40)  # another size: another file
    assert read_info(path).arch == "qwen2" and len(parsed) == 1
