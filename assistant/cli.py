"""Command line: thin commands that parse input, call the pipeline and render its events.

Heavy libraries (torch, transformers, llama_cpp, textual) are imported inside commands so
``assistant --help`` stays instant.
"""

from __future__ import annotations

import functools
import json
import os
import sys
from pathlib import Path

import click
from click_default_group import DefaultGroup

from .config import load_config
from .errors import AssistantError


def _debug() -> bool:
    return bool(os.environ.get("ASSISTANT_DEBUG"))


def user_errors(func):
    """Turn domain errors into one-line messages with exit code 1 (re-raised when debugging)."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except AssistantError as exc:
            if _debug():
                raise
            raise click.ClickException(str(exc)) from None
        except KeyboardInterrupt:
            if _debug():
                raise
            click.echo("Interrupted.", err=True)
            sys.exit(130)

    return wrapper


def home_option(func):
    return click.option(
        "--home",
        type=click.Path(file_okay=False, path_type=Path),
        envvar="ASSISTANT_HOME",
        help="Data directory (index, sessions, adapters). Env: ASSISTANT_HOME.",
    )(func)


def make_assistant(home: Path | None, **overrides):
    from .pipeline import Assistant

    return Assistant(load_config(home=home, **overrides))


def console():
    from rich.console import Console

    return Console(highlight=False)


@click.group(cls=DefaultGroup, default="tui", default_if_no_args=True)
@click.version_option(package_name="assistant")
def cli():
    """A private, local assistant that learns from your documents when you ask."""


# ---------------------------------------------------------------- index


@cli.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option("--prune/--no-prune", default=True, show_default=True, help="Remove documents deleted from the indexed folders.")
@click.option("--rebuild", is_flag=True, help="Rebuild the vector index from SQLite (nothing is re-embedded).")
@click.option("--watch", is_flag=True, help="Keep indexing as files change, until Ctrl-C.")
@click.option("--include-code/--no-include-code", default=None, help="Index source code files as plain text.")
@click.option("--max-file-mb", type=float, default=None, help="Skip files larger than this (default 20).")
@home_option
@user_errors
def index(paths, prune, rebuild, watch, include_code, max_file_mb, home):
    """Index documents in PATHS (folders are walked recursively)."""
    from .render import render_index

    if not paths and not rebuild:
        raise click.UsageError("give at least one PATH to index (or --rebuild)")
    assistant = make_assistant(home, include_code=include_code, max_file_mb=max_file_mb)
    out = console()
    render_index(out, assistant.index(list(paths), prune=prune, rebuild=rebuild))
    if watch:
        from .watch import watch_and_index

        out.print(f"[bold]Watching[/] {', '.join(map(str, paths))} — Ctrl-C to stop.")
        watch_and_index(assistant, list(paths), lambda events: render_index(out, events, quiet=True))


# ---------------------------------------------------------------- status


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@home_option
@user_errors
def status(as_json, home):
    """Show documents, chunks, index size, models, device and the home dir."""
    from .render import render_status

    facts = make_assistant(home).status()
    if as_json:
        click.echo(json.dumps(facts, indent=2))
    else:
        render_status(console(), facts)


@cli.command()
@home_option
@user_errors
def tui(home):
    """Open the interactive app (the default command)."""
    from .tui.app import run_app

    run_app(load_config(home=home))
if __name__ == "__main__":
    cli()
