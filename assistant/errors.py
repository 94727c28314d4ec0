"""Domain errors. The CLI and TUI turn these into one-line messages."""


class AssistantError(Exception):
    """Base class for every error a user can cause and fix."""


class ConfigError(AssistantError):
    """A setting is invalid or points at something that does not exist."""


class ModelNotFound(AssistantError):
    """A model file or folder is missing or unusable."""


class IndexEmpty(AssistantError):
    """The index holds no chunks yet."""


class IndexBusy(AssistantError):
    """Another process holds the index lock."""


class StoreError(AssistantError):
    """The SQLite store is unreadable, read-only or corrupt."""


class SessionNotFound(AssistantError):
    """No session has the given id."""


class AdapterError(AssistantError):
    """An adapter file is missing, forgotten or fails its checksum."""


class Cancelled(AssistantError):
    """The user cancelled a running job."""
