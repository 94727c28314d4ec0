"""Shared timing helper for the benchmark scripts."""

import statistics
import time


def median_of(fn, repeats: int) -> float:
    """Median wall time of ``fn()`` in seconds over ``repeats`` warm runs (one warm-up first)."""
    fn()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)
