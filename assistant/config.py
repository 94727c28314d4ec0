"""Settings: defaults < ``config.toml`` in the home dir < ``ASSISTANT_*`` env vars < CLI flags."""

from __future__ import annotations

import math
import os
import tomllib
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Literal, get_args

from assistant.errors import ConfigError

CONFIG_FILE = "config.toml"

# Closed sets, declared once: click.Choice, config validation and the TUI's selects all read these.
Method = Literal["sift", "nn", "nn-f", "uncertainty", "random"]
METHODS: tuple[str, ...] = get_args(Method)
Device = Literal["auto", "cuda", "mps", "cpu"]
DEVICES: tuple[str, ...] = get_args(Device)
TrainDtype = Literal["auto", "float32", "bfloat16"]
TRAIN_DTYPES: tuple[str, ...] = get_args(TrainDtype)
Recipe = Literal["raw", "chat", "distill", "evidence", "reach"]
RECIPES: tuple[str, ...] = get_args(Recipe)
Prompt = Literal["evidence", "chunks"]
PROMPTS: tuple[str, ...] = get_args(Prompt)


def default_home() -> Path:
    """``$ASSISTANT_HOME``, else ``$XDG_DATA_HOME/assistant``, else a home dir an earlier version made in
    ``~/.local/share/assistant``, else the platform's data dir (``~/Library/Application Support/assistant``
    on macOS, ``~/.local/share/assistant`` on Linux)."""
    if os.environ.get("ASSISTANT_HOME"):
        return Path(os.environ["ASSISTANT_HOME"]).expanduser()
    if os.environ.get("XDG_DATA_HOME"):
        return Path(os.environ["XDG_DATA_HOME"]) / "assistant"
    legacy = Path.home() / ".local" / "share" / "assistant"
    if legacy.is_dir():
        return legacy
    import platformdirs

    return Path(platformdirs.user_data_dir("assistant", appauthor=False))


@dataclass(frozen=True)
class Config:
    home: Path = field(default_factory=default_home)
    # Models: empty means the shipped default (SmolLM2-135M GGUF, MiniLM folder).
    model: str = ""  # a .gguf file, or an HF folder holding one
    model_dirs: str = ""  # more folders `assistant models` searches for GGUFs, separated by os.pathsep
    embedder: str = ""  # an HF folder with a BERT-like encoder
    device: str = "auto"  # one of DEVICES
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
    method: str = "sift"  # one of METHODS
    lam: float = 1.0  # SIFT's lambda; 1.0 beat 0.01 in the reference run (DESIGN.md)
    stop: float = 0.01  # adaptive stop: a pick must cut variance by >= 1% of the prior
    # Learning
    learn: bool = True
    context: bool = True
    lr: float = 2e-3  # a LoRA needs far more than the paper's full-FT 5e-5
    lora_r: int = 8
    lora_alpha: int = 16
    lora_targets: str = "all-linear"
    # The share of transformer layers, from the top, that get a LoRA. With the top half a warm learning ask
    # answers in 0.75x the time, level with all layers on both question sets (README, "Budget and depth").
    lora_layers: float = 0.5
    max_train_tokens: int = 256
    train_dtype: str = "auto"  # one of TRAIN_DTYPES; auto: bf16 on a GPU that has it, fp32 on a CPU
    recipe: str = "raw"  # one of RECIPES: how the picks become training examples (learn/recipes.py)
    # Learn only when the best evidence line scores below this (1: always). Above it the quoted line already
    # answers: on the notes learning then changed no answer, and on the Python docs it raised the gold bits.
    learn_below: float = 0.65
    # Generation
    max_tokens: int = 96  # a short answer; the loop guard stops a rambling one earlier
    prompt: str = "evidence"  # one of PROMPTS: evidence lines (best first) or whole chunks as the model's context
    quote_first: bool = True  # the answer opens with the best evidence line, verbatim, and the model goes on from it
    abstain_below: float = 0.3  # say the notes do not answer when the best evidence scores below this; 0: never
    abstain_unmentioned: bool = True  # ... or when the question names a number, date or name no close line mentions
    temperature: float = 0.0  # deterministic by default
    seed: int = 0
    n_ctx: int = 4096
    # The warm server
    keep_alive: int = 600  # seconds an idle server stays up; 0 exits after each job, -1 never exits
    server: bool = True  # ask/explain go through the warm server (not on Windows)

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

# Every setting's allowed values, declared once: flags, env, config.toml and the TUI get the same check.
# (low, high, what): None means unbounded; a tuple of strings is a closed set.
RULES: dict[str, tuple] = {
    "device": DEVICES,
    "method": METHODS,
    "threads": (0, 1024, "0 (all cores) or a thread count"),
    "chunk_tokens": (16, 8192, "a token count from 16"),
    "chunk_overlap": (0, 4096, "a token count from 0"),
    "max_file_mb": (0.001, None, "a size in MB above 0"),
    "embed_batch": (1, 4096, "a batch size from 1"),
    "k": (1, 100_000, "a candidate count from 1"),
    "n": (0, 10_000, "0 (the device default) or a pick count"),
    "lam": (1e-9, None, "a positive number"),
    "stop": (0.0, 1.0, "a share of the prior between 0 and 1"),
    "lr": (1e-9, 1.0, "a learning rate above 0 and at most 1"),
    "lora_r": (1, 1024, "a rank from 1"),
    "lora_layers": (0.01, 1.0, "a share of the layers above 0 and at most 1"),
    "lora_alpha": (1e-9, None, "a positive number"),
    "max_train_tokens": (8, 32_768, "a token count from 8"),
    "max_tokens": (1, 32_768, "a token count from 1"),
    "prompt": PROMPTS,
    "recipe": RECIPES,
    "train_dtype": TRAIN_DTYPES,
    "abstain_below": (0.0, 1.0, "a score between 0 and 1"),
    "learn_below": (0.0, 1.0, "a score between 0 and 1 (1: always learn)"),
    "temperature": (0.0, 10.0, "a temperature from 0 to 10"),
    "n_ctx": (256, 1_048_576, "a context size from 256"),
    "keep_alive": (-1, None, "seconds, 0 (exit after each job) or -1 (never exit)"),
}


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
        if kind is int and isinstance(value, float) and not value.is_integer():
            raise ValueError(value)
        return kind(value)
    except (TypeError, ValueError):
        raise ConfigError(f"setting {name!r}: cannot use {value!r} as {kind.__name__}") from None


def check_setting(name: str, value: Any) -> Any:
    """Coerce and range-check one setting; a bad value raises a one-line ``ConfigError``."""
    if name not in _FIELDS or name == "home":
        raise ConfigError(f"unknown setting {name!r}")
    value = _coerce(name, value)
    rule = RULES.get(name)
    if rule is None:
        return value
    if all(isinstance(r, str) for r in rule):
        if value not in rule:
            raise ConfigError(f"setting {name!r}: {value!r} is not one of {', '.join(rule)}")
        return value
    low, high, what = rule
    if isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(f"setting {name!r}: {value!r} is not {what}")
    if (low is not None and value < low) or (high is not None and value > high):
        raise ConfigError(f"setting {name!r}: {value!r} is not {what}")
    return value


def _check_model_dirs(value: str) -> None:
    for part in value.split(os.pathsep):
        if part.strip() and not Path(part).expanduser().is_dir():
            raise ConfigError(f"setting 'model_dirs': {part!r} is not a folder")


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
        unknown = set(values) - set(_FIELDS) - {"home"}
        if unknown:
            raise ConfigError(f"{path}: unknown setting(s): {', '.join(sorted(unknown))}")
    for name in _FIELDS:
        env = os.environ.get(f"ASSISTANT_{name.upper()}")
        if env is not None and name != "home":
            values[name] = env
    values.update({k: v for k, v in overrides.items() if v is not None and k != "home"})
    unknown = set(values) - set(_FIELDS)
    if unknown:
        raise ConfigError(f"unknown setting(s): {', '.join(sorted(unknown))}")
    values.pop("home", None)
    config = Config(home=home, **{name: check_setting(name, value) for name, value in values.items()})
    _check_model_dirs(config.model_dirs)
    if config.chunk_overlap >= config.chunk_tokens:
        raise ConfigError(f"setting 'chunk_overlap': {config.chunk_overlap} must be below chunk_tokens ({config.chunk_tokens})")
    return config


def save_config(config: Config, **changes: Any) -> Config:
    """Write the changed settings to ``config.toml`` (keeping the others there) and return the new config."""
    path = config.home / CONFIG_FILE
    current: dict[str, Any] = {}
    if path.exists():
        current = tomllib.loads(path.read_text(encoding="utf-8"))
    for name, value in changes.items():
        current[name] = check_setting(name, value)
    _check_model_dirs(str(current.get("model_dirs", "")))
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
    return replace(config, **{k: check_setting(k, v) for k, v in changes.items()})
