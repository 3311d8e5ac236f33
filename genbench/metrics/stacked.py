"""Mode coverage on stacked datasets (Stacked MNIST: VEEGAN, Srivastava et al. 2017; PacGAN,
Lin et al. 2018): a sample's mode is the tuple of the classes of its channels."""

from __future__ import annotations

import torch


def stacked_mode_metrics(predictions: torch.Tensor, classes: int) -> dict[str, float]:
    """``predictions``: (N, C) predicted class of each channel of each sample.

    ``modes_covered``: modes (of classes**C) that received at least one sample, as counted in
    the Stacked-MNIST literature. ``reverse_kl``: KL(q || uniform) of the mode histogram q,
    natural log, 0 log 0 = 0.
    """
    if predictions.dim() != 2 or predictions.shape[0] == 0:
        raise ValueError(f"predictions must be (N, channels), got {tuple(predictions.shape)}")
    channels = predictions.shape[1]
    n_modes = classes ** channels
    weights = classes ** torch.arange(channels - 1, -1, -1, device=predictions.device)
    modes = (predictions.long() * weights).sum(1)
    counts = torch.bincount(modes.cpu(), minlength=n_modes).double()
    q = counts[counts > 0] / counts.sum()
    return {"modes_covered": float((counts > 0).sum()),
            "reverse_kl": float((q * torch.log(q * n_modes)).sum())}
