"""Small statistics for the evaluation harness: splits, means with standard errors, paired differences."""

from __future__ import annotations

import math
import random
from collections.abc import Sequence


def split_files(files: Sequence, n_test: int, seed: int = 0) -> tuple[list, list]:
    """A fixed file-level split: (data space, held-out test files). Same seed, same split."""
    ordered = sorted(files, key=str)
    rng = random.Random(seed)
    shuffled = ordered[:]
    rng.shuffle(shuffled)
    test = set(map(str, shuffled[:n_test]))
    return [f for f in ordered if str(f) not in test], [f for f in ordered if str(f) in test]


def mean_se(values: Sequence[float]) -> tuple[float, float, int]:
    """Mean, standard error of the mean, and n."""
    vals = [v for v in values if v is not None and not math.isnan(v)]
    n = len(vals)
    if n == 0:
        return float("nan"), float("nan"), 0
    mean = sum(vals) / n
    if n == 1:
        return mean, float("nan"), 1
    var = sum((v - mean) ** 2 for v in vals) / (n - 1)
    return mean, math.sqrt(var / n), n


def paired(a: Sequence[float], b: Sequence[float]) -> tuple[float, float, int, int]:
    """Mean ± SE of a - b over paired items, and how often a < b."""
    diffs = [x - y for x, y in zip(a, b)]
    mean, se, n = mean_se(diffs)
    return mean, se, n, sum(d < 0 for d in diffs)


def pearson(x: Sequence[float], y: Sequence[float]) -> float:
    n = len(x)
    if n < 3:
        return float("nan")
    mx, my = sum(x) / n, sum(y) / n
    sxy = sum((a - mx) * (b - my) for a, b in zip(x, y))
    sxx = sum((a - mx) ** 2 for a in x)
    syy = sum((b - my) ** 2 for b in y)
    return sxy / math.sqrt(sxx * syy) if sxx and syy else float("nan")


def fmt(mean: float, se: float, digits: int = 3) -> str:
    if math.isnan(mean):
        return "–"
    return f"{mean:.{digits}f} ± {se:.{digits}f}" if not math.isnan(se) else f"{mean:.{digits}f}"
