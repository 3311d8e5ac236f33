"""Inpainting models (data kind ``"inpaint"``): specs and configs, free of torch.

``mean-fill`` and ``blur-fill`` are the baselines; ``context-encoder`` is Pathak et al. 2016.
The networks and training steps are in :mod:`genbench_translation.inpaint`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from genbench.config import Count, Probability, Range, Rate, TrainConfig
from genbench.registry import ModelSpec

PAPER = ("Pathak et al. 2016, Context Encoders: Feature Learning by Inpainting, "
         "arXiv:1604.07379")
AdamBeta = Annotated[float, Range(ge=0, lt=1)]
Fraction = Annotated[float, Range(gt=0, le=1)]


# Inpainting images are loaded at this side, for training and scoring alike (the hole is the
# centre half); 0 = the dataset's own (64x64). 128 is the paper's.
ImageSize = Annotated[int, Range(ge=0, note="0 = the dataset's own size (64)")]


@dataclass
class FillConfig(TrainConfig):
    steps: int = 1  # nothing to learn by gradient (mean-fill fits its mean in one pass)
    checkpoint_every: int = 1
    image_size: ImageSize = 0


@dataclass
class BlurFillConfig(FillConfig):
    # The Gaussian's sigma as a fraction of the hole's side: 1/4 reaches the hole's centre
    # from its edge with weight exp(-2) of the edge's.
    sigma: Fraction = 0.25


@dataclass
class ContextEncoderConfig(TrainConfig):
    """Defaults are the paper's released code (github.com/pathak22/context-encoder,
    ``train.lua``): encoder-decoder with a 4000-d bottleneck, 64-wide nets, DCGAN-style
    discriminator on the hole, joint loss 0.999 x L2 + 0.001 x adversarial, Adam 2e-4 (beta1
    0.5), batch 64. The number of updates is genbench's choice (the code counts epochs of its
    datasets)."""

    steps: int = 50_000
    batch_size: int = 64
    checkpoint_every: int = 5000
    image_size: ImageSize = 0
    nef: Count = 64  # encoder width (the first conv; doubled down to 8 x nef)
    ngf: Count = 64  # decoder width (8 x ngf at 4x4, halved up to ngf)
    ndf: Count = 64  # discriminator width
    bottleneck: Count = 4000  # the code's nBottleneck: channels of the 1x1 code
    l2_weight: Probability = 0.999  # the code's wtl2; the adversarial weight is 1 - it
    lr: Rate = 2e-4
    beta1: AdamBeta = 0.5
    beta2: AdamBeta = 0.999


CONTEXT_ENCODER_QUICK = {"nef": 16, "ngf": 16, "ndf": 16, "bottleneck": 256, "steps": 2000,
                         "batch_size": 64, "checkpoint_every": 500}
CONTEXT_ENCODER_STANDARD = {"steps": 50_000, "checkpoint_every": 5000}


def inpaint_models() -> list[ModelSpec]:
    return [
        ModelSpec(
            name="mean-fill", family="inpaint",
            summary="the baseline: fills the hole with the mean training image's hole (per "
                    "pixel); what an inpainting model must beat",
            paper="a baseline (Pathak et al. 2016 compare against mean-filled inputs)",
            factory="genbench_translation.inpaint:build_mean_fill", config=FillConfig,
            accepts=("inpaint",), capabilities=("translate",), profiles={},
        ),
        ModelSpec(
            name="blur-fill", family="inpaint",
            summary="the baseline: fills the hole by Gaussian normalised convolution of the "
                    "context (each hole pixel the Gaussian-weighted mean of the known pixels)",
            paper="a baseline (normalised convolution: Knutsson & Westin 1993)",
            factory="genbench_translation.inpaint:build_blur_fill", config=BlurFillConfig,
            accepts=("inpaint",), capabilities=("translate",), profiles={},
        ),
        ModelSpec(
            name="context-encoder", family="inpaint",
            summary="context encoder: conv encoder of the masked image to a bottleneck, "
                    "up-conv decoder of the hole, DCGAN discriminator on the hole; 0.999 x L2 "
                    "+ 0.001 x adversarial loss",
            paper=PAPER, factory="genbench_translation.inpaint:build_context_encoder",
            config=ContextEncoderConfig, accepts=("inpaint",), capabilities=("translate",),
            profiles={"quick": dict(CONTEXT_ENCODER_QUICK),
                      "standard": dict(CONTEXT_ENCODER_STANDARD)},
        ),
    ]
