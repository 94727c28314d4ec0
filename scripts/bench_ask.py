"""End-to-end `assistant ask` latency on the sample corpus, per stage, in one warm process (as in the TUI).

For the default settings (learning on) and for --no-learn, it reports the median time to the first
answer token, the total, and each stage, over a few questions from corpus/QUESTIONS.md.

    python scripts/bench_ask.py [--questions 3] [--out .bench/bench_ask.json]

With --server it runs real `assistant ask` processes instead (the warm server, issue 15): the time from the
command starting to the first answer token with a warm server (--no-learn and with learning), the first ask
that starts the server against a cold --no-server ask, and the idle server's memory; median of --repeats.

    python scripts/bench_ask.py --server [--repeats 5] [--out .bench/bench_ask_server.json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--questions", type=int, default=3)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--server", action="store_true", help="Time real CLI processes through the warm server.")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--home", type=Path, default=None, help="--server: an existing home to (re)index into.")
    args = parser.parse_args()
    if args.server:
        from bench_ask_server import bench_server

        return bench_server(args.repeats, args.out or Path(".bench/bench_ask_server.json"), args.home)
    args.out = args.out or Path(".bench/bench_ask.json")

    from rich.console import Console
    from rich.table import Table

    from assistant.config import load_config
    from assistant.events import Done, Stage, Token
    from assistant.core.facade import Assistant
    from assistant.eval.questions import parse_questions

    home = Path(tempfile.mkdtemp(prefix="bench-ask-"))
    assistant = Assistant(load_config(home=home, device=args.device))
    for _ in assistant.index([ROOT / "corpus"]):
        pass
    questions = [q.question for q in parse_questions(ROOT / "corpus" / "QUESTIONS.md")][: args.questions]

    def one(question: str, learn: bool) -> dict:
        start = time.perf_counter()
        first = None
        stages: dict[str, float] = {}
        for event in assistant.ask(question, learn=learn):
            if isinstance(event, Token) and first is None:
                first = time.perf_counter() - start
            elif isinstance(event, Stage) and event.done:
                stages[event.name] = event.seconds
            elif isinstance(event, Done):
                steps = event.result.adapter["steps"] if event.result.adapter else 0
        return {"first_token": first, "total": time.perf_counter() - start, "stages": stages, "steps": steps}

    one(questions[0], True)  # warm: load the embedder, the training copy and llama.cpp
    runs = {mode: [one(q, mode == "learn") for q in questions] for mode in ("learn", "no-learn")}
    table = Table("mode", "first token (median)", "total", "retrieving", "selecting", "learning", "answering", "steps",
                  title=f"assistant ask, warm process, {assistant.models.device}, median of {len(questions)} questions")  # fmt: skip
    summary = {}
    for mode, rows in runs.items():
        med = {k: statistics.median(r[k] for r in rows) for k in ("first_token", "total")}
        stage_med = {s: statistics.median(r["stages"].get(s, 0.0) for r in rows) for s in ("retrieving", "selecting", "learning", "answering")}
        steps = statistics.median(r["steps"] for r in rows)
        summary[mode] = {**med, "stages": stage_med, "steps": steps, "runs": rows}
        table.add_row(mode, f"{med['first_token']:.2f} s", f"{med['total']:.2f} s",
                      *[f"{stage_med[s]:.2f} s" for s in stage_med], f"{steps:g}")  # fmt: skip
    Console(width=130).print(table)
    summary["device"] = assistant.models.device
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(summary, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
