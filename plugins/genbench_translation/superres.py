"""Super-resolution models: the bicubic baseline, SRResNet and SRGAN (Ledig et al. 2017).

All three take the kind ``"superres"``: ``train_step(x, y)`` with x the LR batch and y the
aligned HR batch, and ``translate(x)`` LR -> HR in [-1, 1] (clamped; the generator ends in a
linear 9x9 conv as in the paper, and is trained on its unclamped output).

SRGAN trains its generator with MSE alone (exactly as srresnet) for the first ``pretrain``
share of the steps, the discriminator idle; then each step updates D on BCE(D(HR), 1) +
BCE(D(G(LR)), 0) and G on ``mse_weight * MSE + feature_weight * MSE(phi(G(LR)), phi(HR)) +
adversarial_weight * BCE(D(G(LR)), 1)``, phi the discriminator's fourth block (D frozen for
that step). The phase depends only on the step count, so a resumed run continues in the phase
and schedule it was in.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from genbench.data.superres import upsample_bicubic
from genbench.errors import GenbenchError
from genbench.model import DataInfo
from genbench_translation.oneway import OneWayModel, bce_gan_update

FEATURE_BLOCK = 4  # phi: the discriminator's features after this many conv blocks


def _scale(name: str, data: DataInfo) -> int:
    if data.kind != "superres" or len(data.shape) != 3 or len(data.target_shape) != 3:
        raise GenbenchError(f"{name} takes super-resolution data (LR -> HR images), not "
                            f"{data.kind!r} data")
    (c, h, w), (cb, hb, wb) = data.shape, data.target_shape
    scale = hb // h
    if c != cb or hb != h * scale or wb != w * scale or scale < 2 or scale & (scale - 1):
        raise GenbenchError(f"{name}: HR {data.target_shape} must be the LR {data.shape} "
                            f"times a power of two in both sides, channels equal")
    return scale


class SuperResolver(OneWayModel):
    """Shared: the step counter, the LR -> HR shapes, ``translate``; SR models do not sample."""

    name = "superres"
    task = "upscales LR to HR"
    inputs = "LR images"

    def __init__(self, config, data: DataInfo, scale: int):
        super().__init__()
        self.config = config
        self.lr_shape, self.hr_shape = tuple(data.shape), tuple(data.target_shape)
        self.input_shape = self.lr_shape
        self.scale = scale
        self.register_buffer("steps_done", torch.zeros((), dtype=torch.long))

    def upscale(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def output(self, x: torch.Tensor) -> torch.Tensor:
        return self.upscale(x)


class Bicubic(SuperResolver):
    name = "bicubic"

    def upscale(self, x: torch.Tensor) -> torch.Tensor:
        return upsample_bicubic(x, self.scale)

    def train_step(self, x: torch.Tensor, y: torch.Tensor | None) -> dict[str, torch.Tensor]:
        self.count_step()
        return {"mse": F.mse_loss(self.upscale(x), y).detach()}


# -- networks ----------------------------------------------------------------------------------

class ResidualBlock(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(channels, channels, 3, padding=1), nn.BatchNorm2d(channels),
            nn.PReLU(channels),
            nn.Conv2d(channels, channels, 3, padding=1), nn.BatchNorm2d(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class SRResNetGenerator(nn.Module):
    """9x9 conv + PReLU; B residual blocks; 3x3 conv + BN and the long skip; log2(scale)
    sub-pixel blocks (3x3 conv to 4x channels, PixelShuffle(2), PReLU); 9x9 conv."""

    def __init__(self, in_channels: int, channels: int, blocks: int, scale: int):
        super().__init__()
        self.head = nn.Sequential(nn.Conv2d(in_channels, channels, 9, padding=4),
                                  nn.PReLU(channels))
        self.body = nn.Sequential(*[ResidualBlock(channels) for _ in range(blocks)],
                                  nn.Conv2d(channels, channels, 3, padding=1),
                                  nn.BatchNorm2d(channels))
        ups = []
        for _ in range(int(math.log2(scale))):
            ups += [nn.Conv2d(channels, channels * 4, 3, padding=1), nn.PixelShuffle(2),
                    nn.PReLU(channels)]
        self.up = nn.Sequential(*ups)
        self.tail = nn.Conv2d(channels, in_channels, 9, padding=4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        head = self.head(x)
        return self.tail(self.up(head + self.body(head)))


class SRGANDiscriminator(nn.Module):
    """The paper's D scaled by ndf/64: 3x3 conv + LeakyReLU(0.2), seven conv-BN-LeakyReLU
    blocks (ndf, 2, 2, 4, 4, 8, 8 x ndf channels, stride 2 at every other one, starting with
    the second conv), dense d_dense, LeakyReLU, dense 1 (a logit; the sigmoid is in the loss).
    ``features(x)`` is the output of the first FEATURE_BLOCK convs (phi of the content loss)."""

    def __init__(self, channels: int, size: int, ndf: int, dense: int):
        super().__init__()
        widths = [ndf, ndf, 2 * ndf, 2 * ndf, 4 * ndf, 4 * ndf, 8 * ndf, 8 * ndf]
        layers: list[nn.Module] = [nn.Sequential(nn.Conv2d(channels, ndf, 3, padding=1),
                                                 nn.LeakyReLU(0.2))]
        for i in range(1, len(widths)):
            stride = 2 if i % 2 else 1
            layers.append(nn.Sequential(
                nn.Conv2d(widths[i - 1], widths[i], 3, stride=stride, padding=1),
                nn.BatchNorm2d(widths[i]), nn.LeakyReLU(0.2)))
        self.convs = nn.ModuleList(layers)
        side = size
        for _ in range(4):
            side = (side + 1) // 2
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(widths[-1] * side * side, dense),
                                  nn.LeakyReLU(0.2), nn.Linear(dense, 1))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.convs[:FEATURE_BLOCK]:
            x = layer(x)
        return x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.convs:
            x = layer(x)
        return self.head(x).view(-1)


# -- the trained models ------------------------------------------------------------------------

class SRResNet(SuperResolver):
    """The generator trained on pixel MSE."""

    name = "srresnet"

    def __init__(self, config, data: DataInfo, scale: int):
        super().__init__(config, data, scale)
        self.generator = SRResNetGenerator(data.shape[0], config.channels, config.blocks, scale)
        self.optimizers = {"g": self._adam(self.generator)}

    def _adam(self, module: nn.Module) -> torch.optim.Optimizer:
        return torch.optim.Adam(module.parameters(), lr=self.config.lr,
                                betas=(self.config.beta1, self.config.beta2))

    def lr_factor(self, step: int) -> float:
        return 0.1 if step >= int(self.config.steps * self.config.lr_drop_at) else 1.0

    def _apply_schedule(self) -> None:
        lr = self.config.lr * self.lr_factor(self.step_count)
        for optimizer in self.optimizers.values():
            for group in optimizer.param_groups:
                group["lr"] = lr

    def upscale(self, x: torch.Tensor) -> torch.Tensor:
        return self.generator(x)

    def mse_step(self, x: torch.Tensor, y: torch.Tensor) -> dict[str, torch.Tensor]:
        loss = F.mse_loss(self.generator(x), y)
        opt = self.optimizers["g"]
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return {"mse": loss.detach()}

    def train_step(self, x: torch.Tensor, y: torch.Tensor | None) -> dict[str, torch.Tensor]:
        if y is None:
            raise GenbenchError(f"{self.name} trains on LR/HR pairs")
        self._apply_schedule()
        out = self.mse_step(x, y)
        self.count_step()
        return out


class SRGAN(SRResNet):
    name = "srgan"

    def __init__(self, config, data: DataInfo, scale: int):
        super().__init__(config, data, scale)
        self.discriminator = SRGANDiscriminator(data.shape[0], data.target_shape[-1],
                                                config.ndf, config.d_dense)
        self.optimizers["d"] = self._adam(self.discriminator)

    @property
    def pretrain_steps(self) -> int:
        return int(self.config.steps * self.config.pretrain)

    def train_step(self, x: torch.Tensor, y: torch.Tensor | None) -> dict[str, torch.Tensor]:
        if y is None:
            raise GenbenchError("srgan trains on LR/HR pairs")
        self._apply_schedule()
        if self.step_count < self.pretrain_steps:
            out = self.mse_step(x, y)
        else:
            out = self.adversarial_step(x, y)
        self.count_step()
        return out

    def adversarial_step(self, x: torch.Tensor, y: torch.Tensor) -> dict[str, torch.Tensor]:
        cfg, d = self.config, self.discriminator
        fake = self.generator(x)
        terms = {}

        def generator_loss(adversarial: torch.Tensor) -> torch.Tensor:
            terms["mse"] = F.mse_loss(fake, y)
            with torch.no_grad():
                target_features = d.features(y)
            terms["feature"] = F.mse_loss(d.features(fake), target_features)
            return (cfg.mse_weight * terms["mse"] + cfg.feature_weight * terms["feature"]
                    + cfg.adversarial_weight * adversarial)

        d_loss, adversarial = bce_gan_update(d, self.optimizers, y, fake, generator_loss)
        return {"mse": terms["mse"].detach(), "feature": terms["feature"].detach(),
                "adversarial": adversarial.detach(), "d_loss": d_loss.detach()}


# -- factories ---------------------------------------------------------------------------------

def build_bicubic(config, data_info: DataInfo) -> Bicubic:
    return Bicubic(config, data_info, _scale("bicubic", data_info))


def build_srresnet(config, data_info: DataInfo) -> SRResNet:
    return SRResNet(config, data_info, _scale("srresnet", data_info))


def build_srgan(config, data_info: DataInfo) -> SRGAN:
    return SRGAN(config, data_info, _scale("srgan", data_info))
