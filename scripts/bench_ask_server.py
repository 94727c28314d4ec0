"""The warm-server half of bench_ask.py (``--server``): real `assistant ask` processes on the sample corpus."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
QUESTION = "What is Kestrel?"


def timed_ask(home: Path, *flags: str, env: dict | None = None) -> dict:
    """Run `assistant ask` and time, from the command starting, the first answer token and the exit."""
    env = {**os.environ, "ASSISTANT_HOME": str(home), "PYTHONUNBUFFERED": "1", "PYTHONPATH": str(ROOT), **(env or {})}
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "assistant.cli", "ask", QUESTION, *flags], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)  # fmt: skip
    seen, first = b"", None
    while chunk := os.read(proc.stdout.fileno(), 4096):
        seen += chunk
        if first is None and b"Answer\n" in seen and seen.split(b"Answer\n", 1)[1].strip():
            first = time.perf_counter() - start
    if proc.wait() != 0:
        raise SystemExit(f"ask {' '.join(flags)} failed:\n{seen.decode(errors='replace')}")
    return {"first_token": first, "total": time.perf_counter() - start}


def median(rows: list[dict], key: str) -> float:
    return statistics.median(r[key] for r in rows)


def bench_server(repeats: int, out: Path, home: Path | None = None) -> None:
    from rich.console import Console
    from rich.table import Table

    from assistant.config import load_config
    from assistant.core.facade import Assistant
    from assistant.server import client

    home = home or Path(tempfile.mkdtemp(prefix="bench-srv-"))
    indexer = Assistant(load_config(home=home))
    for _ in indexer.index([ROOT / "corpus"]):
        pass
    indexer.close()
    runs: dict[str, list[dict]] = {"cold --no-server": [], "first ask (starts server)": []}
    for _ in range(repeats):  # alternate, so load on the machine hits both alike
        runs["cold --no-server"].append(timed_ask(home, "--no-learn", "--no-server"))
        client.stop(home)
        runs["first ask (starts server)"].append(timed_ask(home, "--no-learn"))
    timed_ask(home, "--learn")  # load the training copy too
    runs["warm server, --no-learn"] = [timed_ask(home, "--no-learn") for _ in range(repeats)]
    # Past the learn_below gate; the default LoRA (top half of the layers) and one on every layer, alternated
    # so that drift in the machine's speed hits both alike.
    runs["warm server, learning"], runs["warm server, learning, all layers"] = [], []
    for _ in range(repeats):
        runs["warm server, learning"].append(timed_ask(home, "--learn"))
        runs["warm server, learning, all layers"].append(timed_ask(home, "--learn", env={"ASSISTANT_LORA_LAYERS": "1"}))
    runs["warm server, default (learn_below gate)"] = [timed_ask(home) for _ in range(repeats)]
    idle = client.status(home)
    client.stop(home)
    goals = {"warm server, --no-learn": "<= 1.5 s", "warm server, learning": "<= 9 s",
             "first ask (starts server)": "<= 1.1x cold"}  # fmt: skip
    table = Table("run", "first token (median)", "total (median)", "goal",
                  title=f"assistant ask as a CLI process, sample corpus, median of {repeats}")  # fmt: skip
    for name, rows in runs.items():
        table.add_row(
            name, f"{median(rows, 'first_token'):.2f} s", f"{median(rows, 'total'):.2f} s", goals.get(name, "")
        )
    ratio = median(runs["first ask (starts server)"], "total") / median(runs["cold --no-server"], "total")
    console = Console(width=120)
    console.print(table)
    learning = {name: median(runs[name], "first_token") for name in ("warm server, learning", "warm server, learning, all layers")}
    layers = learning["warm server, learning"] / learning["warm server, learning, all layers"]
    console.print(f"learning, top half / all layers (first token): {layers:.2f}x")
    console.print(f"first ask / cold ask (total): {ratio:.2f}x · idle server memory: {idle['rss'] / 2**20:.0f} MiB "
                  f"({', '.join(idle['loaded'])})")  # fmt: skip
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(
        json.dumps({"runs": runs, "ratio": ratio, "top_half_vs_all_layers": layers, "idle_rss": idle["rss"],
                    "loaded": idle["loaded"]}, indent=2)
    )
    print(f"wrote {out}")
