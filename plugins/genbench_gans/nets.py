"""Generator and discriminator networks shared by every GAN here.

Two families: MLPs (2-D points and small images) and DCGAN-style (transposed) convolutions for
32x32 or 64x64 images with any number of channels. Options: the normalisation in G and in D
("batch", "instance", "layer", "none"; D's first layer is never normalised), spectral norm on
every layer of D (:func:`add_spectral_norm`) and D's activation.

Every discriminator is a ``body`` giving features and a ``head`` giving one logit per example:
``forward(x) == logits(features(x))``. A variant with extra heads (an auxiliary classifier, a Q
network) applies them to ``features``. Both G and D take ``num_classes``: G then concatenates a
learned label embedding to z, and D sees a label embedding as an extra input (appended to the
flattened input for MLPs, as one extra image channel for convolutions), so class-conditional
variants need no new networks. With ``num_classes=0`` (the default) no embedding exists.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from genbench.errors import GenbenchError

NORMS = ("batch", "instance", "layer", "none")
ACTIVATIONS = ("leaky_relu", "relu")
CONV_SIZES = (32, 64)


def norm_layer(kind: str, channels: int, conv: bool) -> nn.Module | None:
    """The normalisation layer called ``kind`` for ``channels`` features (None for "none")."""
    if kind == "none":
        return None
    if kind == "batch":
        return nn.BatchNorm2d(channels) if conv else nn.BatchNorm1d(channels)
    if kind == "instance":
        if not conv:
            raise GenbenchError("instance norm needs convolutional feature maps; the MLP nets "
                                "take batch, layer or none")
        return nn.InstanceNorm2d(channels, affine=True)
    if kind == "layer":
        # Over (C, H, W) for feature maps, as layer norm in a conv critic is usually meant.
        return nn.GroupNorm(1, channels) if conv else nn.LayerNorm(channels)
    raise GenbenchError(f"unknown norm {kind!r}; choose one of {', '.join(NORMS)}")


def activation(kind: str) -> nn.Module:
    if kind == "leaky_relu":
        return nn.LeakyReLU(0.2)
    if kind == "relu":
        return nn.ReLU()
    raise GenbenchError(f"unknown activation {kind!r}; choose one of {', '.join(ACTIVATIONS)}")


def _block(layer: nn.Module, norm: nn.Module | None, act: nn.Module) -> list[nn.Module]:
    return [layer] + ([norm] if norm is not None else []) + [act]


def init_normal(module: nn.Module, std: float = 0.02) -> None:
    """DCGAN's initialisation: N(0, 0.02) weights, normalisation scales N(1, 0.02)."""
    for m in module.modules():
        if isinstance(m, nn.Conv2d | nn.ConvTranspose2d | nn.Linear):
            nn.init.normal_(m.weight, 0.0, std)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d | nn.BatchNorm1d | nn.InstanceNorm2d | nn.GroupNorm
                        | nn.LayerNorm) and m.weight is not None:
            nn.init.normal_(m.weight, 1.0, std)
            nn.init.zeros_(m.bias)


def add_spectral_norm(module: nn.Module) -> nn.Module:
    """Spectral normalisation (Miyato et al. 2018) of every linear and conv layer's weight."""
    from torch.nn.utils.parametrizations import spectral_norm

    for m in list(module.modules()):
        if isinstance(m, nn.Conv2d | nn.Linear):
            spectral_norm(m)
    return module


def has_spectral_norm(layer: nn.Module) -> bool:
    from torch.nn.utils import parametrize

    return parametrize.is_parametrized(layer, "weight") and any(
        "spectral" in type(p).__name__.lower() for p in layer.parametrizations.weight)


class LabelInput(nn.Module):
    """A learned embedding of class labels (``num_classes=0``: none, labels are ignored)."""

    def __init__(self, num_classes: int, dim: int):
        super().__init__()
        self.dim = dim if num_classes else 0
        self.embed = nn.Embedding(num_classes, dim) if num_classes else None

    def forward(self, labels: torch.Tensor | None) -> torch.Tensor | None:
        if self.embed is None:
            return None
        if labels is None:
            raise GenbenchError("this network is class-conditional: it needs labels")
        return self.embed(labels)


class Generator(nn.Module):
    """Base of the generators: ``forward(z, labels=None)``."""

    labels: LabelInput

    def _input(self, z: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        e = self.labels(labels)
        return z if e is None else torch.cat([z, e], dim=1)


class Discriminator(nn.Module):
    """Base of the discriminators: ``features(x, labels)`` then ``logits(h)``: (N,) logits."""

    body: nn.Module
    head: nn.Module
    labels: LabelInput

    def features(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        raise NotImplementedError

    def logits(self, h: torch.Tensor) -> torch.Tensor:
        return self.head(h).flatten()

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        return self.logits(self.features(x, labels))


def _mlp(sizes: list[int], act: str, norm: str, dropout: float = 0.0,
         norm_first: bool = True) -> list[nn.Module]:
    """Hidden layers Linear -> [norm] -> activation -> [dropout], then a last Linear."""
    layers: list[nn.Module] = []
    for i, (fan_in, fan_out) in enumerate(zip(sizes[:-2], sizes[1:-1], strict=True)):
        norm_here = norm if (i > 0 or norm_first) else "none"
        layers += _block(nn.Linear(fan_in, fan_out), norm_layer(norm_here, fan_out, conv=False),
                         activation(act))
        if dropout:
            layers.append(nn.Dropout(dropout))
    layers.append(nn.Linear(sizes[-2], sizes[-1]))
    return layers


class MLPGenerator(Generator):
    """z -> hidden layers (ReLU, optional norm) -> data; tanh on the output for images."""

    def __init__(self, latent_dim: int, hidden: int, depth: int, shape: tuple[int, ...],
                 images: bool, norm: str = "none", num_classes: int = 0, embed_dim: int = 0):
        super().__init__()
        self.shape = tuple(shape)
        self.labels = LabelInput(num_classes, embed_dim or latent_dim)
        sizes = [latent_dim + self.labels.dim] + [hidden] * depth + [math.prod(shape)]
        layers = _mlp(sizes, "relu", norm)
        if images:
            layers.append(nn.Tanh())  # images live in [-1, 1]
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        return self.net(self._input(z, labels)).view(z.shape[0], *self.shape)


class MLPDiscriminator(Discriminator):
    """Flattened x -> hidden layers (activation, optional norm after the first, dropout) ->
    features; a linear head gives the logit."""

    def __init__(self, hidden: int, depth: int, shape: tuple[int, ...], norm: str = "none",
                 act: str = "leaky_relu", dropout: float = 0.0, num_classes: int = 0,
                 embed_dim: int = 0):
        super().__init__()
        fan_in = math.prod(shape)
        label_dim = (embed_dim or 16) if num_classes else 0
        layers = _mlp([fan_in + label_dim] + [hidden] * depth + [1], act, norm, dropout,
                      norm_first=False)
        self.body = nn.Sequential(*layers[:-1])
        self.head = layers[-1]
        self.labels = LabelInput(num_classes, label_dim)

    def features(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        h = x.flatten(1)
        e = self.labels(labels)
        if e is not None:
            h = torch.cat([h, e], dim=1)
        return self.body(h)


def _levels(image_size: int) -> int:
    """Stride-2 stages between 4x4 and the image size."""
    if image_size not in CONV_SIZES:
        raise GenbenchError(f"the convolutional nets take 32x32 or 64x64 images, got "
                            f"{image_size}x{image_size}; use --set image_size=32 or 64")
    return int(math.log2(image_size)) - 2


class ConvGenerator(Generator):
    """DCGAN's generator: z as a 1x1 map, a 4x4 transposed conv, then stride-2 transposed convs
    halving the width while doubling the size, ReLU, tanh output."""

    def __init__(self, latent_dim: int, ngf: int, channels: int, image_size: int,
                 norm: str = "batch", num_classes: int = 0, embed_dim: int = 0):
        super().__init__()
        levels = _levels(image_size)
        self.labels = LabelInput(num_classes, embed_dim or latent_dim)
        bias = norm == "none"  # a bias before a normalisation layer is redundant
        width = ngf * 2 ** (levels - 1)
        layers = _block(nn.ConvTranspose2d(latent_dim + self.labels.dim, width, 4, 1, 0,
                                           bias=bias),
                        norm_layer(norm, width, conv=True), nn.ReLU())
        for _ in range(levels - 1):
            layers += _block(nn.ConvTranspose2d(width, width // 2, 4, 2, 1, bias=bias),
                             norm_layer(norm, width // 2, conv=True), nn.ReLU())
            width //= 2
        layers += [nn.ConvTranspose2d(width, channels, 4, 2, 1, bias=bias), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        return self.net(self._input(z, labels)[:, :, None, None])


class ConvDiscriminator(Discriminator):
    """DCGAN's discriminator: stride-2 convs doubling the width down to 4x4 (no normalisation
    on the first), features of shape (ndf * 2**(levels-1), 4, 4), a 4x4 conv head."""

    def __init__(self, ndf: int, channels: int, image_size: int, norm: str = "batch",
                 act: str = "leaky_relu", num_classes: int = 0):
        super().__init__()
        levels = _levels(image_size)
        self.image_size = image_size
        extra = 1 if num_classes else 0
        bias = norm == "none"
        layers = _block(nn.Conv2d(channels + extra, ndf, 4, 2, 1, bias=bias), None,
                        activation(act))
        width = ndf
        for _ in range(levels - 1):
            layers += _block(nn.Conv2d(width, width * 2, 4, 2, 1, bias=bias),
                             norm_layer(norm, width * 2, conv=True), activation(act))
            width *= 2
        self.body = nn.Sequential(*layers)
        self.head = nn.Conv2d(width, 1, 4, 1, 0, bias=bias)
        # One image-sized label map, appended to the input as a channel.
        self.labels = LabelInput(num_classes, image_size * image_size)

    def features(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        e = self.labels(labels)
        if e is not None:
            x = torch.cat([x, e.view(-1, 1, self.image_size, self.image_size)], dim=1)
        return self.body(x)


def mlp_nets(config, shape: tuple[int, ...], images: bool, num_classes: int = 0):
    """An MLP (G, D) pair from a config with latent_dim, hidden, depth, dropout, g_norm,
    d_norm and d_activation."""
    g = MLPGenerator(config.latent_dim, config.hidden, config.depth, shape, images,
                     norm=config.g_norm, num_classes=num_classes)
    d = MLPDiscriminator(config.hidden, config.depth, shape, norm=config.d_norm,
                         act=config.d_activation, dropout=config.dropout,
                         num_classes=num_classes)
    return g, d


def conv_nets(config, shape: tuple[int, ...], num_classes: int = 0):
    """A DCGAN-style (G, D) pair for (C, S, S) images, S = 32 or 64, initialised N(0, 0.02)."""
    channels, height, width = shape
    if height != width:
        raise GenbenchError(f"the convolutional nets take square images, got {height}x{width}")
    g = ConvGenerator(config.latent_dim, config.ngf, channels, height, norm=config.g_norm,
                      num_classes=num_classes)
    d = ConvDiscriminator(config.ndf, channels, height, norm=config.d_norm,
                          act=config.d_activation, num_classes=num_classes)
    init_normal(g)
    init_normal(d)
    return g, d
