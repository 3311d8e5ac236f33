"""genbench's builtin GAN plugin: registered through the ``genbench`` entry-point group, exactly as
a third-party plugin would be. Only specs and config dataclasses live here (no torch import);
the networks are imported when a model is built.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from genbench import hookimpl
from genbench.config import TrainConfig
from genbench.registry import ModelSpec


@dataclass
class AdversarialConfig(TrainConfig):
    latent_dim: int = 100
    lr_g: float = 2e-4
    lr_d: float = 2e-4
    beta1: float = 0.5
    beta2: float = 0.999
    # Goodfellow et al. recommend the non-saturating generator loss; "minimax" is the original.
    g_loss: Literal["non_saturating", "minimax"] = "non_saturating"


@dataclass
class GanConfig(AdversarialConfig):
    hidden: int = 512
    depth: int = 2  # hidden layers in each of G and D
    dropout: float = 0.3  # in D, as in the paper's maxout/dropout discriminator
    # BatchNorm in G's hidden layers: not in the 2014 paper, but what keeps the MLP generator
    # from collapsing onto one image in practice (as in the common reference implementations).
    g_norm: Literal["batch", "none"] = "batch"
    image_size: int = 0  # 0 = the dataset's native size


@dataclass
class DcganConfig(AdversarialConfig):
    image_size: int = 32  # 32 or 64; smaller datasets are upsampled
    ngf: int = 64
    ndf: int = 64


@hookimpl
def register_models(register):
    register(ModelSpec(
        name="gan", family="gan",
        summary="the original GAN: MLP generator and discriminator, for 2-D points and small "
                "images",
        paper="Goodfellow et al. 2014, Generative Adversarial Nets, arXiv:1406.2661",
        factory="genbench_gans.gan:build",
        config=GanConfig,
        accepts=("points", "images"),
        profiles={
            "quick": {"steps": 2000, "batch_size": 64, "hidden": 256},
            # On 2-D mixtures BatchNorm in G hurt (grid25: 3 vs 8 modes in our quick runs).
            "quick:points": {"steps": 10000, "batch_size": 256, "hidden": 128, "latent_dim": 16,
                             "dropout": 0.0, "g_norm": "none", "lr_g": 1e-3, "lr_d": 1e-3,
                             "checkpoint_every": 2000},
            "standard": {"steps": 30000},
            "standard:points": {"steps": 50000, "batch_size": 512, "hidden": 256,
                                "latent_dim": 16, "dropout": 0.0, "g_norm": "none",
                                "checkpoint_every": 5000},
        },
    ))
    register(ModelSpec(
        name="dcgan", family="gan",
        summary="deep convolutional GAN: strided (transposed) convolutions, BatchNorm, "
                "LeakyReLU D, tanh G; 32x32 or 64x64 images",
        paper="Radford et al. 2015, Unsupervised Representation Learning with Deep "
              "Convolutional GANs, arXiv:1511.06434",
        factory="genbench_gans.dcgan:build",
        config=DcganConfig,
        accepts=("images",),
        profiles={
            "quick": {"steps": 1500, "batch_size": 64, "ngf": 32, "ndf": 32},
            "standard": {"steps": 30000, "batch_size": 128, "checkpoint_every": 2000},
        },
    ))
