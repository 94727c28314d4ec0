"""`models` (list the GGUFs on this machine) and `models use NAME` (write the choice to config.toml)."""

from __future__ import annotations

from pathlib import Path

import click
from click_default_group import DefaultGroup

from assistant.cli.main import cli, console, home_option, user_errors
from assistant.config import load_config


def _size(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GB"


def _params(n: int) -> str:
    return f"{n / 1e9:.1f}B" if n >= 1e9 else f"{n / 1e6:.0f}M" if n >= 1e6 else f"{n / 1e3:.0f}K"


@cli.group(cls=DefaultGroup, default="list", default_if_no_args=True)
def models():
    """The GGUF models on this machine (Ollama, LM Studio, GPT4All, the Hugging Face cache, model_dirs)."""


@models.command("list")
@home_option
@user_errors
def list_models(home):
    """List the GGUF models found, with architecture, size and whether this tool can train on them."""
    from rich.table import Table

    from assistant.models.discover import discover, parse_dirs

    config = load_config(home=home)
    found = discover(parse_dirs(config.model_dirs))
    out = console()
    if not found:
        out.print("No GGUF models found (searched Ollama, LM Studio, GPT4All, the Hugging Face cache and model_dirs).")
        return
    table = Table("name", "source", "arch", "params", "quant", "size", "trainable", "file", box=None)
    for m in found:
        using = " *" if config.model and Path(config.model).expanduser() == m.info.path else ""
        table.add_row(m.name + using, m.source, m.info.arch, _params(m.info.parameters), m.info.quantisation,
                      _size(m.info.size), "yes" if m.info.trainable else "no", str(m.info.path))  # fmt: skip
    out.print(table)


@models.command("use")
@click.argument("name")
@home_option
@user_errors
def use_model(name, home):
    """Make NAME (a listed name, a file name or a path) the model in config.toml."""
    from assistant.config import save_config
    from assistant.models.discover import find, parse_dirs

    config = load_config(home=home)
    chosen = find(name, parse_dirs(config.model_dirs))
    save_config(config, model=str(chosen.info.path))
    note = "" if chosen.info.trainable else " (answers only: learning is refused for this architecture; use --no-learn)"
    click.echo(f"Using {chosen.name} ({chosen.info.arch}, {_params(chosen.info.parameters)}): {chosen.info.path}{note}")
