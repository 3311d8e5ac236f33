"""GANomaly (Akcay et al. 2018, "GANomaly: Semi-Supervised Anomaly Detection via Adversarial
Training", arXiv:1805.06725).

* **Generator**: an encoder G_E (x -> z), a decoder G_D (z -> x_hat) and a second encoder E
  (x_hat -> z_hat) of the same architecture with its own weights. The encoders are BiGAN's
  (DCGAN's discriminator stack, BatchNorm, LeakyReLU, a 4x4 convolution to ``latent_dim``), the
  decoder is DCGAN's generator: the published code's nets.
* **Discriminator**: DCGAN's, trained with binary cross-entropy (real x against x_hat).
* **Generator loss**: ``w_adv * adv + w_con * con + w_enc * enc`` with the adversarial loss the
  feature matching ``mean (f(x) - f(x_hat))^2`` (f: D's last feature map), the contextual loss
  ``mean |x - x_hat|`` and the encoder loss ``mean (z - z_hat)^2``; weights 1, 50, 1. As in the
  published code, G is updated before D in each step.
* **Score**: ``mean (G_E(x) - E(G_D(G_E(x))))^2`` over the latent dimensions. The published
  code also min-max normalises the scores over the test set (no change to AUROC or AUPRC)
  and keeps the epoch with the best test AUROC; genbench trains for the fixed number of steps
  and never looks at the test split.

GANomaly does not sample from noise; it reconstructs (``reconstruct(x) = G_D(G_E(x))``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from genbench_gans.conditional import Encoder
from genbench_gans.nets import ConvDiscriminator, ConvGenerator, init_normal

from genbench.errors import GenbenchError
from genbench.model import DataInfo, GenerativeModel
from genbench_anomaly.residuals import frozen, in_chunks, per_image


class GANomaly(GenerativeModel):
    """See the module docstring."""

    def __init__(self, config, channels: int, size: int):
        super().__init__()
        self.config = config
        self.encoder = Encoder(config, channels, size)  # G_E
        self.decoder = ConvGenerator(config.latent_dim, config.ngf, channels, size,
                                     norm=config.g_norm)  # G_D
        self.reencoder = Encoder(config, channels, size)  # E
        self.discriminator = ConvDiscriminator(config.ndf, channels, size, norm=config.d_norm,
                                               act=config.d_activation)
        for net in (self.encoder, self.decoder, self.reencoder, self.discriminator):
            init_normal(net)
        self.register_buffer("steps_done", torch.zeros((), dtype=torch.long))
        betas = (config.beta1, config.beta2)
        g_params = [*self.encoder.parameters(), *self.decoder.parameters(),
                    *self.reencoder.parameters()]
        self.optimizers = {
            "g": torch.optim.Adam(g_params, lr=config.lr, betas=betas),
            "d": torch.optim.Adam(self.discriminator.parameters(), lr=config.lr, betas=betas),
        }

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(z, x_hat, z_hat) = (G_E(x), G_D(z), E(x_hat))."""
        z = self.encoder(x)
        x_hat = self.decoder(z)
        return z, x_hat, self.reencoder(x_hat)

    def train_step(self, x: torch.Tensor, y: torch.Tensor | None) -> dict[str, torch.Tensor]:
        cfg, d = self.config, self.discriminator
        z, x_hat, z_hat = self(x)

        # G update (G_E, G_D and E)
        with torch.no_grad():
            fx = d.features(x)
        adv = F.mse_loss(d.features(x_hat), fx)
        con = F.l1_loss(x_hat, x)
        enc = F.mse_loss(z_hat, z)
        loss_g = cfg.w_adv * adv + cfg.w_con * con + cfg.w_enc * enc
        self.optimizers["g"].zero_grad(set_to_none=True)
        loss_g.backward()
        self.optimizers["g"].step()

        # D update: real x against the reconstructions
        d_real, d_fake = d(x), d(x_hat.detach())
        loss_d = 0.5 * (F.binary_cross_entropy_with_logits(d_real, torch.ones_like(d_real))
                        + F.binary_cross_entropy_with_logits(d_fake, torch.zeros_like(d_fake)))
        self.optimizers["d"].zero_grad(set_to_none=True)
        loss_d.backward()
        self.optimizers["d"].step()
        self.count_step()
        return {"loss_g": loss_g.detach(), "adv": adv.detach(), "con": con.detach(),
                "enc": enc.detach(), "loss_d": loss_d.detach(),
                "D(x)": torch.sigmoid(d_real.detach()).mean(),
                "D(x_hat)": torch.sigmoid(d_fake.detach()).mean()}

    @torch.no_grad()
    def reconstruct(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """G_D(G_E(x)), in eval mode."""
        with frozen(self.encoder, self.decoder):
            return self.decoder(self.encoder(x.to(self.device)))

    anomaly_score_description = "latent distance mean (G_E(x) - E(G_D(G_E(x))))^2"

    @torch.no_grad()
    def anomaly_score(self, x: torch.Tensor) -> torch.Tensor:
        """mean (G_E(x) - E(x_hat))^2 over the latent, per image (higher = more anomalous)."""
        def score(xb: torch.Tensor) -> torch.Tensor:
            z, _, z_hat = self(xb)
            return per_image((z - z_hat).pow(2), "mean")

        with frozen(self.encoder, self.decoder, self.reencoder):
            return in_chunks(score, x)

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        raise GenbenchError("ganomaly does not sample from noise; it reconstructs and scores "
                            "anomalies")


def build_ganomaly(config, data: DataInfo) -> GANomaly:
    if data.kind != "images" or len(data.shape) != 3 or data.shape[1] != data.shape[2]:
        raise GenbenchError(f"ganomaly: takes square (C, H, W) images, got {data.kind} of "
                            f"shape {tuple(data.shape)}")
    return GANomaly(config, data.shape[0], data.shape[1])
