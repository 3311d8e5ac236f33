"""The original GAN (Goodfellow et al. 2014): fully connected G and D."""

from __future__ import annotations

import math

from torch import nn

from genbench.model import DataInfo
from genbench_gans.core import AdversarialModel


def mlp(sizes: list[int], act: nn.Module, dropout: float = 0.0,
        batchnorm: bool = False) -> list[nn.Module]:
    layers: list[nn.Module] = []
    for fan_in, fan_out in zip(sizes[:-2], sizes[1:-1], strict=True):
        layers.append(nn.Linear(fan_in, fan_out))
        if batchnorm:
            layers.append(nn.BatchNorm1d(fan_out))
        layers.append(act)
        if dropout:
            layers.append(nn.Dropout(dropout))
    layers.append(nn.Linear(sizes[-2], sizes[-1]))
    return layers


class Generator(nn.Module):
    def __init__(self, latent_dim: int, hidden: int, depth: int, shape: tuple[int, ...],
                 images: bool, batchnorm: bool):
        super().__init__()
        self.shape = shape
        layers = mlp([latent_dim] + [hidden] * depth + [math.prod(shape)], nn.ReLU(),
                     batchnorm=batchnorm)
        if images:
            layers.append(nn.Tanh())  # images live in [-1, 1]
        self.net = nn.Sequential(*layers)

    def forward(self, z):
        return self.net(z).view(z.shape[0], *self.shape)


class Discriminator(nn.Module):
    def __init__(self, hidden: int, depth: int, shape: tuple[int, ...], dropout: float):
        super().__init__()
        sizes = [math.prod(shape)] + [hidden] * depth + [1]
        self.net = nn.Sequential(*mlp(sizes, nn.LeakyReLU(0.2), dropout))

    def forward(self, x):
        return self.net(x.flatten(1)).squeeze(1)


def build(config, data: DataInfo) -> AdversarialModel:
    images = data.kind == "images"
    g = Generator(config.latent_dim, config.hidden, config.depth, data.shape, images,
                  batchnorm=config.g_norm == "batch")
    d = Discriminator(config.hidden, config.depth, data.shape, config.dropout)
    return AdversarialModel(config, g, d)
