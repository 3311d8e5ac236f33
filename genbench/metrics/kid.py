"""Kernel Inception Distance (KID).

Bińkowski et al., "Demystifying MMD GANs", ICLR 2018: the unbiased estimator of the squared
maximum mean discrepancy (MMD^2) between two feature sets under the polynomial kernel

    k(x, y) = (gamma * x.y + coef0) ** degree,   gamma = 1 / D by default,

averaged over random subsets. For sets X (n samples) and Y (m samples),

    MMD^2_u = sum_{i != j} k(x_i, x_j) / (n (n - 1)) + sum_{i != j} k(y_i, y_j) / (m (m - 1))
              - 2 sum_{i, j} k(x_i, y_j) / (n m).

It is unbiased, so it can be slightly negative when both sets come from one distribution.

``kid`` draws its subsets the way ``torch_fidelity.metric_kid.kid_features_to_metric`` does
(``numpy.random.RandomState(seed)``, then for each subset one ``choice`` without replacement
from the first set and one from the second), so given the same features, seed, subset count and
size both give the same values. The mean and the population standard deviation (ddof = 0, as
``numpy.std``) of the subset estimates are reported. All arithmetic is float64.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

ArrayLike = np.ndarray | Tensor


def _as_float64(array: ArrayLike, name: str) -> Tensor:
    if isinstance(array, Tensor):
        tensor = array.detach().to(torch.float64)
    else:
        tensor = torch.as_tensor(np.asarray(array, dtype=np.float64))
    if tensor.ndim != 2:
        raise ValueError(f"{name} must have shape (N, D), got {tuple(tensor.shape)}")
    if tensor.shape[0] < 2:
        raise ValueError(f"{name} needs at least 2 samples, got {tensor.shape[0]}")
    if not torch.isfinite(tensor).all():
        raise ValueError(f"{name} contains NaN or inf")
    return tensor


def _check_kernel(degree: int, gamma: float | None, coef0: float) -> None:
    if isinstance(degree, bool) or not isinstance(degree, (int, np.integer)) or degree < 1:
        raise ValueError(f"degree must be an integer >= 1, got {degree!r}")
    if gamma is not None and not np.isfinite(gamma):
        raise ValueError(f"gamma must be finite, got {gamma}")
    if not np.isfinite(coef0):
        raise ValueError(f"coef0 must be finite, got {coef0}")


def _polynomial_kernel(x: Tensor, y: Tensor, degree: int, gamma: float, coef0: float) -> Tensor:
    return (x @ y.T).mul_(gamma).add_(coef0).pow_(degree)


def _mmd2_unbiased(x: Tensor, y: Tensor, degree: int, gamma: float, coef0: float) -> float:
    n, m = x.shape[0], y.shape[0]
    k_xx = _polynomial_kernel(x, x, degree, gamma, coef0)
    k_yy = _polynomial_kernel(y, y, degree, gamma, coef0)
    k_xy = _polynomial_kernel(x, y, degree, gamma, coef0)
    within_x = (k_xx.sum() - k_xx.diagonal().sum()) / (n * (n - 1))
    within_y = (k_yy.sum() - k_yy.diagonal().sum()) / (m * (m - 1))
    return float(within_x + within_y - 2.0 * k_xy.sum() / (n * m))


def _validated_pair(x: ArrayLike, y: ArrayLike, names: tuple[str, str]) -> tuple[Tensor, Tensor]:
    x_t, y_t = _as_float64(x, names[0]), _as_float64(y, names[1])
    if x_t.shape[1] != y_t.shape[1]:
        raise ValueError(
            f"feature dimension mismatch: {names[0]} has D={x_t.shape[1]}, "
            f"{names[1]} has D={y_t.shape[1]}"
        )
    return x_t, y_t.to(x_t.device)


def mmd2_unbiased(
    x: ArrayLike,
    y: ArrayLike,
    degree: int = 3,
    gamma: float | None = None,
    coef0: float = 1.0,
) -> float:
    """Unbiased MMD^2 between two sets (n x D and m x D, n, m >= 2), polynomial kernel.

    ``gamma=None`` means ``1 / D``. Computed in float64 on the device of ``x`` if a tensor.
    For n == m this is the estimator of ``torch_fidelity.metric_kid.mmd2`` (mmd_est="unbiased").
    """
    _check_kernel(degree, gamma, coef0)
    x_t, y_t = _validated_pair(x, y, ("x", "y"))
    gamma = 1.0 / x_t.shape[1] if gamma is None else float(gamma)
    return _mmd2_unbiased(x_t, y_t, int(degree), gamma, float(coef0))


def kid(
    real: ArrayLike,
    fake: ArrayLike,
    subsets: int = 100,
    subset_size: int = 1000,
    degree: int = 3,
    gamma: float | None = None,
    coef0: float = 1.0,
    seed: int = 0,
) -> dict[str, float]:
    """Kernel Inception Distance: mean and std of MMD^2_u over random subsets.

    Each of the ``subsets`` estimates uses ``min(subset_size, N, M)`` samples of each set drawn
    without replacement. (torch-fidelity refuses a ``subset_size`` larger than either set; here it
    is reduced instead. When it is not reduced the subsets, and so the values, are the same as
    torch-fidelity's ``kid_features_to_metric`` with ``rng_seed=seed``.)

    Args:
        real, fake: (N, D) and (M, D) features, N, M >= 2, finite.
        subsets: number of subsets (>= 1).
        subset_size: samples per subset from each set (>= 2).
        degree, gamma, coef0: polynomial kernel ``(gamma x.y + coef0) ** degree``; ``gamma=None``
            means ``1 / D``. Defaults are those of the paper and of torch-fidelity.
        seed: seed of the ``numpy.random.RandomState`` that draws the subsets.

    Returns:
        ``{"kid_mean", "kid_std"}``; the std is the population std (ddof = 0) of the subset
        estimates, as torch-fidelity reports it, not a standard error.
    """
    _check_kernel(degree, gamma, coef0)
    if subsets < 1:
        raise ValueError(f"subsets must be >= 1, got {subsets}")
    if subset_size < 2:
        raise ValueError(f"subset_size must be >= 2, got {subset_size}")
    real_t, fake_t = _validated_pair(real, fake, ("real", "fake"))
    n, m = real_t.shape[0], fake_t.shape[0]
    size = min(subset_size, n, m)
    gamma = 1.0 / real_t.shape[1] if gamma is None else float(gamma)
    rng = np.random.RandomState(seed)
    estimates = np.empty(subsets, dtype=np.float64)
    for i in range(subsets):
        # Same draw order as torch-fidelity: first set, then second set, per subset.
        idx_real = torch.from_numpy(rng.choice(n, size, replace=False)).to(real_t.device)
        idx_fake = torch.from_numpy(rng.choice(m, size, replace=False)).to(real_t.device)
        estimates[i] = _mmd2_unbiased(
            real_t[idx_real], fake_t[idx_fake], int(degree), gamma, float(coef0)
        )
    return {"kid_mean": float(np.mean(estimates)), "kid_std": float(np.std(estimates))}
