"""Shared fixtures: a private home dir per test, and the real small models loaded once per run."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "corpus"


def default_ctrl_c() -> None:
    """``preexec_fn`` for a CLI child a test will Ctrl-C: a shell starts background jobs (``pytest &``) with
    SIGINT ignored, children inherit that, and Python then never raises KeyboardInterrupt."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch) -> Path:
    path = tmp_path / "home"
    monkeypatch.setenv("ASSISTANT_HOME", str(path))
    for name in list(os.environ):
        if name.startswith("ASSISTANT_") and name not in {"ASSISTANT_HOME", "ASSISTANT_DEBUG"}:
            monkeypatch.delenv(name)
    monkeypatch.setenv("ASSISTANT_SERVER", "0")  # ask/explain in-process; tests/test_server.py turns it back on
    # Every ask learns unless a test sets learn_below itself: the evidence gate has its own test (test_ask.py).
    monkeypatch.setenv("ASSISTANT_LEARN_BELOW", "1")
    return path


@pytest.fixture(scope="session")
def embedder():
    from assistant.embed import load_embedder
    from assistant.models.locate import default_embedder_dir

    return load_embedder(default_embedder_dir(), "cpu")


@pytest.fixture(scope="session")
def token_counter(tmp_path_factory):
    from assistant.models.locate import default_gguf
    from assistant.index.tokens import load_token_counter

    return load_token_counter(default_gguf(), tmp_path_factory.mktemp("cache"))


@pytest.fixture
def warm_models(monkeypatch, embedder, token_counter):
    """Every Assistant built in this test (CLI included) reuses the session's real models."""
    import assistant.embed
    import assistant.index.tokens

    monkeypatch.setattr(assistant.embed, "load_embedder", lambda *a, **k: embedder)
    monkeypatch.setattr(assistant.index.tokens, "load_token_counter", lambda *a, **k: token_counter)


@pytest.fixture
def make_assistant(home, warm_models):
    from assistant.config import load_config
    from assistant.core.facade import Assistant

    made = []

    def make(**overrides):
        a = Assistant(load_config(**overrides))
        made.append(a)
        return a

    yield make
    for a in made:
        a.close()


def drain(events):
    """Run an event stream to the end and return its final result."""
    from assistant.events import Done

    result = None
    for event in events:
        if isinstance(event, Done):
            result = event.result
    return result


@pytest.fixture(scope="session")
def training_model(tmp_path_factory):
    """The real SmolLM2-135M training copy, dequantised from the shipped GGUF once per test run."""
    from assistant.models.locate import default_gguf
    from assistant.learn.tune import TrainingModel

    return TrainingModel(default_gguf(), "cpu", tmp_path_factory.mktemp("model-cache"))


def share_model_cache(home: Path, training_model) -> None:
    """Point a home's training-copy cache at the session's: a CLI child or a server started in a fresh home
    would otherwise dequantise the GGUF again (about 35 s on 2 cores) before its first LoRA step."""
    cache = home / "cache"
    cache.mkdir(parents=True, exist_ok=True)
    (cache / "models").symlink_to(training_model.cache_dir / "models", target_is_directory=True)


@pytest.fixture(scope="session")
def generator():
    from assistant.answer.generator import Generator
    from assistant.models.locate import default_gguf

    gen = Generator(default_gguf(), n_ctx=2048)
    yield gen
    gen.close()


@pytest.fixture
def warm_assistant(make_assistant, training_model, generator):
    """An Assistant whose LLM parts are the session's real warm models (as in the TUI process)."""

    def make(**overrides):
        a = make_assistant(**overrides)
        a.models._training = training_model
        a.models._generator = generator
        return a

    return make
