"""`assistant server start|stop|status`: the warm server that keeps the models loaded for ask and explain."""

from __future__ import annotations

import json

import click

from assistant.cli.main import cli, console, home_option, user_errors
from assistant.config import load_config
from assistant.errors import AssistantError


@cli.group()
def server():
    """The warm server: ask and explain use it (and start it) unless --no-server or server = false."""


def _require_support() -> None:
    from assistant.server.protocol import supported

    if not supported():
        raise AssistantError("the warm server needs Unix domain sockets; on this platform ask runs in-process")


@server.command()
@home_option
@user_errors
def start(home):
    """Start the server (if none runs) and load the models, so the next ask is warm."""
    import time

    from assistant.server import client
    from assistant.server.protocol import log_path

    _require_support()
    config = load_config(home=home)
    info = client.ensure(config, notice=lambda line: click.echo(line, err=True))
    began = time.monotonic()
    with console().status("loading models…"):
        for _ in client.ServerClient(config).job({"op": "preload"}):
            pass
    click.echo(f"Server pid {info['pid']} ready in {time.monotonic() - began:.1f}s; logs in {log_path(config.home)}.")


@server.command()
@home_option
@user_errors
def stop(home):
    """Stop the server (cancelling a running job)."""
    from assistant.server import client

    _require_support()
    info = client.stop(load_config(home=home).home, now=True)
    click.echo(f"Stopped the server (pid {info['pid']})." if info else "No server is running.")


@server.command()
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@home_option
@user_errors
def status(as_json, home):
    """Show the pid, uptime, loaded models, memory, jobs served and the idle timeout."""
    from rich.table import Table

    from assistant.server import client
    from assistant.server.protocol import log_path, socket_path

    _require_support()
    config = load_config(home=home)
    info = client.status(config.home)
    if as_json:
        click.echo(json.dumps(info, indent=2))
        return
    if info is None:
        click.echo("No server is running (ask starts one).")
        return
    keep = info["keep_alive"]
    idle = "never" if keep < 0 else "after each job" if keep == 0 else f"{keep}s idle"
    table = Table(show_header=False, box=None)
    rows = [("pid", info["pid"]), ("uptime", f"{info['uptime']:.0f}s"),
            ("loaded", ", ".join(info["loaded"]) or "nothing yet"), ("memory", f"{info['rss'] / 2**20:.0f} MiB"),
            ("jobs served", info["jobs"]), ("busy with", info["busy"] or "-"), ("exits", idle),
            ("version", info["fingerprint"]["version"]), ("socket", socket_path(config.home)),
            ("log", log_path(config.home))]  # fmt: skip
    for key, value in rows:
        table.add_row(f"[bold]{key}[/]", str(value))
    console().print(table)
