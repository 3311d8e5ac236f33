"""Tests for genbench.metrics.frechet against closed forms and a scipy.linalg.sqrtm reference."""

import numpy as np
import pytest
import scipy.linalg
import torch

from genbench.metrics.frechet import frechet_distance, frechet_distance_from_stats, gaussian_stats


def _sqrtm_reference(mu1, s1, mu2, s2) -> float:
    covmean = scipy.linalg.sqrtm(s1 @ s2)
    return float(
        np.sum((mu1 - mu2) ** 2) + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean).real
    )


def _random_spd(rng: np.random.Generator, d: int) -> np.ndarray:
    a = rng.standard_normal((d, 2 * d))
    return a @ a.T / (2 * d) + 0.1 * np.eye(d)


def _random_rotation(rng: np.random.Generator, d: int) -> np.ndarray:
    q, _ = np.linalg.qr(rng.standard_normal((d, d)))
    return q


def test_gaussian_stats_matches_numpy():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((100, 7)).astype(np.float32)
    mu, sigma = gaussian_stats(torch.from_numpy(x))
    assert mu.dtype == np.float64 and sigma.dtype == np.float64
    np.testing.assert_allclose(mu, x.astype(np.float64).mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(sigma, np.cov(x.astype(np.float64), rowvar=False), rtol=1e-12)


def test_gaussian_stats_one_dimension_gives_matrix():
    mu, sigma = gaussian_stats(np.array([[1.0], [3.0]]))
    assert mu.shape == (1,) and sigma.shape == (1, 1)
    assert sigma[0, 0] == pytest.approx(2.0)


def test_closed_form_diagonal_gaussians():
    rng = np.random.default_rng(1)
    d = 16
    mu1, mu2 = rng.standard_normal(d), rng.standard_normal(d)
    s1, s2 = rng.uniform(0.1, 3.0, d), rng.uniform(0.1, 3.0, d)
    expected = np.sum((mu1 - mu2) ** 2) + np.sum(s1 + s2 - 2 * np.sqrt(s1 * s2))
    got = frechet_distance_from_stats(mu1, np.diag(s1), mu2, np.diag(s2))
    assert got == pytest.approx(expected, rel=1e-10)


def test_commuting_full_covariances_closed_form():
    # Same eigenvectors, so tr sqrt(S1 S2) = sum sqrt(a_i b_i) exactly.
    rng = np.random.default_rng(2)
    d = 32
    q = _random_rotation(rng, d)
    a, b = rng.uniform(0.5, 2.0, d), rng.uniform(0.5, 2.0, d)
    mu = rng.standard_normal(d)
    expected = np.sum(mu**2) + np.sum(a + b - 2 * np.sqrt(a * b))
    got = frechet_distance_from_stats(mu, q @ np.diag(a) @ q.T, np.zeros(d), q @ np.diag(b) @ q.T)
    assert got == pytest.approx(expected, rel=1e-10)


def test_matches_sqrtm_on_random_spd():
    rng = np.random.default_rng(3)
    d = 64
    for _ in range(3):
        mu1, mu2 = rng.standard_normal(d), rng.standard_normal(d)
        s1, s2 = _random_spd(rng, d), _random_spd(rng, d)
        expected = _sqrtm_reference(mu1, s1, mu2, s2)
        assert frechet_distance_from_stats(mu1, s1, mu2, s2) == pytest.approx(expected, rel=1e-6)


def test_rank_deficient_covariances_match_sqrtm():
    rng = np.random.default_rng(4)
    real = rng.standard_normal((20, 50))
    fake = rng.standard_normal((20, 50)) * 1.5 + 0.3
    mu1, s1 = gaussian_stats(real)
    mu2, s2 = gaussian_stats(fake)
    assert np.linalg.matrix_rank(s1) < 50
    got = frechet_distance(real, fake)
    assert np.isfinite(got) and got >= 0
    assert got == pytest.approx(_sqrtm_reference(mu1, s1, mu2, s2), rel=1e-6)


def test_nearly_singular_product_is_finite_real_and_exact():
    # Eigenvalues spanning 1e-20..1: S1 S2 has eigenvalues far below round-off, which come out
    # slightly negative numerically and give sqrtm complex parts. The exact answer is still known
    # because S1 and S2 share eigenvectors.
    rng = np.random.default_rng(5)
    d = 40
    q = _random_rotation(rng, d)
    a = np.concatenate([rng.uniform(0.5, 1.0, 10), np.zeros(15), 10.0 ** rng.uniform(-20, -14, 15)])
    b = np.concatenate([rng.uniform(0.5, 1.0, 10), 10.0 ** rng.uniform(-20, -14, 15), np.zeros(15)])
    s1, s2 = q @ np.diag(a) @ q.T, q @ np.diag(b) @ q.T
    assert np.linalg.eigvals(s1 @ s2).real.min() < 0  # the numerical trouble is really there
    mu = np.zeros(d)
    got = frechet_distance_from_stats(mu, s1, mu, s2)
    expected = np.sum(a + b - 2 * np.sqrt(a * b))
    assert isinstance(got, float) and np.isfinite(got) and got >= 0
    assert got == pytest.approx(expected, abs=1e-6)


def test_identical_sets_give_zero():
    rng = np.random.default_rng(6)
    x = rng.standard_normal((500, 32))
    assert abs(frechet_distance(x, x)) < 1e-8
    assert abs(frechet_distance(torch.from_numpy(x), x.copy())) < 1e-8


def test_identical_rank_deficient_sets_give_zero():
    rng = np.random.default_rng(7)
    x = rng.standard_normal((10, 64))
    got = frechet_distance(x, x)
    assert got >= 0 and got < 1e-6


def test_symmetric_in_arguments():
    rng = np.random.default_rng(8)
    real = rng.standard_normal((300, 24))
    fake = rng.standard_normal((250, 24)) @ rng.standard_normal((24, 24)) * 0.3 + 1.0
    forward, backward = frechet_distance(real, fake), frechet_distance(fake, real)
    assert forward > 1.0
    assert forward == pytest.approx(backward, rel=1e-10)


def test_accepts_torch_float32():
    rng = np.random.default_rng(9)
    real = rng.standard_normal((200, 8)).astype(np.float32)
    fake = real + 1.0
    # Shifting every sample by 1 in each of 8 dimensions moves only the mean: FD = 8.
    assert frechet_distance(torch.from_numpy(real), torch.from_numpy(fake)) == pytest.approx(8.0)


def test_shape_mismatch_raises():
    rng = np.random.default_rng(10)
    with pytest.raises(ValueError, match="dimension"):
        frechet_distance(rng.standard_normal((10, 3)), rng.standard_normal((10, 4)))
    with pytest.raises(ValueError, match="sigma1"):
        frechet_distance_from_stats(np.zeros(3), np.eye(4), np.zeros(3), np.eye(3))
    with pytest.raises(ValueError, match="mismatch"):
        frechet_distance_from_stats(np.zeros(3), np.eye(3), np.zeros(4), np.eye(4))
    with pytest.raises(ValueError, match="shape"):
        gaussian_stats(np.zeros(5))


def test_non_finite_raises():
    x = np.random.default_rng(11).standard_normal((10, 3))
    bad = x.copy()
    bad[2, 1] = np.nan
    with pytest.raises(ValueError, match="NaN or inf"):
        frechet_distance(x, bad)
    bad[2, 1] = np.inf
    with pytest.raises(ValueError, match="NaN or inf"):
        gaussian_stats(bad)
    sigma = np.eye(3)
    sigma[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN or inf"):
        frechet_distance_from_stats(np.zeros(3), sigma, np.zeros(3), np.eye(3))


def test_too_few_samples_raises():
    with pytest.raises(ValueError, match="at least 2 samples"):
        gaussian_stats(np.ones((1, 5)))
    with pytest.raises(ValueError, match="at least 2 samples"):
        frechet_distance(np.ones((1, 5)), np.ones((4, 5)))


@pytest.mark.parametrize("n_real, n_fake, d", [
    (40, 40, 100),   # both sets narrower than the space: Gram path on both sides
    (30, 200, 60),   # reference narrower, generated wider
    (200, 30, 60),   # reference wider (Cholesky factor), generated narrower
    (300, 300, 20),  # both wider: the covariance route
])
def test_reference_route_matches_covariances_and_sqrtm(n_real, n_fake, d):
    from genbench.metrics.frechet import FrechetReference

    rng = np.random.default_rng(n_real + n_fake + d)
    mix = rng.standard_normal((d, d)) / np.sqrt(d)
    real = rng.standard_normal((n_real, d)) @ mix
    fake = rng.standard_normal((n_fake, d)) @ mix * 1.3 + 0.2
    mu1, s1 = gaussian_stats(real)
    mu2, s2 = gaussian_stats(fake)
    expected = _sqrtm_reference(mu1, s1, mu2, s2)
    reference = FrechetReference(real)
    # sqrtm of a singular product is itself only good to about 1e-7 (the existing tests' 1e-6).
    assert reference.distance(fake) == pytest.approx(expected, rel=1e-6)
    assert frechet_distance(real, fake) == pytest.approx(
        frechet_distance_from_stats(mu1, s1, mu2, s2), rel=1e-9)
    # Reused: the second set scores as if alone.
    other = rng.standard_normal((n_fake, d))
    assert reference.distance(other) == pytest.approx(frechet_distance(real, other), rel=1e-12)


def test_singular_wide_reference_falls_back_to_the_symmetric_root():
    from genbench.metrics.frechet import FrechetReference

    rng = np.random.default_rng(11)
    real = rng.standard_normal((500, 10)) @ rng.standard_normal((10, 30))  # rank 10 in 30-d
    fake = rng.standard_normal((400, 30))
    mu1, s1 = gaussian_stats(real)
    mu2, s2 = gaussian_stats(fake)
    got = FrechetReference(real).distance(fake)
    assert got == pytest.approx(_sqrtm_reference(mu1, s1, mu2, s2), rel=1e-6)


def test_reference_refuses_mismatched_or_bad_sets():
    from genbench.metrics.frechet import FrechetReference

    reference = FrechetReference(np.random.default_rng(0).standard_normal((10, 4)))
    with pytest.raises(ValueError, match="dimension mismatch"):
        reference.distance(np.zeros((10, 5)))
    with pytest.raises(ValueError, match="at least 2"):
        reference.distance(np.zeros((1, 4)))
    bad = np.zeros((10, 4))
    bad[3, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        reference.distance(bad)
