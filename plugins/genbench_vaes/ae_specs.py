"""Specs and configs of the autoencoders (ae, dae) and VAEs (vae, beta-vae, cvae). No torch here:
the models live in :mod:`genbench_vaes.autoencoders` and are imported when one is built.

Networks (:mod:`genbench_vaes.blocks`): for points an MLP of ``depth`` hidden layers of
``width`` units; for images a convolutional encoder/decoder whose first layer has ``width``
channels, doubling at every stride-2 step, at the dataset's native resolution unless
``image_size`` is set. ``latent_dim`` is 16 by default; the points profiles use 2 (the data's
own dimension), the standard image profile 32.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

from genbench.config import Count, Probability, Range, Rate, TrainConfig, Weight
from genbench.registry import ModelSpec


@dataclass
class AutoencoderConfig(TrainConfig):
    """Settings every model here takes."""

    lr: Rate = 1e-3  # Adam
    latent_dim: Count = 16
    width: Count = 32  # MLP hidden units (points) / channels of the first conv layer (images)
    depth: Annotated[int, Range(ge=0)] = 2  # MLP hidden layers (points only)
    image_size: Annotated[int, Range(ge=0, note="0 = the dataset's native size")] = 0
    batch_size: int = 100
    checkpoint_every: int = 1000


@dataclass
class AeConfig(AutoencoderConfig):
    # Sampling fits a Gaussian to the codes: bias-corrected exponential moving averages of the
    # codes' first and second moments, updated every training step with this decay.
    code_decay: Annotated[float, Range(ge=0, lt=1)] = 0.99


@dataclass
class DaeConfig(AeConfig):
    noise: Literal["gaussian", "mask"] = "gaussian"
    noise_std: Weight = 0.3  # "gaussian": x + noise_std * N(0, I)
    mask_prob: Probability = 0.25  # "mask": each value is set to 0 (images: -1, black) this often


@dataclass
class VaeConfig(AutoencoderConfig):
    beta: Weight = 1.0  # weight of the KL term; 1 = the ELBO
    decoder: Literal["gaussian", "bernoulli"] = "gaussian"
    # Gaussian decoder only: train on uniformly dequantised images, so the density is that of
    # 8-bit data (genbench.likelihood); points are always used as they are.
    dequantize: bool = True
    min_scale: Rate = 1e-3  # lower bound on the Gaussian decoder's learned per-value std


@dataclass
class BetaVaeConfig(VaeConfig):
    beta: float = 4.0


@dataclass
class CvaeConfig(VaeConfig):
    # log p(x) sums a bound over every class, K times a VAE's cost; with more classes than
    # this (stacked-digits: 1000) the model reports no likelihood rather than take that long.
    likelihood_max_classes: Annotated[int, Range(ge=0)] = 100


AE_CAPABILITIES = ("sample", "latent", "encode", "reconstruct")
VAE_CAPABILITIES = ("sample", "latent", "encode", "reconstruct", "log_prob")

# digits-sized images train in a few seconds per thousand steps on 2 CPU cores.
PROFILES = {
    "quick": {"steps": 1500, "batch_size": 64, "width": 32, "checkpoint_every": 500},
    "quick:points": {"steps": 3000, "batch_size": 256, "width": 128, "latent_dim": 2,
                     "checkpoint_every": 1000},
    "standard": {"steps": 30000, "batch_size": 100, "width": 64, "latent_dim": 32,
                 "checkpoint_every": 2000},
    "standard:points": {"steps": 20000, "batch_size": 256, "width": 256, "depth": 3,
                        "latent_dim": 2, "checkpoint_every": 2000},
}


def _profiles() -> dict:
    return {key: dict(values) for key, values in PROFILES.items()}


SAMPLED_FROM_CODES = ("samples by decoding draws from a Gaussian fitted to its codes (running "
                      "mean and full covariance)")

SPECS = (
    ModelSpec(
        name="ae", family="autoencoder",
        summary="deterministic autoencoder with an MSE loss; " + SAMPLED_FROM_CODES,
        paper="Hinton & Salakhutdinov 2006, Reducing the Dimensionality of Data with Neural "
              "Networks, Science 313",
        factory="genbench_vaes.autoencoders:build_ae",
        config=AeConfig,
        accepts=("points", "images"),
        capabilities=AE_CAPABILITIES,
        profiles=_profiles(),
    ),
    ModelSpec(
        name="dae", family="autoencoder",
        summary="denoising autoencoder: reconstructs clean inputs from Gaussian- or "
                "mask-corrupted ones; " + SAMPLED_FROM_CODES,
        paper="Vincent et al. 2008, Extracting and Composing Robust Features with Denoising "
              "Autoencoders, ICML",
        factory="genbench_vaes.autoencoders:build_dae",
        config=DaeConfig,
        accepts=("points", "images"),
        capabilities=AE_CAPABILITIES,
        profiles=_profiles(),
    ),
    ModelSpec(
        name="vae", family="vae",
        summary="variational autoencoder: Gaussian encoder, reparametrisation, N(0, I) prior, "
                "Gaussian (learned scale) or Bernoulli decoder; ELBO and IWAE likelihoods",
        paper="Kingma & Welling 2014, Auto-Encoding Variational Bayes, arXiv:1312.6114",
        factory="genbench_vaes.autoencoders:build_vae",
        config=VaeConfig,
        accepts=("points", "images"),
        capabilities=VAE_CAPABILITIES,
        profiles=_profiles(),
    ),
    ModelSpec(
        name="beta-vae", family="vae",
        summary="beta-VAE: the VAE with the KL term weighted by beta=4 for disentangled codes",
        paper="Higgins et al. 2017, beta-VAE: Learning Basic Visual Concepts with a Constrained "
              "Variational Framework, ICLR",
        factory="genbench_vaes.autoencoders:build_beta_vae",
        config=BetaVaeConfig,
        accepts=("points", "images"),
        capabilities=VAE_CAPABILITIES,
        profiles=_profiles(),
    ),
    ModelSpec(
        name="cvae", family="vae",
        summary="conditional VAE: q(z|x,y) and p(x|z,y) take one-hot labels; likelihood of x "
                "alone by summing over classes; needs a labelled dataset (e.g. digits)",
        paper="Sohn et al. 2015, Learning Structured Output Representation using Deep "
              "Conditional Generative Models, NeurIPS (and Kingma et al. 2014, Semi-Supervised "
              "Learning with Deep Generative Models, arXiv:1406.5298)",
        factory="genbench_vaes.autoencoders:build_cvae",
        config=CvaeConfig,
        accepts=("points", "images"),
        capabilities=("sample", "latent", "conditional", "encode", "reconstruct", "log_prob"),
        profiles=_profiles(),
    ),
)
