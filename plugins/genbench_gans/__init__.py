"""genbench's builtin GAN plugin: registered through the ``genbench`` entry-point group, exactly as
a third-party plugin would be. Only specs and config dataclasses live here (no torch import);
the networks are imported when a model is built.

Layout: ``nets`` (MLP and DCGAN-style G/D), ``objectives`` (the losses), ``core`` (the shared
training step, tricks, EMA and sampling), ``models`` (each variant's factory, a few lines),
``conditional`` (the variants that use labels or learn codes: cgan, acgan, infogan, bigan, sgan),
``coupled`` (CoGAN: two domains' GANs sharing layers, trained on unpaired data).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

from genbench import hookimpl
from genbench.config import Check, Count, Probability, Range, Rate, TrainConfig, Weight
from genbench.registry import ModelSpec

Norm = Literal["batch", "instance", "layer", "none"]
AdamBeta = Annotated[float, Range(ge=0, lt=1)]
Dropout = Annotated[float, Range(ge=0, lt=1)]
ImageSize = Annotated[int, Range(ge=0, note="0 = the dataset's native size")]


@dataclass
class AdversarialConfig(TrainConfig):
    """Settings every GAN here takes; defaults are the 2014 GAN's / DCGAN's, each variant's
    config overrides them with its paper's. The tricks are off by default; see
    :mod:`genbench_gans.core` for what each does and which objectives it applies to."""

    checks = (Check(("label_smoothing", "noisy_labels"), lambda s, n: not (s and n),
                    "both set the real targets; choose one"),)

    latent_dim: Count = 100
    latent: Literal["gaussian", "uniform"] = "gaussian"  # uniform: U[-1, 1]
    g_optimizer: Literal["adam", "rmsprop"] = "adam"
    d_optimizer: Literal["adam", "rmsprop", "sgd"] = "adam"  # sgd: momentum 0.9
    lr_g: Rate = 2e-4
    lr_d: Rate = 2e-4
    beta1: AdamBeta = 0.5  # Adam's betas
    beta2: AdamBeta = 0.999
    n_critic: Count = 1  # D updates per G update (each on a fresh real batch)
    # Goodfellow et al. recommend the non-saturating generator loss; "minimax" is the original.
    # Cross-entropy objective only.
    g_loss: Literal["non_saturating", "minimax"] = "non_saturating"
    g_norm: Norm = "batch"
    d_norm: Norm = "batch"  # never on D's first layer
    d_activation: Literal["leaky_relu", "relu"] = "leaky_relu"
    spectral_norm: bool = False  # on every D layer
    # Target tricks (cross-entropy and least-squares objectives only):
    # One-sided: the real target, e.g. 0.9; 0 = off.
    label_smoothing: Annotated[float, Range(ge=0.5, lt=1, also=(0,), note="the real examples' "
                                            "target, e.g. 0.9; 0 = off")] = 0.0
    noisy_labels: bool = False  # real targets ~ U(0.7, 1.2), fake ~ U(0.0, 0.3)
    label_flip: Probability = 0.0  # probability of swapping a real/fake target pair in a D step
    instance_noise: Weight = 0.0  # std of noise on D's inputs, annealed linearly to 0
    # Decay of an EMA of G's weights used for sampling; 0 = off.
    ema: Annotated[float, Range(ge=0, lt=1, note="a decay, e.g. 0.999; 0 = off")] = 0.0


@dataclass
class GanConfig(AdversarialConfig):
    hidden: Count = 512
    depth: Count = 2  # hidden layers in each of G and D
    dropout: Dropout = 0.3  # in D, as in the paper's maxout/dropout discriminator
    # BatchNorm in G's hidden layers: not in the 2014 paper, but what keeps the MLP generator
    # from collapsing onto one image in practice (as in the common reference implementations).
    g_norm: Norm = "batch"
    d_norm: Norm = "none"
    image_size: ImageSize = 0  # 0 = the dataset's native size


@dataclass
class DcganConfig(AdversarialConfig):
    # 32 or 64 (the nets check it); smaller datasets are upsampled; 0 = the dataset's size.
    image_size: ImageSize = 32
    ngf: Count = 64
    ndf: Count = 64


@dataclass
class FamilyConfig(DcganConfig):
    """For the variants that take points (MLP nets) and images (DCGAN-style nets)."""

    hidden: Count = 512  # MLP nets, for points
    depth: Count = 3
    dropout: Dropout = 0.0  # in the MLP D


@dataclass
class WganConfig(FamilyConfig):
    clip: Rate = 0.01  # critic weights are clamped to [-clip, clip]
    g_optimizer: Literal["adam", "rmsprop"] = "rmsprop"
    d_optimizer: Literal["adam", "rmsprop", "sgd"] = "rmsprop"
    lr_g: float = 5e-5
    lr_d: float = 5e-5
    n_critic: int = 5


@dataclass
class WganGpConfig(FamilyConfig):
    checks = (Check(("d_norm",), lambda norm: norm != "batch",
                    "the gradient penalty is per example and BatchNorm mixes examples; use "
                    "d_norm=none, layer or instance"),)

    gp_weight: Weight = 10.0  # lambda
    lr_g: float = 1e-4
    lr_d: float = 1e-4
    beta1: float = 0.0
    beta2: float = 0.9
    n_critic: int = 5
    d_norm: Norm = "none"  # no BatchNorm in the critic: the penalty is per example


@dataclass
class LsganConfig(FamilyConfig):
    pass  # a=0, b=1, c=1; Adam 2e-4, betas (0.5, 0.999): the shared defaults


@dataclass
class SnganConfig(FamilyConfig):
    # Adam 2e-4, betas (0, 0.9), one D step per G step: the configuration we follow for the
    # DCGAN-style ("standard CNN") nets. Miyato et al. compare several Adam settings (their
    # Table 1); this is not necessarily the one behind every number in the paper.
    spectral_norm: bool = True
    d_norm: Norm = "none"  # spectral norm replaces normalisation in D
    beta1: float = 0.0
    beta2: float = 0.9


# Points: small MLPs without normalisation (BatchNorm hurt on 2-D mixtures in our quick runs).
POINTS_QUICK = {"steps": 10000, "batch_size": 256, "hidden": 128, "depth": 2, "latent_dim": 16,
                "g_norm": "none", "d_norm": "none", "checkpoint_every": 2000}
POINTS_STANDARD = {"steps": 50000, "batch_size": 512, "hidden": 256, "latent_dim": 16,
                   "g_norm": "none", "d_norm": "none", "checkpoint_every": 5000}
# Images: a narrow DCGAN on the small datasets, about a minute on 2 CPU cores.
IMAGES_QUICK = {"steps": 1500, "batch_size": 64, "ngf": 32, "ndf": 32}
IMAGES_STANDARD = {"steps": 30000, "batch_size": 128, "checkpoint_every": 2000}


def _family_profiles(quick: dict, quick_points: dict, standard: dict,
                     standard_points: dict) -> dict:
    """Each profile on top of the shared ones. The paper learning rates are slow for the short
    quick runs on points, where several variants raise them (tuned on ring8, seed 0)."""
    return {"quick": {**IMAGES_QUICK, **quick},
            "quick:points": {**POINTS_QUICK, **quick_points},
            "standard": {**IMAGES_STANDARD, **standard},
            "standard:points": {**POINTS_STANDARD, **standard_points}}


FAMILY_CAPABILITIES = ("sample", "latent")


@dataclass
class CganConfig(DcganConfig):
    """DCGAN-style nets with label embeddings (the 2014 paper used MLPs with maxout)."""


@dataclass
class AcganConfig(DcganConfig):
    aux_weight: Weight = 1.0  # weight of the class log-likelihood in D's and G's losses


@dataclass
class InfoganConfig(DcganConfig):
    # The paper's MNIST setting: 62 noise variables, one 10-way code, two continuous codes,
    # lambda 1, Adam 2e-4 for D and 1e-3 for G.
    latent_dim: int = 62  # noise variables
    categorical: Annotated[int, Range(ge=2)] = 10  # values of the categorical code
    continuous: Annotated[int, Range(ge=0)] = 2  # continuous codes, U(-1, 1)
    info_weight: Weight = 1.0  # lambda
    lr_g: float = 1e-3


@dataclass
class BiganConfig(DcganConfig):
    # BiGAN's MNIST setting: a 50-dimensional uniform latent.
    latent_dim: int = 50
    latent: Literal["gaussian", "uniform"] = "uniform"


@dataclass
class SganConfig(DcganConfig):
    # Labels kept per class (see genbench_gans.conditional); 0 = none.
    labelled_per_class: Annotated[int, Range(ge=0)] = 10
    supervised_weight: Weight = 1.0  # weight of the labelled examples' K-way cross-entropy


@dataclass
class CoganConfig(TrainConfig):
    """The paper's digits setting as we read it (its Caffe nets were smaller than DCGAN's; the
    DCGAN-style nets here are split at the same points): a 100-d U(-1, 1) latent, Adam 2e-4 with
    betas (0.5, 0.999), batches of 128, 25,000 iterations."""

    steps: int = 25000
    batch_size: int = 128
    latent_dim: Count = 100
    latent: Literal["gaussian", "uniform"] = "uniform"  # uniform: U[-1, 1]
    image_size: ImageSize = 32  # 32 or 64, both domains; 0 = the dataset's size
    ngf: Count = 64
    ndf: Count = 64
    g_norm: Norm = "batch"
    d_norm: Norm = "batch"  # never on D's first (domain-specific) layer
    d_activation: Literal["leaky_relu", "relu"] = "leaky_relu"
    lr_g: Rate = 2e-4
    lr_d: Rate = 2e-4
    beta1: AdamBeta = 0.5
    beta2: AdamBeta = 0.999
    g_loss: Literal["non_saturating", "minimax"] = "non_saturating"


IMAGE_PROFILES = {"quick": dict(IMAGES_QUICK), "standard": dict(IMAGES_STANDARD)}
LABELLED = ("needs a labelled image dataset (digits: 10 classes, stacked-digits: 1000)")


@hookimpl
def register_models(register):
    register(ModelSpec(
        name="gan", family="gan",
        summary="the original GAN: MLP generator and discriminator, for 2-D points and small "
                "images",
        paper="Goodfellow et al. 2014, Generative Adversarial Nets, arXiv:1406.2661",
        factory="genbench_gans.models:build_gan",
        config=GanConfig,
        accepts=("points", "images"),
        capabilities=FAMILY_CAPABILITIES,
        profiles={
            "quick": {"steps": 2000, "batch_size": 64, "hidden": 256},
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
        factory="genbench_gans.models:build_dcgan",
        config=DcganConfig,
        accepts=("images",),
        capabilities=FAMILY_CAPABILITIES,
        profiles={"quick": dict(IMAGES_QUICK), "standard": dict(IMAGES_STANDARD)},
    ))
    register(ModelSpec(
        name="wgan", family="gan",
        summary="Wasserstein GAN: critic loss D(fake) - D(real), weight clipping at 0.01, "
                "RMSprop 5e-5, 5 critic steps per G step",
        paper="Arjovsky et al. 2017, Wasserstein GAN, arXiv:1701.07875",
        factory="genbench_gans.models:build_wgan",
        config=WganConfig,
        accepts=("points", "images"),
        capabilities=FAMILY_CAPABILITIES,
        # Steps count critic updates, so G gets steps / 5 updates.
        profiles=_family_profiles({"steps": 2500},
                                  {"steps": 15000, "lr_g": 5e-4, "lr_d": 5e-4},
                                  {"steps": 100000}, {"steps": 100000}),
    ))
    register(ModelSpec(
        name="wgan-gp", family="gan",
        summary="WGAN with a gradient penalty (lambda 10) instead of clipping; Adam 1e-4, "
                "betas (0, 0.9), 5 critic steps per G step, no BatchNorm in the critic",
        paper="Gulrajani et al. 2017, Improved Training of Wasserstein GANs, arXiv:1704.00028",
        factory="genbench_gans.models:build_wgan_gp",
        config=WganGpConfig,
        accepts=("points", "images"),
        capabilities=FAMILY_CAPABILITIES,
        profiles=_family_profiles({"steps": 1500},
                                  {"steps": 12000, "lr_g": 1e-3, "lr_d": 1e-3},
                                  {"steps": 100000}, {"steps": 100000}),
    ))
    register(ModelSpec(
        name="lsgan", family="gan",
        summary="least-squares GAN: D regresses real to 1 and fake to 0, G pushes fakes to 1",
        paper="Mao et al. 2017, Least Squares Generative Adversarial Networks, "
              "arXiv:1611.04076",
        factory="genbench_gans.models:build_lsgan",
        config=LsganConfig,
        accepts=("points", "images"),
        capabilities=FAMILY_CAPABILITIES,
        profiles=_family_profiles({}, {"lr_g": 1e-3, "lr_d": 1e-3}, {}, {}),
    ))
    register(ModelSpec(
        name="sngan", family="gan",
        summary="spectral normalisation on every discriminator layer, hinge loss; Adam 2e-4, "
                "betas (0, 0.9), one D step per G step",
        paper="Miyato et al. 2018, Spectral Normalization for Generative Adversarial Networks, "
              "arXiv:1802.05957",
        factory="genbench_gans.models:build_sngan",
        config=SnganConfig,
        accepts=("points", "images"),
        capabilities=FAMILY_CAPABILITIES,
        profiles=_family_profiles({}, {}, {}, {}),
    ))
    register(ModelSpec(
        name="cgan", family="gan",
        summary="conditional GAN: G(z, y) and D(x, y) through label embeddings, DCGAN-style "
                "nets; " + LABELLED,
        paper="Mirza & Osindero 2014, Conditional Generative Adversarial Nets, "
              "arXiv:1411.1784",
        factory="genbench_gans.conditional:build_cgan",
        config=CganConfig,
        accepts=("images",),
        capabilities=("sample", "latent", "conditional"),
        profiles=dict(IMAGE_PROFILES),
    ))
    register(ModelSpec(
        name="acgan", family="gan",
        summary="auxiliary classifier GAN: G(z, y); D predicts real/fake and, with a second "
                "head, the class; " + LABELLED,
        paper="Odena et al. 2017, Conditional Image Synthesis with Auxiliary Classifier GANs, "
              "arXiv:1610.09585",
        factory="genbench_gans.conditional:build_acgan",
        config=AcganConfig,
        accepts=("images",),
        capabilities=("sample", "latent", "conditional"),
        profiles=dict(IMAGE_PROFILES),
    ))
    register(ModelSpec(
        name="infogan", family="gan",
        summary="InfoGAN: a categorical and continuous codes in G's input, a Q head on D "
                "recovering them (mutual-information bound); unsupervised",
        paper="Chen et al. 2016, InfoGAN: Interpretable Representation Learning by "
              "Information Maximizing Generative Adversarial Nets, arXiv:1606.03657",
        factory="genbench_gans.conditional:build_infogan",
        config=InfoganConfig,
        accepts=("images",),
        capabilities=FAMILY_CAPABILITIES,
        profiles=dict(IMAGE_PROFILES),
    ))
    register(ModelSpec(
        name="bigan", family="gan",
        summary="BiGAN / ALI: an encoder E(x) learnt with G; D judges (x, z) pairs, real "
                "(x, E(x)) against generated (G(z), z)",
        paper="Donahue et al. 2017, Adversarial Feature Learning, arXiv:1605.09782 (and "
              "Dumoulin et al. 2017, Adversarially Learned Inference, arXiv:1606.00704)",
        factory="genbench_gans.conditional:build_bigan",
        config=BiganConfig,
        accepts=("images",),
        capabilities=("sample", "latent", "encode", "reconstruct"),
        profiles=dict(IMAGE_PROFILES),
    ))
    register(ModelSpec(
        name="sgan", family="gan",
        summary="semi-supervised GAN: D is a (K+1)-way classifier (K classes + fake) trained "
                "with labelled_per_class labels per class; reports its classifier accuracy; "
                + LABELLED,
        paper="Salimans et al. 2016, Improved Techniques for Training GANs, arXiv:1606.03498 "
              "(and Odena 2016, Semi-Supervised Learning with GANs, arXiv:1606.01583)",
        factory="genbench_gans.conditional:build_sgan",
        config=SganConfig,
        accepts=("images",),
        capabilities=FAMILY_CAPABILITIES,
        profiles=dict(IMAGE_PROFILES),
    ))
    register(ModelSpec(
        name="cogan", family="gan",
        summary="coupled GAN: two domains' generators share their first layers and "
                "discriminators their last, so one z gives a pair (x_A, x_B) showing the same "
                "content in both styles; trained on unpaired data, scored per domain and by "
                "pair agreement",
        paper="Liu & Tuzel 2016, Coupled Generative Adversarial Networks, arXiv:1606.07536",
        factory="genbench_gans.coupled:build_cogan",
        config=CoganConfig,
        accepts=("unpaired",),
        capabilities=("sample", "pairs"),
        # quick: dcgan's quick nets and batch; 1,000 steps, each training both domains' GANs
        # (2,000 GAN updates, about dcgan's 1,500-step cost on this CPU).
        profiles={"quick": {**IMAGES_QUICK, "steps": 1000},
                  "standard": {"checkpoint_every": 2000}},
    ))
