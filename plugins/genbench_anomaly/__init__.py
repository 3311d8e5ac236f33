"""genbench's GAN-based anomaly detectors: AnoGAN, f-AnoGAN and GANomaly. Registered through the
``genbench`` entry-point group like any third-party plugin. Only specs and config dataclasses
live here (no torch import); the networks are imported when a model is built.

Layout: ``residuals`` (freezing nets while scoring, the per-image residual losses), ``anogan``,
``fanogan`` and ``ganomaly`` (one model each, built on genbench_gans' nets and models).

Each model scores the whole test split through ``anomaly_score`` and genbench turns the scores
into AUROC and AUPRC on the anomaly datasets (``digits-oneclass:K`` and the like). Paper
settings are the configs' defaults; the image size is DCGAN's 32 (smaller images are
upsampled), where the papers used 64x64 images (AnoGAN, f-AnoGAN) or 32x32 (GANomaly's MNIST).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

from genbench_gans import AdamBeta, DcganConfig, ImageSize, Norm, WganGpConfig

from genbench import hookimpl
from genbench.config import Count, Probability, Range, Rate, TrainConfig, Weight
from genbench.registry import ModelSpec


@dataclass
class AnoganConfig(DcganConfig):
    """DCGAN's settings for training, then the latent search that scores each test image."""

    # Gamma, backpropagation steps on z per image (the paper's 500).
    search_steps: Annotated[int, Range(ge=0)] = 500
    search_lr: Rate = 0.01  # Adam on z; the paper does not name its optimizer
    # lambda, the discrimination loss's weight against the residual's (1 - lambda).
    search_lambda: Probability = 0.1
    search_batch: Count = 10000  # test images searched at once (all of MNIST's test split)


@dataclass
class FanoganConfig(WganGpConfig):
    """WGAN-GP's settings for the GAN, then the izi_f encoder's. As in the published code: a
    128-dimensional Gaussian latent, layer norm in the critic, RMSprop 5e-5 for the encoder."""

    latent_dim: int = 128
    d_norm: Norm = "layer"
    # Share of the steps that train the encoder, at the end.
    encoder_fraction: Annotated[float, Range(ge=0, lt=1)] = 0.3
    kappa: Weight = 1.0  # weight of the feature residual in the izi_f loss and the score
    e_optimizer: Literal["adam", "rmsprop"] = "rmsprop"
    lr_e: Rate = 5e-5


@dataclass
class GanomalyConfig(TrainConfig):
    """The published settings: 100-dimensional latent, DCGAN widths 64, Adam 2e-4 with betas
    (0.5, 0.999), loss weights w_adv = 1, w_con = 50, w_enc = 1, batch 64."""

    image_size: ImageSize = 32  # 32 or 64 (the nets check it); smaller datasets are upsampled
    latent_dim: Count = 100
    ngf: Count = 64
    ndf: Count = 64
    g_norm: Norm = "batch"  # in both encoders and the decoder (never on a first layer)
    d_norm: Norm = "batch"
    d_activation: Literal["leaky_relu", "relu"] = "leaky_relu"  # in D and both encoders
    lr: Rate = 2e-4
    beta1: AdamBeta = 0.5
    beta2: AdamBeta = 0.999
    w_adv: Weight = 1.0
    w_con: Weight = 50.0
    w_enc: Weight = 1.0


# Quick: under a minute per run of digits-oneclass on one CPU thread (the leaderboard runs 10
# classes x 3 seeds), so narrow nets and short runs.
QUICK = {"batch_size": 64, "ngf": 16, "ndf": 16, "checkpoint_every": 500}
# The DCGAN at batch 64 lost G to a winning D (D(G(z)) ~ 0 from the first ~100 steps) in 4 of
# 21 training runs on digits-oneclass; at batch 32 in none of 20 (judged on the training logs).
ANOGAN_QUICK = {**QUICK, "steps": 600, "batch_size": 32, "search_steps": 100}
# f-AnoGAN's WGAN-GP learns too slowly at the paper's rates for 700 critic steps (grey noise
# for samples); faster rates, 2 critic steps per G step and a faster encoder were chosen on the
# training split's izi_f loss and the sample pictures (never on test scores).
FANOGAN_QUICK = {**QUICK, "steps": 1000, "lr_g": 5e-4, "lr_d": 5e-4, "n_critic": 2,
                 "lr_e": 2e-4}
STANDARD = {"batch_size": 64, "checkpoint_every": 2000}


@hookimpl
def register_models(register):
    register(ModelSpec(
        name="anogan", family="anomaly",
        summary="AnoGAN: a DCGAN on the normal data; each test image is scored by a latent "
                "search (Adam on z) minimising 0.9 * |x - G(z)| + 0.1 * |f(x) - f(G(z))|, "
                "all test images searched at once",
        paper="Schlegl et al. 2017, Unsupervised Anomaly Detection with Generative Adversarial "
              "Networks to Guide Marker Discovery, IPMI 2017, arXiv:1703.05921",
        factory="genbench_anomaly.anogan:build_anogan",
        config=AnoganConfig,
        accepts=("images",),
        capabilities=("sample", "latent", "anomaly_score"),
        profiles={"quick": ANOGAN_QUICK,
                  "standard": {**STANDARD, "steps": 20000}},
    ))
    register(ModelSpec(
        name="f-anogan", family="anomaly",
        summary="f-AnoGAN: a WGAN-GP, then an encoder trained with G and D frozen on the izi_f "
                "loss; score = image residual + kappa * critic-feature residual of G(E(x))",
        paper="Schlegl et al. 2019, f-AnoGAN: Fast unsupervised anomaly detection with "
              "generative adversarial networks, Medical Image Analysis 54, 30-44, "
              "doi:10.1016/j.media.2019.01.010",
        factory="genbench_anomaly.fanogan:build_fanogan",
        config=FanoganConfig,
        accepts=("images",),
        capabilities=("sample", "latent", "encode", "reconstruct", "anomaly_score"),
        profiles={"quick": FANOGAN_QUICK, "standard": {**STANDARD, "steps": 100000}},
    ))
    register(ModelSpec(
        name="ganomaly", family="anomaly",
        summary="GANomaly: encoder-decoder-encoder generator with a DCGAN discriminator "
                "(feature-matching, L1 contextual and latent losses); score = distance between "
                "the two encoders' codes",
        paper="Akcay et al. 2018, GANomaly: Semi-Supervised Anomaly Detection via Adversarial "
              "Training, ACCV 2018, arXiv:1805.06725",
        factory="genbench_anomaly.ganomaly:build_ganomaly",
        config=GanomalyConfig,
        accepts=("images",),
        capabilities=("reconstruct", "anomaly_score"),
        profiles={"quick": {**QUICK, "steps": 600},
                  "standard": {**STANDARD, "steps": 15000}},
    ))
