"""assistant: a local terminal assistant that learns from your documents at question time."""

__version__ = "0.1.0"
