"""Tests for genbench.metrics.prdc against a naive full-matrix numpy reference."""

import numpy as np
import pytest
import torch
from scipy.spatial.distance import cdist

from genbench.metrics import prdc
from genbench.metrics.prdc import density_coverage, knn_radii, precision_recall


def _reference(real: np.ndarray, fake: np.ndarray, k_pr: int, k_dc: int) -> dict[str, float]:
    """All four metrics from full distance matrices, following the prdc package's conventions."""
    d_rr, d_ff, d_rf = cdist(real, real), cdist(fake, fake), cdist(real, fake)

    def radii(d, k):
        return np.partition(d, k, axis=1)[:, k]

    r_real, r_fake = radii(d_rr, k_pr), radii(d_ff, k_pr)
    r_real_dc = radii(d_rr, k_dc)
    return {
        "precision": float((d_rf < r_real[:, None]).any(axis=0).mean()),
        "recall": float((d_rf < r_fake[None, :]).any(axis=1).mean()),
        "density": float((d_rf < r_real_dc[:, None]).sum() / (k_dc * fake.shape[0])),
        "coverage": float((d_rf.min(axis=1) < r_real_dc).mean()),
    }


def _all_metrics(real, fake, k_pr=3, k_dc=5, **kwargs) -> dict[str, float]:
    return {
        **precision_recall(real, fake, k=k_pr, **kwargs),
        **density_coverage(real, fake, k=k_dc, **kwargs),
    }


SHAPES = [(50, 50, 2), (80, 37, 2), (40, 90, 64), (120, 60, 16)]


@pytest.mark.parametrize(("n", "m", "d"), SHAPES)
@pytest.mark.parametrize("chunk_size", [7, 1024])
def test_matches_reference_float64(n, m, d, chunk_size):
    rng = np.random.default_rng(n * 1000 + m + d)
    real = rng.standard_normal((n, d))
    # Shifted and rescaled so that none of the four values is trivially 0 or 1.
    fake = rng.standard_normal((m, d)) * 1.3 + 0.4
    got = _all_metrics(real, fake, chunk_size=chunk_size, dtype=torch.float64)
    assert got == _reference(real, fake, 3, 5)


@pytest.mark.parametrize(("n", "m", "d"), SHAPES)
def test_matches_reference_default_float32(n, m, d):
    rng = np.random.default_rng(n + m + d)
    real = rng.standard_normal((n, d)).astype(np.float32)
    fake = (rng.standard_normal((m, d)) * 1.3 + 0.4).astype(np.float32)
    got = _all_metrics(torch.from_numpy(real), torch.from_numpy(fake), chunk_size=7)
    expected = _reference(real.astype(np.float64), fake.astype(np.float64), 3, 5)
    for key, value in expected.items():
        assert got[key] == pytest.approx(value, abs=1e-6), key


def test_other_k_values_match_reference():
    rng = np.random.default_rng(12)
    real, fake = rng.standard_normal((60, 5)), rng.standard_normal((45, 5)) + 0.5
    got = _all_metrics(real, fake, k_pr=1, k_dc=10, chunk_size=11, dtype=torch.float64)
    assert got == _reference(real, fake, 1, 10)


def test_knn_radii_matches_partition():
    rng = np.random.default_rng(13)
    x = rng.standard_normal((33, 4))
    expected = np.partition(cdist(x, x), 3, axis=1)[:, 3]
    got = knn_radii(torch.from_numpy(x), k=3, chunk_size=5)
    assert got.dtype == torch.float64
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-12)


def test_chunking_bounds_distance_matrix_rows(monkeypatch):
    # Every distance block goes through _squared_distances; none may exceed chunk_size rows.
    calls = []
    original = prdc._squared_distances

    def recording(a, a_sq, b, b_sq):
        calls.append((a.shape[0], b.shape[0]))
        return original(a, a_sq, b, b_sq)

    monkeypatch.setattr(prdc, "_squared_distances", recording)
    rng = np.random.default_rng(14)
    _all_metrics(rng.standard_normal((50, 3)), rng.standard_normal((30, 3)), chunk_size=7)
    assert calls and max(rows for rows, _ in calls) <= 7
    calls.clear()
    prdc.prdc(rng.standard_normal((50, 3)), rng.standard_normal((30, 3)), chunk_size=7)
    # real-real: 8 row chunks, fake-fake: 5, real-fake: 8; each matrix is computed once.
    assert len(calls) == 8 + 5 + 8
    assert max(rows for rows, _ in calls) <= 7


def test_identical_sets():
    x = np.random.default_rng(15).standard_normal((200, 8))
    got = _all_metrics(x, x.copy())
    assert got["precision"] == 1.0 and got["recall"] == 1.0 and got["coverage"] == 1.0
    # In exact arithmetic each ball holds exactly k points of its own set (its centre and k-1
    # neighbours), so density is 1. The k-th neighbour sits exactly on the boundary, though, and
    # matmul-based distances are not bitwise symmetric, so round-off may count it a few times.
    assert got["density"] == pytest.approx(1.0, abs=0.01)


def test_far_away_fakes_score_zero():
    rng = np.random.default_rng(16)
    real = rng.standard_normal((100, 10))
    fake = rng.standard_normal((100, 10)) + 1000.0
    assert _all_metrics(real, fake) == {
        "precision": 0.0,
        "recall": 0.0,
        "density": 0.0,
        "coverage": 0.0,
    }


def test_density_of_same_distribution_is_about_one():
    rng = np.random.default_rng(17)
    real, fake = rng.standard_normal((2000, 4)), rng.standard_normal((2000, 4))
    assert density_coverage(real, fake)["density"] == pytest.approx(1.0, abs=0.15)


def test_flattens_extra_dimensions():
    rng = np.random.default_rng(18)
    real, fake = rng.standard_normal((30, 2, 3, 3)), rng.standard_normal((25, 2, 3, 3))
    got = _all_metrics(real, fake, dtype=torch.float64)
    assert got == _reference(real.reshape(30, -1), fake.reshape(25, -1), 3, 5)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_cpu():
    rng = np.random.default_rng(19)
    real, fake = rng.standard_normal((300, 32)), rng.standard_normal((200, 32)) + 0.3
    cpu = _all_metrics(real, fake, dtype=torch.float64, chunk_size=64)
    gpu = _all_metrics(torch.from_numpy(real).cuda(), fake, dtype=torch.float64, chunk_size=64)
    # Each value is a count over a count, divided in Python: equal wherever the counts are. A
    # count differs only if a distance lies within float64 round-off (~1e-15 relative) of a
    # ball's radius, which these continuous random sets do not come near.
    assert gpu == cpu
    radii = knn_radii(torch.from_numpy(real).cuda(), k=3)
    assert radii.device.type == "cuda"
    # The radii themselves are float64 sums reduced in another order on the GPU: round-off.
    torch.testing.assert_close(radii.cpu(), knn_radii(torch.from_numpy(real), k=3),
                               rtol=1e-12, atol=1e-12)


def test_too_few_samples_raise():
    rng = np.random.default_rng(20)
    with pytest.raises(ValueError, match="at least k \\+ 1"):
        precision_recall(rng.standard_normal((3, 2)), rng.standard_normal((10, 2)), k=3)
    with pytest.raises(ValueError, match="fake"):
        density_coverage(rng.standard_normal((10, 2)), rng.standard_normal((5, 2)), k=5)
    with pytest.raises(ValueError, match="at least k \\+ 1"):
        knn_radii(torch.zeros(3, 2), k=3)


def test_dimension_mismatch_raises():
    rng = np.random.default_rng(21)
    with pytest.raises(ValueError, match="dimension mismatch"):
        precision_recall(rng.standard_normal((10, 2)), rng.standard_normal((10, 3)))


def test_non_finite_raises():
    rng = np.random.default_rng(22)
    real = rng.standard_normal((10, 2))
    bad = real.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN or inf"):
        precision_recall(real, bad)
    bad[0, 0] = np.inf
    with pytest.raises(ValueError, match="NaN or inf"):
        density_coverage(bad, real)


def test_bad_arguments_raise():
    x = np.random.default_rng(23).standard_normal((10, 2))
    with pytest.raises(ValueError, match="chunk_size"):
        precision_recall(x, x, chunk_size=0)
    with pytest.raises(ValueError, match="k must be"):
        density_coverage(x, x, k=0)
    with pytest.raises(ValueError, match="shape"):
        precision_recall(np.zeros(10), x)


# --- prdc(): all four values in one pass -------------------------------------------------------


@pytest.mark.parametrize(("n", "m", "d"), SHAPES)
@pytest.mark.parametrize("chunk_size", [7, 1024])
def test_prdc_one_pass_matches_reference(n, m, d, chunk_size):
    rng = np.random.default_rng(n * 7 + m + d)
    real = rng.standard_normal((n, d))
    fake = rng.standard_normal((m, d)) * 1.3 + 0.4
    got = prdc.prdc(real, fake, k=5, k_pr=3, chunk_size=chunk_size, dtype=torch.float64)
    assert got == _reference(real, fake, 3, 5)
    # k_pr defaults to k, as in the prdc package.
    same_k = prdc.prdc(real, fake, k=4, chunk_size=chunk_size, dtype=torch.float64)
    assert same_k == _reference(real, fake, 4, 4)


def test_prdc_equals_the_two_wrappers():
    rng = np.random.default_rng(30)
    real, fake = rng.standard_normal((150, 12)), rng.standard_normal((170, 12)) + 0.2
    both = {**precision_recall(real, fake, k=3), **density_coverage(real, fake, k=5)}
    assert prdc.prdc(real, fake, k=5, k_pr=3) == both


@pytest.mark.parametrize("chunk_size", [1, 2, 5, 6, 33, 64])
def test_knn_radii_any_chunk_size(chunk_size):
    # Chunks smaller than k + 1 rows exercise the merging of candidates from the mirrored blocks.
    rng = np.random.default_rng(31)
    x = rng.standard_normal((40, 3))
    expected = np.partition(cdist(x, x), 5, axis=1)[:, 5]
    got = knn_radii(torch.from_numpy(x), k=5, chunk_size=chunk_size)
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-10)


def test_knn_radii_with_duplicates_is_zero():
    x = np.repeat(np.random.default_rng(32).standard_normal((10, 4)), 3, axis=0)
    # Each point has two exact copies: its 1st and 2nd neighbours are at distance 0, up to the
    # round-off of |a|^2 + |b|^2 - 2ab (exactly 0 on some CPUs, ~3e-8 on others in float64).
    got = knn_radii(x, k=2, chunk_size=4)
    assert got.max() < 1e-6
    assert torch.all(knn_radii(x, k=3, chunk_size=4) > 0)


def test_prdc_duplicates_zero_radius_balls_are_empty():
    # Strict "<": a ball of radius 0 contains nothing, not even an identical fake sample.
    real = np.repeat(np.random.default_rng(33).standard_normal((10, 4)), 3, axis=0)
    got = prdc.prdc(real, real.copy(), k=2, dtype=torch.float64)
    assert got == {"precision": 0.0, "recall": 0.0, "density": 0.0, "coverage": 0.0}


def test_prdc_float32_large_offset_stays_accurate():
    # Centring on the joint mean keeps the ||a||^2 + ||b||^2 - 2 a.b formula accurate when the
    # features sit far from the origin (Inception features are all positive, for instance).
    rng = np.random.default_rng(34)
    real = rng.standard_normal((300, 32)) + 100.0
    fake = rng.standard_normal((300, 32)) * 1.2 + 100.2
    got = prdc.prdc(real.astype(np.float32), fake.astype(np.float32), k=5)
    expected = _reference(real, fake, 5, 5)
    for key, value in expected.items():
        assert got[key] == pytest.approx(value, abs=2 / 300), key


def test_prdc_validation():
    x = np.random.default_rng(35).standard_normal((10, 2))
    with pytest.raises(ValueError, match="k must be"):
        prdc.prdc(x, x, k=3, k_pr=0)
    with pytest.raises(ValueError, match="at least k \\+ 1"):
        prdc.prdc(x, x, k=3, k_pr=10)
    with pytest.raises(ValueError, match="dimension mismatch"):
        prdc.prdc(x, np.zeros((10, 3)))
    with pytest.raises(ValueError, match="chunk_size"):
        prdc.prdc(x, x, chunk_size=0)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_prdc_cuda_matches_cpu():
    rng = np.random.default_rng(36)
    real, fake = rng.standard_normal((300, 32)), rng.standard_normal((200, 32)) + 0.3
    cpu = prdc.prdc(real, fake, dtype=torch.float64, chunk_size=64)
    gpu = prdc.prdc(torch.from_numpy(real).cuda(), fake, dtype=torch.float64, chunk_size=64)
    assert gpu == cpu  # exact ratios of counts (see test_cuda_matches_cpu)
