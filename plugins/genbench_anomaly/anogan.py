"""AnoGAN (Schlegl et al. 2017, "Unsupervised Anomaly Detection with Generative Adversarial
Networks to Guide Marker Discovery", arXiv:1703.05921).

* **Training**: a DCGAN on the normal images, exactly genbench_gans' ``dcgan`` (the model here
  wraps one built by :func:`genbench_gans.models.build_dcgan`, so checks, losses and tricks are
  that model's).
* **Scoring**: per test image x, a search for the latent z whose G(z) is closest to x: z starts
  from the prior (drawn from a fixed seed), and ``search_steps`` Adam steps (``search_lr``) on z
  alone minimise the mapping loss ``(1 - lambda) * sum |x - G(z)| + lambda * sum |f(x) - f(G(z))|``
  with lambda = ``search_lambda`` and f the discriminator's last feature map (the paper's
  feature-matching discrimination loss). The anomaly score is that loss at the searched z.
  G and D are in eval mode and frozen. The search runs on all test images at once
  (``search_batch`` at a time): every image's loss depends only on its own z, and Adam's
  update is per coordinate, so the batched search is the per-image search of the paper.
"""

from __future__ import annotations

import torch
from genbench_gans.models import build_dcgan

from genbench.model import DataInfo, GenerativeModel
from genbench_anomaly.residuals import SamplesFromItsGAN, anogan_loss, frozen

SEARCH_SEED = 0  # the search's starting points are fixed, so scores are deterministic


class AnoGAN(SamplesFromItsGAN, GenerativeModel):
    """A DCGAN (``self.gan``) with AnoGAN's latent search as its anomaly score."""

    def __init__(self, config, gan):
        super().__init__()
        self.config = config
        self.gan = gan
        self.optimizers = gan.optimizers

    # -- the DCGAN ------------------------------------------------------------------------

    def train_step(self, x: torch.Tensor, y: torch.Tensor | None) -> dict[str, torch.Tensor]:
        return self.gan.train_step(x, y)

    # -- the latent search ----------------------------------------------------------------

    def start(self, n: int) -> torch.Tensor:
        """The search's starting latents for n images: prior draws from a fixed seed."""
        return self.gan.latent(n, torch.Generator().manual_seed(SEARCH_SEED))

    def latent_search(self, x: torch.Tensor, z: torch.Tensor | None = None,
                      steps: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """(z, loss): the searched latents of a batch x, searched together from ``z`` (default
        :meth:`start`) for ``steps`` steps (default ``search_steps``), and the mapping loss of
        each image at them."""
        cfg = self.config
        steps = cfg.search_steps if steps is None else steps
        gan = self.gan
        g = gan.ema_generator if gan.ema_generator is not None else gan.generator
        d = gan.discriminator
        z = (self.start(len(x)) if z is None else z).detach().clone().requires_grad_(True)
        with frozen(g, d), torch.enable_grad():
            with torch.no_grad():
                fx = d.features(x)

            def loss(z: torch.Tensor) -> torch.Tensor:
                return anogan_loss(x, fx, g(z), d.features, cfg.search_lambda)

            opt = torch.optim.Adam([z], lr=cfg.search_lr)
            for _ in range(steps):
                opt.zero_grad(set_to_none=True)
                # Summed over images: each z gets exactly its own image's gradient.
                loss(z).sum().backward(inputs=[z])
                opt.step()
            with torch.no_grad():
                final = loss(z)
        return z.detach(), final

    @property
    def anomaly_score_description(self) -> str:
        cfg = self.config
        return (f"mapping loss (1 - {cfg.search_lambda:g}) * sum |x - G(z)| + "
                f"{cfg.search_lambda:g} * sum |f(x) - f(G(z))| after {cfg.search_steps} Adam "
                f"steps (lr {cfg.search_lr:g}) of latent search from a fixed prior draw; f: "
                "D's last feature map")

    def anomaly_score(self, x: torch.Tensor) -> torch.Tensor:
        """The mapping loss after the search, per image (higher = more anomalous). All of x is
        searched at once, ``search_batch`` images at a time; the starting latents are drawn
        for the whole split first, so the scores do not depend on the chunking."""
        size = self.config.search_batch
        z = self.start(len(x))
        return torch.cat([self.latent_search(x[i:i + size], z[i:i + size])[1]
                          for i in range(0, len(x), size)])


def build_anogan(config, data: DataInfo) -> AnoGAN:
    return AnoGAN(config, build_dcgan(config, data))
