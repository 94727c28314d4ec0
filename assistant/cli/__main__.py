"""`python -m assistant.cli`: the same as the `assistant` command."""

from assistant.cli.main import cli

cli()
