"""Number of statistically different bins (NDB/K; Richardson & Weiss 2018, "On GANs and GMMs").

The reference samples are clustered into K bins by k-means; every generated sample falls into
the bin of its nearest centre; for each bin a two-sample z-test of proportions (pooled variance,
two-sided, level ``alpha``) asks whether the generated share differs from the reference share.
NDB/K is the fraction of bins that differ: 0 for a generator that matches the bin histogram,
approaching 1 for one that drops or over-produces modes. The expected value for a perfect
generator is about ``alpha``.
"""

from __future__ import annotations

import numpy as np
import torch


def default_bins(n_reference: int) -> int:
    """K: the paper uses 100 bins on tens of thousands of images; with fewer samples we keep
    about 20 reference samples per bin so the test has some power (between 2 and 100 bins)."""
    return int(min(100, max(2, n_reference // 20)))


def bin_difference_test(real_counts: np.ndarray, fake_counts: np.ndarray,
                        alpha: float = 0.05) -> np.ndarray:
    """Per bin: whether the two proportions differ at level ``alpha`` (two-sided z-test)."""
    from scipy.stats import norm

    n_real, n_fake = real_counts.sum(), fake_counts.sum()
    p_real, p_fake = real_counts / n_real, fake_counts / n_fake
    pooled = (real_counts + fake_counts) / (n_real + n_fake)
    se = np.sqrt(pooled * (1 - pooled) * (1 / n_real + 1 / n_fake))
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(se > 0, (p_fake - p_real) / se, 0.0)
    return np.abs(z) > norm.ppf(1 - alpha / 2)


def ndb(real, fake, k: int | None = None, alpha: float = 0.05, seed: int = 0) -> dict[str, float]:
    from sklearn.cluster import KMeans

    real = torch.as_tensor(real).reshape(len(real), -1).double().cpu().numpy()
    fake = torch.as_tensor(fake).reshape(len(fake), -1).double().cpu().numpy()
    if real.shape[1] != fake.shape[1]:
        raise ValueError(f"feature dimensions differ: {real.shape[1]} vs {fake.shape[1]}")
    if not (np.isfinite(real).all() and np.isfinite(fake).all()):
        raise ValueError("features contain NaN or inf")
    bins = k or default_bins(len(real))
    if len(real) < 2 * bins:
        raise ValueError(f"NDB with {bins} bins needs at least {2 * bins} reference samples")
    kmeans = KMeans(n_clusters=bins, n_init=3, random_state=seed).fit(real)
    real_counts = np.bincount(kmeans.labels_, minlength=bins)
    fake_counts = np.bincount(kmeans.predict(fake), minlength=bins)
    different = bin_difference_test(real_counts, fake_counts, alpha)
    return {"NDB/K": float(different.mean())}
