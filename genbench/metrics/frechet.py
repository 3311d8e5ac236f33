"""Fréchet distance between Gaussians fitted to two feature sets.

This is the distance behind FID (Heusel et al., "GANs Trained by a Two Time-Scale Update Rule
Converge to a Local Nash Equilibrium", NeurIPS 2017), using the closed form for two Gaussians
from Dowson & Landau, "The Fréchet distance between multivariate normal distributions",
J. Multivariate Analysis 12 (1982):

    d^2 = ||mu1 - mu2||^2 + tr(S1) + tr(S2) - 2 tr((S1 S2)^(1/2)).

The trace of the matrix square root is computed from a Cholesky factor (or, for singular
covariances, a symmetric square root) and symmetric eigenvalues only, which stays real and well
defined for singular covariances, unlike ``scipy.linalg.sqrtm`` whose output
has picked up spurious complex parts and changed behaviour across SciPy versions.
"""

from __future__ import annotations

import math

import numpy as np
import torch

ArrayLike = np.ndarray | torch.Tensor

# Round-off can push a true zero distance slightly below zero; anything more negative than this
# fraction of the total scale is a real inconsistency (non-PSD input) and is left visible.
_NEGATIVE_TOLERANCE = 1e-8


def _as_float64(array: ArrayLike | float) -> np.ndarray:
    if isinstance(array, torch.Tensor):
        return array.detach().cpu().to(torch.float64).numpy()
    return np.asarray(array, dtype=np.float64)


def _check_finite(array: np.ndarray) -> None:
    if not np.isfinite(array).all():
        raise ValueError("features contain NaN or inf")


def gaussian_stats(features: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Mean and unbiased covariance of a feature set, as fitted for FID (Heusel et al. 2017).

    Args:
        features: array or tensor of shape (N, D) with N >= 2.

    Returns:
        ``(mu, sigma)``: float64 mean of shape (D,) and covariance of shape (D, D), normalised
        by N - 1 like ``np.cov(features, rowvar=False)``.
    """
    x = _as_float64(features)
    if x.ndim != 2:
        raise ValueError(f"features must have shape (N, D), got {x.shape}")
    if x.shape[0] < 2:
        raise ValueError(f"need at least 2 samples to estimate a covariance, got {x.shape[0]}")
    _check_finite(x)
    mu = x.mean(axis=0)
    # atleast_2d because np.cov collapses the D == 1 case to a scalar.
    sigma = np.atleast_2d(np.cov(x, rowvar=False))
    return mu, sigma


def _psd_sqrt(sigma: np.ndarray) -> np.ndarray:
    """Symmetric square root of a PSD matrix, with round-off negative eigenvalues set to 0."""
    w, v = np.linalg.eigh(sigma)
    return (v * np.sqrt(np.clip(w, 0.0, None))) @ v.T


def _psd_factor(sigma: np.ndarray) -> np.ndarray:
    """A matrix F with F F^T = sigma (up to round-off), for PSD ``sigma``.

    The Cholesky factor when it exists (about 5x cheaper than an eigendecomposition), otherwise
    the symmetric square root, which exists for singular matrices too.
    """
    try:
        return np.linalg.cholesky(sigma)
    except np.linalg.LinAlgError:
        return _psd_sqrt(sigma)


def _trace_sqrt_product(sigma1: np.ndarray, sigma2: np.ndarray) -> float:
    """tr((S1 S2)^(1/2)) computed as tr((F^T S2 F)^(1/2)) where S1 = F F^T.

    S1 S2 = F (F^T S2 F) F^-1 when F is invertible (and by continuity otherwise), so both have
    the same eigenvalues, but F^T S2 F is symmetric PSD: its eigenvalues come from ``eigvalsh``
    and are real by construction.
    """
    factor = _psd_factor(sigma1)
    m = factor.T @ sigma2 @ factor
    return _sqrt_trace(np.linalg.eigvalsh((m + m.T) / 2.0))


def _sqrt_trace(eigenvalues: np.ndarray) -> float:
    """The sum of the square roots of a PSD matrix's eigenvalues, the trace of its root."""
    # Eigenvalues below this level are indistinguishable from round-off of the largest one;
    # taking their square roots would turn ~1e-16 noise into ~1e-8 per dimension.
    noise_floor = eigenvalues.size * np.finfo(np.float64).eps * np.abs(eigenvalues).max(initial=0.0)
    eigenvalues = np.where(eigenvalues > noise_floor, eigenvalues, 0.0)
    return float(np.sqrt(eigenvalues).sum())


def _assemble(mean_term: float, trace_term: float, trace_sqrt: float) -> float:
    """``||mu1 - mu2||^2 + tr(S1) + tr(S2) - 2 tr((S1 S2)^(1/2))``, with round-off below zero
    returned as 0 and a clearly negative result (non-PSD input) left visible."""
    distance = mean_term + trace_term - 2.0 * trace_sqrt
    scale = mean_term + abs(trace_term)
    if -_NEGATIVE_TOLERANCE * scale <= distance < 0.0:
        distance = 0.0
    return distance


def _validate_stats(mu: np.ndarray, sigma: np.ndarray, which: str) -> None:
    if mu.ndim != 1:
        raise ValueError(f"mu{which} must be 1-D, got shape {mu.shape}")
    d = mu.shape[0]
    if sigma.shape != (d, d):
        raise ValueError(
            f"sigma{which} must have shape ({d}, {d}) to match mu{which}, got {sigma.shape}"
        )
    _check_finite(mu)
    _check_finite(sigma)


def frechet_distance_from_stats(
    mu1: ArrayLike, sigma1: ArrayLike, mu2: ArrayLike, sigma2: ArrayLike
) -> float:
    """Fréchet distance between N(mu1, sigma1) and N(mu2, sigma2) (Dowson & Landau 1982).

    Computes ``||mu1 - mu2||^2 + tr(S1) + tr(S2) - 2 tr((S1 S2)^(1/2))`` in float64, the
    quantity reported as FID by Heusel et al. (2017) when the statistics are Inception features.
    Covariances are symmetrised before use. A result that is negative only by round-off is
    returned as 0; a clearly negative one means the covariances were not positive semi-definite
    and is returned unchanged so the problem is not hidden.
    """
    m1, s1, m2, s2 = (_as_float64(a) for a in (mu1, sigma1, mu2, sigma2))
    _validate_stats(m1, s1, "1")
    _validate_stats(m2, s2, "2")
    if m1.shape != m2.shape:
        raise ValueError(f"dimension mismatch: mu1 has shape {m1.shape}, mu2 has {m2.shape}")
    s1 = (s1 + s1.T) / 2.0
    s2 = (s2 + s2.T) / 2.0

    mean_term = float(np.sum((m1 - m2) ** 2))
    trace_term = float(np.trace(s1) + np.trace(s2))
    return _assemble(mean_term, trace_term, _trace_sqrt_product(s1, s2))


class FrechetReference:
    """The reference side of many Fréchet distances against one feature set (the bootstrap's
    resamples of the generated set, or several models scored against one split).

    What the distance needs of the reference, ``mu1``, ``tr(S1)`` and a factor ``F`` with
    ``F F^T = S1``, is computed once. ``F`` is the centred reference itself, ``X1c^T /
    sqrt(n1 - 1)`` (D x n1), when there are no more samples than dimensions, else the Cholesky
    factor of ``S1`` (or its symmetric square root when ``S1`` is singular), D x D.

    For a generated set with centred features ``X2c`` (n2 x D) and ``Y = X2c F / sqrt(n2 - 1)``
    (n2 x r), ``Y^T Y = F^T S2 F``, which has the eigenvalues of ``S1 S2`` (as in
    :func:`_trace_sqrt_product`), and so does ``Y Y^T`` apart from zeros. The trace of the
    square root is taken from whichever Gram matrix of ``Y`` is smaller: min(n1, n2, D) wide.
    With 360 samples of 3,072 raw pixels that is a 360 x 360 eigenproblem instead of two
    3,072 x 3,072 ones, and nothing D x D is ever formed when samples are fewer than
    dimensions, with the same result up to round-off (tests/test_metrics_frechet.py).

    Runs in float64 on the features' device (a GPU's when they are there).
    """

    def __init__(self, real: ArrayLike):
        x = _as_float64_tensor(real)
        if x.dim() != 2:
            raise ValueError(f"features must have shape (N, D), got {tuple(x.shape)}")
        n, d = x.shape
        if n < 2:
            raise ValueError(f"need at least 2 samples to estimate a covariance, got {n}")
        if not torch.isfinite(x).all():
            raise ValueError("features contain NaN or inf")
        self.dim = d
        self.mu = x.mean(0)
        centred = x - self.mu
        self.trace = float(centred.square().sum()) / (n - 1)
        if n <= d:
            self.factor = centred.T / math.sqrt(n - 1)
        else:
            sigma = centred.T @ centred / (n - 1)
            sigma = (sigma + sigma.T) / 2
            factor, info = torch.linalg.cholesky_ex(sigma)
            if int(info) != 0:  # singular: the symmetric square root exists for PSD matrices
                w, v = torch.linalg.eigh(sigma)
                factor = (v * w.clamp(min=0).sqrt()) @ v.T
            self.factor = factor

    def distance(self, fake: ArrayLike) -> float:
        """The Fréchet distance between Gaussians fitted to the reference and to ``fake``."""
        x = _as_float64_tensor(fake).to(self.mu.device)
        if x.dim() != 2:
            raise ValueError(f"features must have shape (N, D), got {tuple(x.shape)}")
        n, d = x.shape
        if d != self.dim:
            raise ValueError(f"feature dimension mismatch: real has D={self.dim}, fake has D={d}")
        if n < 2:
            raise ValueError(f"need at least 2 samples to estimate a covariance, got {n}")
        if not torch.isfinite(x).all():
            raise ValueError("features contain NaN or inf")
        mu = x.mean(0)
        centred = x - mu
        y = centred @ self.factor / math.sqrt(n - 1)
        gram = y @ y.T if y.shape[0] <= y.shape[1] else y.T @ y
        eigenvalues = torch.linalg.eigvalsh((gram + gram.T) / 2).cpu().numpy()
        mean_term = float((self.mu - mu).square().sum())
        trace_term = self.trace + float(centred.square().sum()) / (n - 1)
        return _assemble(mean_term, trace_term, _sqrt_trace(eigenvalues))


def _as_float64_tensor(array: ArrayLike) -> torch.Tensor:
    if isinstance(array, torch.Tensor):
        return array.detach().to(torch.float64)
    return torch.from_numpy(np.asarray(array, dtype=np.float64))


def frechet_distance(real: ArrayLike, fake: ArrayLike) -> float:
    """Fréchet distance between Gaussians fitted to two (N, D) feature sets (FID's formula).

    Same value as ``frechet_distance_from_stats`` on the two sets' ``gaussian_stats``, computed
    without forming a covariance where samples are fewer than dimensions
    (:class:`FrechetReference`)."""
    return FrechetReference(real).distance(fake)
