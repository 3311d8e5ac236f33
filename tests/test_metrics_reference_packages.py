"""genbench's metrics against the reference implementations, on identical inputs (offline).

* Fréchet distance vs ``torch_fidelity.metric_fid.fid_statistics_to_metric``;
* KID vs ``torch_fidelity.metric_kid.kid_features_to_metric`` (same subsets and seed);
* Inception Score vs ``torch_fidelity.metric_isc.isc_features_to_metric`` (from logits);
* precision / recall / density / coverage vs ``prdc.compute_prdc`` (Naeem et al.'s package),
  and precision / recall vs torch-fidelity's ``calculate_precision_recall_full``.
"""

import numpy as np
import pytest
import torch

from genbench.metrics.frechet import frechet_distance, gaussian_stats
from genbench.metrics.inception_score import inception_score
from genbench.metrics.kid import kid
from genbench.metrics.prdc import density_coverage, prdc, precision_recall

metric_fid = pytest.importorskip("torch_fidelity.metric_fid")
metric_kid = pytest.importorskip("torch_fidelity.metric_kid")
metric_isc = pytest.importorskip("torch_fidelity.metric_isc")
metric_prc = pytest.importorskip("torch_fidelity.metric_prc")


def _features(seed: int, n: int, d: int, shift: float = 0.0, scale: float = 1.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    mixing = rng.standard_normal((d, d)) / np.sqrt(d)
    return (rng.standard_normal((n, d)) @ mixing) * scale + shift


@pytest.mark.parametrize(("n", "d", "shift"), [(500, 32, 0.3), (300, 64, 0.0), (40, 64, 1.0)])
def test_frechet_matches_torch_fidelity(n, d, shift):
    # (40, 64): more dimensions than samples, so both covariances are singular.
    real, fake = _features(1, n, d), _features(2, n + 17, d, shift=shift, scale=1.2)
    mu1, s1 = gaussian_stats(real)
    mu2, s2 = gaussian_stats(fake)
    expected = metric_fid.fid_statistics_to_metric(
        {"mu": mu1, "sigma": s1}, {"mu": mu2, "sigma": s2}, verbose=False
    )[metric_fid.KEY_METRIC_FID]
    # torch-fidelity computes its statistics from a float tensor the same way (np.cov).
    tf_stats = metric_fid.fid_features_to_statistics(torch.from_numpy(real))
    np.testing.assert_allclose(tf_stats["sigma"], s1, rtol=1e-12)
    assert frechet_distance(real, fake) == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize(
    ("kwargs", "tf_kwargs"),
    [
        ({}, {}),
        ({"degree": 2, "gamma": 0.05, "coef0": 0.5},
         {"kid_kernel_poly_degree": 2, "kid_kernel_poly_gamma": 0.05,
          "kid_kernel_poly_coef0": 0.5}),
    ],
)
@pytest.mark.parametrize("seed", [0, 2020])
def test_kid_matches_torch_fidelity(kwargs, tf_kwargs, seed):
    real, fake = _features(3, 300, 64), _features(4, 320, 64, shift=0.2)
    expected = metric_kid.kid_features_to_metric(
        torch.from_numpy(real),
        torch.from_numpy(fake),
        kid_subsets=10,
        kid_subset_size=100,
        rng_seed=seed,
        verbose=False,
        **tf_kwargs,
    )
    got = kid(real, fake, subsets=10, subset_size=100, seed=seed, **kwargs)
    assert got["kid_mean"] == pytest.approx(expected[metric_kid.KEY_METRIC_KID_MEAN], rel=1e-9)
    assert got["kid_std"] == pytest.approx(expected[metric_kid.KEY_METRIC_KID_STD], rel=1e-9)


@pytest.mark.parametrize(("n", "splits"), [(1000, 10), (997, 10), (50, 3), (64, 1)])
@pytest.mark.parametrize("shuffle", [False, True])
def test_inception_score_matches_torch_fidelity(n, splits, shuffle):
    logits = torch.from_numpy(np.random.default_rng(n + splits).standard_normal((n, 20)) * 3.0)
    expected = metric_isc.isc_features_to_metric(
        logits, splits=splits, shuffle=shuffle, rng_seed=7
    )
    got = inception_score(logits, splits=splits, shuffle=shuffle, seed=7)
    assert got["is_mean"] == pytest.approx(expected[metric_isc.KEY_METRIC_ISC_MEAN], rel=1e-9)
    assert got["is_std"] == pytest.approx(
        expected[metric_isc.KEY_METRIC_ISC_STD], rel=1e-9, abs=1e-12
    )


def test_inception_score_float32_logits_match_torch_fidelity():
    # torch-fidelity casts to float64 before the softmax, as genbench does.
    logits = torch.randn(500, 1008, generator=torch.Generator().manual_seed(0)) * 4
    expected = metric_isc.isc_features_to_metric(logits, splits=10, shuffle=True, rng_seed=2020)
    got = inception_score(logits, shuffle=True, seed=2020)
    assert got["is_mean"] == pytest.approx(expected[metric_isc.KEY_METRIC_ISC_MEAN], rel=1e-9)


@pytest.mark.parametrize(
    ("n", "m", "d", "k"), [(200, 200, 16, 5), (150, 230, 64, 3), (90, 60, 8, 1)]
)
def test_prdc_matches_prdc_package_float64(n, m, d, k):
    prdc_package = pytest.importorskip("prdc")
    real, fake = _features(5, n, d), _features(6, m, d, shift=0.3, scale=1.3)
    expected = prdc_package.compute_prdc(real, fake, nearest_k=k)
    got = prdc(real, fake, k=k, dtype=torch.float64, chunk_size=64)
    assert got == {key: float(value) for key, value in expected.items()}
    # The legacy wrappers with the same k give the same numbers.
    assert {**precision_recall(real, fake, k=k, dtype=torch.float64),
            **density_coverage(real, fake, k=k, dtype=torch.float64)} == got


def test_prdc_float32_matches_prdc_package():
    prdc_package = pytest.importorskip("prdc")
    real = _features(7, 400, 128).astype(np.float32)
    fake = _features(8, 400, 128, shift=0.2).astype(np.float32)
    expected = prdc_package.compute_prdc(real, fake, nearest_k=5)
    got = prdc(torch.from_numpy(real), torch.from_numpy(fake), k=5)
    for key, value in expected.items():
        # float32 round-off may move a boundary point or two, i.e. a few 1/400 steps at most.
        assert got[key] == pytest.approx(float(value), abs=3 / 400), key


def test_precision_recall_matches_torch_fidelity_up_to_boundary_convention():
    # torch-fidelity counts a point on a ball's boundary as inside ("<="), the prdc package and
    # genbench do not ("<"); with continuous random data no point lies exactly on a boundary.
    real, fake = _features(9, 250, 32), _features(10, 220, 32, shift=0.25, scale=1.2)
    # torch-fidelity's convention: features_1 is generated, features_2 is real.
    tf_precision, tf_recall = metric_prc.calculate_precision_recall_full(
        torch.from_numpy(fake), torch.from_numpy(real), neighborhood=3
    )
    got = precision_recall(real, fake, k=3, dtype=torch.float64)
    assert got == {"precision": pytest.approx(tf_precision), "recall": pytest.approx(tf_recall)}
