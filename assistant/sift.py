"""Data selection for test-time learning: SIFT and the baselines it is compared with.

Hübotter, Bongni, Hakimi, Krause. "Efficiently Learning at Test-Time: Active Fine-Tuning of LLMs".
ICLR 2025. The kernel is the inner product of the given embeddings, k(x, x') = <x, x'>; the caller
normalises. After observing the multiset X (each observation with noise ``lam``), the posterior
variance of the prompt x* is

    sigma^2_X(x*) = k(x*, x*) - k_X(x*)^T (K_XX + lam I)^-1 k_X(x*).

| method        | picks                                        | repeats | aware of redundancy |
|---------------|----------------------------------------------|---------|---------------------|
| `sift`        | argmin_x sigma^2_{X+x}(x*)                   | yes     | yes                 |
| `nn`          | top-n by <x*, x>                             | no      | no                  |
| `nn-f`        | argmax_x <x*, x>, every step                 | yes     | no                  |
| `uncertainty` | argmax_x sigma^2_X(x)  (ignores x*)          | yes     | yes, but not of x*  |
| `random`      | uniform without replacement, seeded          | no      | no                  |

Every method reports the same quantity, the posterior variance of x* after each pick, so the
methods can be compared on equal terms. All of them update the posterior incrementally: picking
x_j adds the column u = k_n(., x_j) / sqrt(sigma^2_n(x_j) + lam) to a low-rank factor, which costs
O(K (d + n)) per pick instead of a fresh O(n^3) solve.

Adaptive stop (``stop=t``): before each pick after the first, stop when the pick would lower the
variance of x* by less than ``t * prior``. The default in the config is t = 0.01. At least one pick
is always made. ``stop=None`` returns exactly ``n`` picks (or K for the methods without repeats).

Pure: arrays in (numpy, or torch tensors for the GPU path), plain Python results out.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

METHODS = ("sift", "nn", "nn-f", "uncertainty", "random")


@dataclass(frozen=True)
class Selection:
    indices: list[int]  # positions into candidates, in pick order
    variances: list[float]  # posterior variance of the query after each pick
    prior: float  # k(x*, x*)
    similarities: list[float]  # <query, candidate> of each pick
    method: str = "sift"
    lam: float = 0.01


def reduction(sel: Selection) -> list[float]:
    """Each pick's own variance reduction, as a fraction of the prior."""
    prev, out = sel.prior, []
    for v in sel.variances:
        out.append((prev - v) / sel.prior if sel.prior else 0.0)
        prev = v
    return out


def is_repeat(sel: Selection) -> list[bool]:
    seen: set[int] = set()
    flags = []
    for i in sel.indices:
        flags.append(i in seen)
        seen.add(i)
    return flags


def _is_torch(x: Any) -> bool:
    return type(x).__module__.startswith("torch")


def _validate(query, candidates, n: int, method: str, lam: float) -> None:
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; expected one of {', '.join(METHODS)}")
    if getattr(query, "ndim", None) != 1:
        raise ValueError("query must be a 1-d array of shape (d,)")
    if getattr(candidates, "ndim", None) != 2:
        raise ValueError("candidates must be a 2-d array of shape (K, d)")
    if candidates.shape[0] == 0:
        raise ValueError("no candidates to select from (K = 0)")
    if candidates.shape[1] != query.shape[0]:
        raise ValueError(f"dimension mismatch: query has d={query.shape[0]}, candidates have d={candidates.shape[1]}")
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n must be an integer >= 1, got {n!r}")
    if not (lam > 0 and np.isfinite(lam)):
        raise ValueError(f"lam must be a positive finite number, got {lam!r}")
    finite = (
        bool(query.isfinite().all() and candidates.isfinite().all())
        if _is_torch(query)
        else bool(np.isfinite(query).all() and np.isfinite(candidates).all())
    )
    if not finite:
        raise ValueError("query and candidates must not contain NaN or inf")


class _Posterior:
    """Gaussian-process posterior over the candidates and the query, updated one observation at a time."""

    def __init__(self, query, candidates, capacity: int, lam: float):
        self.torch = _is_torch(candidates)
        if self.torch:
            import torch

            self.X = candidates
            self.q = query.to(candidates.dtype)
            wide = torch.float64
            self.sims = (self.X @ self.q).to(wide)
            self.v = (self.X * self.X).sum(1).to(wide)  # sigma^2_n(x_i)
            self.U = torch.zeros((candidates.shape[0], capacity), dtype=wide, device=candidates.device)
            self.prior = float((self.q.to(wide) @ self.q.to(wide)))
        else:
            self.X = np.asarray(candidates)
            if self.X.dtype not in (np.float32, np.float64):
                self.X = self.X.astype(np.float64)
            self.q = np.asarray(query, dtype=self.X.dtype)
            self.sims = (self.X @ self.q).astype(np.float64)
            self.v = np.einsum("ij,ij->i", self.X, self.X, dtype=np.float64)
            self.U = np.zeros((candidates.shape[0], capacity), dtype=np.float64)
            self.prior = float(np.dot(self.q.astype(np.float64), self.q.astype(np.float64)))
        self.c = self.sims.clone() if self.torch else self.sims.copy()  # k_n(x*, x_i)
        self.s = self.prior  # sigma^2_n(x*)
        self.lam = lam
        self.t = 0

    def variance_after(self):
        """sigma^2_{n+1}(x*) if each candidate were observed next."""
        return self.s - self.c * self.c / (self.v + self.lam)

    def observe(self, j: int) -> float:
        col = self.X @ self.X[j]
        col = col.to(self.U.dtype) if self.torch else col.astype(np.float64)
        if self.t:
            col = col - self.U[:, : self.t] @ self.U[j, : self.t]
        denom = float(self.v[j]) + self.lam
        cj = float(self.c[j])
        u = col / denom**0.5
        self.U[:, self.t] = u
        self.t += 1
        self.c = self.c - col * (cj / denom)
        self.v = self.v - u * u
        self.s = max(self.s - cj * cj / denom, 0.0)
        return self.s


TIE = 1e-12  # relative: values this close count as a tie, which goes to the lower index


def _argmin(x) -> int:
    best = float(x.min())
    hits = (x <= best + TIE * max(1.0, abs(best))).nonzero()
    return int(hits[0][0])


def _argmax(x) -> int:
    best = float(x.max())
    hits = (x >= best - TIE * max(1.0, abs(best))).nonzero()
    return int(hits[0][0])


def select(query, candidates, n: int, *, method: str = "sift", lam: float = 0.01, stop: float | None = None,
           seed: int = 0) -> Selection:  # fmt: skip
    """Pick up to ``n`` candidates for the prompt ``query`` (see the module docstring for each method)."""
    _validate(query, candidates, n, method, lam)
    K = int(candidates.shape[0])
    steps = n if method in ("sift", "nn-f", "uncertainty") else min(n, K)
    post = _Posterior(query, candidates, steps, lam)
    order: list[int] | None = None
    if method == "nn":
        sims = post.sims.cpu().numpy() if post.torch else post.sims
        order = np.argsort(-sims, kind="stable")[:steps].tolist()
    elif method == "random":
        order = np.random.default_rng(seed).permutation(K)[:steps].tolist()
    indices: list[int] = []
    variances: list[float] = []
    for t in range(steps):
        if method == "sift":
            after = post.variance_after()
            j = _argmin(after)
        elif method == "uncertainty":
            j = _argmax(post.v)
        elif method == "nn-f":
            j = _argmax(post.sims)
        else:
            j = order[t]
        if stop is not None and t > 0:
            gain = float(post.c[j] * post.c[j] / (post.v[j] + lam))  # predicted drop in sigma^2(x*)
            if gain < stop * post.prior:
                break
        variances.append(post.observe(j))
        indices.append(j)
    return Selection(indices=indices, variances=variances, prior=post.prior,
                     similarities=[float(post.sims[j]) for j in indices], method=method, lam=lam)  # fmt: skip
