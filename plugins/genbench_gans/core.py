"""What every GAN here shares: noise, optimizers and the alternating D/G update."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from genbench.model import GenerativeModel


def init_normal(module: nn.Module, std: float = 0.02) -> None:
    """DCGAN's initialisation: N(0, 0.02) weights, BatchNorm scales N(1, 0.02)."""
    for m in module.modules():
        if isinstance(m, nn.Conv2d | nn.ConvTranspose2d | nn.Linear):
            nn.init.normal_(m.weight, 0.0, std)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d | nn.BatchNorm1d):
            nn.init.normal_(m.weight, 1.0, std)
            nn.init.zeros_(m.bias)


class AdversarialModel(GenerativeModel):
    """A generator G(z) and a discriminator D(x) returning logits, trained with the
    cross-entropy GAN objective of Goodfellow et al. 2014."""

    def __init__(self, config, generator: nn.Module, discriminator: nn.Module):
        super().__init__()
        self.config = config
        self.generator = generator
        self.discriminator = discriminator
        betas = (config.beta1, config.beta2)
        self.optimizers = {
            "g": torch.optim.Adam(generator.parameters(), lr=config.lr_g, betas=betas),
            "d": torch.optim.Adam(discriminator.parameters(), lr=config.lr_d, betas=betas),
        }

    def noise(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        z = torch.randn(n, self.config.latent_dim, generator=generator)
        return z.to(self.device)

    def train_step(self, x: torch.Tensor, y: torch.Tensor | None) -> dict[str, float]:
        fake = self.generator(self.noise(x.shape[0]))

        d_real = self.discriminator(x)
        d_fake = self.discriminator(fake.detach())
        loss_d = (F.binary_cross_entropy_with_logits(d_real, torch.ones_like(d_real))
                  + F.binary_cross_entropy_with_logits(d_fake, torch.zeros_like(d_fake)))
        self.optimizers["d"].zero_grad(set_to_none=True)
        loss_d.backward()
        self.optimizers["d"].step()

        d_fake = self.discriminator(fake)
        if self.config.g_loss == "minimax":  # minimise log(1 - D(G(z)))
            loss_g = -F.binary_cross_entropy_with_logits(d_fake, torch.zeros_like(d_fake))
        else:  # maximise log D(G(z))
            loss_g = F.binary_cross_entropy_with_logits(d_fake, torch.ones_like(d_fake))
        self.optimizers["g"].zero_grad(set_to_none=True)
        loss_g.backward()
        self.optimizers["g"].step()
        return {
            "loss_d": loss_d.item(),
            "loss_g": loss_g.item(),
            "D(x)": torch.sigmoid(d_real).mean().item(),
            "D(G(z))": torch.sigmoid(d_fake).mean().item(),
        }

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        return self.generator(self.noise(n, generator))
