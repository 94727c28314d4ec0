"""Benchmark `assistant index` on a corpus the project did not write: Debian's python3.11-doc reST sources.

Reports files/s, chunks/s, peak RSS, the share of time in read/chunk, embed and store/index, the raw
embedding throughput on the same chunks (forward passes only, measured in the same run) and the
ratio between the two, and the time of a no-change re-run.

With ``--mixed N`` it also indexes N files made from the same reST text as docx, pptx, odt, epub,
ipynb and eml (written by their libraries), and with ``--mbox N`` an mbox of N messages in a fresh
process, whose peak RSS it reports.

    python scripts/bench_index.py [--files 150] [--mixed 60] [--mbox 10000] [--out .bench/bench_index.json]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
DOCS = Path("/usr/share/doc/python3.11/html/_sources")


def ensure_docs() -> Path:
    if not DOCS.is_dir():
        print("installing python3.11-doc (Debian) ...", file=sys.stderr)
        subprocess.run(["apt-get", "update", "-qq"], check=False)
        subprocess.run(["apt-get", "install", "-y", "-qq", "python3.11-doc"], check=True)
    return DOCS


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=150, help="how many reST files (sorted by path); 0 = all 497")
    parser.add_argument("--mixed", type=int, default=0, help="also index this many docx/pptx/odt/epub/ipynb/eml files")
    parser.add_argument("--mbox", type=int, default=0, help="also index an mbox of this many messages (fresh process)")
    parser.add_argument("--mbox-read", type=int, default=0, help="only read and chunk an mbox of this many messages (no models but the tokenizer)")
    parser.add_argument("--mbox-only", type=Path, default=None, help=argparse.SUPPRESS)  # the child of --mbox
    parser.add_argument("--read-only", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, default=Path(".bench/bench_index.json"))
    args = parser.parse_args()
    if args.mbox_only:
        return mbox_child(args.mbox_only, args.read_only)
    if args.mbox_read:
        return print(bench_mbox(sorted(ensure_docs().rglob("*.rst.txt"))[:60], args.mbox_read, Path(tempfile.mkdtemp()), read_only=True))

    from rich.console import Console
    from rich.table import Table

    from assistant.config import load_config
    from assistant.core.facade import Assistant
    from assistant.events import Done
    from assistant.index.indexer import embed_text

    docs = ensure_docs()
    files = sorted(docs.rglob("*.rst.txt"))
    if args.files:
        files = files[: args.files]
    work = Path(tempfile.mkdtemp(prefix="bench-index-"))
    corpus = work / "docs"
    for f in files:
        target = corpus / f.relative_to(docs)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(f, target)
    config = load_config(home=work / "home")
    assistant = Assistant(config)
    # Load the models before timing: both measurements below then run warm.
    assistant.models.embedder.embed(["warm up"])
    assistant.models.tokens.count(["warm up"])

    def run_index():
        t = time.perf_counter()
        report = next(e.result for e in assistant.index([corpus]) if isinstance(e, Done))
        return report, time.perf_counter() - t

    first, first_s = run_index()
    texts = [embed_text(r["text"], r["heading"]) for r in assistant.store.chunks(assistant.store.chunk_ids().tolist()).values()]
    t = time.perf_counter()
    assistant.models.embedder.embed(texts)
    raw_s = time.perf_counter() - t
    again, again_s = run_index()
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    results = {
        "files": first.added,
        "chunks": first.chunks,
        "index_seconds": first_s,
        "files_per_s": first.added / first_s,
        "chunks_per_s": first.chunks / first_s,
        "share_read_chunk": first.timings["read"] / first_s,
        "share_embed": first.timings["embed"] / first_s,
        "share_store_index": first.timings["store"] / first_s,
        "raw_embed_seconds": raw_s,
        "raw_chunks_per_s": len(texts) / raw_s,
        "index_over_raw_embed": first_s / raw_s,
        "rerun_seconds": again_s,
        "rerun_unchanged": again.unchanged,
        "first_over_rerun": first_s / again_s,
        "peak_rss_mb": peak_mb,
        "threads": os.cpu_count(),
        "embedder": assistant.models.embedder.name,
        "chunk_tokens": config.chunk_tokens,
    }
    table = Table("measure", "value", title=f"assistant index: {first.added} python3.11-doc reST files")
    rows = [
        ("files/s", f"{results['files_per_s']:.2f}"),
        ("chunks/s", f"{results['chunks_per_s']:.1f}"),
        ("chunks", str(first.chunks)),
        ("index time", f"{first_s:.1f} s"),
        ("  read + chunk", f"{100 * results['share_read_chunk']:.1f} %"),
        ("  embed", f"{100 * results['share_embed']:.1f} %"),
        ("  store + index", f"{100 * results['share_store_index']:.1f} %"),
        ("raw embedding (same chunks)", f"{raw_s:.1f} s ({results['raw_chunks_per_s']:.1f} chunks/s)"),
        ("index / raw embedding", f"{results['index_over_raw_embed']:.2f}x  (goal <= 1.25x)"),
        ("no-change re-run", f"{again_s:.2f} s ({results['first_over_rerun']:.0f}x faster, goal >= 50x)"),
        ("peak RSS", f"{peak_mb:.0f} MB"),
    ]
    for row in rows:
        table.add_row(*row)
    Console().print(table)
    if args.mixed:
        results["mixed"] = bench_mixed(files, args.mixed, work)
    if args.mbox:
        results["mbox"] = bench_mbox(files, args.mbox, work)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2))
    print(f"wrote {args.out}")
    assistant.close()
    shutil.rmtree(work, ignore_errors=True)


def warm_assistant(home: Path):
    from assistant.config import load_config
    from assistant.core.facade import Assistant

    assistant = Assistant(load_config(home=home))
    assistant.models.embedder.embed(["warm up"])
    assistant.models.tokens.count(["warm up"])
    return assistant


def index_timed(assistant, corpus: Path):
    """(report, seconds) of one index run."""
    from assistant.events import Done

    t = time.perf_counter()
    report = next(e.result for e in assistant.index([corpus]) if isinstance(e, Done))
    return report, time.perf_counter() - t


def bench_mixed(sources: list[Path], n: int, work: Path) -> dict:
    from rich.console import Console
    from rich.table import Table

    sys.path.insert(0, str(Path(__file__).parent))
    from _mixed_corpus import make_mixed

    counts = make_mixed(sources[:n], work / "mixed")
    assistant = warm_assistant(work / "home-mixed")
    report, seconds = index_timed(assistant, work / "mixed")
    assistant.close()
    out = {"files": report.added, "per_format": counts, "chunks": report.chunks, "index_seconds": seconds,
           "files_per_s": report.added / seconds, "chunks_per_s": report.chunks / seconds,
           "share_read_chunk": report.timings["read"] / seconds, "share_embed": report.timings["embed"] / seconds,
           "share_store_index": report.timings["store"] / seconds, "skipped": dict(report.skipped)}  # fmt: skip
    table = Table("measure", "value", title=f"mixed formats: {report.added} files ({', '.join(f'{v} {k}' for k, v in counts.items())})")
    for key, value in [("files/s", f"{out['files_per_s']:.2f}"), ("chunks/s", f"{out['chunks_per_s']:.1f}"),
                       ("chunks", str(report.chunks)), ("index time", f"{seconds:.1f} s"),
                       ("  read + chunk", f"{100 * out['share_read_chunk']:.1f} %  (goal < 10 %)"),
                       ("  embed", f"{100 * out['share_embed']:.1f} %"),
                       ("  store + index", f"{100 * out['share_store_index']:.1f} %")]:  # fmt: skip
        table.add_row(key, value)
    Console().print(table)
    return out


def bench_mbox(sources: list[Path], messages: int, work: Path, read_only: bool = False) -> dict:
    """Index an mbox of ``messages`` mails in a child process, so its peak RSS is its own."""
    sys.path.insert(0, str(Path(__file__).parent))
    from _mixed_corpus import make_mbox

    folder = work / "mail"
    folder.mkdir(parents=True, exist_ok=True)
    make_mbox(folder / "archive.mbox", sources, messages)
    command = [sys.executable, __file__, "--mbox-only", str(folder)] + (["--read-only"] if read_only else [])
    child = subprocess.run(command, capture_output=True, text=True, check=True)
    out = json.loads(child.stdout.strip().splitlines()[-1])
    out.update(messages=messages, mbox_mb=(folder / "archive.mbox").stat().st_size / 2**20)
    if read_only:
        return out
    print(f"mbox: {messages} messages ({out['mbox_mb']:.1f} MB), {out['chunks']} chunks in {out['index_seconds']:.1f} s, "
          f"read + chunk {100 * out['share_read_chunk']:.1f} %, peak RSS {out['peak_rss_mb']:.0f} MB "
          f"(models loaded, before indexing: {out['baseline_rss_mb']:.0f} MB)")  # fmt: skip
    return out


def mbox_child(folder: Path, read_only: bool) -> None:
    import psutil

    if read_only:  # the reader and the chunker alone: what streaming the file costs, without the models
        from assistant.config import load_config
        from assistant.index.chunk import chunk_blocks
        from assistant.index.readers import read_blocks, reader_for
        from assistant.index.tokens import load_token_counter
        from assistant.models.locate import resolve_gguf

        config = load_config(home=folder.parent / "home-read")
        tokens = load_token_counter(resolve_gguf(config.model), config.home / "cache")
        baseline = psutil.Process().memory_info().rss / 2**20
        path = folder / "archive.mbox"
        t = time.perf_counter()
        blocks, _ = read_blocks(path, reader_for(path))
        chunks = chunk_blocks(blocks, tokens.count, tokens.split)
        print(json.dumps({"chunks": len(chunks), "read_chunk_seconds": time.perf_counter() - t, "baseline_rss_mb": baseline,
                          "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))  # fmt: skip
        return

    assistant = warm_assistant(folder.parent / "home-mbox")
    baseline = psutil.Process().memory_info().rss / 2**20
    report, seconds = index_timed(assistant, folder)
    print(json.dumps({"chunks": report.chunks, "index_seconds": seconds, "share_read_chunk": report.timings["read"] / seconds,
                      "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "baseline_rss_mb": baseline}))  # fmt: skip


if __name__ == "__main__":
    main()
