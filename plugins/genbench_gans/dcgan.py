"""DCGAN (Radford et al. 2015): the all-convolutional generator and discriminator."""

from __future__ import annotations

from torch import nn

from genbench.errors import GenbenchError
from genbench.model import DataInfo
from genbench_gans.core import AdversarialModel, init_normal

SIZES = (32, 64)


def _levels(image_size: int) -> int:
    """Number of stride-2 stages between 4x4 and the image size."""
    return {32: 3, 64: 4}[image_size]


class Generator(nn.Module):
    def __init__(self, latent_dim: int, ngf: int, channels: int, image_size: int):
        super().__init__()
        levels = _levels(image_size)
        width = ngf * 2 ** (levels - 1)
        layers: list[nn.Module] = [
            nn.ConvTranspose2d(latent_dim, width, 4, 1, 0, bias=False),
            nn.BatchNorm2d(width), nn.ReLU(True),
        ]
        for _ in range(levels - 1):
            layers += [nn.ConvTranspose2d(width, width // 2, 4, 2, 1, bias=False),
                       nn.BatchNorm2d(width // 2), nn.ReLU(True)]
            width //= 2
        layers += [nn.ConvTranspose2d(width, channels, 4, 2, 1, bias=False), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, z):
        return self.net(z[:, :, None, None])


class Discriminator(nn.Module):
    def __init__(self, ndf: int, channels: int, image_size: int):
        super().__init__()
        levels = _levels(image_size)
        # No BatchNorm on D's input layer (the paper's choice).
        layers: list[nn.Module] = [nn.Conv2d(channels, ndf, 4, 2, 1, bias=False),
                                   nn.LeakyReLU(0.2, True)]
        width = ndf
        for _ in range(levels - 1):
            layers += [nn.Conv2d(width, width * 2, 4, 2, 1, bias=False),
                       nn.BatchNorm2d(width * 2), nn.LeakyReLU(0.2, True)]
            width *= 2
        layers.append(nn.Conv2d(width, 1, 4, 1, 0, bias=False))
        self.net = nn.Sequential(*layers)

    def forward(self, x):
        return self.net(x).flatten()


def build(config, data: DataInfo) -> AdversarialModel:
    channels, height, width = data.shape
    if height != width or height not in SIZES:
        raise GenbenchError(f"dcgan takes 32x32 or 64x64 images, got {height}x{width}; "
                            f"use --set image_size=32 or 64")
    g = Generator(config.latent_dim, config.ngf, channels, height)
    d = Discriminator(config.ndf, channels, height)
    init_normal(g)
    init_normal(d)
    return AdversarialModel(config, g, d)
