"""The in-memory form every dataset loader returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F

from genbench.errors import GenbenchError


@dataclass
class TensorData:
    """One split of a dataset, on the CPU.

    ``x`` is float32: points as (N, D), images as (N, C, H, W) scaled to [-1, 1]. ``y`` holds
    integer class labels or ``None``. ``meta`` carries what metrics may need (mode centres...).

    Translation datasets (kinds "paired" and "unpaired") hold domain A in ``x`` and domain B in
    ``target`` (M, C_B, H, W), also in [-1, 1]: aligned with ``x`` (M == N, example i of
    ``target`` is the translation of example i of ``x``) for paired data, and for unpaired data
    an independent set, except where the dataset knows the true translation of its test images
    (trait "aligned-target").
    """

    name: str
    split: str
    x: torch.Tensor
    y: torch.Tensor | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    target: torch.Tensor | None = None

    def __len__(self) -> int:
        return self.x.shape[0]


def check_split(name: str, split: str, splits: tuple[str, ...] = ("train", "test")) -> None:
    if split not in splits:
        raise GenbenchError(f"dataset {name!r} has no split {split!r}; choose one of {splits}")


def resize_images(x: torch.Tensor, size: int | None) -> torch.Tensor:
    """Resize (N, C, H, W) images to size x size.

    Down: area averaging. Up by a whole factor: nearest, which area averaging undoes exactly, so
    samples of a model trained on upsampled data are scored in the dataset's own resolution
    against the untouched originals. Up by any other factor: bilinear.
    """
    height, width = x.shape[-2:]
    if size is None or (height, width) == (size, size):
        return x
    if size < height or size < width:
        return F.adaptive_avg_pool2d(x, (size, size))
    if size % height == 0 and size % width == 0:
        return F.interpolate(x, size=(size, size), mode="nearest")
    return F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)
