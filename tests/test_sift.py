"""SIFT and its baselines: against a brute-force reference, and on the cases that matter."""

from __future__ import annotations

import ast
import dataclasses
import inspect
import itertools
import subprocess
import sys

import numpy as np
import pytest

from assistant.selection import sift
from assistant.selection.sift import METHODS, Selection, is_repeat, reduction, select


def unit(rng, k, d, dtype=np.float64):
    x = rng.standard_normal((k, d))
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(dtype)


def first_min(v, rel=1e-12):
    """The lowest index whose value is within rel of the minimum (the reference's tie rule)."""
    best = v.min()
    return int(np.flatnonzero(v <= best + rel * max(1.0, abs(best)))[0])


def posterior_variance(q, X, picks, lam):
    """sigma^2_X(x*) for the multiset ``picks``, by a fresh linear solve."""
    if not picks:
        return float(q @ q)
    S = X[picks]
    k = S @ q
    return float(q @ q - k @ np.linalg.solve(S @ S.T + lam * np.eye(len(picks)), k))


def brute_force(q, X, n, lam):
    """Greedy SIFT with a fresh linear solve of (K_XX + lam I) for every candidate at every step.

    The K solves of a step are batched into one np.linalg.solve call; each is still a fresh solve.
    """
    G, k, K = X @ X.T, X @ q, len(X)
    picks, variances = [], []
    for t in range(n):
        idx = np.array([picks + [i] for i in range(K)])  # (K, t+1): the multiset with candidate i added
        A = G[idx[:, :, None], idx[:, None, :]] + lam * np.eye(t + 1)
        b = k[idx]
        v = q @ q - np.einsum("ki,ki->k", b, np.linalg.solve(A, b[..., None])[..., 0])
        i = first_min(v)
        picks.append(i)
        variances.append(float(v[i]))
    return picks, variances


def random_problem(seed):
    """Moderate random sizes and a mix of query shapes and candidate norms."""
    rng = np.random.default_rng(seed)
    K, d, n = int(rng.integers(2, 120)), int(rng.integers(2, 64)), int(rng.integers(1, 21))
    X = unit(rng, K, d)
    if seed % 3 == 1:
        X *= rng.uniform(0.5, 1.5, size=(K, 1))  # the kernel is the raw inner product; nothing renormalises
    if seed % 2:
        q = X[rng.choice(K, size=min(K, 3), replace=False)].mean(0)  # near a few candidates: repeats pay
        q /= np.linalg.norm(q)
    else:
        q = unit(rng, 1, d)[0]
    return q, X, n


# --- agreement with the brute-force reference -----------------------------------------------------


@pytest.mark.parametrize("lam", [1e-4, 1e-2, 1.0])
@pytest.mark.parametrize("seed", range(40))
def test_matches_brute_force(seed, lam):
    q, X, n = random_problem(seed)
    sel = select(q, X, n, lam=lam)
    picks, variances = brute_force(q, X, n, lam)
    assert sel.indices == picks
    np.testing.assert_allclose(sel.variances, variances, rtol=1e-6, atol=1e-12)


@pytest.mark.parametrize("query", ["near five candidates", "random"])
@pytest.mark.parametrize("lam", [1e-4, 1e-2, 1.0])
def test_matches_brute_force_at_full_size(lam, query):
    rng = np.random.default_rng(99)
    X = unit(rng, 300, 384)
    q = X[:5].mean(0) + 0.05 * unit(rng, 1, 384)[0] if query == "near five candidates" else unit(rng, 1, 384)[0]
    q /= np.linalg.norm(q)
    sel = select(q, X, 50, lam=lam)
    picks, variances = brute_force(q, X, 50, lam)
    assert sel.indices == picks
    np.testing.assert_allclose(sel.variances, variances, rtol=1e-6, atol=1e-12)


def test_chunked_products_give_the_same_result(monkeypatch):
    rng = np.random.default_rng(7)
    X = unit(rng, 500, 64)
    q = X[:4].mean(0)
    default = {m: select(q, X, 30, method=m) for m in METHODS}
    monkeypatch.setattr(sift, "BLAS_BLOCK", 1000)  # X @ x in 32 blocks, U products in blocks of columns
    for m in METHODS:
        small = select(q, X, 30, method=m)
        assert small.indices == default[m].indices, m
        np.testing.assert_allclose(small.variances, default[m].variances, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("method", METHODS)
def test_every_method_reports_honest_variances(method):
    q, X, n = random_problem(5)
    X = np.concatenate([X, X[:3]])  # some exact copies too
    sel = select(q, X, n + 10, method=method, lam=0.05, seed=3)
    expected = [posterior_variance(q, X, sel.indices[: t + 1], 0.05) for t in range(len(sel.indices))]
    np.testing.assert_allclose(sel.variances, expected, rtol=1e-8, atol=1e-12)
    assert sel.prior == pytest.approx(q @ q)
    np.testing.assert_allclose(sel.similarities, X[sel.indices] @ q, rtol=1e-12)


# --- the behaviour the method exists for -----------------------------------------------------------


@pytest.mark.parametrize("layout", ["copies adjacent", "copies interleaved"])
def test_duplicates_sift_skips_copies_nn_does_not(layout):
    rng = np.random.default_rng(0)
    distinct = unit(rng, 5, 64)
    X = np.repeat(distinct, 10, axis=0) if layout == "copies adjacent" else np.tile(distinct, (10, 1))
    which = (lambda i: i // 10) if layout == "copies adjacent" else (lambda i: i % 5)
    q = distinct.sum(0) + 0.1 * unit(rng, 1, 64)[0]
    q /= np.linalg.norm(q)
    nn = select(q, X, 5, method="nn", lam=0.01)
    sift_sel = select(q, X, 5, method="sift", lam=0.01)
    assert len({which(i) for i in nn.indices}) == 1, "nn spends all its picks on copies of one vector"
    assert len({which(i) for i in sift_sel.indices}) == 5, "sift reaches all 5 distinct vectors first"
    assert sift_sel.variances[-1] < nn.variances[-1]
    assert sift_sel.variances[-1] < 0.5 * nn.variances[-1]  # and not by a hair


def test_repicking_happens_when_it_is_the_best_move():
    e = np.eye(3)
    q = 0.9 * e[0] + 0.1 * e[1]
    q /= np.linalg.norm(q)
    sel = select(q, e, 4, lam=0.1)
    # after one look at e0, a second look at e0 cuts sigma^2(x*) more (0.035) than e1 would (0.009)
    assert sel.indices[:2] == [0, 0]
    assert is_repeat(sel)[:2] == [False, True]
    assert sel.indices == brute_force(q, e, 4, 0.1)[0]
    # one candidate, the query itself: each re-pick still lowers the variance, to lam / (m + lam)
    one = select(e[0], e[:1], 5, lam=0.1)
    assert one.indices == [0] * 5
    np.testing.assert_allclose(one.variances, [0.1 / (m + 0.1) for m in range(1, 6)], rtol=1e-12)


def test_sift_uses_anticorrelated_candidates_nn_does_not():
    rng = np.random.default_rng(11)
    q = unit(rng, 1, 16)[0]
    X = np.stack([-q, 0.6 * q + 0.8 * unit(rng, 1, 16)[0]])  # -q tells as much about x* as q would
    assert select(q, X, 1).indices == [0]
    assert select(q, X, 1, method="nn").indices == [1]
    assert select(q, X, 1, method="nn-f").indices == [1]


@pytest.mark.parametrize("method", METHODS)
def test_variances_never_increase(method):
    rng = np.random.default_rng(12)
    X = unit(rng, 80, 32)
    q = X[:3].mean(0)
    sel = select(q, X, 40, method=method, lam=0.01, seed=1)
    v = [sel.prior, *sel.variances]
    assert all(b <= a + 1e-12 for a, b in itertools.pairwise(v))
    assert min(sel.variances) >= 0.0
    assert all(r >= -1e-12 for r in reduction(sel))


@pytest.mark.parametrize("method", METHODS)
def test_degenerate_inputs_are_well_defined(method):
    rng = np.random.default_rng(2)
    base = unit(rng, 1, 8)[0]
    cases = {
        "K = 1, n > K": (unit(rng, 1, 8)[0], unit(rng, 1, 8)),
        "collinear": (base, np.stack([base, 2 * base, -base, base + 1e-9])),
        "near duplicates": (None, np.repeat(unit(rng, 4, 32), 5, axis=0) + 1e-7 * rng.standard_normal((20, 32))),
        "zero query": (np.zeros(8), unit(rng, 6, 8)),
        "zero candidates": (base, np.zeros((3, 8))),
    }
    for name, (q, X) in cases.items():
        q = X[0] if q is None else q
        for lam in (1e-8, 1e-2):
            for dtype in (np.float64, np.float32):
                sel = select(q.astype(dtype), X.astype(dtype), 10, method=method, lam=lam)
                assert np.all(np.isfinite(sel.variances)), (name, lam, dtype)
                assert all(0.0 <= v <= sel.prior + 1e-6 for v in sel.variances), (name, lam, dtype)
                assert all(0 <= i < len(X) for i in sel.indices)
                expected = min(10, len(X)) if method in ("nn", "random") else 10
                assert len(sel.indices) == expected, (name, lam, dtype)
    if method == "sift":
        assert select(base, unit(rng, 1, 8), 3).indices == [0, 0, 0]


def test_float32_gives_the_same_picks_as_float64():
    rng = np.random.default_rng(3)
    X = unit(rng, 200, 384)
    q = X[:3].mean(0)
    q /= np.linalg.norm(q)
    for lam in (1.0, 0.1):
        a = select(q, X, 16, lam=lam)
        b = select(q.astype(np.float32), X.astype(np.float32), 16, lam=lam)
        assert a.indices == b.indices
        np.testing.assert_allclose(a.variances, b.variances, rtol=1e-4)


def test_integer_and_list_inputs_are_accepted():
    X = [[1, 0, 0], [0, 1, 0], [1, 1, 0]]
    a = select([1, 0, 0], X, 2, lam=0.1)
    b = select(np.array([1.0, 0, 0]), np.array(X, dtype=float), 2, lam=0.1)
    assert a == b


# --- baselines ---------------------------------------------------------------------------------------


def test_nn_is_top_n_by_inner_product():
    rng = np.random.default_rng(6)
    X = unit(rng, 50, 16)
    q = unit(rng, 1, 16)[0]
    sims = X @ q
    assert select(q, X, 5, method="nn").indices == np.argsort(-sims)[:5].tolist()
    assert sorted(select(q, X, 80, method="nn").indices) == list(range(50))  # n > K: each candidate once
    copies = np.repeat(X[:3], 2, axis=0)  # exact ties go to the lower index
    assert select(q, copies, 6, method="nn").indices == np.argsort(-(copies @ q), kind="stable").tolist()


def test_nn_f_repeats_the_nearest():
    rng = np.random.default_rng(6)
    X = unit(rng, 50, 16)
    q = unit(rng, 1, 16)[0]
    sel = select(q, X, 7, method="nn-f")
    assert sel.indices == [int(np.argmax(X @ q))] * 7
    assert is_repeat(sel) == [False] + [True] * 6
    assert select(q, np.repeat(X, 2, axis=0), 3, method="nn-f").indices == [2 * int(np.argmax(X @ q))] * 3


def test_uncertainty_picks_the_max_variance_point():
    rng = np.random.default_rng(8)
    X = unit(rng, 40, 8) * rng.uniform(0.5, 1.5, size=(40, 1))
    q = unit(rng, 1, 8)[0]
    sel = select(q, X, 12, method="uncertainty", lam=0.1)
    for t, j in enumerate(sel.indices):
        P = sel.indices[:t]
        if P:
            S = X[P]
            var = np.einsum("ij,ij->i", X, X) - np.einsum(
                "ij,ji->i", X @ S.T, np.linalg.solve(S @ S.T + 0.1 * np.eye(len(P)), S @ X.T)
            )
        else:
            var = np.einsum("ij,ij->i", X, X)
        assert j == first_min(-var), t
    units = unit(rng, 10, 8)
    assert select(q, units, 1, method="uncertainty").indices == [0]  # unit vectors: a tie, the lowest index


def test_random_is_deterministic_for_a_seed():
    rng = np.random.default_rng(6)
    X = unit(rng, 50, 16)
    q = unit(rng, 1, 16)[0]
    r1, r2 = select(q, X, 10, method="random", seed=7), select(q, X, 10, method="random", seed=7)
    assert r1.indices == r2.indices and len(set(r1.indices)) == 10
    assert select(q, X, 10, method="random", seed=8).indices != r1.indices
    assert select(-q, X, 10, method="random", seed=7).indices == r1.indices  # the query plays no part
    assert sorted(select(q, X, 99, method="random").indices) == list(range(50))


# --- adaptive stop -----------------------------------------------------------------------------------


def test_adaptive_stop():
    rng = np.random.default_rng(5)
    X = unit(rng, 100, 32)
    q = X[:4].mean(0)
    q /= np.linalg.norm(q)
    full = select(q, X, 30, lam=0.01, stop=None)
    assert len(full.indices) == 30
    assert select(q, X, 30, lam=0.01, stop=0.0).indices == full.indices
    for t in (0.003, 0.01, 0.05):
        few = select(q, X, 30, lam=0.01, stop=t)
        m = len(few.indices)
        assert 1 <= m <= 30 and few.indices == full.indices[:m] and few.variances == full.variances[:m]
        cuts = reduction(full)
        assert all(c >= t for c in cuts[1:m]), "every kept pick after the first cut at least t * prior"
        assert m == 30 or cuts[m] < t, "the pick not made would have cut less than t * prior"
    assert 1 <= len(select(q, X, 30, lam=0.01, stop=0.05).indices) < 30
    assert len(select(q, X, 30, lam=0.01, stop=10.0).indices) == 1  # always at least one pick


def test_adaptive_stop_matches_the_evaluation_replay():
    from assistant.eval.report import adaptive_curve

    rng = np.random.default_rng(13)
    X = unit(rng, 120, 24)
    q = X[:5].mean(0)
    q /= np.linalg.norm(q)
    full = select(q, X, 40, lam=0.01)
    row = {"prior": full.prior, "variances": full.variances, "curve": {str(s): float(s) for s in range(41)}}
    for point in adaptive_curve([row]):
        assert point["steps"] == len(select(q, X, 40, lam=0.01, stop=point["stop"]).indices), point


@pytest.mark.parametrize("method", ["nn", "nn-f", "uncertainty", "random"])
def test_baselines_ignore_stop(method):
    rng = np.random.default_rng(5)
    X = np.repeat(unit(rng, 10, 16), 3, axis=0)
    q = X[0]
    assert select(q, X, 12, method=method, stop=0.5).indices == select(q, X, 12, method=method).indices


# --- torch path --------------------------------------------------------------------------------------


def torch_cases():
    for seed in range(4):
        q, X, n = random_problem(seed)
        for lam in (1e-4, 1e-2, 1.0):
            yield seed, q, X, n, lam


@pytest.mark.parametrize("method", METHODS)
def test_torch_path_equals_numpy_path(method):
    torch = pytest.importorskip("torch")
    for seed, q, X, n, lam in torch_cases():
        for stop in (None, 0.01):
            a = select(q, X, n + 5, method=method, lam=lam, stop=stop, seed=seed)
            b = select(torch.from_numpy(q), torch.from_numpy(X), n + 5, method=method, lam=lam, stop=stop,
                       seed=seed, backend="torch")  # fmt: skip
            assert a.indices == b.indices, (seed, lam, stop)
            np.testing.assert_allclose(a.variances, b.variances, rtol=1e-9, atol=1e-14)
            np.testing.assert_allclose(a.similarities, b.similarities, rtol=1e-12)
            assert a.prior == pytest.approx(b.prior, rel=1e-12)


def test_torch_float32_and_mixed_inputs():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    X = unit(rng, 200, 64, np.float32)
    q = X[:3].mean(0)
    a = select(q, X, 16, lam=0.1)
    b = select(torch.from_numpy(q), torch.from_numpy(X), 16, lam=0.1, backend="torch")
    c = select(q, torch.from_numpy(X), 16, lam=0.1, backend="torch")  # numpy query, tensor candidates
    assert a.indices == b.indices == c.indices
    np.testing.assert_allclose(a.variances, b.variances, rtol=1e-5)


def test_cpu_tensors_take_the_numpy_path(monkeypatch):
    torch = pytest.importorskip("torch")

    def refuse(*args, **kwargs):
        raise AssertionError("CPU tensors should not take the torch path unless asked")

    monkeypatch.setattr(sift, "_select_torch", refuse)
    rng = np.random.default_rng(4)
    X = unit(rng, 30, 8)
    q = X[0]
    Xt = torch.from_numpy(X).requires_grad_(True)
    assert select(torch.from_numpy(q), Xt, 5).indices == select(q, X, 5).indices


def test_cuda_path_equals_numpy_path():
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    rng = np.random.default_rng(10)
    X = unit(rng, 1000, 384)
    q = X[:4].mean(0)
    for method in METHODS:
        a = select(q, X, 30, method=method, lam=0.01)
        b = select(torch.from_numpy(q).cuda(), torch.from_numpy(X).cuda(), 30, method=method, lam=0.01)
        assert a.indices == b.indices, method
        np.testing.assert_allclose(a.variances, b.variances, rtol=1e-9, atol=1e-14)
    a32 = select(q.astype(np.float32), X.astype(np.float32), 16, lam=1.0)
    b32 = select(torch.from_numpy(q).float().cuda(), torch.from_numpy(X).float().cuda(), 16, lam=1.0)
    assert a32.indices == b32.indices


# --- input validation and hygiene --------------------------------------------------------------------


@pytest.mark.parametrize(
    "args, kwargs, message",
    [
        ((np.array([np.nan, 0.0]), np.eye(2), 1), {}, "NaN"),
        ((np.ones(2), np.array([[np.inf, 0.0], [0.0, 1.0]]), 1), {}, "NaN or inf"),
        ((np.ones(2), np.array([[0.0, 1.0], [np.nan, 0.0]]), 1), {}, "NaN or inf"),
        ((np.array([np.inf, 0.0]), np.eye(2), 1), {}, "NaN or inf"),
        ((np.ones(3), np.eye(2), 1), {}, "dimension mismatch"),
        ((np.ones(2), np.zeros((0, 2)), 1), {}, "K = 0"),
        ((np.ones((1, 2)), np.eye(2), 1), {}, "query must be a 1-d"),
        ((np.ones(2), np.ones(2), 1), {}, "candidates must be a 2-d"),
        ((np.ones(2), np.ones((1, 1, 2)), 1), {}, "candidates must be a 2-d"),
        ((np.ones(2), np.eye(2), 0), {}, "n must be"),
        ((np.ones(2), np.eye(2), -3), {}, "n must be"),
        ((np.ones(2), np.eye(2), 2.5), {}, "n must be"),
        ((np.ones(2), np.eye(2), True), {}, "n must be"),
        ((np.ones(2), np.eye(2), 1), {"method": "best"}, "unknown method"),
        ((np.ones(2), np.eye(2), 1), {"backend": "jax"}, "unknown backend"),
        ((np.ones(2), np.eye(2), 1), {"lam": 0.0}, "lam"),
        ((np.ones(2), np.eye(2), 1), {"lam": -1.0}, "lam"),
        ((np.ones(2), np.eye(2), 1), {"lam": float("nan")}, "lam"),
        ((np.ones(2), np.eye(2), 1), {"lam": float("inf")}, "lam"),
        ((np.ones(2), np.eye(2), 1), {"method": "uncertainty", "lam": 0.0}, "lam"),
        ((np.ones(2), np.eye(2), 1), {"stop": -0.1}, "stop"),
        ((np.ones(2), np.eye(2), 1), {"stop": float("nan")}, "stop"),
        ((np.ones(2), np.eye(2), 1), {"seed": None}, "seed"),
        ((np.ones(2), np.eye(2), 1), {"seed": 1.5}, "seed"),
        ((np.array(["a", "b"]), np.eye(2), 1), {}, "float array"),
        ((np.ones(2), [[1.0, 2.0], [3.0]], 1), {}, "float array"),
    ],
)
def test_bad_input_raises_value_error(args, kwargs, message):
    with pytest.raises(ValueError, match=message):
        select(*args, **kwargs)


def test_bad_tensor_input_raises_value_error():
    torch = pytest.importorskip("torch")
    with pytest.raises(ValueError, match="NaN or inf"):
        select(torch.tensor([float("nan"), 0.0]), torch.eye(2), 1, backend="torch")
    with pytest.raises(ValueError, match="dimension mismatch"):
        select(torch.ones(3), torch.eye(2), 1, backend="torch")
    with pytest.raises(ValueError, match="1-d"):
        select(torch.ones(1, 2), torch.eye(2), 1, backend="torch")
    with pytest.raises(ValueError, match="float tensor"):
        select(torch.ones(2), torch.eye(2, dtype=torch.bool), 1, backend="torch")


def test_module_uses_no_assert_and_imports_no_torch():
    tree = ast.parse(inspect.getsource(sift))
    assert not [node for node in ast.walk(tree) if isinstance(node, ast.Assert)]
    code = "import sys, assistant.selection.sift; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


# --- result helpers ----------------------------------------------------------------------------------


def test_selection_helpers():
    sel = Selection(
        indices=[3, 1, 3, 3], variances=[0.5, 0.3, 0.25, 0.25], prior=1.0, similarities=[0.9, 0.5, 0.9, 0.9]
    )
    assert is_repeat(sel) == [False, False, True, True]
    assert reduction(sel) == pytest.approx([0.5, 0.2, 0.05, 0.0])
    assert reduction(Selection(indices=[0], variances=[0.0], prior=0.0, similarities=[0.0])) == [0.0]
    with pytest.raises(dataclasses.FrozenInstanceError):
        sel.indices = []  # type: ignore[misc]
    real = select(np.array([1.0, 0.0]), np.eye(2), 3, lam=0.5)
    assert (real.method, real.lam) == ("sift", 0.5)
    assert sum(reduction(real)) == pytest.approx((real.prior - real.variances[-1]) / real.prior)
