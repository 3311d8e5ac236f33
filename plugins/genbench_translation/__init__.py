"""genbench's image-to-image translation plugin: pix2pix (paired data), CycleGAN and DiscoGAN
(unpaired); super-resolution (bicubic, SRResNet, SRGAN) and inpainting (mean-fill, blur-fill,
context encoder) as tasks of the same shape, an image in and an image out.

Only specs and config dataclasses live here (no torch import); the networks are imported when
a model is built. Layout: ``nets`` (U-Net, ResNet and encoder-decoder generators, PatchGAN and
image-level discriminators) and ``models`` (the shared
:class:`~genbench_translation.models.TranslationModel`, the models, their factories).

The models are trained with ``train_step(x, y)``, x a batch of domain A and y one of domain B,
and offer ``translate(x, direction)`` (capability "translate"); they do not sample.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

from genbench import hookimpl
from genbench.config import Count, Probability, Range, Rate, TrainConfig, Weight
from genbench.registry import ModelSpec

AdamBeta = Annotated[float, Range(ge=0, lt=1)]
Automatic = Annotated[int, Range(ge=0, note="0 = automatic")]


@dataclass
class TranslationConfig(TrainConfig):
    """Settings every adversarial translation model takes: image size, network widths, Adam
    and its learning-rate schedule."""

    # Images are resized to this size; 0 = the dataset's own size.
    image_size: Annotated[int, Range(ge=0, note="0 = the dataset's own size")] = 0
    ngf: Count = 64  # generator width (C64 of the first layer)
    ndf: Count = 64  # discriminator width
    lr: Rate = 2e-4  # Adam, both G and D
    beta1: AdamBeta = 0.5
    beta2: AdamBeta = 0.999
    # The learning rate is constant until this fraction of the steps, then linear to 0 at the
    # last step; 1 = constant throughout.
    decay_from: Probability = 1.0


@dataclass
class PatchGanConfig(TranslationConfig):
    """pix2pix's and CycleGAN's networks (U-Net or ResNet generator, PatchGAN); defaults are
    pix2pix's (Isola et al. 2017)."""

    steps: int = 80000  # 200 epochs of the 400 facades pairs at batch size 1
    batch_size: int = 1  # both papers' usual batch size
    checkpoint_every: int = 5000
    generator: Literal["unet", "resnet"] = "unet"
    # BatchNorm uses its running statistics in eval mode (translations do not depend on the
    # batch); "instance" is CycleGAN's InstanceNorm.
    norm: Literal["batch", "instance"] = "batch"
    # U-Net: in the first three decoder blocks; ResNet generator: inside each residual block.
    dropout: Annotated[float, Range(ge=0, lt=1)] = 0.5
    res_blocks: Automatic = 0  # ResNet generator: 0 = the paper's 6 up to 128x128, 9 from 256x256
    # Stride-2 layers of the PatchGAN; 0 = 3 (70x70 patches) from 128px, 2 at 64px (34x34
    # patches), 1 at 32px (16x16 patches): see genbench_translation.nets.
    d_layers: Automatic = 0


@dataclass
class Pix2pixConfig(PatchGanConfig):
    lambda_l1: Weight = 100.0  # weight of |G(a) - b|_1 beside the cGAN loss


@dataclass
class CycleganConfig(PatchGanConfig):
    steps: int = 200000  # 100 + 100 epochs of about 1000 images at batch size 1
    generator: Literal["unet", "resnet"] = "resnet"
    norm: Literal["batch", "instance"] = "instance"
    dropout: float = 0.0
    lambda_cycle: Weight = 10.0  # weight of the cycle-consistency L1 losses
    # Weight of the identity losses |G(b) - b| + |F(a) - a| as a fraction of lambda_cycle (the
    # paper's 0.5 * lambda); only when both domains have the same channel count, else off.
    lambda_identity: Weight = 0.5
    # Generated images kept for the discriminators; 0 = no history.
    pool_size: Annotated[int, Range(ge=0)] = 50
    decay_from: float = 0.5  # the paper: 100 epochs at 2e-4, then 100 decaying linearly to 0


@dataclass
class DiscoganConfig(TranslationConfig):
    """DiscoGAN (Kim et al. 2017). The paper gives the networks and the losses; the training
    settings are those of the authors' code (github.com/SKTBrain/DiscoGAN,
    ``discogan/image_translation.py``)."""

    # The paper gives no training length and the authors' code runs until stopped (it saves a
    # model every 10,000 iterations); 50,000 iterations of 64 images is genbench's choice.
    steps: int = 50000
    batch_size: int = 64  # the authors' code
    checkpoint_every: int = 5000
    image_size: int = 64  # "64 for every experiment in the paper" (the authors' code)
    # Weight of the reconstruction losses L_CONST_A + L_CONST_B, the mean squared error
    # between x and G_BA(G_AB(x)) (and between y and G_AB(G_BA(y))): the paper names MSE
    # among the distances it allows and the authors' code uses it. 1 = the paper's
    # L_G = L_GAN_B + L_CONST_A + L_GAN_A + L_CONST_B.
    lambda_recon: Weight = 1.0
    # Adam's L2 penalty on G and D, as torch.optim.Adam(weight_decay=...) applies it: the
    # authors' code uses 1e-5 (``weight_decay=0.00001``).
    weight_decay: Weight = 1e-5


# quick: 64x64, narrow nets, a few minutes on a 2-core CPU; standard: 256x256, paper widths.
PIX2PIX_QUICK = {"image_size": 64, "ngf": 32, "ndf": 32, "steps": 1500, "batch_size": 4,
                 "checkpoint_every": 500}
PIX2PIX_STANDARD = {"image_size": 256, "steps": 80000, "batch_size": 1,
                    "checkpoint_every": 5000}
CYCLEGAN_QUICK = {"image_size": 64, "ngf": 32, "ndf": 32, "res_blocks": 3, "steps": 800,
                  "batch_size": 1, "checkpoint_every": 200}
CYCLEGAN_STANDARD = {"image_size": 256, "steps": 200000, "batch_size": 1,
                     "checkpoint_every": 5000}

# quick: cyclegan's quick budget (64x64, 800 steps, 32-wide nets) at a batch of 8, since the
# networks batch-normalise (the paper's 64x64 and the authors' batch of 64 in standard).
DISCOGAN_QUICK = {"image_size": 64, "ngf": 32, "ndf": 32, "steps": 800, "batch_size": 8,
                  "checkpoint_every": 200}
DISCOGAN_STANDARD = {"image_size": 64, "steps": 50000, "batch_size": 64,
                     "checkpoint_every": 5000}


@dataclass
class CopyConfig(TrainConfig):
    steps: int = 1  # nothing to learn
    checkpoint_every: int = 1


@hookimpl
def register_models(register):
    register(ModelSpec(
        name="pix2pix", family="translation",
        summary="conditional GAN for paired image-to-image translation: U-Net generator with "
                "skip connections, PatchGAN discriminator on (A, B), cGAN + 100 * L1 loss",
        paper="Isola et al. 2017, Image-to-Image Translation with Conditional Adversarial "
              "Networks, arXiv:1611.07004",
        factory="genbench_translation.models:build_pix2pix",
        config=Pix2pixConfig,
        accepts=("paired",),
        capabilities=("translate",),
        profiles={"quick": dict(PIX2PIX_QUICK), "standard": dict(PIX2PIX_STANDARD)},
    ))
    register(ModelSpec(
        name="copy", family="translation",
        summary="the identity baseline: the output is the input (channels repeated or averaged "
                "to the target's); what a translation model must beat",
        paper="a baseline (Isola et al. 2017 compare against it implicitly: L1 to the truth)",
        factory="genbench_translation.models:build_copy",
        config=CopyConfig,
        accepts=("paired", "unpaired"),
        capabilities=("translate",),
        profiles={},
    ))
    register(ModelSpec(
        name="cyclegan", family="translation",
        summary="unpaired translation both ways: two ResNet generators and two PatchGANs, "
                "LSGAN + cycle-consistency (lambda 10) + identity losses, 50-image history",
        paper="Zhu et al. 2017, Unpaired Image-to-Image Translation using Cycle-Consistent "
              "Adversarial Networks, arXiv:1703.10593",
        factory="genbench_translation.models:build_cyclegan",
        config=CycleganConfig,
        accepts=("paired", "unpaired"),
        capabilities=("translate",),
        profiles={"quick": dict(CYCLEGAN_QUICK), "standard": dict(CYCLEGAN_STANDARD)},
    ))
    register(ModelSpec(
        name="discogan", family="translation",
        summary="unpaired translation both ways: two encoder-decoder generators and two "
                "image-level discriminators, GAN (BCE) + reconstruction (MSE) losses",
        paper="Kim et al. 2017, Learning to Discover Cross-Domain Relations with Generative "
              "Adversarial Networks, arXiv:1703.05192",
        factory="genbench_translation.models:build_discogan",
        config=DiscoganConfig,
        accepts=("paired", "unpaired"),
        capabilities=("translate",),
        profiles={"quick": dict(DISCOGAN_QUICK), "standard": dict(DISCOGAN_STANDARD)},
    ))
    # Super-resolution (data kind "superres"): bicubic, srresnet, srgan.
    from genbench_translation.superres_specs import superres_models

    for spec in superres_models():
        register(spec)
    # Inpainting (data kind "inpaint"): mean-fill, blur-fill, context-encoder.
    from genbench_translation.inpaint_specs import inpaint_models

    for spec in inpaint_models():
        register(spec)
