"""The GAN variants: each is a choice of networks, objective and Lipschitz constraint over the
shared :class:`genbench_gans.core.AdversarialModel`. Factories are ``build_X(config, data)``."""

from __future__ import annotations

from genbench.errors import GenbenchError
from genbench.model import DataInfo
from genbench_gans.core import AdversarialModel
from genbench_gans.nets import add_spectral_norm, conv_nets, mlp_nets
from genbench_gans.objectives import CrossEntropy, Hinge, LeastSquares, Objective, Wasserstein


def nets(config, data: DataInfo, *, mlp: bool = False):
    """MLPs for points (and for images when ``mlp``), DCGAN-style convolutions for images;
    spectral norm on every D layer when the config asks for it."""
    if data.kind == "points" or mlp:
        g, d = mlp_nets(config, data.shape, images=data.kind == "images")
    else:
        if len(data.shape) != 3:
            raise GenbenchError(f"expected (C, H, W) images, got shape {data.shape}")
        g, d = conv_nets(config, data.shape)
    if config.spectral_norm:
        add_spectral_norm(d)
    return g, d


def _build(name: str, config, data: DataInfo, objective: Objective, *, mlp: bool = False,
           **kwargs) -> AdversarialModel:
    g, d = nets(config, data, mlp=mlp)
    return AdversarialModel(config, g, d, objective, name=name, **kwargs)


def build_gan(config, data: DataInfo) -> AdversarialModel:
    """Goodfellow et al. 2014: MLPs on points and images alike, cross-entropy."""
    return _build("gan", config, data, CrossEntropy(config.g_loss), mlp=True)


def build_dcgan(config, data: DataInfo) -> AdversarialModel:
    """Radford et al. 2015: the convolutional nets with BatchNorm, cross-entropy."""
    return _build("dcgan", config, data, CrossEntropy(config.g_loss))


def build_wgan(config, data: DataInfo) -> AdversarialModel:
    """Arjovsky et al. 2017: Wasserstein critic kept Lipschitz by weight clipping."""
    return _build("wgan", config, data, Wasserstein(), clip=config.clip)


def build_wgan_gp(config, data: DataInfo) -> AdversarialModel:
    """Gulrajani et al. 2017: Wasserstein critic with a gradient penalty instead of clipping."""
    return _build("wgan-gp", config, data, Wasserstein(), gp_weight=config.gp_weight)


def build_lsgan(config, data: DataInfo) -> AdversarialModel:
    """Mao et al. 2017: least-squares losses with a=0, b=1, c=1."""
    return _build("lsgan", config, data, LeastSquares(a=0.0, b=1.0, c=1.0))


def build_sngan(config, data: DataInfo) -> AdversarialModel:
    """Miyato et al. 2018: spectral norm on every D layer (``spectral_norm``), hinge loss."""
    return _build("sngan", config, data, Hinge())
