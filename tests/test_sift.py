"""SIFT and its baselines against a brute-force reference and on the cases that matter."""

import numpy as np
import pytest

from assistant.sift import METHODS, is_repeat, reduction, select


def unit(rng, k, d, dtype=np.float64):
    x = rng.standard_normal((k, d)).astype(dtype)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def brute_force(q, X, n, lam):
    """A fresh linear solve for every candidate at every step."""
    picks, variances = [], []
    for _ in range(n):
        best_v, best_i = None, None
        for i in range(len(X)):
            S = X[picks + [i]]
            k = S @ q
            v = q @ q - k @ np.linalg.solve(S @ S.T + lam * np.eye(len(S)), k)
            if best_v is None or v < best_v - 1e-12 * max(1.0, abs(best_v)):
                best_v, best_i = v, i
        picks.append(best_i)
        variances.append(best_v)
    return picks, variances


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize("lam", [1e-4, 1e-2, 1.0])
def test_matches_brute_force(seed, lam):
    rng = np.random.default_rng(seed)
    k, d, n = [(30, 8, 12), (60, 32, 10), (25, 384, 8)][seed % 3]
    X = unit(rng, k, d)
    q = unit(rng, 1, d)[0]
    sel = select(q, X, n, lam=lam)
    picks, variances = brute_force(q, X, n, lam)
    assert sel.indices == picks
    np.testing.assert_allclose(sel.variances, variances, rtol=1e-6)


def test_matches_brute_force_at_full_size():
    rng = np.random.default_rng(99)
    X = unit(rng, 300, 384)
    q = X[:5].mean(0)
    sel = select(q, X, 50, lam=1e-2)
    # checking the brute force on every step is O(n K n^3); check the final posterior of the chosen multiset
    S = X[sel.indices]
    k = S @ q
    exact = q @ q - k @ np.linalg.solve(S @ S.T + 1e-2 * np.eye(50), k)
    assert np.isclose(sel.variances[-1], exact, rtol=1e-6)
    # and the greedy choice at a few steps
    for t in (0, 10, 49):
        prefix = sel.indices[:t]
        scores = []
        for i in range(300):
            S = X[prefix + [i]]
            k = S @ q
            scores.append(q @ q - k @ np.linalg.solve(S @ S.T + 1e-2 * np.eye(t + 1), k))
        assert sel.indices[t] == int(np.argmin(scores))


def test_duplicates_sift_skips_copies_nn_does_not():
    rng = np.random.default_rng(0)
    distinct = unit(rng, 5, 64)
    X = np.repeat(distinct, 10, axis=0)  # 5 vectors, each copied 10 times, copies adjacent
    q = distinct.sum(0) / np.linalg.norm(distinct.sum(0))
    nn = select(q, X, 5, method="nn", lam=0.01)
    sift = select(q, X, 5, method="sift", lam=0.01)
    assert len({i // 10 for i in nn.indices}) == 1, "nn should spend its picks on copies of one vector"
    assert len({i // 10 for i in sift.indices}) == 5, "sift should reach all 5 distinct vectors first"
    assert sift.variances[-1] < nn.variances[-1]


def test_variances_never_increase_and_repeats_happen_when_best():
    rng = np.random.default_rng(1)
    X = unit(rng, 3, 16)
    q = X[0] * 0.999 + 0.001 * X[1]
    q /= np.linalg.norm(q)
    sel = select(q, X, 6, lam=0.1)
    assert all(b <= a + 1e-12 for a, b in zip([sel.prior] + sel.variances, sel.variances))
    assert sel.indices.count(0) >= 2 and any(is_repeat(sel)), "re-picking the one relevant vector is the best move"
    assert all(r >= -1e-12 for r in reduction(sel))


def test_edge_cases_are_well_defined():
    rng = np.random.default_rng(2)
    one = unit(rng, 1, 8)
    q = unit(rng, 1, 8)[0]
    assert select(q, one, 3).indices == [0, 0, 0]  # K = 1, n > K: sift repeats
    assert select(q, one, 3, method="nn").indices == [0]  # nn has no repeats
    base = unit(rng, 1, 8)[0]
    collinear = np.stack([base, 2 * base, -base, base + 1e-9])
    for lam in (1e-8, 1e-2):
        sel = select(base, collinear, 10, lam=lam)
        assert np.all(np.isfinite(sel.variances)) and min(sel.variances) >= 0.0
    near = np.repeat(unit(rng, 4, 32), 5, axis=0) + 1e-7 * rng.standard_normal((20, 32))
    sel = select(near[0], near, 8, lam=1e-8)
    assert np.all(np.isfinite(sel.variances))


def test_float32_gives_the_same_picks_as_float64():
    rng = np.random.default_rng(3)
    X = unit(rng, 200, 384)
    q = unit(rng, 1, 384)[0]
    a = select(q, X, 16, lam=1.0)
    b = select(q.astype(np.float32), X.astype(np.float32), 16, lam=1.0)
    assert a.indices == b.indices
    np.testing.assert_allclose(a.variances, b.variances, rtol=1e-4)


def test_torch_path_equals_numpy_path():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(4)
    X = unit(rng, 150, 64)
    q = unit(rng, 1, 64)[0]
    for method in METHODS:
        a = select(q, X, 12, method=method, lam=0.01)
        b = select(torch.from_numpy(q), torch.from_numpy(X), 12, method=method, lam=0.01)
        assert a.indices == b.indices, method
        np.testing.assert_allclose(a.variances, b.variances, rtol=1e-9)


@pytest.mark.parametrize(
    "args, message",
    [
        ((np.array([np.nan, 0.0]), np.eye(2), 1), "NaN"),
        ((np.ones(3), np.eye(2), 1), "dimension mismatch"),
        ((np.ones(2), np.zeros((0, 2)), 1), "K = 0"),
        ((np.ones(2), np.eye(2), 0), "n must be"),
        ((np.ones((1, 2)), np.eye(2), 1), "1-d"),
        ((np.ones(2), np.array([[np.inf, 0.0]]), 1), "NaN or inf"),
    ],
)
def test_bad_input_raises_value_error(args, message):
    with pytest.raises(ValueError, match=message):
        select(*args)


def test_bad_method_and_lambda():
    with pytest.raises(ValueError, match="unknown method"):
        select(np.ones(2), np.eye(2), 1, method="best")
    with pytest.raises(ValueError, match="lam"):
        select(np.ones(2), np.eye(2), 1, lam=0.0)


def test_adaptive_stop():
    rng = np.random.default_rng(5)
    X = unit(rng, 100, 32)
    q = unit(rng, 1, 32)[0]
    full = select(q, X, 30, lam=0.01, stop=None)
    assert len(full.indices) == 30
    few = select(q, X, 30, lam=0.01, stop=0.05)
    assert 1 <= len(few.indices) < 30
    assert few.indices == full.indices[: len(few.indices)]
    # the next pick would have cut less than 5 % of the prior
    assert full.variances[len(few.indices) - 1] - full.variances[len(few.indices)] < 0.05 * full.prior
    assert len(select(q, X, 30, lam=0.01, stop=10.0).indices) == 1  # always at least one pick


def test_baselines_are_honest():
    rng = np.random.default_rng(6)
    X = unit(rng, 50, 16)
    q = unit(rng, 1, 16)[0]
    sims = X @ q
    assert select(q, X, 5, method="nn-f").indices == [int(np.argmax(sims))] * 5
    assert select(q, X, 5, method="nn").indices == np.argsort(-sims)[:5].tolist()
    scaled = X * rng.uniform(0.5, 1.5, size=(50, 1))
    first = select(q, scaled, 1, method="uncertainty")
    assert first.indices == [int(np.argmax((scaled * scaled).sum(1)))]
    assert select(q, X, 1, method="uncertainty").indices == [0]  # unit vectors: a tie, lowest index wins
    r1, r2 = select(q, X, 10, method="random", seed=7), select(q, X, 10, method="random", seed=7)
    assert r1.indices == r2.indices and len(set(r1.indices)) == 10
    assert select(q, X, 10, method="random", seed=8).indices != r1.indices
