"""The 2-D mixtures of the mode-collapse literature (Unrolled GAN, VEEGAN, PacGAN)."""

from __future__ import annotations

import math

import torch

from genbench.data.base import TensorData, check_split

# Fixed sizes and seeds so every run of every model sees the same points.
SPLIT_SIZE = {"train": 20_000, "test": 2_500}
SPLIT_SEED = {"train": 0, "test": 1}


def ring_modes(k: int = 8, radius: float = 2.0) -> torch.Tensor:
    angles = torch.arange(k, dtype=torch.float64) * (2 * math.pi / k)
    return torch.stack([radius * torch.cos(angles), radius * torch.sin(angles)], dim=1)


def grid_modes(side: int = 5, spacing: float = 2.0) -> torch.Tensor:
    coords = (torch.arange(side, dtype=torch.float64) - (side - 1) / 2) * spacing
    gx, gy = torch.meshgrid(coords, coords, indexing="ij")
    return torch.stack([gx.flatten(), gy.flatten()], dim=1)


def sample_mixture(modes: torch.Tensor, std: float, n: int, seed: int) -> tuple[torch.Tensor, ...]:
    """n points from an equal-weight isotropic Gaussian mixture, with each point's mode index."""
    gen = torch.Generator().manual_seed(seed)
    labels = torch.randint(len(modes), (n,), generator=gen)
    noise = torch.randn(n, 2, generator=gen, dtype=torch.float64) * std
    return (modes[labels] + noise).float(), labels


def _load(name: str, modes: torch.Tensor, std: float, split: str) -> TensorData:
    check_split(name, split)
    x, y = sample_mixture(modes, std, SPLIT_SIZE[split], SPLIT_SEED[split])
    return TensorData(name, split, x, y, meta={"modes": modes.float(), "std": std})


def load_ring8(split: str = "train", image_size: int | None = None, root=None) -> TensorData:
    return _load("ring8", ring_modes(), 0.02, split)


def load_grid25(split: str = "train", image_size: int | None = None, root=None) -> TensorData:
    return _load("grid25", grid_modes(), 0.05, split)
