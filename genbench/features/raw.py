"""The ``raw`` extractor: the data itself, images brought back to the dataset's native size.

Raw vectors are a feature space only up to :data:`RAW_MAX_DIM` dimensions. The Fréchet distance
fits a D x D covariance per side and takes an eigendecomposition of it: at D = 4,096 that is
128 MiB per matrix and seconds of float64 work; at the 196,608 dimensions of a 3x256x256 image
it would be 288 GiB per matrix, which no machine here has. Past a few thousand dimensions the
statistics also stop meaning much: a covariance of D dimensions needs well over D samples to be
estimated (test splits hold hundreds to tens of thousands), and nearest-neighbour balls in pixel
space (KID, PRDC, NDB's bins) measure pixel alignment more than image content. 4,096 keeps
every small-image set genbench knows in raw space (8x8 digits 64-d, MNIST 784, CIFAR-10 and
SVHN 3,072, 32x32 translation tasks, 64x64 grayscale) and leaves 64x64 RGB (12,288) and larger
to Inception-v3 (see :func:`too_wide`).
"""

from __future__ import annotations

import math

import torch

from genbench.data.base import resize_images
from genbench.features.base import Extractor, ExtractorContext, Features


class RawExtractor(Extractor):
    name = "raw"
    batch_size = 4096

    def __init__(self, native_size: int | None):
        super().__init__()
        self.native_size = native_size
        self.key = f"raw-{native_size or 'asis'}"

    def extract(self, x: torch.Tensor) -> Features:
        if x.dim() == 4 and self.native_size:
            x = resize_images(x, self.native_size)
        return Features(x.reshape(x.shape[0], -1).float())


RAW_MAX_DIM = 4096


def raw_dim(shape: tuple[int, ...]) -> int:
    """Dimensions of one example's raw vector, from its shape without the batch dimension."""
    return math.prod(shape)


def too_wide(shape: tuple[int, ...]) -> str | None:
    """Why data of this per-example shape cannot be scored in raw features (one line), or None
    if it can."""
    dim = raw_dim(shape)
    if dim <= RAW_MAX_DIM:
        return None
    what = "x".join(map(str, shape))
    gib = 8 * dim * dim / 2 ** 30
    size = f"{gib:,.1f}" if gib < 10 else f"{gib:,.0f}"
    return (f"raw features of {what} data are {dim:,}-d, above the {RAW_MAX_DIM:,}-d limit for "
            f"raw-pixel metrics (one float64 covariance would take {size} GiB); pass "
            f"--inception-weights FILE to score in Inception-v3 features")


def make_raw_extractor(ctx: ExtractorContext) -> RawExtractor:
    dataset = ctx.dataset
    native = dataset.shape[-1] if dataset is not None and dataset.kind == "images" else None
    return RawExtractor(native)
