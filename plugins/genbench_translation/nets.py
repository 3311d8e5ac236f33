"""The translation networks: a U-Net, a ResNet and an encoder-decoder generator, a PatchGAN and
an image-level discriminator.

All take (N, C, S, S) images in [-1, 1]; generators end in tanh.

* :class:`UNetGenerator` (pix2pix, Isola et al. 2017, appendix 6.1.1): an encoder of 4x4
  stride-2 convolutions C64-C128-C256-C512-C512-... down to a 1x1 bottleneck, so its depth is
  log2(S) (8 at 256x256, 5 at 32x32), widths ngf * min(2^i, 8); LeakyReLU 0.2 in the encoder,
  no normalisation on the first layer nor on the bottleneck (a 1x1 map normalised over a batch
  of one would be all zeros; the authors' code does the same). The decoder mirrors it with 4x4
  stride-2 transposed convolutions and ReLU, each block's output concatenated with the encoder
  features of the same size (the skip connections), and dropout in the first
  :data:`DROPOUT_BLOCKS` decoder blocks (the paper's CD512-CD512-CD512-C512-C256-C128-C64 at
  256x256); the last layer maps to the output channels with tanh.
* :class:`ResnetGenerator` (CycleGAN, Zhu et al. 2017, appendix 7.2, after Johnson et al.):
  c7s1-ngf, d(2 ngf), d(4 ngf), residual blocks, u(2 ngf), u(ngf), c7s1-C, reflection padding
  in the 7x7 convolutions and the residual blocks, tanh output. Any size divisible by 4.
* :class:`PatchDiscriminator`: C64-C128-C256-C512 of 4x4 convolutions, the first ``layers``
  with stride 2, one stride-1 layer, then a 4x4 stride-1 convolution to one logit per patch:
  with ``layers=3`` each logit sees a 70x70 patch (the paper's 70x70 PatchGAN; a 30x30 grid
  at 256x256). Small images get fewer stride-2 layers (:func:`patch_layers`): 3 at >= 128px
  (70x70 patches, a 14x14 grid at 128), 2 at 64px (34x34 patches, 14x14 grid), 1 at 32px
  (16x16 patches, 14x14 grid), so a patch stays about half the image or less and the grid of
  patch decisions stays large, instead of one 70x70 "patch" covering a whole 32x32 image.
* :class:`EncoderDecoderGenerator` and :class:`ImageDiscriminator` (DiscoGAN, Kim et al. 2017,
  section 4, and the authors' code, github.com/SKTBrain/DiscoGAN, ``model.py``): the encoder is
  4x4 stride-2 convolutions C64-C128-C256-C512 with LeakyReLU 0.2 down to a 4x4 map
  (:func:`encoder_depth`: 4 layers at the paper's 64x64), the decoder mirrors it with 4x4
  stride-2 transposed convolutions and ReLU, without skip connections or residual blocks; the
  discriminator is the same encoder plus one 4x4 convolution over the whole 4x4 map: one logit
  per image. Batch normalisation everywhere but the first layer and the output, as in the
  authors' code.

Normalisation is "batch" (pix2pix, DiscoGAN) or "instance" (CycleGAN: InstanceNorm without
affine parameters or running statistics, as in the authors' code); never on D's first layer.
Weights are initialised N(0, 0.02) (both papers), BatchNorm scales N(1, 0.02).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from genbench.errors import GenbenchError

NORMS = ("batch", "instance")
DROPOUT_BLOCKS = 3  # pix2pix's CD512-CD512-CD512: dropout in the first three decoder blocks
MAX_MULT = 8  # widths grow to ngf * 8 (C512 for ngf=64) and stay there


def norm_layer(kind: str, channels: int) -> nn.Module:
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "instance":
        return nn.InstanceNorm2d(channels)  # affine=False, per-image statistics only
    raise GenbenchError(f"unknown norm {kind!r}; choose one of {', '.join(NORMS)}")


def init_weights(module: nn.Module, std: float = 0.02) -> nn.Module:
    """N(0, std) convolution weights, zero biases; BatchNorm scales N(1, std)."""
    for m in module.modules():
        if isinstance(m, nn.Conv2d | nn.ConvTranspose2d):
            nn.init.normal_(m.weight, 0.0, std)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, std)
            nn.init.zeros_(m.bias)
    return module


def width(base: int, level: int) -> int:
    return base * min(2 ** level, MAX_MULT)


def unet_depth(size: int) -> int:
    """Stride-2 levels from size x size down to 1x1: log2(size)."""
    if size < 16 or size & (size - 1):
        raise GenbenchError(f"the U-Net generator takes square images whose size is a power of "
                            f"two >= 16, got {size}x{size}; use --set image_size=32, 64, 128 or "
                            f"256, or generator=resnet")
    return int(math.log2(size))


class UNetGenerator(nn.Module):
    """The pix2pix U-Net; ``down[i]`` is encoder level i (``down[-1]`` the 1x1 bottleneck),
    ``up[j]`` the j-th decoder block from the bottleneck (``up[-1]`` the output layer)."""

    def __init__(self, in_channels: int, out_channels: int, size: int, ngf: int = 64,
                 norm: str = "batch", dropout: float = 0.5):
        super().__init__()
        depth = unet_depth(size)
        widths = [width(ngf, i) for i in range(depth)]
        self.down = nn.ModuleList()
        for i in range(depth):
            normed = 0 < i < depth - 1  # not the first layer, not the 1x1 bottleneck
            layers: list[nn.Module] = [nn.LeakyReLU(0.2)] if i > 0 else []
            layers.append(nn.Conv2d(in_channels if i == 0 else widths[i - 1], widths[i], 4, 2, 1,
                                    bias=not normed))
            if normed:
                layers.append(norm_layer(norm, widths[i]))
            self.down.append(nn.Sequential(*layers))
        self.up = nn.ModuleList()
        for j in range(depth):
            level = depth - 1 - j
            fan_in = widths[level] * (1 if j == 0 else 2)  # blocks after the first get skips
            if level == 0:
                self.up.append(nn.Sequential(
                    nn.ReLU(), nn.ConvTranspose2d(fan_in, out_channels, 4, 2, 1), nn.Tanh()))
                continue
            layers = [nn.ReLU(), nn.ConvTranspose2d(fan_in, widths[level - 1], 4, 2, 1,
                                                    bias=False),
                      norm_layer(norm, widths[level - 1])]
            if dropout and j < DROPOUT_BLOCKS:
                layers.append(nn.Dropout(dropout))
            self.up.append(nn.Sequential(*layers))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = []
        h = x
        for block in self.down:
            h = block(h)
            skips.append(h)
        depth = len(self.down)
        for j, block in enumerate(self.up):
            if j > 0:
                h = torch.cat([h, skips[depth - 1 - j]], dim=1)
            h = block(h)
        return h


class ResidualBlock(nn.Module):
    """x + [pad, conv3, norm, ReLU, (dropout), pad, conv3, norm](x), reflection padding."""

    def __init__(self, channels: int, norm: str, dropout: float = 0.0):
        super().__init__()
        layers: list[nn.Module] = [nn.ReflectionPad2d(1), nn.Conv2d(channels, channels, 3,
                                                                    bias=False),
                                   norm_layer(norm, channels), nn.ReLU()]
        if dropout:
            layers.append(nn.Dropout(dropout))
        layers += [nn.ReflectionPad2d(1), nn.Conv2d(channels, channels, 3, bias=False),
                   norm_layer(norm, channels)]
        self.body = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


def resnet_blocks(size: int) -> int:
    """The paper's count: 6 residual blocks up to 128x128, 9 from 256x256."""
    return 9 if size >= 256 else 6


class ResnetGenerator(nn.Module):
    """CycleGAN's generator: c7s1-ngf, d(2 ngf), d(4 ngf), ``blocks`` x R(4 ngf), u(2 ngf),
    u(ngf), c7s1-C with tanh."""

    def __init__(self, in_channels: int, out_channels: int, size: int, ngf: int = 64,
                 norm: str = "instance", blocks: int = 0, dropout: float = 0.0):
        super().__init__()
        if size < 16 or size % 4:
            raise GenbenchError(f"the ResNet generator takes square images whose size is a "
                                f"multiple of 4 and >= 16, got {size}x{size}")
        blocks = blocks or resnet_blocks(size)
        layers: list[nn.Module] = [nn.ReflectionPad2d(3),
                                   nn.Conv2d(in_channels, ngf, 7, bias=False),
                                   norm_layer(norm, ngf), nn.ReLU()]
        for mult in (1, 2):  # d128, d256
            layers += [nn.Conv2d(ngf * mult, ngf * mult * 2, 3, 2, 1, bias=False),
                       norm_layer(norm, ngf * mult * 2), nn.ReLU()]
        layers += [ResidualBlock(ngf * 4, norm, dropout) for _ in range(blocks)]
        for mult in (4, 2):  # u128, u64
            layers += [nn.ConvTranspose2d(ngf * mult, ngf * mult // 2, 3, 2, 1,
                                          output_padding=1, bias=False),
                       norm_layer(norm, ngf * mult // 2), nn.ReLU()]
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(ngf, out_channels, 7), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def patch_layers(size: int) -> int:
    """Stride-2 layers of the PatchGAN for size x size images: log2(size) - 4, between 1 and 3
    (3 = the paper's 70x70 patches, used from 128px up)."""
    return max(1, min(3, int(math.log2(max(size, 1))) - 4))


def patch_size(layers: int) -> int:
    """The receptive field of one logit: 16, 34, 70, 142 for 1, 2, 3, 4 stride-2 layers."""
    field = 1 + 3 + 3  # the two stride-1 4x4 convolutions
    for _ in range(layers):
        field = 2 * field + 2
    return field


class PatchDiscriminator(nn.Module):
    """A PatchGAN: (N, C, S, S) -> (N, 1, S / 2^layers - 2, S / 2^layers - 2) logits, each
    judging one ``patch_size(layers)``-pixel patch."""

    def __init__(self, in_channels: int, size: int, ndf: int = 64, norm: str = "batch",
                 layers: int = 0):
        super().__init__()
        layers = layers or patch_layers(size)
        if layers < 1 or size // 2 ** layers - 2 < 1:
            raise GenbenchError(f"a PatchGAN with {layers} stride-2 layers does not fit "
                                f"{size}x{size} images; use d_layers=0 (automatic)")
        self.layers = layers
        seq: list[nn.Module] = [nn.Conv2d(in_channels, ndf, 4, 2, 1), nn.LeakyReLU(0.2)]
        for i in range(1, layers + 1):
            stride = 2 if i < layers else 1  # the last hidden layer (C512 at 70x70) stride 1
            seq += [nn.Conv2d(width(ndf, i - 1), width(ndf, i), 4, stride, 1, bias=False),
                    norm_layer(norm, width(ndf, i)), nn.LeakyReLU(0.2)]
        seq.append(nn.Conv2d(width(ndf, layers), 1, 4, 1, 1))
        self.net = nn.Sequential(*seq)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


BOTTLENECK = 4  # DiscoGAN's encoders stop at a 4x4 map (64x64 -> 4x4 in four layers)


def encoder_depth(size: int) -> int:
    """Stride-2 layers from size x size down to BOTTLENECK x BOTTLENECK: log2(size) - 2."""
    if size < 16 or size & (size - 1):
        raise GenbenchError(f"the DiscoGAN networks take square images whose size is a power of "
                            f"two >= 16, got {size}x{size}; use --set image_size=32, 64, 128 or "
                            f"256")
    return int(math.log2(size // BOTTLENECK))


def encoder_layers(in_channels: int, size: int, base: int) -> list[nn.Module]:
    """[conv 4x4 stride 2, BatchNorm (not on the first), LeakyReLU 0.2] per level, widths
    ``width(base, i)``, from size x size to a BOTTLENECK x BOTTLENECK map."""
    layers: list[nn.Module] = []
    channels = in_channels
    for i in range(encoder_depth(size)):
        normed = i > 0
        layers.append(nn.Conv2d(channels, width(base, i), 4, 2, 1, bias=not normed))
        if normed:
            layers.append(nn.BatchNorm2d(width(base, i)))
        layers.append(nn.LeakyReLU(0.2))
        channels = width(base, i)
    return layers


class EncoderDecoderGenerator(nn.Module):
    """DiscoGAN's generator: ``encoder`` (see :func:`encoder_layers`) to a 4x4 map of
    ``width(ngf, depth - 1)`` channels, then ``decoder``: transposed convolutions 4x4 stride 2
    with BatchNorm and ReLU back up, the last one to the output channels with tanh."""

    def __init__(self, in_channels: int, out_channels: int, size: int, ngf: int = 64):
        super().__init__()
        self.encoder = nn.Sequential(*encoder_layers(in_channels, size, ngf))
        layers: list[nn.Module] = []
        for level in reversed(range(1, encoder_depth(size))):
            layers += [nn.ConvTranspose2d(width(ngf, level), width(ngf, level - 1), 4, 2, 1,
                                          bias=False),
                       nn.BatchNorm2d(width(ngf, level - 1)), nn.ReLU()]
        layers += [nn.ConvTranspose2d(ngf, out_channels, 4, 2, 1), nn.Tanh()]
        self.decoder = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder(x))


class ImageDiscriminator(nn.Module):
    """DiscoGAN's discriminator: (N, C, S, S) -> (N,) logits, one per image: the generator's
    encoder, then a 4x4 convolution without padding over the whole 4x4 map."""

    def __init__(self, in_channels: int, size: int, ndf: int = 64):
        super().__init__()
        depth = encoder_depth(size)
        self.net = nn.Sequential(*encoder_layers(in_channels, size, ndf),
                                 nn.Conv2d(width(ndf, depth - 1), 1, BOTTLENECK))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).flatten()
