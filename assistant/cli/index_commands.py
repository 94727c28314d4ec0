"""`index`, `status` and `tui`."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import click

from assistant.cli.main import cli, console, home_option, make_assistant, user_errors


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
    from assistant.cli.render import render_index

    if not paths and not rebuild:
        raise click.UsageError("give at least one PATH to index (or --rebuild)")
    assistant = make_assistant(home, include_code=include_code, max_file_mb=max_file_mb)
    out = console()
    render_index(out, assistant.index(list(paths), prune=prune, rebuild=rebuild))
    if watch:
        from assistant.index.watch import watch_and_index

        out.print(f"[bold]Watching[/] {', '.join(map(str, paths))} — Ctrl-C to stop.")
        watch_and_index(assistant, list(paths), lambda events: render_index(out, events, quiet=True))


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@home_option
@user_errors
def status(as_json, home):
    """Show documents, chunks, index size, models, device and the home dir."""
    from assistant.cli.render import render_status

    from assistant.server.client import describe

    facts = make_assistant(home).status()
    facts = dataclasses.replace(facts, server=describe(facts.home))
    if as_json:
        click.echo(json.dumps(facts.to_dict(), indent=2))
    else:
        render_status(console(), facts)


@cli.command()
@home_option
@user_errors
def tui(home):
    """Open the interactive app (the default command)."""
    from assistant.tui.app import run_app

    from assistant.config import load_config

    run_app(load_config(home=home))
