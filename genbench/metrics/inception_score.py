"""Inception Score (IS) from classifier logits.

Salimans et al., "Improved Techniques for Training GANs", NeurIPS 2016:

    IS = exp( E_x [ KL( p(y | x) || p(y) ) ] ),

where p(y | x) is the classifier's softmax for sample x and p(y) its average over the samples.
As is customary, the N samples are cut into ``splits`` consecutive groups (group i holds samples
``i N // splits`` to ``(i + 1) N // splits``), the score is computed within each group with that
group's own marginal p(y), and the mean and population standard deviation (ddof = 0) of the group
scores are reported. This is the procedure of torch-fidelity's ``isc_features_to_metric``,
including its optional shuffle (``numpy.random.RandomState(seed).permutation(N)``), so the values
are the same for the same logits and settings. Probabilities are computed in float64.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

ArrayLike = np.ndarray | Tensor


def inception_score(
    logits: ArrayLike, splits: int = 10, shuffle: bool = False, seed: int = 0
) -> dict[str, float]:
    """Inception Score of (N, C) classifier logits (unnormalised log-probabilities).

    Args:
        logits: (N, C) array or tensor, finite, with N >= splits.
        splits: number of consecutive groups scored separately (>= 1).
        shuffle: permute the samples first with ``numpy.random.RandomState(seed)``.
            torch-fidelity shuffles by default (with seed 2020); here the default keeps order.
        seed: seed of that permutation.

    Returns:
        ``{"is_mean", "is_std"}``: mean and population std (ddof = 0) of the group scores.
        The score lies between 1 (every prediction is the marginal) and C (confident
        predictions spread evenly over all C classes).
    """
    tensor = logits.detach() if isinstance(logits, Tensor) else torch.as_tensor(np.asarray(logits))
    if tensor.ndim != 2:
        raise ValueError(f"logits must have shape (N, C), got {tuple(tensor.shape)}")
    n = tensor.shape[0]
    if splits < 1:
        raise ValueError(f"splits must be >= 1, got {splits}")
    if n < splits:
        raise ValueError(f"need at least one sample per split: N={n} < splits={splits}")
    tensor = tensor.to(torch.float64)
    if not torch.isfinite(tensor).all():
        raise ValueError("logits contain NaN or inf")
    if shuffle:
        order = np.random.RandomState(seed).permutation(n)
        tensor = tensor[torch.from_numpy(order).to(tensor.device)]

    p = tensor.softmax(dim=1)
    log_p = tensor.log_softmax(dim=1)
    scores = []
    for i in range(splits):
        rows = slice(i * n // splits, (i + 1) * n // splits)
        p_i, log_p_i = p[rows], log_p[rows]
        log_marginal = p_i.mean(dim=0, keepdim=True).log()
        terms = p_i * (log_p_i - log_marginal)
        # A class whose probability underflows to 0 in the whole group has log-marginal -inf;
        # its terms are 0 * (-inf + inf) = NaN but contribute 0 to the KL divergence.
        terms = torch.where(p_i > 0, terms, torch.zeros_like(terms))
        scores.append(terms.sum(dim=1).mean().exp().item())
    return {"is_mean": float(np.mean(scores)), "is_std": float(np.std(scores))}
