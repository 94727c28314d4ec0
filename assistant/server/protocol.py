"""What the warm server and its clients share: where the socket lives, JSON-lines framing, and the
settings a server is fixed to for its life."""

from __future__ import annotations

import json
import socket
import sys
from pathlib import Path

from assistant.config import Config

SOCKET_NAME = "server.sock"
LOCK_NAME = "server.lock"
LOG_NAME = "server.log"
ALREADY_RUNNING = 3  # the daemon's exit code when another server holds the lock for this home dir

# Settings that change how a model loads: a server keeps them for its life; a request that needs
# other values restarts it. The rest of the config travels with each request.
LOAD_SETTINGS = ("model", "embedder", "device", "threads", "n_ctx", "seed", "embed_batch", "train_dtype")


def supported() -> bool:
    """Unix domain sockets only: on Windows ask and explain stay in-process."""
    return sys.platform != "win32" and hasattr(socket, "AF_UNIX")


def socket_path(home: Path) -> Path:
    return Path(home) / SOCKET_NAME


def log_path(home: Path) -> Path:
    return Path(home) / LOG_NAME


def lock_path(home: Path) -> Path:
    return Path(home) / LOCK_NAME


def package_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("assistant")
    except PackageNotFoundError:
        return "unknown"


def fingerprint(config: Config, version: str | None = None) -> dict:
    """What a server must share with a request to serve it: version, home dir and the load-time settings."""
    settings = config.to_dict()
    return {"version": version or package_version(), "home": str(Path(config.home).resolve()),
            **{name: settings[name] for name in LOAD_SETTINGS}}  # fmt: skip


def mismatch(mine: dict, theirs: dict) -> str:
    """A short reason the running server cannot serve this request ("" when it can)."""
    diffs = [f"{k} {theirs.get(k)!r} → {mine[k]!r}" for k in mine if theirs.get(k) != mine[k]]
    return ", ".join(diffs)


def config_from_dict(data: dict) -> Config:
    return Config(**{**data, "home": Path(data["home"])})


class Channel:
    """One connection: messages are JSON objects, one per line."""

    def __init__(self, sock: socket.socket):
        self.sock = sock
        self.reader = sock.makefile("rb")

    def send(self, message: dict) -> None:
        self.sock.sendall(json.dumps(message).encode() + b"\n")

    def receive(self) -> dict | None:
        """The next message, or None when the other side has gone."""
        try:
            line = self.reader.readline()
        except (ConnectionError, OSError):
            return None
        if not line:
            return None
        return json.loads(line)

    def close(self) -> None:
        for part in (self.reader, self.sock):
            try:
                part.close()
            except OSError:
                pass
