"""Mode-collapse metrics for synthetic Gaussian mixtures (ring of 8, 5x5 grid).

The protocol comes from Metz et al., "Unrolled Generative Adversarial Networks" (ICLR 2017),
Srivastava et al., "VEEGAN" (NeurIPS 2017) and Lin et al., "PacGAN" (NeurIPS 2018): each
generated sample is assigned to its nearest mixture component, counts as high quality when it lies
within three standard deviations of that component, and a mode counts as captured when it gets
enough high-quality samples. The reverse KL divergence between the high-quality samples'
distribution over modes and the uniform target measures how unevenly the modes are covered.
"""

from __future__ import annotations

import math

import numpy as np
import torch

ArrayLike = np.ndarray | torch.Tensor

# A sample within this many standard deviations of its nearest mode counts as high quality.
_QUALITY_STDS = 3.0


def _as_points(array: ArrayLike, name: str) -> np.ndarray:
    if isinstance(array, torch.Tensor):
        points = array.detach().cpu().to(torch.float64).numpy()
    else:
        points = np.asarray(array, dtype=np.float64)
    if points.ndim != 2 or points.shape[0] == 0:
        raise ValueError(f"{name} must have shape (N, 2) with N >= 1, got {points.shape}")
    if not np.isfinite(points).all():
        raise ValueError(f"{name} contain NaN or inf")
    return points


def _high_quality_counts(samples: np.ndarray, modes: np.ndarray, std: float) -> np.ndarray:
    """Number of high-quality samples assigned to each mode."""
    # (N, K) distances are small here: K is tens of modes, so no chunking is needed.
    distances = np.linalg.norm(samples[:, None, :] - modes[None, :, :], axis=-1)
    nearest = distances.argmin(axis=1)
    is_close = distances[np.arange(samples.shape[0]), nearest] <= _QUALITY_STDS * std
    return np.bincount(nearest[is_close], minlength=modes.shape[0])


def _reverse_kl_to_uniform(counts: np.ndarray) -> float:
    """KL(q || uniform) = sum_k q_k log(q_k K), with 0 log 0 = 0."""
    n_modes = counts.shape[0]
    total = counts.sum()
    if total == 0:
        # No sample lands on any mode, so q is undefined. log K is the value for all mass on a
        # single mode, the worst a non-empty histogram can score, so the failure still ranks last
        # and aggregates without NaNs.
        return math.log(n_modes)
    q = counts[counts > 0] / total
    return float(np.sum(q * np.log(q * n_modes)))


def mode_metrics(
    samples: ArrayLike, modes: ArrayLike, std: float, min_fraction: float = 0.2
) -> dict[str, float]:
    """Modes covered, percentage of high-quality samples and reverse KL for a Gaussian mixture.

    Follows Metz et al. (2017), Srivastava et al. (2017) and Lin et al. (PacGAN, 2018).

    Args:
        samples: generated points, shape (N, 2).
        modes: mixture component means, shape (K, 2).
        std: standard deviation of each component; "high quality" means within 3 * std of the
            nearest mode.
        min_fraction: a mode is covered when it receives at least ``min_fraction * N / K``
            high-quality samples (PacGAN: a mode with under 1/5 of its expected share is lost).

    Returns:
        ``modes_covered`` (count, as float), ``high_quality`` (percentage 0..100 of samples) and
        ``reverse_kl`` (natural log; ``log K`` when no sample is high quality).
    """
    points = _as_points(samples, "samples")
    centers = _as_points(modes, "modes")
    if points.shape[1] != centers.shape[1]:
        raise ValueError(
            f"samples have dimension {points.shape[1]} but modes have {centers.shape[1]}"
        )
    if not (math.isfinite(std) and std > 0):
        raise ValueError(f"std must be a positive finite number, got {std}")
    if min_fraction < 0:
        raise ValueError(f"min_fraction must be >= 0, got {min_fraction}")

    counts = _high_quality_counts(points, centers, std)
    n_samples, n_modes = points.shape[0], centers.shape[0]
    covered = int(np.sum(counts >= min_fraction * n_samples / n_modes))
    return {
        "modes_covered": float(covered),
        "high_quality": 100.0 * float(counts.sum()) / n_samples,
        "reverse_kl": _reverse_kl_to_uniform(counts),
    }
