"""What the three detectors share: freezing trained nets while scoring, and the per-image
residuals between an image and its reconstruction, in pixels and in a discriminator's features.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import torch
from torch import nn

CHUNK = 500  # test images per forward pass where nothing needs them all at once

Features = Callable[[torch.Tensor], torch.Tensor]


@contextmanager
def frozen(*modules: nn.Module) -> Iterator[None]:
    """Eval mode and no parameter gradients for ``modules``, both restored on exit: whatever
    runs inside (a latent search, a score, an encoder's training) cannot change their weights
    or their BatchNorm statistics."""
    modes = [[m.training for m in module.modules()] for module in modules]
    flags = [[p.requires_grad for p in module.parameters()] for module in modules]
    for module in modules:
        module.eval().requires_grad_(False)
    try:
        yield
    finally:
        for module, mode, flag in zip(modules, modes, flags, strict=True):
            for m, training in zip(module.modules(), mode, strict=True):
                m.training = training
            for p, requires_grad in zip(module.parameters(), flag, strict=True):
                p.requires_grad_(requires_grad)


def per_image(v: torch.Tensor, reduce: str) -> torch.Tensor:
    """(N, ...) -> (N,): the sum or the mean over everything but the first dimension."""
    v = v.flatten(1)
    return v.sum(1) if reduce == "sum" else v.mean(1)


def anogan_loss(x: torch.Tensor, fx: torch.Tensor, x_hat: torch.Tensor, features: Features,
                lam: float) -> torch.Tensor:
    """AnoGAN's per-image mapping loss (Schlegl et al. 2017, eqs. 3-5):
    (1 - lam) * sum |x - x_hat| + lam * sum |f(x) - f(x_hat)|; ``fx`` is f(x)."""
    residual = per_image((x - x_hat).abs(), "sum")
    discrimination = per_image((fx - features(x_hat)).abs(), "sum")
    return (1 - lam) * residual + lam * discrimination


def izif_loss(x: torch.Tensor, fx: torch.Tensor, x_hat: torch.Tensor, features: Features,
              kappa: float) -> torch.Tensor:
    """f-AnoGAN's izi_f loss and anomaly score per image (Schlegl et al. 2019, eqs. 6-8):
    mean (x - x_hat)^2 over pixels + kappa * mean (f(x) - f(x_hat))^2 over features."""
    residual = per_image((x - x_hat).pow(2), "mean")
    return residual + kappa * per_image((fx - features(x_hat)).pow(2), "mean")


def in_chunks(fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor,
              size: int = CHUNK) -> torch.Tensor:
    """``fn`` over ``x`` in chunks of ``size`` examples, concatenated."""
    return torch.cat([fn(x[i:i + size]) for i in range(0, len(x), size)])


class SamplesFromItsGAN:
    """Sampling for a detector built around a trained GAN (``self.gan``): the GAN's own."""

    def latent(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        return self.gan.latent(n, generator)

    def generate(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        return self.gan.generate(z)

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        return self.gan.sample(n, generator)
