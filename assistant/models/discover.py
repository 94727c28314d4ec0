"""Find the GGUF models already on this machine: Ollama's store, LM Studio, GPT4All, the Hugging Face
hub cache and the folders in ``model_dirs``. Only headers are read (gguf_info); no model is loaded."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from assistant.models.gguf_info import GgufInfo, read_info

OLLAMA_MODEL_LAYER = "application/vnd.ollama.image.model"


@dataclass(frozen=True)
class Found:
    name: str  # what `assistant models use NAME` accepts, e.g. "ollama:qwen2.5:0.5b" or a file name
    source: str  # ollama, lmstudio, gpt4all, hf-cache, model_dirs
    info: GgufInfo


def ollama_root() -> Path:
    return Path(os.environ.get("OLLAMA_MODELS") or Path.home() / ".ollama" / "models").expanduser()


def hf_hub_root() -> Path:
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"]).expanduser()
    hf_home = os.environ.get("HF_HOME") or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "huggingface"
    return Path(hf_home).expanduser() / "hub"


def ollama_models(root: Path) -> list[tuple[str, Path]]:
    """(name, blob) per manifest: manifests/<registry>/<namespace>/<model>/<tag> names the GGUF layer."""
    found = []
    manifests = root / "manifests"
    for manifest in sorted(p for p in manifests.rglob("*") if p.is_file()) if manifests.is_dir() else []:
        try:
            layers = json.loads(manifest.read_text(encoding="utf-8")).get("layers", [])
        except (OSError, ValueError, AttributeError):
            continue
        for layer in layers:
            if isinstance(layer, dict) and layer.get("mediaType") == OLLAMA_MODEL_LAYER:
                blob = root / "blobs" / str(layer.get("digest", "")).replace(":", "-")
                parts = manifest.relative_to(manifests).parts
                namespace = "" if len(parts) < 4 or parts[1] == "library" else parts[1] + "/"
                model = f"{namespace}{parts[-2]}:{parts[-1]}" if len(parts) >= 2 else manifest.name
                if blob.is_file():
                    found.append((f"ollama:{model}", blob))
    return found


def folder_models(root: Path, source: str) -> list[tuple[str, Path]]:
    if not root.is_dir():
        return []
    return [(p.name, p) for p in sorted(root.rglob("*.gguf")) if p.is_file()]


def hf_cache_models(root: Path) -> list[tuple[str, Path]]:
    """models--<org>--<name>/snapshots/<revision>/*.gguf; snapshot files are links into blobs/."""
    found = []
    for repo in sorted(root.glob("models--*")) if root.is_dir() else []:
        repo_id = repo.name.removeprefix("models--").replace("--", "/")
        for path in sorted(repo.glob("snapshots/*/**/*.gguf")):
            if path.is_file():
                found.append((f"hf:{repo_id}/{path.name}", path))
    return found


def sources(model_dirs: list[Path]) -> list[tuple[str, list[tuple[str, Path]]]]:
    home = Path.home()
    return [
        ("ollama", ollama_models(ollama_root())),
        ("lmstudio", folder_models(home / ".lmstudio" / "models", "lmstudio") + folder_models(home / ".cache" / "lm-studio" / "models", "lmstudio")),
        ("gpt4all", folder_models(home / ".local" / "share" / "nomic.ai" / "GPT4All", "gpt4all")),
        ("hf-cache", hf_cache_models(hf_hub_root())),
        ("model_dirs", [item for d in model_dirs for item in folder_models(d, "model_dirs")]),
    ]  # fmt: skip


def discover(model_dirs: list[Path]) -> list[Found]:
    """Every readable GGUF model once (by real path); adapters and unreadable files are skipped."""
    from assistant.errors import ModelNotFound

    seen: set[Path] = set()
    found = []
    for source, items in sources(model_dirs):
        for name, path in items:
            real = path.resolve()
            if real in seen:
                continue
            seen.add(real)
            try:
                info = read_info(path)
            except ModelNotFound:
                continue
            if info.arch and info.parameters and not info.is_adapter:
                found.append(Found(name, source, info))
    return found


def parse_dirs(setting: str) -> list[Path]:
    """``model_dirs`` is a list of folders separated by the OS path separator (":" on Linux and macOS)."""
    return [Path(part).expanduser() for part in setting.split(os.pathsep) if part.strip()]


def find(name: str, model_dirs: list[Path]) -> Found:
    """The model a user named: its listed name, its file name, or its path."""
    from assistant.errors import ModelNotFound

    models = discover(model_dirs)
    matches = [m for m in models if name in (m.name, m.info.path.name, str(m.info.path))]
    if not matches:
        matches = [m for m in models if name.lower() in m.name.lower()]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise ModelNotFound(f"no model named {name!r} on this machine: see `assistant models`")
    raise ModelNotFound(f"{name!r} matches {len(matches)} models ({', '.join(m.name for m in matches[:4])}): name one exactly")
