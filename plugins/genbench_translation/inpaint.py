"""Inpainting models: the mean-fill and blur-fill baselines and the context encoder (Pathak et
al. 2016).

All three take the kind ``"inpaint"``: ``train_step(x, y)`` with x a batch of images with their
centre hole cut out and y the whole images, and ``translate(x)`` -> whole images in [-1, 1]
whose hole the model filled (genbench keeps the context as given and scores the hole:
:func:`genbench.data.inpaint.paste`). The hole is the one :func:`genbench.data.inpaint.hole_box`
defines; the models cut it out of their input again, so they never see what is in it.

The context encoder follows the paper's released code (``train.lua``, "central region"):

* encoder: 4x4 convs of stride 2 (LeakyReLU 0.2, BatchNorm after the first) down to at most
  7x7 (4x4 from 128x128, as the code), then a conv over the whole remaining map to the
  ``bottleneck``-channel 1x1 code (BatchNorm, LeakyReLU);
* decoder: a 4x4 (or the needed size) transposed conv from the code, then 4x4 transposed convs
  of stride 2 (BatchNorm, ReLU) up to the hole's size, Tanh: it predicts the hole only;
* discriminator on the hole: 4x4 convs of stride 2 (LeakyReLU 0.2, BatchNorm after the first)
  down to at most 7x7, a conv over the map to one logit;
* each step: D on BCE(D(hole), 1) + BCE(D(G(x)), 0); G on ``l2_weight x MSE(G(x), hole) +
  (1 - l2_weight) x BCE(D(G(x)), 1)``.

Not used: the code's ``overlapPred`` (its input hole is 4 pixels smaller than the predicted
region, and the visible rim is weighted x10 in the L2): genbench's hole is a fixed property of
the task, the same for every model, and the whole predicted region is hidden.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from genbench.data.inpaint import FILL, cut, hole, hole_box
from genbench.errors import GenbenchError
from genbench.model import DataInfo
from genbench_translation.oneway import OneWayModel, bce_gan_update

SMALLEST = 7  # the convs stop halving once a map's side is at most this


def _check(name: str, data: DataInfo) -> tuple[int, int, int, int]:
    if data.kind != "inpaint" or len(data.shape) != 3:
        raise GenbenchError(f"{name} takes inpainting data (images with a hole), not "
                            f"{data.kind!r} data")
    return hole_box(*data.shape[-2:])


class Inpainter(OneWayModel):
    """Shared: the step counter, the hole, ``translate``; inpainting models do not sample."""

    name = "inpaint"
    task = "fills holes"

    def __init__(self, config, data: DataInfo):
        super().__init__()
        self.config = config
        self.shape = self.input_shape = tuple(data.shape)
        self.box = _check(self.name, data)
        self.register_buffer("steps_done", torch.zeros((), dtype=torch.long))

    def fill(self, x: torch.Tensor) -> torch.Tensor:
        """The hole's content, (N, C, h, w), for masked images ``x``."""
        raise NotImplementedError

    def complete(self, x: torch.Tensor) -> torch.Tensor:
        top, left, h, w = self.box
        out = cut(x)
        out[..., top:top + h, left:left + w] = self.fill(out)
        return out

    def output(self, x: torch.Tensor) -> torch.Tensor:
        return self.complete(x)

    def _fill_loss(self, x: torch.Tensor, y: torch.Tensor | None) -> dict[str, torch.Tensor]:
        if y is None:
            raise GenbenchError(f"{self.name} trains on (masked, whole) image pairs")
        with torch.no_grad():
            loss = F.mse_loss(self.fill(cut(x)), hole(y))
        self.count_step()
        return {"mse": loss}


class MeanFill(Inpainter):
    """The hole of the mean training image (per pixel and channel)."""

    name = "mean-fill"

    def __init__(self, config, data: DataInfo):
        super().__init__(config, data)
        top, left, h, w = self.box
        self.register_buffer("mean_hole", torch.full((self.shape[0], h, w), FILL))

    def fit_training_set(self, x: torch.Tensor, y: torch.Tensor | None) -> None:
        if y is None:
            raise GenbenchError(f"{self.name} needs the whole training images")
        self.mean_hole.copy_(hole(y.double()).mean(0).float().to(self.mean_hole.device))

    def fill(self, x: torch.Tensor) -> torch.Tensor:
        return self.mean_hole.expand(len(x), *self.mean_hole.shape)

    def train_step(self, x: torch.Tensor, y: torch.Tensor | None) -> dict[str, torch.Tensor]:
        return self._fill_loss(x, y)


class BlurFill(Inpainter):
    """Normalised convolution: each hole pixel is the Gaussian-weighted mean of the context
    pixels (weights of the hole's and the outside's pixels are zero), sigma = ``sigma`` x the
    hole's side."""

    name = "blur-fill"

    def __init__(self, config, data: DataInfo):
        super().__init__(config, data)
        top, left, h, w = self.box
        sigma = max(config.sigma * h, 0.5)
        radius = math.ceil(3 * sigma)
        offsets = torch.arange(-radius, radius + 1, dtype=torch.float64)
        kernel = torch.exp(-offsets ** 2 / (2 * sigma ** 2))
        self.register_buffer("kernel", (kernel / kernel.sum()).float(), persistent=False)
        known = torch.ones(1, 1, *self.shape[-2:])
        known[..., top:top + h, left:left + w] = 0.0
        self.register_buffer("known", known, persistent=False)
        # The denominator: the known pixels' total weight at each hole pixel (a constant).
        every_channel = known.expand(1, self.shape[0], *known.shape[-2:])
        self.register_buffer("coverage", hole(self._blur(every_channel)).clamp_min(1e-12),
                             persistent=False)

    def _blur(self, images: torch.Tensor) -> torch.Tensor:
        c = images.shape[1]
        k = self.kernel.to(images.dtype)
        radius = (len(k) - 1) // 2
        rows = F.conv2d(images, k.view(1, 1, -1, 1).expand(c, 1, -1, 1).contiguous(),
                        padding=(radius, 0), groups=c)
        return F.conv2d(rows, k.view(1, 1, 1, -1).expand(c, 1, 1, -1).contiguous(),
                        padding=(0, radius), groups=c)

    def fill(self, x: torch.Tensor) -> torch.Tensor:
        return hole(self._blur(x * self.known.to(x.dtype))) / self.coverage.to(x.dtype)

    def train_step(self, x: torch.Tensor, y: torch.Tensor | None) -> dict[str, torch.Tensor]:
        return self._fill_loss(x, y)


# -- networks ----------------------------------------------------------------------------------

def _halvings(side: int) -> int:
    """How many stride-2 4x4 convs (padding 1) bring ``side`` to at most SMALLEST."""
    count = 0
    while side > SMALLEST:
        side //= 2
        count += 1
    return count


def _widths(base: int, count: int) -> list[int]:
    """Widths of ``count`` layers ending at 8 x base, doubling toward it: [.., 2b, 4b, 8b]."""
    return [base * 2 ** max(0, 3 - (count - 1 - i)) for i in range(count)]


class Encoder(nn.Module):
    def __init__(self, channels: int, side: int, nef: int, bottleneck: int):
        super().__init__()
        count = _halvings(side)
        widths = _widths(nef, count)
        layers: list[nn.Module] = []
        previous = channels
        for i, width in enumerate(widths):
            layers.append(nn.Conv2d(previous, width, 4, 2, 1))
            if i:
                layers.append(nn.BatchNorm2d(width))
            layers.append(nn.LeakyReLU(0.2))
            previous, side = width, side // 2
        layers += [nn.Conv2d(previous, bottleneck, side), nn.BatchNorm2d(bottleneck),
                   nn.LeakyReLU(0.2)]
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class HoleDecoder(nn.Module):
    """The 1x1 code -> the hole (C, h, w) in [-1, 1]."""

    def __init__(self, channels: int, side: int, ngf: int, bottleneck: int):
        super().__init__()
        ups = 0
        start = side
        while start > SMALLEST and start % 2 == 0:
            start //= 2
            ups += 1
        widths = _widths(ngf, ups + 1)[::-1]  # 8 x ngf at the start, ngf before the output
        layers: list[nn.Module] = [nn.ConvTranspose2d(bottleneck, widths[0], start),
                                   nn.BatchNorm2d(widths[0]), nn.ReLU()]
        for i in range(ups):
            last = i == ups - 1
            out = channels if last else widths[i + 1]
            layers.append(nn.ConvTranspose2d(widths[i], out, 4, 2, 1))
            layers += [nn.Tanh()] if last else [nn.BatchNorm2d(out), nn.ReLU()]
        if not ups:  # an odd or small hole: the first up-conv already has its size
            layers += [nn.Conv2d(widths[0], channels, 3, padding=1), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, code: torch.Tensor) -> torch.Tensor:
        return self.net(code)


class HoleDiscriminator(nn.Module):
    """DCGAN-style D on the hole: one logit per image."""

    def __init__(self, channels: int, side: int, ndf: int):
        super().__init__()
        count = _halvings(side)
        layers: list[nn.Module] = []
        previous = channels
        for i in range(count):
            width = ndf * 2 ** min(i, 3)
            layers.append(nn.Conv2d(previous, width, 4, 2, 1))
            if i:
                layers.append(nn.BatchNorm2d(width))
            layers.append(nn.LeakyReLU(0.2))
            previous, side = width, side // 2
        layers.append(nn.Conv2d(previous, 1, side))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).view(-1)


class ContextEncoder(Inpainter):
    name = "context-encoder"

    def __init__(self, config, data: DataInfo):
        super().__init__(config, data)
        channels, side = self.shape[0], min(self.shape[-2:])
        top, left, h, w = self.box
        self.encoder = Encoder(channels, side, config.nef, config.bottleneck)
        self.decoder = HoleDecoder(channels, h, config.ngf, config.bottleneck)
        self.discriminator = HoleDiscriminator(channels, h, config.ndf)
        generator = list(self.encoder.parameters()) + list(self.decoder.parameters())
        betas = (config.beta1, config.beta2)
        self.optimizers = {
            "g": torch.optim.Adam(generator, lr=config.lr, betas=betas),
            "d": torch.optim.Adam(self.discriminator.parameters(), lr=config.lr, betas=betas),
        }

    def fill(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder(x))

    def train_step(self, x: torch.Tensor, y: torch.Tensor | None) -> dict[str, torch.Tensor]:
        if y is None:
            raise GenbenchError(f"{self.name} trains on (masked, whole) image pairs")
        cfg = self.config
        real = hole(y)
        fake = self.fill(cut(x))
        l2 = F.mse_loss(fake, real)
        d_loss, adversarial = bce_gan_update(
            self.discriminator, self.optimizers, real, fake,
            lambda adversarial: cfg.l2_weight * l2 + (1 - cfg.l2_weight) * adversarial)
        self.count_step()
        return {"l2": l2.detach(), "adversarial": adversarial.detach(),
                "d_loss": d_loss.detach()}


# -- factories ---------------------------------------------------------------------------------

def build_mean_fill(config, data_info: DataInfo) -> MeanFill:
    return MeanFill(config, data_info)


def build_blur_fill(config, data_info: DataInfo) -> BlurFill:
    return BlurFill(config, data_info)


def build_context_encoder(config, data_info: DataInfo) -> ContextEncoder:
    return ContextEncoder(config, data_info)
