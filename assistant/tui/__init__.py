"""The Textual app: the same Assistant and events as the CLI, rendered as widgets."""
