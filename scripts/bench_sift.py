"""Time `sift.select` against the HNSW top-K search it sits behind, d = 384.

For each (K, n) it reports the median of many warm runs of SIFT, NN (with its honest variances) and
an hnswlib top-K query (space 'ip', ef = max(K, 64)) retrieving the same K from an index of random
unit vectors, and the ratio SIFT / HNSW, all measured in this one run. The candidates are float32,
as the store keeps them. On a CUDA machine it adds the torch path. The goals are checked at the end.

    python scripts/bench_sift.py [--out .bench/bench_sift.json] [--index-size 20000]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
from pathlib import Path

import numpy as np
from _timing import median_of

CASES = [(200, 16), (200, 50), (1000, 50), (10000, 50)]
D = 384
LAM = 0.01
# (K, n) -> SIFT must take less than this many ms; and SIFT / HNSW <= RATIO_GOAL for every case
MS_GOALS = {(200, 50): 3.0, (10000, 50): 150.0}
RATIO_GOAL = 1.5


def median_ms(fn, repeats: int) -> float:
    return 1000 * median_of(fn, repeats)


def unit_rows(rng: np.random.Generator, k: int) -> np.ndarray:
    x = rng.standard_normal((k, D)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path(".bench/bench_sift.json"), help="JSON results path.")
    parser.add_argument("--index-size", type=int, default=20000, help="Vectors in the HNSW index.")
    parser.add_argument(
        "--repeats", type=int, default=300, help="Warm runs per timing for K <= 1000 (a tenth for larger K)."
    )
    args = parser.parse_args()
    if args.index_size < max(K for K, _ in CASES):
        parser.error(f"--index-size must be at least {max(K for K, _ in CASES)}")

    import hnswlib
    from rich.console import Console
    from rich.table import Table

    from assistant.selection.sift import select

    rng = np.random.default_rng(0)
    data = unit_rows(rng, args.index_size)
    index = hnswlib.Index(space="ip", dim=D)
    index.init_index(max_elements=args.index_size, ef_construction=200, M=16)
    index.add_items(data, np.arange(args.index_size))
    query = data[0] + 0.3 * rng.standard_normal(D).astype(np.float32)
    query /= np.linalg.norm(query)

    try:
        import torch

        cuda = torch.cuda.is_available()
    except ImportError:
        cuda = False

    def measure(K: int, n: int) -> dict:
        index.set_ef(max(K, 64))
        labels, _ = index.knn_query(query[None], k=K)
        cands = np.ascontiguousarray(data[labels[0]])
        repeats = args.repeats if K <= 1000 else max(10, args.repeats // 10)
        row = {
            "K": K,
            "n": n,
            "sift_ms": median_ms(lambda: select(query, cands, n, lam=LAM), repeats),
            "nn_ms": median_ms(lambda: select(query, cands, n, method="nn", lam=LAM), repeats),
            "hnsw_topk_ms": median_ms(lambda: index.knn_query(query[None], k=K), repeats),
        }
        row["sift_over_hnsw"] = row["sift_ms"] / row["hnsw_topk_ms"]
        if cuda:
            qt, ct = torch.from_numpy(query).cuda(), torch.from_numpy(cands).cuda()

            def on_gpu():
                select(qt, ct, n, lam=LAM)
                torch.cuda.synchronize()

            row["sift_cuda_ms"] = median_ms(on_gpu, repeats)
        return row

    rows = [measure(K, n) for K, n in CASES]

    table = Table("K", "n", "SIFT (ms)", "NN (ms)", "HNSW top-K (ms)", "SIFT / HNSW", *(["SIFT cuda (ms)"] if cuda else []),
                  title=f"sift.select, d={D}, lam={LAM}, float32, median of warm runs")  # fmt: skip
    for r in rows:
        table.add_row(str(r["K"]), str(r["n"]), f"{r['sift_ms']:.2f}", f"{r['nn_ms']:.2f}", f"{r['hnsw_topk_ms']:.2f}",
                      f"{r['sift_over_hnsw']:.2f}x", *([f"{r['sift_cuda_ms']:.2f}"] if cuda else []))  # fmt: skip
    console = Console()
    console.print(table)
    goals = []
    for r in rows:
        limit = MS_GOALS.get((r["K"], r["n"]))
        if limit is not None:
            goals.append({"goal": f"K={r['K']}, n={r['n']}: SIFT < {limit:g} ms", "met": r["sift_ms"] < limit})
        goals.append(
            {"goal": f"K={r['K']}, n={r['n']}: SIFT <= {RATIO_GOAL}x HNSW", "met": r["sift_over_hnsw"] <= RATIO_GOAL}
        )
    for g in goals:
        console.print(f"{'met    ' if g['met'] else 'NOT met'}  {g['goal']}")
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    console.print(f"cpus {os.cpu_count()}, load average {load}, numpy {np.__version__}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"d": D, "lam": LAM, "index_size": args.index_size, "rows": rows, "goals": goals,
                                    "cpus": os.cpu_count(), "load_average": load, "numpy": np.__version__,
                                    "machine": platform.processor() or platform.machine()}, indent=2))  # fmt: skip
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
