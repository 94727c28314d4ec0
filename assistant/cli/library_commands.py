"""`history`, `show`, `forget` and `export`."""

from __future__ import annotations

from pathlib import Path

import click

from assistant.cli.main import cli, console, home_option, make_assistant, user_errors


@cli.command()
@click.option("--search", default=None, help="Only sessions whose question or answer contains TEXT.")
@click.option("--limit", type=click.IntRange(1), default=50, show_default=True, help="How many sessions to list.")
@home_option
@user_errors
def history(search, limit, home):
    """List past questions, newest first."""
    from assistant.cli.render import render_history

    render_history(console(), make_assistant(home).library.history(search, limit))


@cli.command()
@click.argument("session_id", type=int)
@home_option
@user_errors
def show(session_id, home):
    """Show a session: answer, sources learned from, uncertainty curve, adapter."""
    from assistant.cli.render import render_session

    library = make_assistant(home).library
    session = library.session(session_id)
    render_session(console(), session, library.changed_sources(session))


@cli.command()
@click.argument("session_id", type=int, required=False)
@click.option("--source", type=click.Path(path_type=Path), default=None, help="Forget a document and every adapter that learned from it.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@home_option
@user_errors
def forget(session_id, source, yes, home):
    """Delete a session and its adapter, or (--source) a document and the adapters that learned from it."""
    if (session_id is None) == (source is None):
        raise click.UsageError("give a SESSION_ID or --source PATH")
    library = make_assistant(home).library
    if session_id is not None:
        library.forget(session_id)
        click.echo(f"Forgot session {session_id} and its adapter.")
        return
    affected = library.sessions_for_source(source)
    if affected:
        click.echo(f"Adapters of {len(affected)} session(s) learned from {source}: {', '.join(map(str, affected))}")
    if not yes:
        click.confirm(f"Remove {source} from the index and delete those adapters?", abort=True)
    forgotten = library.forget_source(source)
    click.echo(f"Removed {len(forgotten.chunks)} chunks of {source}; deleted {len(forgotten.sessions)} adapter(s).")


@cli.command()
@click.argument("session_id", type=int)
@click.argument("out_dir", type=click.Path(file_okay=False, path_type=Path))
@home_option
@user_errors
def export(session_id, out_dir, home):
    """Write a session's adapters (peft and GGUF) and a JSON/Markdown report to OUT_DIR."""
    for path in make_assistant(home).library.export(session_id, out_dir):
        click.echo(str(path))
