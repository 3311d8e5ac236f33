"""k-NN manifold metrics: improved precision & recall, density & coverage.

* Precision and recall: Kynkäänniemi et al., "Improved Precision and Recall Metric for Assessing
  Generative Models", NeurIPS 2019 (default k = 3).
* Density and coverage: Naeem et al., "Reliable Fidelity and Diversity Metrics for Generative
  Models", ICML 2020 (default k = 5).

Each sample defines a ball whose radius is the distance to its k-th nearest neighbour within its
own set. Conventions follow the authors' reference ``prdc`` package: the radius excludes the
sample itself and a point is inside a ball only if its distance is strictly below the radius.

All distances are computed with torch on the inputs' device, ``chunk_size`` query rows at a time,
so memory stays at ``chunk_size x (size of the other set)`` instead of a full distance matrix.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

ArrayLike = np.ndarray | Tensor


def _pick_device(*arrays: ArrayLike) -> torch.device:
    for array in arrays:
        if isinstance(array, Tensor):
            return array.device
    return torch.device("cpu")


def _as_features(array: ArrayLike, name: str, dtype: torch.dtype, device: torch.device) -> Tensor:
    tensor = array.detach() if isinstance(array, Tensor) else torch.as_tensor(np.asarray(array))
    if tensor.ndim < 2:
        raise ValueError(f"{name} must have shape (N, D) or (N, ...), got {tuple(tensor.shape)}")
    tensor = tensor.reshape(tensor.shape[0], -1).to(device=device, dtype=dtype)
    # Checked after the cast so that values overflowing the compute dtype are caught too.
    if not torch.isfinite(tensor).all():
        raise ValueError(f"{name} contains NaN or inf")
    return tensor


def _check_k(k: int, n: int, name: str) -> None:
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    if n < k + 1:
        raise ValueError(f"{name} needs at least k + 1 = {k + 1} samples for k-NN radii, got {n}")


def _check_chunk_size(chunk_size: int) -> None:
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")


def _prepare(
    real: ArrayLike, fake: ArrayLike, k: int, chunk_size: int, dtype: torch.dtype
) -> tuple[Tensor, Tensor]:
    _check_chunk_size(chunk_size)
    device = _pick_device(real, fake)
    real_t = _as_features(real, "real", dtype, device)
    fake_t = _as_features(fake, "fake", dtype, device)
    d_real, d_fake = real_t.shape[1], fake_t.shape[1]
    if d_real != d_fake:
        raise ValueError(f"feature dimension mismatch: real has D={d_real}, fake has D={d_fake}")
    _check_k(k, real_t.shape[0], "real")
    _check_k(k, fake_t.shape[0], "fake")
    return real_t, fake_t


def _radii(x: Tensor, k: int, chunk_size: int) -> Tensor:
    parts = []
    for start in range(0, x.shape[0], chunk_size):
        distances = torch.cdist(x[start : start + chunk_size], x)
        # (k+1)-th smallest because the zero distance of each point to itself is in the row.
        parts.append(torch.kthvalue(distances, k + 1, dim=1).values)
    return torch.cat(parts)


def knn_radii(x: Tensor, k: int, chunk_size: int = 1024) -> Tensor:
    """Distance from each row of ``x`` to its k-th nearest neighbour among the other rows.

    This is the ball radius of Kynkäänniemi et al. (2019) and Naeem et al. (2020), with the same
    convention as the ``prdc`` package (``np.partition(d, k)[:, k]`` on the full distance
    matrix). Computed in ``x``'s floating dtype (float32 for integer input) on ``x``'s device.
    """
    _check_chunk_size(chunk_size)
    tensor = x if isinstance(x, Tensor) else torch.as_tensor(np.asarray(x))
    dtype = tensor.dtype if tensor.dtype in (torch.float32, torch.float64) else torch.float32
    features = _as_features(tensor, "x", dtype, tensor.device)
    _check_k(k, features.shape[0], "x")
    return _radii(features, k, chunk_size)


def _balls_containing(queries: Tensor, centers: Tensor, radii: Tensor, chunk_size: int) -> Tensor:
    """For each query, how many balls (centers[j], radii[j]) contain it (strict inequality)."""
    counts = []
    for start in range(0, queries.shape[0], chunk_size):
        distances = torch.cdist(queries[start : start + chunk_size], centers)
        counts.append((distances < radii.unsqueeze(0)).sum(dim=1))
    return torch.cat(counts)


def _nearest_distance(queries: Tensor, references: Tensor, chunk_size: int) -> Tensor:
    parts = []
    for start in range(0, queries.shape[0], chunk_size):
        distances = torch.cdist(queries[start : start + chunk_size], references)
        parts.append(distances.min(dim=1).values)
    return torch.cat(parts)


def precision_recall(
    real: ArrayLike,
    fake: ArrayLike,
    k: int = 3,
    chunk_size: int = 1024,
    dtype: torch.dtype = torch.float32,
) -> dict[str, float]:
    """Improved precision and recall of Kynkäänniemi et al. (NeurIPS 2019).

    precision: fraction of fake samples inside at least one real k-NN ball.
    recall: fraction of real samples inside at least one fake k-NN ball.

    Inputs of shape (N, ...) are flattened to (N, D); both sets need more than k samples.
    """
    real_t, fake_t = _prepare(real, fake, k, chunk_size, dtype)
    real_radii = _radii(real_t, k, chunk_size)
    fake_radii = _radii(fake_t, k, chunk_size)
    precision = (_balls_containing(fake_t, real_t, real_radii, chunk_size) > 0).double().mean()
    recall = (_balls_containing(real_t, fake_t, fake_radii, chunk_size) > 0).double().mean()
    return {"precision": float(precision), "recall": float(recall)}


def density_coverage(
    real: ArrayLike,
    fake: ArrayLike,
    k: int = 5,
    chunk_size: int = 1024,
    dtype: torch.dtype = torch.float32,
) -> dict[str, float]:
    """Density and coverage of Naeem et al. (ICML 2020).

    density: ``1 / (k M)`` times the total, over the M fake samples, of the number of real
    k-NN balls containing each one; about 1 when fakes follow the real distribution.
    coverage: fraction of real samples whose k-NN ball contains at least one fake sample.

    Inputs of shape (N, ...) are flattened to (N, D); both sets need more than k samples.
    """
    real_t, fake_t = _prepare(real, fake, k, chunk_size, dtype)
    real_radii = _radii(real_t, k, chunk_size)
    counts = _balls_containing(fake_t, real_t, real_radii, chunk_size)
    density = counts.sum().double() / (k * fake_t.shape[0])
    covered = _nearest_distance(real_t, fake_t, chunk_size) < real_radii
    return {"density": float(density), "coverage": float(covered.double().mean())}
