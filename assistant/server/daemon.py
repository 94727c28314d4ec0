"""The warm server process: ``python -m assistant.server.daemon CONFIG_JSON``.

It listens on a Unix socket in the home dir (mode 0600, no TCP), keeps one ``Models`` warm, runs one job
at a time (a waiting client gets ``Waiting``), cancels a job when its client goes or says "cancel", and
exits after ``keep_alive`` idle seconds. Only a process holding ``server.lock`` may own the socket, so a
socket file found at start-up belongs to a dead server and is removed.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import signal
import socket
import sys
import threading
import time
from dataclasses import dataclass, field

from assistant.config import Config
from assistant.core.models import Models
from assistant.server.protocol import (
    ALREADY_RUNNING,
    Channel,
    config_from_dict,
    fingerprint,
    lock_path,
    mismatch,
    socket_path,
)

log = logging.getLogger("assistant.server")


@dataclass
class Job:
    question: str
    cancel: threading.Event = field(default_factory=threading.Event)


class Daemon:
    def __init__(self, config: Config, version: str | None = None):
        self.config = config
        self.fingerprint = fingerprint(config, version)
        self.models = Models(config)
        self.job_lock = threading.Lock()
        self.job: Job | None = None
        self.jobs = 0
        self.active = 0
        self.started = time.time()
        self.last_active = time.monotonic()
        self.stopping = threading.Event()
        self.count_lock = threading.Lock()

    # ------------------------------------------------------------ life

    def serve(self) -> int:
        home = self.config.home
        home.mkdir(parents=True, exist_ok=True)
        lock = open(lock_path(home), "w")  # noqa: SIM115 - held open for the process's life: the flock is the claim
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return ALREADY_RUNNING
        path = socket_path(home)
        if path.exists() or path.is_symlink():
            log.info("removed a stale socket left by a dead server")
            path.unlink()
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        umask = os.umask(0o177)  # the socket is born 0600: no window where others could connect
        try:
            listener.bind(str(path))
        finally:
            os.umask(umask)
        os.chmod(path, 0o600)
        listener.listen(16)
        log.info("pid %d listening on %s (keep_alive %ss, %s)", os.getpid(), path, self.config.keep_alive,
                 json.dumps(self.fingerprint))  # fmt: skip
        try:
            self.accept_loop(listener)
        finally:
            listener.close()
            path.unlink(missing_ok=True)
            log.info("pid %d exits after %d jobs", os.getpid(), self.jobs)
            self.models.close()
        return 0

    def accept_loop(self, listener: socket.socket) -> None:
        while not self.stopping.is_set():
            listener.settimeout(self.wait_seconds())
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                if self.idle_over():
                    log.info("idle for %ss: exiting", self.config.keep_alive)
                    return
                continue
            with self.count_lock:
                self.active += 1
            threading.Thread(target=self.handle, args=(conn,), daemon=True).start()
        with self.job_lock:  # let the running job finish writing its session
            pass

    def wait_seconds(self) -> float:
        keep = self.config.keep_alive  # short waits: a stop request is noticed quickly
        if keep <= 0:
            return 0.5
        return max(0.05, min(0.5, keep - (time.monotonic() - self.last_active)))

    def idle_over(self) -> bool:
        keep = self.config.keep_alive
        with self.count_lock:
            if self.active or keep < 0:
                return False
            if keep == 0:
                return self.jobs > 0
            return time.monotonic() - self.last_active >= keep

    # ------------------------------------------------------------ one connection

    def handle(self, conn: socket.socket) -> None:
        channel = Channel(conn)
        try:
            request = channel.receive() or {}
            op = request.get("op")
            if op == "status":
                channel.send(self.describe())
            elif op == "stop":
                self.stop(now=bool(request.get("now")))
                channel.send({"ok": True})
            elif op in ("ask", "explain", "preload"):
                self.run_job(channel, request)
        except (ConnectionError, OSError):
            pass  # the client went away; its job (if any) was cancelled
        except Exception:
            log.exception("request failed")
        finally:
            channel.close()
            with self.count_lock:
                self.active -= 1
                self.last_active = time.monotonic()

    def stop(self, now: bool) -> None:
        """Stop now (cancelling the running job) or once the running job is done."""
        if now and self.job is not None:
            self.job.cancel.set()
        if not now:
            with self.job_lock:
                pass
        log.info("stop requested%s", " (now)" if now else "")
        self.stopping.set()

    def describe(self) -> dict:
        import psutil

        return {"pid": os.getpid(), "fingerprint": self.fingerprint, "uptime": time.time() - self.started,
                "loaded": self.models.loaded(), "rss": psutil.Process().memory_info().rss, "jobs": self.jobs,
                "keep_alive": self.config.keep_alive, "busy": self.job.question if self.job else None}  # fmt: skip

    def run_job(self, channel: Channel, request: dict) -> None:
        from assistant.events import Failed, Waiting

        config = config_from_dict(request["config"])
        reason = mismatch(fingerprint(config, self.fingerprint["version"]), self.fingerprint)
        if reason:
            channel.send(Failed(f"the warm server was started with other settings ({reason})").to_dict())
            return
        job = Job(request.get("question", ""))
        threading.Thread(target=watch_client, args=(channel, job.cancel), daemon=True).start()
        if not self.job_lock.acquire(blocking=False):
            channel.send(Waiting(self.job.question if self.job else "").to_dict())
            while not self.job_lock.acquire(timeout=0.2):
                if job.cancel.is_set() or self.stopping.is_set():
                    return self.turn_away(channel)
        try:
            if job.cancel.is_set() or self.stopping.is_set():
                return self.turn_away(channel)
            self.job = job
            counted = request["op"] != "preload"  # loading for `server start` is not a job served
            log.info("job %d: %s %r", self.jobs + 1, request["op"], job.question)
            started = time.monotonic()
            self.work(channel, request, config, job)
            log.info("job %d done in %.1fs", self.jobs + 1, time.monotonic() - started)
            self.jobs += counted
            if counted and self.config.keep_alive == 0:
                self.stopping.set()
        finally:
            self.job = None
            self.job_lock.release()

    def turn_away(self, channel: Channel) -> None:
        from assistant.events import Failed

        if self.stopping.is_set():
            channel.send(Failed("the warm server is stopping (another ask needed other settings): ask again").to_dict())

    def work(self, channel: Channel, request: dict, config: Config, job: Job) -> None:
        """Run one job on the warm models, sending each event as a JSON line."""
        from assistant.core.asker import Asker, AskOptions
        from assistant.errors import AssistantError, Cancelled
        from assistant.events import Done, Failed
        from assistant.storage.catalog import Catalog

        catalog = Catalog(config, lambda: self.models.embedder)  # per job: it sees a re-index done meanwhile
        asker = Asker(config, self.models, catalog)
        events = None
        try:
            if request["op"] == "preload":
                preload(self.models, config)
                channel.send(Done().to_dict())
            elif request["op"] == "explain":
                channel.send(Done(asker.explain(job.question, **request.get("options", {}))).to_dict())
            else:
                if "llama.cpp" in self.models.loaded():  # no prefix KV from the last job: answers match a fresh process
                    self.models.generator.llm.reset()
                events = asker.ask(job.question, AskOptions(**request.get("options", {})), job.cancel)
                for event in events:
                    channel.send(event.to_dict())
        except Cancelled:
            log.info("job cancelled by its client")
        except AssistantError as exc:
            channel.send(Failed(str(exc)).to_dict())
        except (ConnectionError, OSError):
            job.cancel.set()
            log.info("client went away: job cancelled")
        except Exception as exc:  # a bug: the client gets one line, the log gets the traceback
            log.exception("job failed")
            channel.send(Failed(f"{type(exc).__name__}: {exc}", kind=type(exc).__name__).to_dict())
        finally:
            if events is not None:
                events.close()  # a cancelled ask records its session as interrupted
            catalog.close()


def watch_client(channel: Channel, cancel: threading.Event) -> None:
    """The client's Ctrl-C arrives as "cancel" or as the connection closing: both cancel its job."""
    while True:
        message = channel.receive()
        if message is None or message.get("op") == "cancel":
            cancel.set()
            return


def preload(models: Models, config: Config) -> None:
    """Load what an ask will need, so the next ask is warm (``server start``)."""
    for part in ("embedder", "generator", "training") if config.learn else ("embedder", "generator"):
        getattr(models, part)


def main(argv: list[str]) -> int:
    config = config_from_dict(json.loads(argv[0]))
    version = argv[1] if len(argv) > 1 else None  # tests pass another version to play an older server
    from assistant.server.protocol import log_path

    config.home.mkdir(parents=True, exist_ok=True)
    logging.basicConfig(filename=log_path(config.home), level=logging.INFO,
                        format="%(asctime)s %(process)d %(levelname)s %(message)s")  # fmt: skip
    daemon = Daemon(config, version)
    signal.signal(signal.SIGTERM, lambda *_: daemon.stop(now=True))
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the terminal's Ctrl-C is for the client, not its server
    return daemon.serve()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
