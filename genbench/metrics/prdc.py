"""k-NN manifold metrics: improved precision & recall, density & coverage.

* Precision and recall: Kynkäänniemi et al., "Improved Precision and Recall Metric for Assessing
  Generative Models", NeurIPS 2019 (default k = 3).
* Density and coverage: Naeem et al., "Reliable Fidelity and Diversity Metrics for Generative
  Models", ICML 2020 (default k = 5).

Each sample defines a ball whose radius is the distance to its k-th nearest neighbour within its
own set. Conventions follow the authors' reference ``prdc`` package: the radius excludes the
sample itself and a point is inside a ball only if its distance is strictly below the radius.

:func:`prdc` computes all four values in one pass over the three distance matrices (real-real,
fake-fake, real-fake), each computed once, ``chunk_size`` rows at a time, so memory stays at
``chunk_size x (size of the other set)`` instead of a full distance matrix. Squared distances come
from ``||a||^2 + ||b||^2 - 2 a.b`` (one matrix product per chunk) on features centred on their
joint mean, which reduces cancellation; they are compared with squared radii, so no square root
is taken. The two within-set matrices are symmetric, so only the blocks on and right of the
diagonal are computed and each serves both its rows and, transposed, its columns.
:func:`precision_recall` and :func:`density_coverage` are thin wrappers around the same code.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

ArrayLike = np.ndarray | Tensor

DEFAULT_CHUNK_SIZE = 1024


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
    if dtype not in (torch.float32, torch.float64, torch.float16, torch.bfloat16):
        raise ValueError(f"dtype must be a floating dtype, got {dtype}")
    device = _pick_device(real, fake)
    real_t = _as_features(real, "real", dtype, device)
    fake_t = _as_features(fake, "fake", dtype, device)
    d_real, d_fake = real_t.shape[1], fake_t.shape[1]
    if d_real != d_fake:
        raise ValueError(f"feature dimension mismatch: real has D={d_real}, fake has D={d_fake}")
    _check_k(k, real_t.shape[0], "real")
    _check_k(k, fake_t.shape[0], "fake")
    # Distances are translation invariant; removing the joint mean keeps the squared norms small
    # relative to the squared distances, which is what limits the accuracy of the ||a||^2 +
    # ||b||^2 - 2 a.b formulation.
    n = real_t.shape[0] + fake_t.shape[0]
    mean = (real_t.sum(0, dtype=torch.float64) + fake_t.sum(0, dtype=torch.float64)) / n
    mean = mean.to(dtype)
    return real_t - mean, fake_t - mean


def _squared_norms(x: Tensor) -> Tensor:
    return torch.einsum("ij,ij->i", x, x)


def _squared_distances(a: Tensor, a_sq: Tensor, b: Tensor, b_sq: Tensor) -> Tensor:
    """``(len(a), len(b))`` squared Euclidean distances, clamped at 0 against round-off.

    Every distance block is computed here, which keeps the memory bound in one place.
    """
    out = torch.addmm(b_sq.unsqueeze(0), a, b.T, alpha=-2.0)
    return out.add_(a_sq.unsqueeze(1)).clamp_(min=0.0)


def _knn_squared(x: Tensor, x_sq: Tensor, kk: int, chunk_size: int) -> Tensor:
    """The ``kk`` smallest squared distances of each row of ``x`` to all rows (itself included).

    Row chunk ``[a, b)`` is compared with rows ``[a, n)`` only: the block's own rows get their
    candidates along dim 1, the rows ``[b, n)`` get theirs along dim 0 (by symmetry), and the
    candidates are merged with those found earlier. Returns an ascending ``(n, kk)`` tensor.
    """
    n = x.shape[0]
    best = torch.full((n, kk), float("inf"), dtype=x.dtype, device=x.device)

    def merge(rows: slice, candidates: Tensor) -> None:
        pool = torch.cat([best[rows], candidates], dim=1)
        best[rows] = pool.topk(kk, dim=1, largest=False, sorted=True).values

    for a in range(0, n, chunk_size):
        b = min(a + chunk_size, n)
        d2 = _squared_distances(x[a:b], x_sq[a:b], x[a:], x_sq[a:])
        # A point's distance to itself is exactly 0, as in sklearn's pairwise_distances.
        d2[:, : b - a].fill_diagonal_(0.0)
        merge(slice(a, b), d2.topk(min(kk, n - a), dim=1, largest=False).values)
        if b < n:
            below = d2[:, b - a :].topk(min(kk, b - a), dim=0, largest=False).values
            merge(slice(b, n), below.T)
    return best


def _prdc(
    real: Tensor,
    fake: Tensor,
    k_pr: int,
    k_dc: int,
    chunk_size: int,
    with_pr: bool = True,
    with_dc: bool = True,
) -> dict[str, float]:
    real_sq, fake_sq = _squared_norms(real), _squared_norms(fake)
    kk = max(k_pr if with_pr else 0, k_dc if with_dc else 0) + 1
    real_knn = _knn_squared(real, real_sq, kk, chunk_size)
    # Index k of the ascending list is the (k + 1)-th smallest, the 0 self-distance being first.
    r2_real_pr = real_knn[:, k_pr].unsqueeze(1)
    r2_real_dc = real_knn[:, k_dc].unsqueeze(1)
    same_k = k_pr == k_dc and with_dc
    if with_pr:
        fake_knn = _knn_squared(fake, fake_sq, k_pr + 1, chunk_size)
        r2_fake = fake_knn[:, k_pr].unsqueeze(0)

    m = fake.shape[0]
    device = real.device
    pairs = torch.zeros((), dtype=torch.int64, device=device)  # (fake, real k_dc-ball) pairs
    in_real_ball = torch.zeros(m, dtype=torch.bool, device=device)  # precision, k_pr
    recalled, covered = [], []
    for a in range(0, real.shape[0], chunk_size):
        b = min(a + chunk_size, real.shape[0])
        d2 = _squared_distances(real[a:b], real_sq[a:b], fake, fake_sq)
        if with_dc:
            inside = d2 < r2_real_dc[a:b]
            # Density needs only the total number of pairs, not the count per fake sample.
            pairs += torch.count_nonzero(inside)
            covered.append(d2.amin(dim=1) < r2_real_dc[a:b, 0])
        if with_pr:
            if not same_k:
                inside = d2 < r2_real_pr[a:b]
            in_real_ball |= inside.any(dim=0)
            recalled.append((d2 < r2_fake).any(dim=1))

    # Counts divided in Python: each value is the exact ratio of two integers, the same on every
    # device (a mean reduced on a GPU can differ from the CPU's in the last bit).
    out: dict[str, float] = {}
    if with_pr:
        recalled_all = torch.cat(recalled)
        out["precision"] = int(in_real_ball.sum()) / in_real_ball.numel()
        out["recall"] = int(recalled_all.sum()) / recalled_all.numel()
    if with_dc:
        covered_all = torch.cat(covered)
        out["density"] = int(pairs) / (k_dc * m)
        out["coverage"] = int(covered_all.sum()) / covered_all.numel()
    return out


def prdc(
    real: ArrayLike,
    fake: ArrayLike,
    k: int = 5,
    k_pr: int | None = None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    dtype: torch.dtype = torch.float32,
) -> dict[str, float]:
    """Precision, recall, density and coverage in one pass over the distance matrices.

    With the defaults this equals ``prdc.compute_prdc(real, fake, nearest_k=k)`` of the authors'
    package (Naeem et al. 2020), which uses the same k for all four values; pass ``k_pr`` to use
    a different k for precision and recall (Kynkäänniemi et al. 2019 use 3).

    * precision: fraction of fake samples inside at least one real k_pr-NN ball;
    * recall: fraction of real samples inside at least one fake k_pr-NN ball;
    * density: ``1 / (k M)`` times the number of (fake, real k-NN ball containing it) pairs;
    * coverage: fraction of real samples whose k-NN ball contains at least one fake sample.

    Args:
        real, fake: arrays or tensors of shape (N, ...) and (M, ...), flattened to (N, D); each
            needs more than ``max(k, k_pr)`` samples. Computed on the device of the first tensor
            argument (CPU for numpy input).
        k: neighbourhood size for density and coverage.
        k_pr: neighbourhood size for precision and recall; ``None`` means ``k``.
        chunk_size: rows per distance block; peak memory is about ``chunk_size x max(N, M)``.
        dtype: compute dtype. float32 is fast; float64 reproduces the reference package's
            float64 arithmetic up to round-off.

    Returns:
        ``{"precision", "recall", "density", "coverage"}`` as Python floats.
    """
    k_pr = k if k_pr is None else k_pr
    if k < 1 or k_pr < 1:
        raise ValueError(f"k must be >= 1, got k={k}, k_pr={k_pr}")
    real_t, fake_t = _prepare(real, fake, max(k, k_pr), chunk_size, dtype)
    return _prdc(real_t, fake_t, k_pr, k, chunk_size)


def knn_radii(x: ArrayLike, k: int, chunk_size: int = DEFAULT_CHUNK_SIZE) -> Tensor:
    """Distance from each row of ``x`` to its k-th nearest neighbour among the other rows.

    This is the ball radius of Kynkäänniemi et al. (2019) and Naeem et al. (2020), with the same
    convention as the ``prdc`` package (the (k+1)-th smallest entry of each row of the full
    distance matrix, whose diagonal is 0). Computed in ``x``'s floating dtype (float32 for
    integer input) on ``x``'s device.
    """
    _check_chunk_size(chunk_size)
    tensor = x if isinstance(x, Tensor) else torch.as_tensor(np.asarray(x))
    dtype = tensor.dtype if tensor.dtype in (torch.float32, torch.float64) else torch.float32
    features = _as_features(tensor, "x", dtype, tensor.device)
    _check_k(k, features.shape[0], "x")
    features = features - features.mean(dim=0)
    knn = _knn_squared(features, _squared_norms(features), k + 1, chunk_size)
    return knn[:, k].sqrt()


def precision_recall(
    real: ArrayLike,
    fake: ArrayLike,
    k: int = 3,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    dtype: torch.dtype = torch.float32,
) -> dict[str, float]:
    """Improved precision and recall of Kynkäänniemi et al. (NeurIPS 2019).

    precision: fraction of fake samples inside at least one real k-NN ball.
    recall: fraction of real samples inside at least one fake k-NN ball.

    Inputs of shape (N, ...) are flattened to (N, D); both sets need more than k samples.
    Use :func:`prdc` to get density and coverage from the same distance computations.
    """
    real_t, fake_t = _prepare(real, fake, k, chunk_size, dtype)
    return _prdc(real_t, fake_t, k, k, chunk_size, with_dc=False)


def density_coverage(
    real: ArrayLike,
    fake: ArrayLike,
    k: int = 5,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    dtype: torch.dtype = torch.float32,
) -> dict[str, float]:
    """Density and coverage of Naeem et al. (ICML 2020).

    density: ``1 / (k M)`` times the total, over the M fake samples, of the number of real
    k-NN balls containing each one; about 1 when fakes follow the real distribution.
    coverage: fraction of real samples whose k-NN ball contains at least one fake sample.

    Inputs of shape (N, ...) are flattened to (N, D); both sets need more than k samples.
    The fake-fake distances are not needed and not computed.
    """
    real_t, fake_t = _prepare(real, fake, k, chunk_size, dtype)
    return _prdc(real_t, fake_t, k, k, chunk_size, with_pr=False)
