"""CoGAN (Liu & Tuzel 2016, Coupled Generative Adversarial Networks, arXiv:1606.07536).

Two GANs, one per domain, that share weights: the generators share their first layers (which
decode the high-level content of z) and keep their own output layer (which renders it in the
domain's style); the discriminators keep their own first layer (which reads the domain's
low-level style) and share the rest. Each domain's GAN sees only that domain's images, so the
training data need not be paired; the sharing alone makes one z give a pair (x_A, x_B) that
shows the same content in the two styles, i.e. a sample of the joint distribution.

The networks are the DCGAN-style ones of :mod:`genbench_gans.nets` (32x32 or 64x64) split at
those points: G's trunk is every layer of :class:`~genbench_gans.nets.ConvGenerator` but the last
transposed convolution, D's shared part every layer of
:class:`~genbench_gans.nets.ConvDiscriminator` but the first convolution. The loss is the
cross-entropy GAN loss of each domain, summed; Adam for G and D.

``sample`` gives domain A, as any sampler gives the data's first domain; ``sample_pairs`` gives
the coupled pairs (the ``pairs`` capability), which genbench scores per domain and by how often
the two images of a pair show the same class (``pair_agreement``, see docs/metrics.md).
"""

from __future__ import annotations

import torch
from torch import nn

from genbench.errors import GenbenchError
from genbench.model import DataInfo, GenerativeModel
from genbench_gans.core import draw_latent
from genbench_gans.nets import ConvDiscriminator, ConvGenerator, activation, init_normal
from genbench_gans.objectives import CrossEntropy

DOMAINS = ("A", "B")


class CoupledGenerator(nn.Module):
    """z -> shared trunk -> one output layer per domain: ``forward(z) -> (x_A, x_B)``."""

    def __init__(self, latent_dim: int, ngf: int, channels: tuple[int, int], image_size: int,
                 norm: str = "batch"):
        super().__init__()
        template = ConvGenerator(latent_dim, ngf, channels[0], image_size, norm=norm)
        layers = list(template.net)
        self.trunk = nn.Sequential(*layers[:-2])  # all but the last transposed conv and tanh
        last: nn.ConvTranspose2d = layers[-2]
        heads = [nn.Sequential(last, nn.Tanh())]
        heads.append(nn.Sequential(
            nn.ConvTranspose2d(last.in_channels, channels[1], 4, 2, 1, bias=last.bias is not None),
            nn.Tanh()))
        self.heads = nn.ModuleList(heads)

    def domain(self, i: int) -> nn.Sequential:
        """Domain i's generator as one network: the shared trunk (the same modules, not a copy)
        then its own head; takes z as (N, latent_dim, 1, 1)."""
        return nn.Sequential(self.trunk, self.heads[i])

    def forward(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.trunk(z[:, :, None, None])  # the shared layers run once for both domains
        return self.heads[0](h), self.heads[1](h)


class CoupledDiscriminator(nn.Module):
    """One first convolution per domain, then shared layers and head: ``forward(x, i)`` gives
    domain i's (N,) logits."""

    def __init__(self, ndf: int, channels: tuple[int, int], image_size: int,
                 norm: str = "batch", act: str = "leaky_relu"):
        super().__init__()
        template = ConvDiscriminator(ndf, channels[0], image_size, norm=norm, act=act)
        body = list(template.body)
        first: nn.Conv2d = body[0]
        stems = [nn.Sequential(first, body[1])]
        stems.append(nn.Sequential(
            nn.Conv2d(channels[1], ndf, 4, 2, 1, bias=first.bias is not None), activation(act)))
        self.stems = nn.ModuleList(stems)
        self.shared = nn.Sequential(*body[2:])
        self.head = template.head

    def domain(self, i: int) -> nn.Sequential:
        """Domain i's discriminator as one network (shared modules, not copies)."""
        return nn.Sequential(self.stems[i], self.shared, self.head, nn.Flatten(0))

    def forward(self, x: torch.Tensor, i: int) -> torch.Tensor:
        return self.head(self.shared(self.stems[i](x))).flatten()


def _domain_shapes(data: DataInfo) -> tuple[tuple[int, ...], tuple[int, ...]]:
    if data.kind not in ("paired", "unpaired") or not data.target_shape:
        raise GenbenchError(f"cogan learns two domains: it needs an unpaired dataset (domain A "
                            f"and domain B, e.g. digits2ink), got {data.kind} data")
    a, b = tuple(data.shape), tuple(data.target_shape)
    if len(a) != 3 or len(b) != 3 or a[1:] != b[1:] or a[1] != a[2]:
        raise GenbenchError(f"cogan needs square images of one size in both domains, got "
                            f"{a} and {b}; use --set image_size=32 or 64")
    return a, b


class CoGAN(GenerativeModel):
    """Coupled generators and discriminators, trained on unpaired batches of A and B."""

    def __init__(self, config, data: DataInfo):
        super().__init__()
        shape_a, shape_b = _domain_shapes(data)
        self.config = config
        self.shapes = (shape_a, shape_b)
        channels, size = (shape_a[0], shape_b[0]), shape_a[-1]
        self.generator = CoupledGenerator(config.latent_dim, config.ngf, channels, size,
                                          norm=config.g_norm)
        self.discriminator = CoupledDiscriminator(config.ndf, channels, size,
                                                  norm=config.d_norm, act=config.d_activation)
        init_normal(self.generator)
        init_normal(self.discriminator)
        self.objective = CrossEntropy(config.g_loss)
        self.register_buffer("steps_done", torch.zeros((), dtype=torch.long))
        betas = (config.beta1, config.beta2)
        self.optimizers = {
            "g": torch.optim.Adam(self.generator.parameters(), lr=config.lr_g, betas=betas),
            "d": torch.optim.Adam(self.discriminator.parameters(), lr=config.lr_d, betas=betas),
        }

    # -- sampling -------------------------------------------------------------------------

    def latent(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """n latent vectors; with a generator drawn on the CPU (the same pairs on any device)."""
        return draw_latent(self.config, n, self.device, generator)

    @torch.no_grad()
    def generate_pairs(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(x_A, x_B) = G(z), in eval mode (BatchNorm's running statistics), so a pair does not
        depend on the batch it was drawn in."""
        was_training = self.generator.training
        self.generator.eval()
        try:
            return self.generator(z)
        finally:
            self.generator.train(was_training)

    def sample_pairs(self, n: int, generator: torch.Generator | None = None
                     ) -> tuple[torch.Tensor, torch.Tensor]:
        return self.generate_pairs(self.latent(n, generator))

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        return self.sample_pairs(n, generator)[0]

    # -- training -------------------------------------------------------------------------

    def train_step(self, x: torch.Tensor, y: torch.Tensor | None) -> dict[str, torch.Tensor]:
        """``x``: a batch of domain A, ``y``: an independent batch of domain B."""
        if y is None:
            raise GenbenchError("cogan trains on two domains: each step needs a batch of A and "
                                "a batch of B")
        obj, real = self.objective, (x, y)
        z = self.latent(x.shape[0])
        fake = self.generator(z)

        loss_d = 0.0
        d_real, d_fake = [], []
        for i in range(2):
            r = self.discriminator(real[i], i)
            f = self.discriminator(fake[i].detach(), i)
            loss_d = loss_d + obj.d_loss(r, f)
            d_real.append(r.detach())
        self.optimizers["d"].zero_grad(set_to_none=True)
        loss_d.backward()
        self.optimizers["d"].step()

        loss_g = 0.0
        for i in range(2):
            f = self.discriminator(fake[i], i)
            loss_g = loss_g + obj.g_loss(f)
            d_fake.append(f.detach())
        self.optimizers["g"].zero_grad(set_to_none=True)
        loss_g.backward()
        self.optimizers["g"].step()
        self.count_step()

        logs = {"loss_d": loss_d.detach(), "loss_g": loss_g.detach()}
        for i, name in enumerate(DOMAINS):
            logs[f"D(x_{name})"] = torch.sigmoid(d_real[i]).mean()
            logs[f"D(G(z)_{name})"] = torch.sigmoid(d_fake[i]).mean()
        return logs


def build_cogan(config, data: DataInfo) -> CoGAN:
    """Liu & Tuzel 2016: coupled DCGAN-style nets, cross-entropy GAN loss in each domain."""
    return CoGAN(config, data)
