"""The ``raw`` extractor: the data itself, images brought back to the dataset's native size."""

from __future__ import annotations

from collections.abc import Callable

import torch

from genbench.data.base import resize_images
from genbench.registry import DatasetSpec


def make_raw_extractor(dataset: DatasetSpec, device) -> Callable[[torch.Tensor], torch.Tensor]:
    native = dataset.shape[-1] if dataset.kind == "images" else None

    def extract(x: torch.Tensor) -> torch.Tensor:
        if dataset.kind == "images":
            x = resize_images(x, native)
        return x.reshape(x.shape[0], -1).float()

    return extract
