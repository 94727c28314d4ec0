"""The root command group and what every command shares: one-line user errors, --home, the facade.

Heavy libraries (torch, transformers, llama_cpp, textual) are imported inside commands so
``assistant --help`` stays instant.
"""

from __future__ import annotations

import functools
import os
import sys
from pathlib import Path

import click
from click_default_group import DefaultGroup

from assistant.config import load_config
from assistant.errors import AssistantError


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
        except OSError as exc:  # a folder we cannot write, a full disk: the user's to fix, not a bug
            if _debug():
                raise
            raise click.ClickException(f"{exc.strerror or exc}: {exc.filename or ''}".rstrip(": ")) from None
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
    from assistant.core.facade import Assistant

    return Assistant(load_config(home=home, **overrides))


def console():
    from rich.console import Console

    return Console(highlight=False)


@click.group(cls=DefaultGroup, default="tui", default_if_no_args=True)
@click.version_option(package_name="assistant")
def cli():
    """A private, local assistant that learns from your documents when you ask."""


# Each module registers its commands on ``cli``.
from assistant.cli import ask_commands, eval_commands, index_commands, library_commands  # noqa: E402,F401
from assistant.cli import models_commands, server_commands  # noqa: E402,F401
