"""Encoder and decoder building blocks shared by the autoencoders, the VAEs and the VQ-VAE.

- :func:`mlp` for points: ``in_dim -> hidden (x depth) -> out_dim`` with SiLU activations.
- :class:`ConvEncoder` / :class:`ConvDecoder` for square images of any size >= 4 (8, 16, 28,
  32, 64, ...): stride-2 4x4 convolutions halve the map while it stays at least 4 pixels wide
  (8 -> 4, 28 -> 14 -> 7, 32 -> 16 -> 8 -> 4, 64 -> ... -> 4), doubling the channels each time
  (capped at 8x ``width``); the decoder mirrors them with transposed convolutions whose
  ``output_padding`` makes every size exact, so no cropping is needed.

Both conv nets can stop at a feature map instead of a vector (``out_dim=None`` /
:meth:`ConvDecoder.from_map`), which is what a VQ-VAE quantises. A conditioning vector (e.g.
a one-hot label) can be joined at the dense layer with ``cond_dim``. No normalisation layers,
so outputs never depend on the batch or on train/eval mode.
"""

from __future__ import annotations

import torch
from torch import nn

MIN_MAP = 4  # downsample while the map stays at least this wide
MAX_MULT = 8  # channels grow width, 2*width, ... up to MAX_MULT * width


def mlp(in_dim: int, out_dim: int, hidden: int, depth: int = 2) -> nn.Sequential:
    """A ``depth``-hidden-layer perceptron with SiLU activations and a linear output."""
    layers: list[nn.Module] = []
    size = in_dim
    for _ in range(depth):
        layers += [nn.Linear(size, hidden), nn.SiLU()]
        size = hidden
    layers.append(nn.Linear(size, out_dim))
    return nn.Sequential(*layers)


def map_sizes(size: int) -> list[int]:
    """The spatial sizes of the conv stack, input first: 28 -> [28, 14, 7]."""
    if size < MIN_MAP:
        raise ValueError(f"images must be at least {MIN_MAP} pixels wide, got {size}")
    sizes = [size]
    while sizes[-1] // 2 >= MIN_MAP:
        sizes.append(sizes[-1] // 2)
    return sizes


def stage_channels(width: int, stages: int) -> list[int]:
    """Channels after the stem and after each of ``stages`` downsamplings."""
    return [width * min(2 ** i, MAX_MULT) for i in range(stages + 1)]


class ConvEncoder(nn.Module):
    """(N, C, H, H) images -> (N, out_dim) vectors, or the final (N, map_channels, s, s) map
    when ``out_dim`` is None. ``forward(x, cond=None)``: ``cond`` (N, cond_dim) is joined to
    the flattened features before the output layer."""

    def __init__(self, channels: int, size: int, width: int, out_dim: int | None,
                 *, cond_dim: int = 0):
        super().__init__()
        self.sizes = map_sizes(size)
        chans = stage_channels(width, len(self.sizes) - 1)
        layers: list[nn.Module] = [nn.Conv2d(channels, chans[0], 3, 1, 1), nn.SiLU()]
        for c_in, c_out in zip(chans[:-1], chans[1:], strict=True):
            layers += [nn.Conv2d(c_in, c_out, 4, 2, 1), nn.SiLU()]
        self.body = nn.Sequential(*layers)
        self.map_channels = chans[-1]
        self.map_size = self.sizes[-1]
        self.cond_dim = cond_dim
        self.features = self.map_channels * self.map_size ** 2
        self.head = None if out_dim is None else nn.Linear(self.features + cond_dim, out_dim)

    def forward(self, x: torch.Tensor, cond: torch.Tensor | None = None) -> torch.Tensor:
        h = self.body(x)
        if self.head is None:
            return h
        h = h.flatten(1)
        if self.cond_dim:
            h = torch.cat([h, cond.to(h)], dim=1)
        return self.head(h)


class ConvDecoder(nn.Module):
    """(N, in_dim) vectors -> (N, out_channels, H, H), the mirror of :class:`ConvEncoder`
    with the same ``size`` and ``width``: a dense layer to the smallest map, transposed
    convolutions back up, and a 3x3 convolution to ``out_channels`` (raw, unbounded outputs:
    the model applies its own link, tanh, sigmoid or none). ``in_dim=None`` makes a decoder
    of feature maps (N, map_channels, s, s) instead (see :meth:`from_map`)."""

    def __init__(self, in_dim: int | None, out_channels: int, size: int, width: int,
                 *, map_channels: int | None = None):
        super().__init__()
        if in_dim is not None and map_channels is not None:
            raise ValueError("give in_dim (a vector decoder) or map_channels (a map decoder)")
        self.sizes = map_sizes(size)
        chans = stage_channels(width, len(self.sizes) - 1)
        self.map_channels = chans[-1] if map_channels is None else map_channels
        self.map_size = self.sizes[-1]
        self.stem = None if in_dim is None else nn.Sequential(
            nn.Linear(in_dim, chans[-1] * self.map_size ** 2), nn.SiLU())
        layers: list[nn.Module] = []
        if map_channels is not None and map_channels != chans[-1]:
            layers += [nn.Conv2d(map_channels, chans[-1], 3, 1, 1), nn.SiLU()]
        rev_chans, rev_sizes = chans[::-1], self.sizes[::-1]
        for i in range(len(self.sizes) - 1):
            pad = rev_sizes[i + 1] - 2 * rev_sizes[i]  # 0, or 1 after an odd-size halving
            layers += [nn.ConvTranspose2d(rev_chans[i], rev_chans[i + 1], 4, 2, 1,
                                          output_padding=pad), nn.SiLU()]
        layers.append(nn.Conv2d(chans[0], out_channels, 3, 1, 1))
        self.body = nn.Sequential(*layers)

    @classmethod
    def from_map(cls, map_channels: int, out_channels: int, size: int,
                 width: int) -> ConvDecoder:
        """A decoder of (N, map_channels, s, s) maps, s = the encoder's final map size."""
        return cls(None, out_channels, size, width, map_channels=map_channels)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        if self.stem is not None:
            z = self.stem(z).view(z.shape[0], -1, self.map_size, self.map_size)
        return self.body(z)
