"""A lifetime of notes: the project's store and vector index at 10^4, 10^5 and 10^6 chunks.

For each size it builds a home dir through the real `Store` and `VectorIndex`: synthetic chunk text
and synthetic vectors (d = 384, so the embedder is not the bottleneck), spread over up to 50,000
small files that really exist on disk. ``--vectors text`` (the default) draws them with the mean and
covariance spectrum of real MiniLM chunk embeddings (scripts/text_vectors.py); ``--vectors random``
draws random unit vectors, the worst case for HNSW. Each batch is drawn from its seed, so exact search
draws the same vectors again. Then, each phase in a fresh process (so peak RSS is per phase):

- open: the index opened and checked against the store, cold (files evicted from the page cache
  with posix_fadvise) and warm
- ask: top-200 through `Asker.retrieve_vector` (HNSW, then the vectors from SQLite), SIFT n = 16
  over them, recall@200 against exact search, peak RSS (no LLMs loaded)
- maintain: a no-change `assistant index` of the files, `status`, `forget --source` of one file,
  then 10% of the files deleted and the folder re-indexed

``--real-recall DB`` also measures recall@200 (and the ef sweep) of the project's HNSW settings on a
real store's vectors, opened read-only, with noisy copies of its chunk vectors as questions.

    nice -n 5 python scripts/bench_scale.py [--sizes 10000,100000,1000000] [--vectors text|random]
        [--real-recall PATH/assistant.db] [--out .bench/bench_scale.json]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import text_vectors

os.environ.setdefault("HF_HUB_OFFLINE", "1")
D = 384
K = 200
N_PICKS = 16
MAX_FILES = 50_000
BATCH = 50_000  # vectors per hnswlib add_items call: big batches keep both cores busy
WORDS = ("note paper method result data model memory index query answer page chapter table figure "
         "experiment review draft meeting idea plan budget source reference theory proof lemma").split()  # fmt: skip
GOALS = {  # at 10^6 chunks (issue 17)
    "ask_ms": ("warm retrieval + SIFT (ms)", 25.0, "<"),
    "recall": ("HNSW recall@200", 0.95, ">="),
    "open_cold_s": ("open the index, cold (s)", 3.0, "<"),
    "ask_rss_mb": ("peak RSS while asking (MB)", 3072.0, "<"),
    "reindex_s": ("no-change re-index of the files (s)", 15.0, "<"),
    "status_s": ("status, torch already imported (s)", 1.0, "<"),
}


def unit_batch(seed: int, n: int) -> np.ndarray:
    x = np.random.default_rng(seed).standard_normal((n, D), dtype=np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


VECTORS = {"random": unit_batch, "text": text_vectors.draw}  # --vectors: how a batch of chunk vectors is drawn


def all_vectors(n: int, kind: str):
    """The build's vectors again, batch by batch (same seeds), for exact search without holding them all."""
    for start in range(0, n, BATCH):
        yield start, VECTORS[kind](start, min(BATCH, n - start))


def questions(stored: np.ndarray, count: int) -> np.ndarray:
    """A question lands near something in the notes: a stored vector plus noise (norm about 0.5)."""
    rng = np.random.default_rng(1)
    qs = stored[rng.integers(0, len(stored), count)]
    qs = qs + 0.5 * rng.standard_normal(qs.shape).astype(np.float32) / np.sqrt(qs.shape[1])
    return qs / np.linalg.norm(qs, axis=1, keepdims=True)


def config_for(home: Path):
    from assistant.config import Config

    return Config(home=home)


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# ---------------------------------------------------------------- build


def build(home: Path, n_chunks: int, kind: str, ef_construction: int | None = None) -> dict:
    """Files on disk, one document row per file, chunks with vectors, and the hnswlib index.

    The build skips fsync (synchronous=OFF) to save minutes; every measured phase uses the project's settings.
    ``ef_construction`` below the project's trades graph quality for build time (recall is then a lower bound)."""
    from assistant.index.chunk import Chunk
    from assistant.storage.store import Store
    from assistant.storage.vectors import VectorIndex

    shutil.rmtree(home, ignore_errors=True)
    files_root = home / "notes"
    n_files = min(MAX_FILES, n_chunks // 2)
    per_file = n_chunks // n_files
    config = config_for(home)
    store = Store(config.db_path)
    store.db.execute("PRAGMA synchronous = OFF")
    store.set_meta("dim", str(D))
    store.set_meta("embedder", "synthetic")
    rng = np.random.default_rng(0)
    t0 = time.perf_counter()
    texts = [" ".join(rng.choice(WORDS, 180)) for _ in range(512)]  # about 1,100 characters: a 256-token chunk
    all_ids: list[int] = []
    batch_start, batch = -1, None
    for f in range(n_files):
        path = files_root / f"d{f % 100:02d}" / f"note{f:05d}.txt"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"note {f}\n")
        st = path.stat()
        start = f * per_file
        chunks = [Chunk(f"{f}.{i} " + texts[(start + i) % len(texts)], f"note {f}", 1, 1, 256) for i in range(per_file)]
        if start - start % BATCH != batch_start:
            batch_start = start - start % BATCH
            batch = VECTORS[kind](batch_start, min(BATCH, n_chunks - batch_start))
        vecs = batch[start - batch_start : start - batch_start + per_file]
        _old, new = store.replace_document(path=path.absolute(), root=files_root.absolute(), fmt="text", sha256=str(f),
                                           size=st.st_size, mtime=st.st_mtime, chunks=chunks, embeddings=vecs)  # fmt: skip
        all_ids += new
    store.mark_root(files_root.absolute())
    store_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    index = VectorIndex(config.index_path, D)
    if ef_construction:
        index.EF_CONSTRUCTION = ef_construction
    index._fresh(n_chunks + 1024)
    ids = np.array(all_ids, dtype=np.int64)
    for start, vecs in all_vectors(n_chunks, kind):
        index.add(ids[start : start + len(vecs)], vecs)
    index.save()
    store.close()
    return {"files": n_files, "ef_construction": index.EF_CONSTRUCTION, "build_store_s": store_s, "build_index_s": time.perf_counter() - t0, "build_rss_mb": rss_mb()}


def built(home: Path, n_chunks: int, kind: str, ef_construction: int | None, reuse: bool) -> dict:
    """The build's row: from the marker of an earlier build with the same parameters, or from a new build."""
    from assistant.storage.vectors import VectorIndex

    marker = home / "build.json"
    want = {"chunks": n_chunks, "vectors": kind, "ef_construction": ef_construction or VectorIndex.EF_CONSTRUCTION}
    if reuse and marker.exists():
        row = json.loads(marker.read_text())
        if {k: row.get(k) for k in want} == want:
            return {k: v for k, v in row.items() if k not in ("chunks", "vectors")}
    row = build(home, n_chunks, kind, ef_construction)
    marker.write_text(json.dumps({**want, **row}))
    return row


# ---------------------------------------------------------------- phases (each in its own process)


def evict(*paths: Path) -> None:
    """Drop the files' clean pages from the OS cache, so the next read comes from disk."""
    for path in paths:
        if path.exists():
            fd = os.open(path, os.O_RDONLY)
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            os.close(fd)


def phase_open(home: Path) -> dict:
    from assistant.storage.catalog import Catalog

    config = config_for(home)
    evict(config.db_path, config.index_path)
    out = {}
    for label in ("open_cold_s", "open_warm_s"):
        catalog = Catalog(config, embedder=lambda: None)
        t = time.perf_counter()
        _ = catalog.vectors  # opens and checks against the store
        out[label] = time.perf_counter() - t
        out[label.replace("_s", "_repair")] = bool(catalog.last_repair)
        catalog.close()
    return out


def phase_ask(home: Path, n_chunks: int, kind: str, queries: int = 30) -> dict:
    from assistant.core.facade import Assistant
    from assistant.selection.sift import select

    config = config_for(home)
    assistant = Assistant(config)
    qs = questions(VECTORS[kind](0, min(BATCH, n_chunks)), queries)
    asker = assistant.asker
    asker.retrieve_vector(qs[0], K)  # warm: index loaded, SQLite pages cached
    times, sift_times, found = [], [], []
    for q in qs:
        t = time.perf_counter()
        cands = asker.retrieve_vector(q, K)
        t2 = time.perf_counter()
        select(cands.query, cands.vectors, N_PICKS, lam=config.lam, stop=config.stop)
        sift_times.append(time.perf_counter() - t2)
        times.append(time.perf_counter() - t)
        found.append(set(cands.ids.tolist()))
    rss = rss_mb()
    live = assistant.store.chunk_ids()
    exact = exact_top(qs, live_batches(live, all_vectors(n_chunks, kind)))
    return {"ef_sweep": ef_sweep(assistant.catalog.vectors, qs, exact), "ask_ms": 1000 * statistics.median(times), "sift_ms": 1000 * statistics.median(sift_times),
            "retrieve_ms": 1000 * (statistics.median(times) - statistics.median(sift_times)),
            "ask_rss_mb": rss, "recall": overlap(found, exact)}  # fmt: skip


def ef_sweep(vectors, qs: np.ndarray, exact: np.ndarray) -> list[dict]:
    """recall@200 and HNSW query time at several query-time ef values (the choice of EF_SEARCH)."""
    chosen, rows = vectors.EF_SEARCH, []
    for ef in (200, 400, 800, 1600):
        vectors.EF_SEARCH = ef
        t = time.perf_counter()
        found = [set(vectors.search(q, K)[0].tolist()) for q in qs]
        ms = 1000 * (time.perf_counter() - t) / len(qs)
        rows.append({"ef": ef, "recall": overlap(found, exact), "hnsw_ms": ms})
    vectors.EF_SEARCH = chosen
    return rows


def overlap(found: list[set[int]], exact: np.ndarray) -> float:
    """recall@200: the share of the exact top-200 that HNSW returned."""
    return float(np.mean([len(f & set(t.tolist())) / K for f, t in zip(found, exact)]))


def live_batches(live: np.ndarray, batches):
    """The build's (ids, vectors) batches without the chunks deleted since (a re-used home has lost 10% of
    its files to the maintain phase). The build's ids are 1..n in build order (a fresh AUTOINCREMENT)."""
    for start, vecs in batches:
        ids = np.arange(start + 1, start + 1 + len(vecs), dtype=np.int64)
        keep = np.isin(ids, live)
        yield ids[keep], vecs[keep]


def exact_top(qs: np.ndarray, batches) -> np.ndarray:
    """The exact top-200 ids by inner product over every (ids, vectors) batch."""
    best_s = np.full((len(qs), K), -np.inf, dtype=np.float32)
    best_i = np.zeros((len(qs), K), dtype=np.int64)
    for ids, vecs in batches:
        sims = qs @ vecs.T
        s = np.concatenate([best_s, sims], axis=1)
        i = np.concatenate([best_i, np.broadcast_to(ids, sims.shape)], axis=1)
        top = np.argpartition(-s, K, axis=1)[:, :K]
        best_s, best_i = np.take_along_axis(s, top, 1), np.take_along_axis(i, top, 1)
    return best_i


def phase_maintain(home: Path) -> dict:
    from assistant.core.facade import Assistant

    config = config_for(home)
    files = sorted((home / "notes").rglob("*.txt"))
    out = {}
    assistant = Assistant(config)
    t = time.perf_counter()
    report = list(assistant.index([home / "notes"]))[-1].result
    out["reindex_s"] = time.perf_counter() - t
    out["reindex_unchanged"] = report.unchanged
    for label in ("status_first_s", "status_s"):  # the first call pays torch's import (device detection)
        t = time.perf_counter()
        assistant.status()
        out[label] = time.perf_counter() - t
    t = time.perf_counter()
    assistant.library.forget_source(files[0])
    out["forget_s"] = time.perf_counter() - t
    files[0].unlink()  # else the next run indexes it again, and that needs the real embedder
    for path in files[1 :: 10]:
        path.unlink()
    t = time.perf_counter()
    report = list(assistant.index([home / "notes"]))[-1].result
    out["delete10_reindex_s"] = time.perf_counter() - t
    out["delete10_removed"] = report.removed
    out["maintain_rss_mb"] = rss_mb()
    assistant.close()
    return out


PHASES = {"open": phase_open, "ask": phase_ask, "maintain": phase_maintain}


def real_recall(db: Path, queries: int = 30) -> dict:
    """recall@200 of the project's HNSW (its M, ef_construction and EF_SEARCH) on a real store's vectors,
    against exact search, with noisy copies of its chunk vectors as questions; the store is only read."""
    import tempfile

    from assistant.storage.vectors import VectorIndex

    vectors, embedder = text_vectors.read_store(db)
    ids = np.arange(len(vectors), dtype=np.int64)
    with tempfile.TemporaryDirectory() as tmp:  # the graph is never saved; the path is only a name
        index = VectorIndex(Path(tmp) / "real.hnsw", vectors.shape[1])
        index._fresh(len(vectors))
        index.add(ids, vectors)
        qs = questions(vectors, queries)
        exact = exact_top(qs, [(ids, vectors)])
        found = [set(index.search(q, K)[0].tolist()) for q in qs]
        return {"db": str(db), "embedder": embedder, "chunks": len(vectors), "recall": overlap(found, exact),
                "ef_sweep": ef_sweep(index, qs, exact)}  # fmt: skip


def run_phase(name: str, home: Path, n: int, kind: str) -> dict:
    cmd = [sys.executable, __file__, "--phase", name, "--home", str(home), "--sizes", str(n), "--vectors", kind]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False, env={**os.environ, "PYTHONPATH": os.getcwd()})
    if done.returncode:
        raise SystemExit(f"phase {name} at {n} failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def file_mb(path: Path) -> float:
    return sum(p.stat().st_size for p in path.parent.glob(path.name + "*")) / 2**20 if path.exists() else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10000,100000,1000000", help="Comma-separated chunk counts.")
    parser.add_argument("--work", type=Path, default=Path(".bench/scale"), help="Where the home dirs are built.")
    parser.add_argument("--out", type=Path, default=Path(".bench/bench_scale.json"), help="JSON results path.")
    parser.add_argument("--keep", action="store_true", help="Keep the built home dirs.")
    parser.add_argument("--ef-construction", type=int, help="Build the graph with this ef_construction instead of "
                        "the project's (faster; the file size and open time do not depend on it, recall does).")  # fmt: skip
    parser.add_argument("--vectors", choices=sorted(VECTORS), default="text", help="Chunk vectors: 'text' has real "
                        "MiniLM embeddings' mean and spectrum (scripts/text_vectors.py), 'random' is the worst case.")
    parser.add_argument("--real-recall", type=Path, metavar="DB", help="Also measure recall@200 on the vectors of this "
                        "real store (opened read-only); with --sizes '' only that.")
    parser.add_argument("--build-only", action="store_true", help="Build the home dirs (kept) and stop; a later "
                        "--reuse run measures them, e.g. once the machine is idle.")  # fmt: skip
    parser.add_argument("--reuse", action="store_true", help="Measure home dirs an earlier --build-only or --keep "
                        "run built with the same size, vectors and ef_construction, instead of building again.")  # fmt: skip
    parser.add_argument("--phases", default="open,ask,maintain", help="Phases to measure (with --reuse: "
                        "maintain deletes 10%% of the files, so a second run of it measures a smaller home).")  # fmt: skip
    parser.add_argument("--phase", choices=sorted(PHASES), help=argparse.SUPPRESS)
    parser.add_argument("--home", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",") if s]
    if args.phase:
        fn = PHASES[args.phase]
        print(json.dumps(fn(args.home, sizes[0], args.vectors) if args.phase == "ask" else fn(args.home)))
        return
    saved = json.loads(args.out.read_text()) if args.out.exists() else {}
    rows = [{"vectors": "random", **r} for r in saved.get("rows", [])]  # rows written before --vectors existed
    real = saved.get("real_recall")
    if args.real_recall:
        real = real_recall(args.real_recall)
        print(json.dumps(real), flush=True)
    for n in sizes:
        home = (args.work / str(n)).absolute()
        row = {"chunks": n, "vectors": args.vectors, **built(home, n, args.vectors, args.ef_construction, args.reuse)}
        if args.build_only:
            continue
        config = config_for(home)
        row["db_mb"], row["index_mb"] = file_mb(config.db_path), file_mb(config.index_path)
        previous = next((r for r in rows if (r["chunks"], r["vectors"]) == (n, args.vectors)), {})
        row = {**previous, **row}  # a phase not measured this time keeps its last value
        for phase in args.phases.split(","):
            row.update(run_phase(phase, home, n, args.vectors))
        print(json.dumps(row), flush=True)
        rows = [r for r in rows if (r["chunks"], r["vectors"]) != (n, args.vectors)] + [row]
        if not (args.keep or args.reuse):
            shutil.rmtree(home, ignore_errors=True)
        report(rows, real, args.out)  # after each size: a run to 10^6 is long
    if not sizes:
        report(rows, real, args.out)


def report(rows: list[dict], real: dict | None, out: Path) -> None:
    from rich.console import Console
    from rich.table import Table

    cols = [("vectors", "vectors", "{}"), ("chunks", "chunks", "{:,}"), ("files", "files", "{:,}"), ("ef_construction", "ef_c", "{}"), ("build_index_s", "build index s", "{:.0f}"),
            ("db_mb", "db MB", "{:.0f}"), ("index_mb", "index MB", "{:.0f}"), ("open_cold_s", "open cold s", "{:.2f}"),
            ("open_warm_s", "open warm s", "{:.2f}"), ("retrieve_ms", "top-200 ms", "{:.1f}"), ("sift_ms", "SIFT ms", "{:.1f}"),
            ("ask_ms", "ask ms", "{:.1f}"), ("recall", "recall@200", "{:.3f}"), ("ask_rss_mb", "ask RSS MB", "{:.0f}"),
            ("reindex_s", "re-index s", "{:.2f}"), ("status_first_s", "status 1st s", "{:.2f}"), ("status_s", "status s", "{:.2f}"), ("forget_s", "forget s", "{:.2f}"),
            ("delete10_reindex_s", "-10% re-index s", "{:.2f}")]  # fmt: skip
    table = Table(*[c[1] for c in cols], title="the store and index at scale (d=384, K=200, n=16)")
    rows = sorted(rows, key=lambda r: (r["vectors"], r["chunks"]))
    for r in rows:
        table.add_row(*[fmt.format(r[key]) if key in r else "-" for key, _, fmt in cols])
    console = Console(width=250)
    console.print(table)
    for r in [*rows, *([real] if real else [])]:
        where = f"real store {real['db']}" if r is real else f"{r['vectors']} vectors"
        sweep = ", ".join(f"ef {e['ef']}: {e['recall']:.3f} ({e['hnsw_ms']:.1f} ms)" for e in r.get("ef_sweep", []))
        console.print(f"recall@200 by ef, {where}, {r['chunks']:,} chunks: {sweep}")
    goals = []
    for kind in sorted({r["vectors"] for r in rows}):
        top = max((r for r in rows if r["vectors"] == kind), key=lambda r: r["chunks"])
        for key, (what, limit, op) in GOALS.items():
            met = top[key] < limit if op == "<" else top[key] >= limit
            goals.append({"goal": f"{what} {op} {limit:g} at {top['chunks']:,} chunks, {kind} vectors", "value": top[key], "met": met})
            console.print(f"{'met    ' if met else 'NOT met'}  {goals[-1]['goal']}: {top[key]:.3f}")
    load = os.getloadavg()[0]
    console.print(f"cpus {os.cpu_count()}, load average {load:.1f}")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"d": D, "k": K, "n": N_PICKS, "rows": rows, "real_recall": real, "goals": goals,
                               "cpus": os.cpu_count(), "load_average": load}, indent=2))  # fmt: skip
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
