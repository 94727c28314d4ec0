"""Time `sift.select` against the HNSW top-K search it sits behind, d = 384.

For each (K, n) it reports the median of many warm runs of SIFT, NN and an hnswlib top-K query
retrieving the same K, and the ratio SIFT / HNSW, all measured in this one run. On a CUDA machine
it adds the torch path.

    python scripts/bench_sift.py [--out .bench/bench_sift.json]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from _timing import median_of

CASES = [(200, 16), (200, 50), (1000, 50), (10000, 50)]
D = 384


def median_ms(fn, repeats: int) -> float:
    return 1000 * median_of(fn, repeats)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path(".bench/bench_sift.json"))
    parser.add_argument("--index-size", type=int, default=20000, help="vectors in the HNSW index")
    args = parser.parse_args()

    import hnswlib
    from rich.console import Console
    from rich.table import Table

    from assistant.sift import select

    rng = np.random.default_rng(0)
    data = rng.standard_normal((args.index_size, D)).astype(np.float32)
    data /= np.linalg.norm(data, axis=1, keepdims=True)
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
    rows = []
    for K, n in CASES:
        index.set_ef(max(K, 64))
        labels, _ = index.knn_query(query[None], k=K)
        cands = data[labels[0]]
        repeats = 200 if K <= 1000 else 30
        row = {
            "K": K,
            "n": n,
            "sift_ms": median_ms(lambda: select(query, cands, n, lam=0.01), repeats),
            "nn_ms": median_ms(lambda: select(query, cands, n, method="nn", lam=0.01), repeats),
            "hnsw_topk_ms": median_ms(lambda: index.knn_query(query[None], k=K), repeats),
        }
        row["sift_over_hnsw"] = row["sift_ms"] / row["hnsw_topk_ms"]
        if cuda:
            qt, ct = torch.from_numpy(query).cuda(), torch.from_numpy(cands).cuda()

            def on_gpu():
                select(qt, ct, n, lam=0.01)
                torch.cuda.synchronize()

            row["sift_cuda_ms"] = median_ms(on_gpu, repeats)
        rows.append(row)

    table = Table("K", "n", "SIFT (ms)", "NN (ms)", "HNSW top-K (ms)", "SIFT / HNSW", *(["SIFT cuda (ms)"] if cuda else []),
                  title=f"sift.select, d={D}, median of warm runs")  # fmt: skip
    for r in rows:
        table.add_row(str(r["K"]), str(r["n"]), f"{r['sift_ms']:.2f}", f"{r['nn_ms']:.2f}", f"{r['hnsw_topk_ms']:.2f}",
                      f"{r['sift_over_hnsw']:.2f}x", *([f"{r['sift_cuda_ms']:.2f}"] if cuda else []))  # fmt: skip
    Console().print(table)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"d": D, "index_size": args.index_size, "rows": rows}, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
