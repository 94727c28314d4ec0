"""The command line: thin click commands that call the facade and render its events with rich."""

from assistant.cli.main import cli

__all__ = ["cli"]
