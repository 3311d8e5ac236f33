"""The ``raw`` extractor: the data itself, images brought back to the dataset's native size."""

from __future__ import annotations

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


def make_raw_extractor(ctx: ExtractorContext) -> RawExtractor:
    dataset = ctx.dataset
    native = dataset.shape[-1] if dataset is not None and dataset.kind == "images" else None
    return RawExtractor(native)
