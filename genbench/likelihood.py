"""The likelihood conventions every model's numbers are reported on.

Images are 8-bit data. genbench's images live in [-1, 1]; for likelihoods each pixel value is
put on a grid of 256 bins of width 2/256: bin ``k`` (0..255) covers [k/128 - 1, (k+1)/128 - 1).

- A **discrete** model (PixelCNN's 256-way softmax) gives log P(k) of the binned image exactly;
  it is handed the bin centres, (k + 1/2)/128 - 1.
- A **density** model (VAE decoder, Gaussian mixture) gives a log density p over [-1, 1]^D; it is
  handed uniformly dequantised values y = (k + u)/128 - 1, u ~ U(0, 1), one fixed draw per test
  image, and ``log P(k) >= E_u[log p(y)] + D log(2/256)`` (Theis et al. 2016): the reported NLL is
  an upper bound on the binned data's NLL, in the same units as a discrete model's.
- Points (2-D sets) are continuous: the NLL is -log p(x) in nats, and "bits/dim" is the same
  differential quantity divided by D ln 2 (it can be negative).

``bits_per_dim = NLL / (D ln 2)`` with D the number of values per example (C*H*W, or 2).
"""

from __future__ import annotations

import math

import torch

LEVELS = 256
BIN_WIDTH = 2.0 / LEVELS  # in genbench's [-1, 1] image space
LOG_BIN_WIDTH = math.log(BIN_WIDTH)


def to_bins(x: torch.Tensor) -> torch.Tensor:
    """Images in [-1, 1] to integer bins 0..255 (values outside are clamped)."""
    return ((x + 1) / BIN_WIDTH).floor().clamp(0, LEVELS - 1).long()


def bin_centres(k: torch.Tensor) -> torch.Tensor:
    return (k.float() + 0.5) * BIN_WIDTH - 1


def dequantize(k: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Uniform dequantisation: a point drawn uniformly inside each value's bin."""
    u = torch.rand(k.shape, generator=generator, device=k.device if generator is None else "cpu")
    return (k.float() + u.to(k.device)) * BIN_WIDTH - 1


def dims(x: torch.Tensor) -> int:
    """Values per example: C*H*W for images, D for points."""
    return int(x[0].numel())


def bits_per_dim(nll_nats: float | torch.Tensor, d: int):
    """Negative log-likelihood in nats per example to bits per dimension."""
    return nll_nats / (d * math.log(2))


def log_mean_exp(values: torch.Tensor, dim: int = 0) -> torch.Tensor:
    """log(mean(exp(values))) along ``dim``, stably: the importance-weighted bound's average."""
    return torch.logsumexp(values, dim=dim) - math.log(values.shape[dim])
