"""Super-resolution models (data kind ``"superres"``): specs and configs, free of torch.

``bicubic`` is the baseline; ``srresnet`` and ``srgan`` are Ledig et al. 2017. The networks and
training steps are in :mod:`genbench_translation.superres`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from genbench.config import Count, Probability, Range, Rate, TrainConfig, Weight
from genbench.registry import ModelSpec

PAPER = ("Ledig et al. 2017, Photo-Realistic Single Image Super-Resolution Using a Generative "
         "Adversarial Network, arXiv:1609.04802")
AdamBeta = Annotated[float, Range(ge=0, lt=1)]


@dataclass
class BicubicConfig(TrainConfig):
    steps: int = 1  # nothing to learn
    checkpoint_every: int = 1


@dataclass
class SRResNetConfig(TrainConfig):
    """Defaults are the paper's SRResNet: 16 residual blocks of 64 channels, Adam (beta1 0.9)
    at 1e-4, batch 16, 10^6 updates, MSE loss."""

    steps: int = 1_000_000
    batch_size: int = 16
    checkpoint_every: int = 10_000
    channels: Count = 64  # width of the residual blocks
    blocks: Count = 16  # B residual blocks (conv-BN-PReLU-conv-BN + skip)
    lr: Rate = 1e-4
    beta1: AdamBeta = 0.9
    beta2: AdamBeta = 0.999
    # The learning rate is multiplied by 0.1 from this fraction of the steps; 1 = never.
    lr_drop_at: Probability = 1.0


@dataclass
class SRGANConfig(SRResNetConfig):
    """The paper: SRResNet trained with MSE for 10^6 steps initialises the generator, then
    10^5 adversarial steps at 1e-4 and 10^5 at 1e-5: 1.2 x 10^6 steps, the first 5/6 on MSE,
    the rate dropped at 11/12."""

    steps: int = 1_200_000
    lr_drop_at: Probability = 11 / 12
    # Share of the steps trained like srresnet (MSE only, D idle) before the adversarial phase.
    pretrain: Probability = 5 / 6
    adversarial_weight: Weight = 1e-3  # the paper's 10^-3 * l_Gen
    # Content loss of the adversarial phase: pixel MSE * mse_weight + MSE between the
    # discriminator's mid-level features of SR and HR * feature_weight. The paper's VGG19
    # features cannot be downloaded here; D's own features stand in for them (see
    # docs/superres.md).
    mse_weight: Weight = 1.0
    feature_weight: Weight = 1.0
    ndf: Count = 64  # D: 64, 64, 128, 128, 256, 256, 512, 512 channels (x ndf / 64)
    d_dense: Count = 1024  # D's hidden dense layer


BICUBIC_SUMMARY = ("the baseline: plain bicubic upsampling of the LR input (no training); "
                   "what a super-resolution model must beat")
SRRESNET_QUICK = {"channels": 32, "blocks": 4, "steps": 1000, "batch_size": 16,
                  "checkpoint_every": 250}
SRRESNET_STANDARD = {"steps": 1_000_000, "checkpoint_every": 10_000}
SRGAN_QUICK = {"channels": 32, "blocks": 4, "ndf": 16, "d_dense": 128, "steps": 1000,
               "batch_size": 16, "checkpoint_every": 250, "pretrain": 0.5,
               "lr_drop_at": 1.0}
SRGAN_STANDARD = {"steps": 1_200_000, "checkpoint_every": 10_000}


def superres_models() -> list[ModelSpec]:
    return [
        ModelSpec(
            name="bicubic", family="superres", summary=BICUBIC_SUMMARY,
            paper="a baseline (Ledig et al. 2017 report it first in every table)",
            factory="genbench_translation.superres:build_bicubic", config=BicubicConfig,
            accepts=("superres",), capabilities=("translate",), profiles={},
        ),
        ModelSpec(
            name="srresnet", family="superres",
            summary="SRResNet: 9x9 conv, B residual blocks (conv-BN-PReLU-conv-BN), skip, "
                    "sub-pixel x2 upsampling blocks, 9x9 conv; MSE loss",
            paper=PAPER, factory="genbench_translation.superres:build_srresnet",
            config=SRResNetConfig, accepts=("superres",), capabilities=("translate",),
            profiles={"quick": dict(SRRESNET_QUICK), "standard": dict(SRRESNET_STANDARD)},
        ),
        ModelSpec(
            name="srgan", family="superres",
            summary="SRGAN: the SRResNet generator, pretrained on MSE, then content loss + "
                    "1e-3 adversarial loss against a VGG-style discriminator; content: pixel "
                    "MSE + D-feature MSE (VGG19 is not available offline)",
            paper=PAPER, factory="genbench_translation.superres:build_srgan",
            config=SRGANConfig, accepts=("superres",), capabilities=("translate",),
            profiles={"quick": dict(SRGAN_QUICK), "standard": dict(SRGAN_STANDARD)},
        ),
    ]
