"""The example's diagonal Gaussian: a learnable mean and diagonal covariance."""

from __future__ import annotations

import math

import torch
from torch import nn

from genbench.model import DataInfo, GenerativeModel

HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)


class DiagonalGaussian(GenerativeModel):
    """N(mean, diag(exp(log_std)^2)) over one data example (a point or a whole image)."""

    likelihood = "density"  # log_likelihood returns log-densities (see genbench.likelihood)

    def __init__(self, config, data: DataInfo):
        super().__init__()
        self.config = config
        self.images = data.kind == "images"
        self.mean = nn.Parameter(torch.zeros(data.shape))
        self.log_std = nn.Parameter(torch.zeros(data.shape))
        # Optimizers registered here are saved in checkpoints and restored on --resume.
        self.optimizers = {"adam": torch.optim.Adam(self.parameters(), lr=config.lr)}

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """The log-density of each example in ``x``: a tensor of shape (N,)."""
        z = (x - self.mean) * torch.exp(-self.log_std)
        per_dim = -0.5 * z.square() - self.log_std - HALF_LOG_2PI
        return per_dim.flatten(1).sum(1)

    def log_likelihood(self, x: torch.Tensor, y: torch.Tensor | None = None, *, k: int = 64,
                       generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
        """The "log_prob" capability: genbench's likelihood metric calls this on the test
        split and reports NLL and bits/dim. The density is exact, so the key is "exact".
        Images arrive dequantised in genbench's [-1, 1] scale, the scale this density is
        over, so nothing needs converting (a model working in [0, 1] would add
        D * log(1/2) here, the change of variables)."""
        return {"exact": self.log_prob(x)}

    def train_step(self, x: torch.Tensor, y: torch.Tensor | None) -> dict[str, torch.Tensor]:
        # The mean negative log-likelihood per dimension: the same optimum as the total NLL,
        # with a scale that does not depend on the data's size.
        nll = -self.log_prob(x).mean() / self.mean.numel()
        opt = self.optimizers["adam"]
        opt.zero_grad(set_to_none=True)
        nll.backward()
        opt.step()
        # Detached, not .item(): genbench reads the losses of many steps at once.
        return {"nll": nll.detach()}

    @torch.no_grad()
    def latent(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """The "latent" capability: the standard normal noise a sample is made from, drawn
        on the CPU with the caller's generator (so samples depend on the seed only)."""
        return torch.randn(n, self.mean.numel(), generator=generator).to(self.device)

    @torch.no_grad()
    def generate(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Decode latents into data: `genbench samples RUN --interpolate` draws with it."""
        x = self.mean + torch.exp(self.log_std) * z.view(-1, *self.mean.shape)
        return x.clamp(-1.0, 1.0) if self.images else x

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        return self.generate(self.latent(n, generator))


def build(config, data: DataInfo) -> DiagonalGaussian:
    """The ``factory`` named in the ModelSpec: called as ``build(config, data_info)``."""
    return DiagonalGaussian(config, data)
