"""Settings: defaults < ``config.toml`` in the home dir < ``ASSISTANT_*`` env vars < CLI flags."""

from __future__ import annotations

import os
import tomllib
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from .errors import ConfigError

CONFIG_FILE = "config.toml"


def default_home() -> Path:
    """``$ASSISTANT_HOME``, else ``$XDG_DATA_HOME/assistant``, else ``~/.local/share/assistant``."""
    if os.environ.get("ASSISTANT_HOME"):
        return Path(os.environ["ASSISTANT_HOME"]).expanduser()
    xdg = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(xdg) / "assistant"


@dataclass(frozen=True)
class Config:
    home: Path = field(default_factory=default_home)
    # Models: empty means the shipped default (SmolLM2-135M GGUF, MiniLM folder).
    model: str = ""  # a .gguf file, or an HF folder holding one
    embedder: str = ""  # an HF folder with a BERT-like encoder
    device: str = "auto"  # auto | cuda | mps | cpu
    threads: int = 0  # 0: follow the machine
    # Indexing
    chunk_tokens: int = 256  # chunks are also training examples: one LoRA step each
    chunk_overlap: int = 32  # tokens shared by neighbouring chunks so no sentence is cut blind
    max_file_mb: float = 20.0
    include_code: bool = False  # index source files as plain text
    embed_batch: int = 32
    # Retrieval and selection
    k: int = 200  # HNSW candidates handed to SIFT
    n: int = 0  # max picks; 0: 16 on CPU, 50 on GPU
    method: str = "sift"
    lam: float = 1.0  # SIFT's lambda; 1.0 beat 0.01 in the reference run (DESIGN.md)
    stop: float = 0.01  # adaptive stop: a pick must cut variance by >= 1% of the prior
    # Learning
    learn: bool = True
    context: bool = True
    lr: float = 2e-3  # a LoRA needs far more than the paper's full-FT 5e-5
    lora_r: int = 8
    lora_alpha: int = 16
    lora_targets: str = "all-linear"
    max_train_tokens: int = 256
    # Generation
    max_tokens: int = 160  # a small model rambles past its answer; 160 tokens hold a few sentences
    temperature: float = 0.0  # deterministic by default
    seed: int = 0
    n_ctx: int = 4096

    @property
    def db_path(self) -> Path:
        return self.home / "assistant.db"

    @property
    def index_path(self) -> Path:
        return self.home / "vectors.hnsw"

    @property
    def adapters_dir(self) -> Path:
        return self.home / "adapters"

    @property
    def cache_dir(self) -> Path:
        return self.home / "cache"

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["home"] = str(self.home)
        return data


_FIELDS = {f.name: f for f in fields(Config)}


def _coerce(name: str, value: Any) -> Any:
    kind = type(getattr(Config(home=Path(".")), name))
    try:
        if kind is bool and isinstance(value, str):
            if value.lower() in {"1", "true", "yes", "on"}:
                return True
            if value.lower() in {"0", "false", "no", "off"}:
                return False
            raise ValueError(value)
        if kind is Path:
            return Path(value).expanduser()
        return kind(value)
    except (TypeError, ValueError):
        raise ConfigError(f"setting {name!r}: cannot use {value!r} as {kind.__name__}") from None


def load_config(**overrides: Any) -> Config:
    """Build the effective config. ``overrides`` (from CLI flags) win; ``None`` values are ignored."""
    home = Path(overrides.get("home") or default_home()).expanduser()
    values: dict[str, Any] = {}
    path = home / CONFIG_FILE
    if path.exists():
        try:
            values.update(tomllib.loads(path.read_text(encoding="utf-8")))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError, OSError) as exc:
            raise ConfigError(f"{path}: {exc}") from None
    for name in _FIELDS:
        env = os.environ.get(f"ASSISTANT_{name.upper()}")
        if env is not None and name != "home":
            values[name] = env
    values.update({k: v for k, v in overrides.items() if v is not None})
    values["home"] = home
    unknown = set(values) - set(_FIELDS)
    if unknown:
        raise ConfigError(f"{path}: unknown setting(s): {', '.join(sorted(unknown))}")
    config = Config(**{name: _coerce(name, value) for name, value in values.items()})
    if config.method not in {"sift", "nn", "nn-f", "uncertainty", "random"}:
        raise ConfigError(f"unknown selection method {config.method!r}")
    if config.device not in {"auto", "cuda", "mps", "cpu"}:
        raise ConfigError(f"unknown device {config.device!r} (use auto, cuda, mps or cpu)")
    return config


def save_config(config: Config, **changes: Any) -> Config:
    """Write the changed settings to ``config.toml`` (keeping the others there) and return the new config."""
    path = config.home / CONFIG_FILE
    current: dict[str, Any] = {}
    if path.exists():
        current = tomllib.loads(path.read_text(encoding="utf-8"))
    for name, value in changes.items():
        if name not in _FIELDS or name == "home":
            raise ConfigError(f"unknown setting {name!r}")
        current[name] = _coerce(name, value)
    lines = []
    for name, value in sorted(current.items()):
        if isinstance(value, bool):
            lines.append(f"{name} = {'true' if value else 'false'}")
        elif isinstance(value, (int, float)):
            lines.append(f"{name} = {value!r}")
        else:
            escaped = str(value).replace("\\", "\\\\").replace('"', '\\"')
            lines.append(f'{name} = "{escaped}"')
    config.home.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
    tmp.replace(path)
    return replace(config, **{k: _coerce(k, v) for k, v in changes.items()})
