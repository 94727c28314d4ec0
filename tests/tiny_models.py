"""Tiny random models of each architecture, converted to GGUF by llama.cpp's own converter.

The converter ships in the llama-cpp-python source release (vendor/llama.cpp/convert_hf_to_gguf.py);
it must run with its own vendored gguf-py (same 0.19.0 version string as the pinned ``gguf`` package,
but newer: the installed one lacks ``LazyChunkedTensor`` and ``MODEL_ARCH.DFLASH``), so NO_LOCAL_GGUF stays unset. The tokenizer is SmolLM2's (GPT-2 BPE,
a pre-tokenizer hash the converter knows), taken from the shipped GGUF, so no download is needed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

CONVERTER_ENV = "LLAMA_CPP_SRC"  # a llama.cpp checkout (holding convert_hf_to_gguf.py), or a llama-cpp-python sdist

# Small enough to convert and load in a second or two; head_dim 16 so rotary pairs are exercised.
_COMMON = dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
               num_key_value_heads=2, max_position_embeddings=512, tie_word_embeddings=False)  # fmt: skip
CONFIGS: dict[str, dict] = {
    "llama": dict(model_type="llama", architectures=["LlamaForCausalLM"]),
    "mistral": dict(model_type="mistral", architectures=["MistralForCausalLM"], sliding_window=None),
    "qwen2": dict(model_type="qwen2", architectures=["Qwen2ForCausalLM"]),
    "qwen3": dict(model_type="qwen3", architectures=["Qwen3ForCausalLM"], head_dim=128),  # transformers reads no head_dim from a qwen3 GGUF: it assumes 128
    "gemma3": dict(model_type="gemma3_text", architectures=["Gemma3ForCausalLM"], head_dim=16, sliding_window=64,
                   query_pre_attn_scalar=16),  # fmt: skip
    "phi3": dict(model_type="phi3", architectures=["Phi3ForCausalLM"], num_key_value_heads=4),
}


def llama_cpp_version() -> str:
    from importlib.metadata import version

    return version("llama-cpp-python")


def find_converter(work: Path) -> Path:
    """convert_hf_to_gguf.py from $LLAMA_CPP_SRC, a cached extraction, or the sdist (pip's local index)."""
    given = os.environ.get(CONVERTER_ENV)
    candidates = []
    if given:
        candidates += [Path(given) / "convert_hf_to_gguf.py", Path(given) / "vendor" / "llama.cpp" / "convert_hf_to_gguf.py"]
    cache = Path.home() / ".cache" / "assistant-tests" / f"llama-cpp-python-{llama_cpp_version()}"
    candidates.append(cache / "convert_hf_to_gguf.py")
    for path in candidates:
        if path.is_file():
            return path
    sdist = _sdist(Path(given) if given and given.endswith(".tar.gz") else None, work)
    prefix = "vendor/llama.cpp/"
    with tarfile.open(sdist) as tar:
        for member in tar.getmembers():
            inner = member.name.split("/", 1)[-1]
            if inner.startswith(prefix) and (inner == prefix + "convert_hf_to_gguf.py" or inner.startswith(
                    (prefix + "conversion/", prefix + "gguf-py/"))) and member.isfile():  # fmt: skip
                member.name = inner[len(prefix):]
                tar.extract(member, cache, filter="data")
    return cache / "convert_hf_to_gguf.py"


def _sdist(given: Path | None, work: Path) -> Path:
    if given and given.is_file():
        return given
    name = f"llama_cpp_python-{llama_cpp_version()}.tar.gz"
    subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:", "-d", str(work),
                    f"llama-cpp-python=={llama_cpp_version()}"], check=True, capture_output=True)  # fmt: skip
    return work / name


def save_tokenizer(out: Path) -> None:
    from transformers import AutoTokenizer

    from assistant.models.locate import default_gguf

    gguf = default_gguf()
    tok = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    tok.save_pretrained(str(out))
    # Name the class: otherwise transformers picks one per model_type (Qwen2Tokenizer changes the
    # pre-tokenizer hash the converter checks) and phi3's converter looks for a sentencepiece file.
    config_file = out / "tokenizer_config.json"
    config = json.loads(config_file.read_text())
    config["tokenizer_class"] = "GPT2Tokenizer"
    config_file.write_text(json.dumps(config))


def build(arch: str, work: Path, tokenizer_dir: Path, converter: Path) -> Path:
    """A random ``arch`` model (seed 0) saved by transformers and converted to an f32 GGUF."""
    import shutil

    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    hf_dir = work / f"{arch}-hf"
    out = work / f"tiny-{arch}.gguf"
    if out.is_file():
        return out
    hf_dir.mkdir(parents=True, exist_ok=True)
    settings = {**_COMMON, **CONFIGS[arch]}
    model_type = settings.pop("model_type")
    from transformers import PreTrainedTokenizerFast

    tok = PreTrainedTokenizerFast.from_pretrained(str(tokenizer_dir))
    config = AutoConfig.for_model(model_type, vocab_size=len(tok), bos_token_id=tok.bos_token_id,
                                  eos_token_id=tok.eos_token_id, **settings)  # fmt: skip
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    with torch.no_grad():  # random init is near zero: spread the weights so logits differ across tokens
        for p in model.parameters():
            if p.dim() == 2:
                p.normal_(0, 0.08)
    model.save_pretrained(str(hf_dir))
    if model_type == "qwen2":  # else AutoTokenizer forces Qwen2Tokenizer, whose pre-tokenizer hash is unknown
        config_file = hf_dir / "config.json"
        config_file.write_text(json.dumps({k: v for k, v in json.loads(config_file.read_text()).items() if k != "model_type"}))
    for f in tokenizer_dir.iterdir():
        shutil.copy(f, hf_dir / f.name)
    subprocess.run([sys.executable, str(converter), str(hf_dir), "--outfile", str(out), "--outtype", "f32"],
                   check=True, capture_output=True)  # fmt: skip
    return out
