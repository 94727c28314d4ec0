"""Data selection for test-time learning: SIFT and the baselines it is compared with.

Hübotter, Bongni, Hakimi, Krause. "Efficiently Learning at Test-Time: Active Fine-Tuning of LLMs".
ICLR 2025 (arXiv:2410.08020). The kernel is the inner product of the given embeddings,
k(x, x') = <x, x'>; the caller normalises, and nothing here renormalises. After observing the
multiset X, each observation with noise ``lam``, the posterior variance of the prompt x* is

    sigma^2_X(x*) = k(x*, x*) - k_X(x*)^T (K_XX + lam I)^-1 k_X(x*).

| method        | next pick                                 | repeats | relevant to x* | avoids redundancy |
|---------------|-------------------------------------------|---------|----------------|-------------------|
| `sift`        | argmin_x sigma^2_{X+x}(x*)                | yes     | yes            | yes               |
| `nn`          | next of the top-n by <x*, x>              | no      | yes            | no                |
| `nn-f`        | argmax_x <x*, x>, every step              | yes     | yes            | no                |
| `uncertainty` | argmax_x sigma^2_X(x)  (ignores x*)       | yes     | no             | yes               |
| `random`      | uniform without replacement, seeded       | no      | no             | no                |

Every method reports the same numbers: the posterior variance of x* after each of its picks, under
the same kernel and ``lam``, so the methods can be compared on equal terms.

Cost. The posterior is updated one observation at a time (a rank-1 Cholesky update): observing x_j
adds the row u = k_n(., x_j) / sqrt(sigma^2_n(x_j) + lam) to a low-rank factor U, and

    k_n(x*, x_i)    -= u_i k_n(x*, x_j) / sqrt(sigma^2_n(x_j) + lam)
    sigma^2_n(x_i)  -= u_i^2
    sigma^2_n(x*)   -= k_n(x*, x_j)^2 / (sigma^2_n(x_j) + lam)

where k_n(., x_j) = X x_j - U^T U[:, j] needs one kernel column (X x_j, O(K d)) and one product
with the factor (O(K n)). A step costs O(K (d + n)) instead of a fresh O(n^3) solve per candidate,
and the K x K Gram matrix is never formed. The recursion runs in float64; kernel values are computed
in the input's precision (float32 embeddings give float32 inner products). Methods whose order is
known in advance (`nn`, `nn-f`, `random`) run the same recursion over their own picks only, so
their honest variances cost O(n^2 d), independent of K. At large K the n kernel columns (n passes
over the K x d matrix) dominate. Batching guessed columns into one matrix-matrix product does not
pay: SIFT's later picks lie anywhere in the similarity ranking (on clustered data with K = 10,000,
most of 50 picks ranked below 9,900 by <x*, x>).

Adaptive stop (``stop=t``, the config default is t = 0.01): SIFT stops before a pick that would
lower sigma^2(x*) by less than ``t * prior``, so every pick it keeps (after the first, which is
always made) cut the variance by at least t * prior; a pick that would not is never spent. That is
the rule "stop once the last pick reduced the variance by less than t * prior" with that last,
useless pick dropped, and it is the rule `evaluate.adaptive_curve` replays from the variances. It is
relative to the prior because the authors' `activeft` rule (alpha * n * sigma_n > 1) can pick
nothing for unit-norm embeddings. ``stop=None`` gives exactly ``n`` picks. The baselines ignore
``stop`` and always make their ``n`` picks (``min(n, K)`` without repeats): their picks are not the
greatest reduction on offer, so a small reduction says nothing about the picks after it (`nn` on
duplicated data would stop after one copy and hide the failure it is there to show). Compare a
baseline with an adaptive SIFT run by giving it ``n = len(sift.indices)``.

Pure: arrays in (numpy, or torch tensors for the GPU path), plain Python results out. torch is
imported only when a tensor comes in or ``backend="torch"`` is asked for.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from assistant.config import METHODS  # noqa: E402  (declared once, with the other closed sets)
BACKENDS = ("numpy", "torch")

TIE = 1e-12  # scores this close (relative to the problem's scale) count as a tie, which goes to the lower index
# Largest BLAS call, in matrix elements. numpy's OpenBLAS threads a matrix-vector product from about
# 4.6e5 elements (1200 x 384 here), and on a busy 2-core machine a threaded call waits for a scheduler
# tick: X @ x for X of 10,000 x 384 took 8 ms threaded against 0.54 ms in blocks of this size. A
# memory-bound product gains little from a second thread, so every product here stays under it.
BLAS_BLOCK = 1 << 18


@dataclass(frozen=True)
class Selection:
    indices: list[int]  # positions into candidates, in pick order; sift, nn-f and uncertainty may repeat one
    variances: list[float]  # posterior variance of the query after each pick
    prior: float  # k(x*, x*), the variance before any pick
    similarities: list[float]  # <query, candidate> of each pick
    method: str = "sift"
    lam: float = 0.01


def reduction(sel: Selection) -> list[float]:
    """Each pick's own variance reduction as a fraction of the prior: (previous - current) / prior."""
    prev, out = sel.prior, []
    for v in sel.variances:
        out.append((prev - v) / sel.prior if sel.prior > 0 else 0.0)
        prev = v
    return out


def is_repeat(sel: Selection) -> list[bool]:
    """Whether each pick re-picks a candidate chosen earlier in the same selection."""
    seen: set[int] = set()
    flags = []
    for i in sel.indices:
        flags.append(i in seen)
        seen.add(i)
    return flags


# ---------------------------------------------------------------------------------------------------
# the methods: each pick rule with its formula. `sift` and `uncertainty` score every candidate against
# the current posterior (c = k_n(x*, .), vl = sigma^2_n(.) + lam) and pick the argmax, ties to the lower
# index; `nn`, `nn-f` and `random` fix their order from <x*, x> (or the seed) alone.


def _sift_scores(c, vl, out=None):
    """SIFT, Hübotter, Bongni, Hakimi, Krause, ICLR 2025 (arXiv:2410.08020), Algorithm 1.

        x_{n+1} = argmin_x sigma^2_{X_n + x}(x*)
        sigma^2_X(x*) = k(x*,x*) - k_X(x*)^T (K_XX + lam I)^-1 k_X(x*)

    The variance after adding x is sigma^2_n(x*) - k_n(x*, x)^2 / (sigma^2_n(x) + lam), so the pick
    maximises the score k_n(x*, x)^2 / (sigma^2_n(x) + lam), the drop it brings. Repeats are allowed:
    re-picking x still lowers sigma^2 when lam > 0, so SIFT returns to a chunk it has not yet learned
    well, while a copy of a pick brings no more than the pick itself would again.
    """
    if out is None:
        return c * c / vl
    np.multiply(c, c, out=out)
    return np.divide(out, vl, out=out)


def _uncertainty_scores(c, vl, out=None):
    """Uncertainty sampling (Lewis & Gale, SIGIR 1994), the paper's uncertainty-sampling baseline.

        x_{n+1} = argmax_x sigma^2_n(x),   sigma^2_n(x) = k(x,x) - k_X(x)^T (K_XX + lam I)^-1 k_X(x)

    The candidate the model knows least about, whatever the prompt: diverse, but blind to x*.
    Repeats are allowed (a pick stays the most uncertain only if nothing else is).
    """
    return vl  # sigma^2_n(x) + lam: the same argmax


def _nn_order(sims: np.ndarray, n: int, seed: int) -> list[int]:
    """Nearest-neighbour retrieval, the paper's NN (as in Hardt & Sun, ICLR 2024).

        X_n = the top min(n, K) of the candidates by <x*, x>, most similar first, no repeats

    Exact ties go to the lower index.
    """
    return np.argsort(-sims, kind="stable")[: min(n, len(sims))].tolist()


def _nn_f_order(sims: np.ndarray, n: int, seed: int) -> list[int]:
    """NN-F, the paper's nearest-neighbour baseline that samples with repeats allowed.

        x_{t} = argmax_x <x*, x>   for every t = 1..n

    Retrieval that may return a point again has nothing to move it off the nearest neighbour, so it
    degenerates into training on the single nearest chunk n times: the failure mode of NN when the
    data hold duplicates (n copies of the nearest chunk look exactly like this). The lower index
    wins an exact tie.
    """
    return [int(np.argmax(sims))] * n


def _random_order(sims: np.ndarray, n: int, seed: int) -> list[int]:
    """Random: min(n, K) distinct candidates, uniformly, from numpy's default_rng(seed)."""
    return np.random.default_rng(seed).permutation(len(sims))[: min(n, len(sims))].tolist()


_SCORES = {"sift": _sift_scores, "uncertainty": _uncertainty_scores}
_ORDERS = {"nn": _nn_order, "nn-f": _nn_f_order, "random": _random_order}


# ---------------------------------------------------------------------------------------------------
# input checks


def _is_torch(x: Any) -> bool:
    return type(x).__module__.split(".")[0] == "torch"


def _check_params(n: Any, method: str, lam: Any, stop: Any, seed: Any, backend: Any) -> None:
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; expected one of {', '.join(METHODS)}")
    if backend is not None and backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; expected one of {', '.join(BACKENDS)} or None")
    if not (_is_int(n) and n >= 1):
        raise ValueError(f"n must be an integer >= 1, got {n!r}")
    # every method reports variances under the same lam, so every method needs a valid one
    if not (_is_number(lam) and np.isfinite(lam) and lam > 0):
        raise ValueError(f"lam must be a finite number > 0 (the observation noise), got {lam!r}")
    if stop is not None and not (_is_number(stop) and np.isfinite(stop) and stop >= 0):
        raise ValueError(f"stop must be None or a finite number >= 0, got {stop!r}")
    if not _is_int(seed):  # None would mean fresh OS entropy: results must not depend on hidden randomness
        raise ValueError(f"seed must be an integer, got {seed!r}")


def _is_int(x: Any) -> bool:
    return not isinstance(x, bool) and isinstance(x, (int, np.integer))


def _is_number(x: Any) -> bool:
    return not isinstance(x, bool) and isinstance(x, (int, float, np.integer, np.floating))


def _check_shapes(query_shape: tuple, cand_shape: tuple) -> None:
    if len(query_shape) != 1:
        raise ValueError(f"query must be a 1-d array of shape (d,), got shape {tuple(query_shape)}")
    if len(cand_shape) != 2:
        raise ValueError(f"candidates must be a 2-d array of shape (K, d), got shape {tuple(cand_shape)}")
    if cand_shape[0] == 0:
        raise ValueError("no candidates to select from (K = 0)")
    if cand_shape[1] != query_shape[0]:
        raise ValueError(f"dimension mismatch: query has d={query_shape[0]}, candidates have d={cand_shape[1]}")


NOT_FINITE = "query and candidates must not contain NaN or inf (nor values whose inner products overflow)"


def _as_numpy(x: Any, name: str) -> np.ndarray:
    if _is_torch(x):
        x = x.detach().cpu()
        if x.is_floating_point() and x.element_size() < 4:  # float16, bfloat16: numpy has no bfloat16
            x = x.float()
        x = x.numpy()
    try:
        arr = np.asarray(x)
    except (TypeError, ValueError) as exc:  # ragged lists and the like
        raise ValueError(f"{name} must be a float array: {exc}") from None
    if arr.dtype.kind not in "fiu":
        raise ValueError(f"{name} must be a float array, got dtype {arr.dtype}")
    if arr.dtype not in (np.float32, np.float64):  # BLAS has no float16 or integer products
        arr = arr.astype(np.float32 if arr.dtype == np.float16 else np.float64)
    return arr


# ---------------------------------------------------------------------------------------------------
# numpy path


def _matvec(A: np.ndarray, x: np.ndarray, out: np.ndarray) -> np.ndarray:
    """out = A @ x in row blocks of at most BLAS_BLOCK elements (see BLAS_BLOCK)."""
    rows = max(1, BLAS_BLOCK // max(1, A.shape[1]))
    if A.shape[0] <= rows:
        return np.matmul(A, x, out=out)
    for i in range(0, A.shape[0], rows):
        np.matmul(A[i : i + rows], x, out=out[i : i + rows])
    return out


def _vecmat(w: np.ndarray, A: np.ndarray, out: np.ndarray) -> np.ndarray:
    """out = w @ A in column blocks of at most BLAS_BLOCK elements."""
    cols = max(1, BLAS_BLOCK // max(1, A.shape[0]))
    if A.shape[1] <= cols:
        return np.matmul(w, A, out=out)
    for i in range(0, A.shape[1], cols):
        np.matmul(w, A[:, i : i + cols], out=out[i : i + cols])
    return out


def _greedy_numpy(X: np.ndarray, sims: np.ndarray, sqnorms: np.ndarray, prior: float, n: int, lam: float,
                  stop: float | None, choose: str | list[int], gram: np.ndarray | None = None) -> tuple[list[int], list[float]]:  # fmt: skip
    """Run the rank-1 posterior recursion for up to ``n`` picks (see the module docstring).

    ``choose`` is "sift", "uncertainty" or a fixed order of positions. Kernel columns come from
    ``gram`` (the full Gram matrix, for small replays) or from ``X @ X[j]``. The loop body is a
    fixed sequence of in-place numpy calls: at K = 200 the per-call overhead is the cost.
    """
    K = X.shape[0]
    mul, sub = np.multiply, np.subtract
    f64 = np.float64
    c = sims.astype(f64)  # k_n(x*, x_i)
    vl = sqnorms.astype(f64) + lam  # sigma^2_n(x_i) + lam
    s = prior  # sigma^2_n(x*)
    U = np.empty((n, K))  # row t: u_t = k_{t-1}(., x_{j_t}) / sqrt(sigma^2_{t-1}(x_{j_t}) + lam)
    buf, tmp = np.empty(K), np.empty(K)
    near = np.empty(K, dtype=bool)
    kernel: dict[int, np.ndarray] = {}  # X @ x_j of each distinct pick: a repeat costs no product
    KX = np.empty((n, K), dtype=X.dtype) if gram is None else None
    one_call = K * X.shape[1] <= BLAS_BLOCK  # X @ x in a single BLAS call
    one_call_u = n * K <= BLAS_BLOCK
    # Rounding can push a posterior variance a little below 0; it matters only when that is near -lam.
    # float32 kernel values are off by up to ~1e-5 at d = 384, float64 ones by ~1e-13.
    clamp = lam < (1e-9 if X.dtype == f64 else 1e-3)
    score = _SCORES[choose] if isinstance(choose, str) else None
    order = None if isinstance(choose, str) else choose
    sift = choose == "sift"
    tol = TIE * prior  # a SIFT tie: two picks leaving sigma^2(x*) equal to TIE of the prior
    picks: list[int] = []
    variances: list[float] = []
    for t in range(n):
        if score is not None:
            g = score(c, vl, buf)
            j = int(g.argmax())
            if j:  # the lowest index within the tie tolerance of the best
                j = int(np.greater_equal(g, g[j] - (tol if sift else TIE * g[j]), out=near).argmax())
        else:
            j = order[t]
        vj, cj = float(vl[j]), float(c[j])
        gain = cj * cj / vj
        if stop is not None and sift and t > 0 and gain < stop * prior:
            break
        # u = k_n(., x_j) / sqrt(vj): the prior kernel column minus what the picks so far explain
        if gram is not None:
            kcol = gram[j]
        elif j in kernel:
            kcol = kernel[j]
        else:
            kcol = kernel[j] = KX[len(kernel)]
            if one_call:
                np.matmul(X, X[j], out=kcol)
            else:
                _matvec(X, X[j], kcol)
        u, inv = U[t], 1.0 / math.sqrt(vj)
        if t:
            if one_call_u:
                np.matmul(U[:t, j], U[:t], out=tmp)
            else:
                _vecmat(U[:t, j], U[:t], tmp)
            sub(kcol, tmp, out=u)
            mul(u, inv, out=u)
        else:
            mul(kcol, inv, out=u, dtype=f64)
        mul(u, cj * inv, out=tmp)
        sub(c, tmp, out=c)
        mul(u, u, out=tmp)
        sub(vl, tmp, out=vl)
        if clamp:
            np.maximum(vl, lam, out=vl)  # a variance is never below 0
        s = max(s - gain, 0.0)
        picks.append(j)
        variances.append(s)
    return picks, variances


def _replay_numpy(rows: np.ndarray, sims: np.ndarray, prior: float, order: list[int], lam: float) -> list[float]:
    """Honest variances for a fixed order of picks, from the picked rows alone.

    ``rows`` holds the distinct picked candidates, ``sims`` their <x*, x>, and ``order`` indexes into
    them. The posterior of x* depends on the observed points only, so this is exact, at O(n^2 d).
    """
    Xp = np.ascontiguousarray(rows, dtype=np.float64)
    gram = np.empty((len(Xp), len(Xp)))
    for i in range(len(Xp)):  # row by row: each product stays small (see BLAS_BLOCK)
        np.matmul(Xp, Xp[i], out=gram[i])
    _, variances = _greedy_numpy(Xp, sims, np.diag(gram).copy(), prior, len(order), lam, None, order, gram=gram)
    return variances


def _fixed_order(
    method: str, sims: np.ndarray, prior: float, n: int, lam: float, seed: int, rows
) -> tuple[list[int], list[float]]:
    """Picks and honest variances of the methods whose order does not depend on the posterior.

    ``rows(positions)`` returns those candidates' vectors as a numpy array.
    """
    picks = _ORDERS[method](sims, n, seed)
    distinct = list(dict.fromkeys(picks))
    local = {j: i for i, j in enumerate(distinct)}
    return picks, _replay_numpy(rows(distinct), sims[distinct], prior, [local[j] for j in picks], lam)


def _select_numpy(query, candidates, n, method, lam, stop, seed) -> Selection:
    X = np.ascontiguousarray(_as_numpy(candidates, "candidates"))
    q = _as_numpy(query, "query")
    _check_shapes(q.shape, X.shape)
    q = q.astype(X.dtype, copy=False)
    q64 = q.astype(np.float64)
    prior = float(q64 @ q64)
    if not np.isfinite(prior):
        raise ValueError(NOT_FINITE)
    with np.errstate(invalid="ignore", over="ignore"):  # reported just below, as a ValueError
        sims = _matvec(X, q, np.empty(X.shape[0], dtype=X.dtype)).astype(np.float64)
        sqnorms = np.vecdot(X, X) if hasattr(np, "vecdot") else np.einsum("ij,ij->i", X, X)
    # a NaN or inf anywhere in a row makes that row's squared norm NaN or inf: an O(K) check, not O(K d)
    if not (np.isfinite(sqnorms).all() and np.isfinite(sims).all()):
        raise ValueError(NOT_FINITE)
    if method in ("sift", "uncertainty"):
        picks, variances = _greedy_numpy(X, sims, sqnorms, prior, n, lam, stop, method)
    else:
        picks, variances = _fixed_order(method, sims, prior, n, lam, seed, lambda rows: X[rows])
    return Selection(indices=picks, variances=variances, prior=prior, similarities=[float(sims[j]) for j in picks],
                     method=method, lam=float(lam))  # fmt: skip


# ---------------------------------------------------------------------------------------------------
# torch path: the same recursion on the tensors' device, with no host sync inside the loop. float32
# kernel values follow torch's matmul precision: a process that turns on TF32 (set_float32_matmul_precision
# "high") gets ~1e-3 relative kernel error on the GPU, so pass float64 tensors there.


def _select_torch(query, candidates, n, method, lam, stop, seed) -> Selection:
    import torch

    X = candidates if _is_torch(candidates) else torch.from_numpy(_as_numpy(candidates, "candidates"))
    q = query if _is_torch(query) else torch.from_numpy(_as_numpy(query, "query"))
    _check_shapes(tuple(q.shape), tuple(X.shape))
    for name, tensor in (("query", q), ("candidates", X)):
        if not (tensor.is_floating_point() or tensor.dtype in (torch.int32, torch.int64)):
            raise ValueError(f"{name} must be a float tensor, got dtype {tensor.dtype}")
    X = X.detach()
    if X.dtype not in (torch.float32, torch.float64):
        X = X.to(torch.float32 if X.is_floating_point() else torch.float64)
    X = X.contiguous()
    q = q.detach().to(device=X.device, dtype=X.dtype)
    f64 = torch.float64
    q64 = q.to(f64)
    sims = (X @ q).to(f64)
    sqnorms = (X * X).sum(1).to(f64)
    prior_t = q64 @ q64
    if not bool(torch.isfinite(prior_t) & torch.isfinite(sqnorms).all() & torch.isfinite(sims).all()):
        raise ValueError(NOT_FINITE)
    prior = float(prior_t)
    if method not in ("sift", "uncertainty"):
        sims_np = sims.cpu().numpy()

        def rows(positions: list[int]) -> np.ndarray:
            return X[torch.tensor(positions, device=X.device)].cpu().numpy()

        picks, variances = _fixed_order(method, sims_np, prior, n, lam, seed, rows)
        return Selection(indices=picks, variances=variances, prior=prior, similarities=[float(sims_np[j]) for j in picks],
                         method=method, lam=float(lam))  # fmt: skip
    K, dev = X.shape[0], X.device
    clamp = lam < (1e-9 if X.dtype == f64 else 1e-3)  # as in _greedy_numpy
    c = sims.clone()
    vl = sqnorms + lam
    s = prior_t.clone()
    U = torch.empty((n, K), dtype=f64, device=dev)
    picks_t = torch.empty(n, dtype=torch.long, device=dev)
    var_t = torch.empty(n, dtype=f64, device=dev)
    gain_t = torch.empty(n, dtype=f64, device=dev)
    for t in range(n):
        g = _SCORES[method](c, vl)
        best = g.max()
        # the lowest index within the tie tolerance of the best (torch.argmax returns the first maximum)
        j = torch.argmax((g >= best - (TIE * prior if method == "sift" else TIE * best)).to(torch.uint8)).view(1)
        kcol = (X @ X.index_select(0, j)[0]).to(f64)
        if t:
            kcol = kcol - U[:t].index_select(1, j)[:, 0] @ U[:t]
        vj, cj = vl.index_select(0, j)[0], c.index_select(0, j)[0]
        inv = vj.rsqrt()
        u = kcol * inv
        U[t] = u
        c -= u * (cj * inv)
        vl -= u * u
        if clamp:
            vl.clamp_(min=lam)
        gain = cj * cj / vj
        s = (s - gain).clamp(min=0.0)
        picks_t[t], var_t[t], gain_t[t] = j[0], s, gain
    picks, variances, gains = picks_t.tolist(), var_t.tolist(), gain_t.tolist()
    if stop is not None and method == "sift":  # the same rule as the numpy path, applied after the loop
        keep = next((t for t in range(1, n) if gains[t] < stop * prior), n)
        picks, variances = picks[:keep], variances[:keep]
    sims_sel = sims[torch.tensor(picks, device=dev)].tolist()
    return Selection(indices=picks, variances=variances, prior=prior, similarities=[float(v) for v in sims_sel],
                     method=method, lam=float(lam))  # fmt: skip


# ---------------------------------------------------------------------------------------------------


def select(query, candidates, n: int, *, method: str = "sift", lam: float = 0.01, stop: float | None = None,
           seed: int = 0, backend: str | None = None) -> Selection:  # fmt: skip
    """Pick up to ``n`` of ``candidates`` (K, d) to learn about ``query`` (d,) at test time.

    ``method``: "sift" (default), "nn", "nn-f", "uncertainty" or "random"; the module docstring compares
    them and each one's rule, formula and reference is in `_sift_scores`, `_nn_order`, `_nn_f_order`,
    `_uncertainty_scores` and `_random_order`. ``lam`` (> 0): the observation noise of the posterior,
    used by every method's variances. ``stop``: SIFT's adaptive threshold as a fraction of the prior
    variance (None: exactly ``n`` picks; the baselines ignore it; see the module docstring).
    ``seed``: an integer; drives "random" only. ``backend``: None runs torch tensors that live on a
    GPU with torch and everything else with numpy (CPU tensors are read without a copy); "numpy" or
    "torch" forces one.

    Raises ValueError for: an unknown method or backend, n < 1, lam <= 0, a negative stop, a seed
    that is not an integer, a query that is not (d,) or candidates that are not (K, d) with K >= 1
    and the same d, non-numeric arrays, and NaN or inf anywhere.
    """
    _check_params(n, method, lam, stop, seed, backend)
    n, lam = int(n), float(lam)
    use_torch = backend == "torch" or (
        backend is None and _is_torch(candidates) and getattr(candidates, "device", None) is not None
        and candidates.device.type != "cpu"
    )  # fmt: skip
    if use_torch:
        return _select_torch(query, candidates, n, method, lam, stop, seed)
    return _select_numpy(query, candidates, n, method, lam, stop, seed)
