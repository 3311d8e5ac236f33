"""Tests for genbench.metrics.kid: closed forms, a brute-force estimator, validation."""

import itertools

import numpy as np
import pytest
import torch

from genbench.metrics.kid import kid, mmd2_unbiased


def _brute_force_mmd2(x: np.ndarray, y: np.ndarray, degree=3, gamma=None, coef0=1.0) -> float:
    gamma = 1.0 / x.shape[1] if gamma is None else gamma

    def k(a, b):
        return (gamma * float(a @ b) + coef0) ** degree

    n, m = len(x), len(y)
    xx = sum(k(x[i], x[j]) for i, j in itertools.permutations(range(n), 2)) / (n * (n - 1))
    yy = sum(k(y[i], y[j]) for i, j in itertools.permutations(range(m), 2)) / (m * (m - 1))
    xy = sum(k(a, b) for a in x for b in y) / (n * m)
    return xx + yy - 2 * xy


@pytest.mark.parametrize(("n", "m"), [(6, 6), (5, 9)])
def test_mmd2_matches_brute_force(n, m):
    rng = np.random.default_rng(n * m)
    x, y = rng.standard_normal((n, 4)), rng.standard_normal((m, 4)) + 0.5
    assert mmd2_unbiased(x, y) == pytest.approx(_brute_force_mmd2(x, y), rel=1e-12)
    assert mmd2_unbiased(x, y, degree=2, gamma=0.3, coef0=0.0) == pytest.approx(
        _brute_force_mmd2(x, y, degree=2, gamma=0.3, coef0=0.0), rel=1e-12
    )


def test_identical_sets_give_about_zero():
    x = np.random.default_rng(0).standard_normal((2000, 16))
    got = kid(x, x.copy(), subsets=20, subset_size=200)
    shifted = kid(x, x + 0.5, subsets=20, subset_size=200)
    # Unbiased: near 0, slightly negative here because subsets of one set share a few points.
    assert abs(got["kid_mean"]) < 0.03
    assert shifted["kid_mean"] > 30 * abs(got["kid_mean"])
    assert got["kid_std"] >= 0


def test_identical_full_sets_closed_form():
    # X = Y = the whole set: MMD^2_u = 2 (S - n T) / (n^2 (n - 1)) with S the sum and T the trace
    # of the kernel matrix K; S <= n lambda_max(K) <= n T for a PSD kernel, so it is <= 0.
    x = np.random.default_rng(1).standard_normal((120, 6))
    k = (x @ x.T / 6 + 1.0) ** 3
    n = len(x)
    expected = 2 * (k.sum() - n * np.trace(k)) / (n**2 * (n - 1))
    got = kid(x, x.copy(), subsets=3, subset_size=n)
    assert got["kid_mean"] == pytest.approx(expected, rel=1e-12)
    assert got["kid_mean"] < 0
    assert got["kid_std"] == pytest.approx(0.0, abs=1e-15)


def test_same_distribution_small_and_shifted_large():
    rng = np.random.default_rng(1)
    real, fake = rng.standard_normal((500, 8)), rng.standard_normal((500, 8))
    near = kid(real, fake, subsets=10, subset_size=250)["kid_mean"]
    far = kid(real, fake + 3.0, subsets=10, subset_size=250)["kid_mean"]
    assert abs(near) < 0.05
    assert far > 10.0 and far > 100 * abs(near)


def test_subset_size_is_capped_and_deterministic():
    rng = np.random.default_rng(2)
    real, fake = rng.standard_normal((30, 5)), rng.standard_normal((40, 5))
    a = kid(real, fake, subsets=5, subset_size=1000, seed=3)
    assert a == kid(torch.from_numpy(real), torch.from_numpy(fake), subsets=5, seed=3)
    assert a != kid(real, fake, subsets=5, subset_size=1000, seed=4)
    # min(1000, 30, 40) = 30 = all of real: every subset of real is the full set.
    one = kid(real, fake, subsets=1, subset_size=30, seed=3)
    assert one["kid_std"] == 0.0


def test_std_is_population_std():
    rng = np.random.default_rng(5)
    real, fake = rng.standard_normal((60, 4)), rng.standard_normal((60, 4)) + 0.3
    draws = np.random.RandomState(9)
    estimates = []
    for _ in range(7):
        i, j = draws.choice(60, 20, replace=False), draws.choice(60, 20, replace=False)
        estimates.append(mmd2_unbiased(real[i], fake[j]))
    got = kid(real, fake, subsets=7, subset_size=20, seed=9)
    assert got["kid_mean"] == pytest.approx(np.mean(estimates), rel=1e-12)
    assert got["kid_std"] == pytest.approx(np.std(estimates, ddof=0), rel=1e-12)


def test_float32_input_is_computed_in_float64():
    x = np.random.default_rng(6).standard_normal((50, 8))
    y = x[::-1] + 0.1
    assert kid(x.astype(np.float32), y.astype(np.float32), subsets=3, subset_size=20) == kid(
        x.astype(np.float32).astype(np.float64), y.astype(np.float32).astype(np.float64),
        subsets=3, subset_size=20,
    )


def test_validation():
    rng = np.random.default_rng(7)
    x = rng.standard_normal((10, 3))
    with pytest.raises(ValueError, match="at least 2 samples"):
        kid(x[:1], x)
    with pytest.raises(ValueError, match="at least 2 samples"):
        mmd2_unbiased(x, x[:1])
    with pytest.raises(ValueError, match="dimension mismatch"):
        kid(x, rng.standard_normal((10, 4)))
    bad = x.copy()
    bad[2, 1] = np.nan
    with pytest.raises(ValueError, match="NaN or inf"):
        kid(x, bad)
    bad[2, 1] = np.inf
    with pytest.raises(ValueError, match="NaN or inf"):
        mmd2_unbiased(bad, x)
    with pytest.raises(ValueError, match="shape"):
        kid(np.zeros(10), x)
    with pytest.raises(ValueError, match="subsets"):
        kid(x, x, subsets=0)
    with pytest.raises(ValueError, match="subset_size"):
        kid(x, x, subset_size=1)
    with pytest.raises(ValueError, match="degree"):
        kid(x, x, degree=0)
