"""The in-memory form every dataset loader returns, and the one conversion of 8-bit pixels.

8-bit image data may be held as uint8 (4x less memory than float32): value ``v`` stands for
``v / 127.5 - 1``. :func:`unit_pixels` is that conversion: ``x.to(float32).div_(127.5)
.sub_(1.0)`` on the CPU, and on other devices a lookup in the 256 values the CPU computes, so
it gives the same float32 bits everywhere (CUDA divides by a scalar as a multiplication by its
reciprocal, which rounds 111 of the 256 values differently).
"""

from __future__ import annotations

import dataclasses
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

    Loaders asked for ``uint8=True`` (the training path, see ``DatasetSpec.load``) may instead
    hold 8-bit images as uint8 (N, C, H, W) at their own size, value ``v`` meaning
    ``v / 127.5 - 1``, with ``image_size`` the side they take once converted; :meth:`to_float`
    (or a batch at a time, ``genbench.training.InMemoryBatches``) converts them. ``target`` then
    follows ``x``: both uint8 or both float.

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
    image_size: int | None = None  # uint8 images: their side once converted (None: their own)

    def __len__(self) -> int:
        return self.x.shape[0]

    @property
    def is_uint8(self) -> bool:
        return self.x.dtype == torch.uint8

    @property
    def example_shape(self) -> tuple[int, ...]:
        """The shape of one example of ``x`` as float, i.e. as a model sees it."""
        return converted_shape(self.x, self.image_size)

    @property
    def target_shape(self) -> tuple[int, ...]:
        """The same for ``target`` (``()`` when there is none)."""
        return () if self.target is None else converted_shape(self.target, self.image_size)

    def to_float(self) -> TensorData:
        """This split with float32 images in [-1, 1] at ``image_size``: exactly what the loader
        returns without ``uint8``. Float data is returned as it is."""
        if not self.is_uint8:
            return self
        target = None if self.target is None else to_unit(self.target, self.image_size)
        return dataclasses.replace(self, x=to_unit(self.x, self.image_size), target=target,
                                   image_size=None)


def unit_pixels(pixels: torch.Tensor) -> torch.Tensor:
    """uint8 pixels as float32 ``v / 127.5 - 1``, on the pixels' device (elsewhere than on
    the CPU through the CPU's table, a batch at a time: the lookup takes int32 indices)."""
    if pixels.device.type == "cpu":
        return pixels.to(torch.float32).div_(127.5).sub_(1.0)
    return _unit_table(pixels.device)[pixels.int()]


def to_unit(pixels: torch.Tensor, image_size: int | None = None) -> torch.Tensor:
    """uint8 (N, C, H, W) pixels as contiguous float32 in [-1, 1], resized to image_size."""
    return resize_images(unit_pixels(pixels), image_size).contiguous()


def converted_shape(x: torch.Tensor, image_size: int | None) -> tuple[int, ...]:
    shape = tuple(x.shape[1:])
    if x.dtype != torch.uint8 or image_size is None:
        return shape
    return (*shape[:-2], image_size, image_size)


_TABLES: dict[torch.device, torch.Tensor] = {}


def _unit_table(device: torch.device) -> torch.Tensor:
    if device not in _TABLES:
        values = torch.arange(256, dtype=torch.uint8).to(torch.float32).div_(127.5).sub_(1.0)
        _TABLES[device] = values.to(device)
    return _TABLES[device]


def check_split(name: str, split: str, splits: tuple[str, ...] = ("train", "test")) -> None:
    if split not in splits:
        raise GenbenchError(f"dataset {name!r} has no split {split!r}; choose one of {splits}")


def images_per_pass(shape: tuple[int, ...], most: int = 500) -> int:
    """How many examples of ``shape`` to put through a model in one pass when sampling or
    translating: ``most`` for points and images up to 64x64, fewer for larger images, so that
    a pass's activations stay the size they have at 64x64 (125 at 128x128, 31 at 256x256).
    500 images of 256x256 took 6.3 GB through DiscoGAN's generator on the CPU."""
    if len(shape) != 3:
        return most
    return max(1, min(most, most * 64 * 64 // (shape[-1] * shape[-2])))


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
