"""f-AnoGAN (Schlegl et al. 2019, "f-AnoGAN: Fast unsupervised anomaly detection with generative
adversarial networks", Medical Image Analysis 54).

**Schedule**: one run, one ``train_step`` loop, two phases. The first ``steps - encoder_steps``
steps train a WGAN-GP exactly as genbench_gans' ``wgan-gp`` (the model wraps one built by
:func:`genbench_gans.models.build_wgan_gp`); the last ``encoder_steps = round(encoder_fraction *
steps)`` train the encoder E with G and D frozen in eval mode, on the izi_f loss

    ``mean (x - G(E(x)))^2 + kappa * mean (f(x) - f(G(E(x))))^2``

(means over pixels and over features, f the critic's last feature map, kappa = 1), with the
published code's optimizer (RMSprop, 5e-5). The model counts its steps in ``steps_done``, so a
resumed run continues in the right phase. Every step logs the same keys: the GAN's losses
(0 in the encoder's phase) and ``izi_f`` (0 in the GAN's phase).

**Score**: the izi_f loss of each test image (the paper's A(x) = A_R(x) + kappa A_D(x)); one
forward pass, no search. ``encode`` is E(x), ``reconstruct`` G(E(x)). The encoder is BiGAN's
(the critic's convolutional stack and a 4x4 convolution to the latent), without a tanh: its
codes are meant to match the Gaussian prior.
"""

from __future__ import annotations

import torch
from genbench_gans.conditional import Encoder
from genbench_gans.core import make_optimizer
from genbench_gans.models import build_wgan_gp
from genbench_gans.nets import init_normal

from genbench.model import DataInfo, GenerativeModel
from genbench_anomaly.residuals import SamplesFromItsGAN, frozen, in_chunks, izif_loss

GAN_LOGS = ("loss_d", "loss_g", "D(x)", "D(G(z))")


class FAnoGAN(SamplesFromItsGAN, GenerativeModel):
    """A WGAN-GP (``self.gan``) and an encoder trained after it; see the module docstring."""

    def __init__(self, config, gan, encoder):
        super().__init__()
        self.config = config
        self.gan = gan
        self.encoder = encoder
        self.encoder_steps = round(config.encoder_fraction * config.steps)
        self.gan_steps = config.steps - self.encoder_steps
        self.register_buffer("steps_done", torch.zeros((), dtype=torch.long))
        self.optimizers = {**gan.optimizers,
                           "e": make_optimizer(config.e_optimizer, encoder.parameters(),
                                               config.lr_e, (config.beta1, config.beta2))}
        self._log_keys = GAN_LOGS + (("gp",) if gan.gp_weight else ())

    # -- training -------------------------------------------------------------------------

    def _generator(self):
        gan = self.gan
        return gan.ema_generator if gan.ema_generator is not None else gan.generator

    def izi_f(self, x: torch.Tensor) -> torch.Tensor:
        """The izi_f loss of each image (gradients reach E only, when enabled)."""
        g, d = self._generator(), self.gan.discriminator
        with frozen(g, d):
            with torch.no_grad():
                fx = d.features(x)
            return izif_loss(x, fx, g(self.encoder(x)), d.features, self.config.kappa)

    def train_step(self, x: torch.Tensor, y: torch.Tensor | None
                   ) -> dict[str, torch.Tensor | float]:
        if self.step_count < self.gan_steps:
            logs = {**self.gan.train_step(x, y), "izi_f": 0.0}
        else:
            loss = self.izi_f(x).mean()
            opt = self.optimizers["e"]
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            logs = {**{key: 0.0 for key in self._log_keys}, "izi_f": loss.detach()}
        self.count_step()
        return logs

    # -- encoding and scoring -------------------------------------------------------------

    @torch.no_grad()
    def encode(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """E(x), in eval mode."""
        with frozen(self.encoder):
            return self.encoder(x.to(self.device))

    @torch.no_grad()
    def reconstruct(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """G(E(x))."""
        return self.generate(self.encode(x))

    @property
    def anomaly_score_description(self) -> str:
        return (f"izi_f loss mean (x - G(E(x)))^2 + {self.config.kappa:g} * "
                "mean (f(x) - f(G(E(x))))^2; f: the critic's last feature map")

    @torch.no_grad()
    def anomaly_score(self, x: torch.Tensor) -> torch.Tensor:
        """The izi_f loss of each image (higher = more anomalous)."""
        with frozen(self.encoder):
            return in_chunks(self.izi_f, x)


def build_fanogan(config, data: DataInfo) -> FAnoGAN:
    gan = build_wgan_gp(config, data)
    encoder = Encoder(config, data.shape[0], data.shape[1])
    init_normal(encoder)
    return FAnoGAN(config, gan, encoder)
