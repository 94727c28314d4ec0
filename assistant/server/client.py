"""The client side: find the warm server for a home dir (start it when needed) and stream a job's events.

``ServerClient`` has the facade's ``ask`` and ``explain``, so the CLI picks one source and renders the same
events whichever it is.
"""

from __future__ import annotations

import dataclasses
import json
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

from assistant.config import Config
from assistant.errors import AssistantError
from assistant.server.protocol import ALREADY_RUNNING, Channel, fingerprint, log_path, mismatch, socket_path, supported

START_TIMEOUT = 120.0  # seconds to wait for a new server's socket (the server itself loads models lazily)


def connect(home) -> Channel | None:
    """A connection to the running server, or None when there is none (no socket, or a stale one)."""
    path = socket_path(home)
    if len(str(path)) > 100 or not path.exists():  # AF_UNIX paths are limited to ~104 bytes
        return None
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(str(path))
    except (FileNotFoundError, ConnectionRefusedError):
        sock.close()
        return None
    return Channel(sock)


def call(home, message: dict) -> dict | None:
    """One request, one reply; None when no server answers."""
    channel = connect(home)
    if channel is None:
        return None
    try:
        channel.send(message)
        return channel.receive()
    except (ConnectionError, OSError):
        return None
    finally:
        channel.close()


def status(home) -> dict | None:
    return call(home, {"op": "status"})


def stop(home, *, now: bool = True, timeout: float = 60.0) -> dict | None:
    """Stop the server and wait for its process to end; returns its last status (None if none ran)."""
    import psutil

    info = status(home)
    if info is None:
        return None
    call(home, {"op": "stop", "now": now})
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:  # a zombie has ended: only its parent (a long-lived spawner) has not reaped it yet
            if psutil.Process(info["pid"]).status() == psutil.STATUS_ZOMBIE:
                return info
        except psutil.NoSuchProcess:
            return info
        time.sleep(0.02)
    raise AssistantError(f"the warm server (pid {info['pid']}) did not stop; see {log_path(home)}")


def start(config: Config, version: str | None = None) -> dict:
    """Start a server in the background and wait until it answers on its socket."""
    if len(str(socket_path(config.home))) > 100:
        raise AssistantError(f"the home dir path is too long for a Unix socket: {config.home}")
    config.home.mkdir(parents=True, exist_ok=True)
    with open(log_path(config.home), "ab") as log:
        args = [sys.executable, "-m", "assistant.server.daemon", json.dumps(config.to_dict())]
        child = subprocess.Popen(args + ([version] if version else []), stdin=subprocess.DEVNULL, stdout=log,
                                 stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
    threading.Thread(target=child.wait, daemon=True).start()  # reaped when it exits, if this process lives on
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        info = status(config.home)
        if info is not None:
            return info
        code = child.poll()
        if code not in (None, ALREADY_RUNNING):  # another client started one first: wait for its socket
            raise AssistantError(f"the warm server did not start (exit {code}); see {log_path(config.home)}")
        time.sleep(0.02)
    raise AssistantError(
        f"the warm server did not open its socket in {START_TIMEOUT:.0f}s; see {log_path(config.home)}"
    )


def ensure(config: Config, notice=None) -> dict:
    """The running server for this config: reused when it matches, replaced (said once) when it does not."""
    info = status(config.home)
    if info is not None:
        reason = mismatch(fingerprint(config), info["fingerprint"])
        if not reason:
            return info
        if notice:
            notice(f"Restarting the warm server: {reason}.")
        stop(config.home, now=False)
    return start(config)


def describe(home) -> str:
    """One line for ``assistant status``."""
    info = status(home) if supported() else None
    if info is None:
        return "not running (starts on the next ask)" if supported() else "off (not on this platform)"
    return f"running, pid {info['pid']}, up {info['uptime']:.0f}s, {info['jobs']} jobs, {info['rss'] / 2**20:.0f} MiB"


class ServerClient:
    """The facade's ``ask`` and ``explain``, run by the warm server."""

    def __init__(self, config: Config, notice=None):
        self.config = config
        self.notice = notice or (lambda line: print(line, file=sys.stderr))

    def ask(self, question: str, options=None) -> Iterator:
        options = dataclasses.asdict(options) if options is not None else {}
        return self.job({"op": "ask", "question": question, "options": options})

    def explain(self, question: str, **options):
        from assistant.events import Done

        return next(e.result for e in self.job({"op": "explain", "question": question, "options": options})
                    if isinstance(e, Done))  # fmt: skip

    def job(self, request: dict) -> Iterator:
        from assistant.events import Done, Failed, event_from_dict

        info = ensure(self.config, self.notice)
        channel = connect(self.config.home)
        if channel is None:
            raise AssistantError(f"the warm server (pid {info['pid']}) went away; see {log_path(self.config.home)}")
        try:
            channel.send({**request, "config": self.config.to_dict()})
            while True:
                message = channel.receive()
                if message is None:
                    raise AssistantError(f"the warm server (pid {info['pid']}) stopped in the middle of the job; "
                                         f"see {log_path(self.config.home)}")  # fmt: skip
                event = event_from_dict(message)
                if isinstance(event, Failed):
                    raise AssistantError(event.message)
                yield event
                if isinstance(event, Done):
                    return
        except KeyboardInterrupt:
            try:
                channel.send({"op": "cancel"})  # the server cancels this job, as Esc does in the TUI
            except OSError:
                pass
            raise
        finally:
            channel.close()


def event_source(config: Config, no_server: bool = False):
    """What runs ``ask``/``explain``: the warm server, or this process (``--no-server``, ``server = false``,
    ``ASSISTANT_SERVER=0``, Windows)."""
    if no_server or not config.server or not supported():
        from assistant.core.facade import Assistant

        return Assistant(config)
    return ServerClient(config)
