"""Inpainting datasets (data kind ``"inpaint"``): images with their centre cut out in ``x``, the
whole images in ``target`` (see :class:`genbench.data.base.TensorData`).

One fixed hole, the one of Pathak et al. 2016 (context encoders, "central region"): the centre
square of half the image's side, ``S // 2`` pixels wide, its top-left corner at
``((H - h) // 2, (W - w) // 2)`` (a 128x128 image loses its centre 64x64, as in the paper).
The hole's pixels in ``x`` are set to :data:`FILL` = 0, the middle of genbench's [-1, 1] range
(the paper fills them with the dataset's mean pixel); every other pixel of ``x`` is the
image's. :func:`hole_box` is the one place the hole is written: models read it from there.

An inpainting model's ``translate(x)`` returns whole images; genbench keeps the context as it
was given and takes only the hole from the model's output (:func:`paste`), as the paper does,
so a model is scored on what it put in the hole and nothing else.

Every loader is ``load_X(split="train", image_size=None, root=None, argument=None)`` and returns
float32 images in [-1, 1]: ``target`` (N, C, S, S), ``x`` the same images with the hole filled,
``y`` the class labels where the images have them, ``meta["hole"] = [top, left, height, width]``.

* ``inpaint-digits``: the offline digits at 32x32 (the 8x8 digits upsampled x4 by nearest
  neighbour, as sr-digits and the offline translation tasks), hole 16x16: an 8x8 digit's
  centre 4x4 pixels.
* ``inpaint-mnist``: MNIST (files under ``--data-root``), 28x28, hole 14x14.
* ``inpaint-horse2zebra``: the CycleGAN horse2zebra photos (horses and zebras, 256x256) under
  ``--data-root``/horse2zebra/{trainA,trainB,testA,testB}, resized to 64x64, hole 32x32.
* ``inpaint-folder:PATH``: your images, ``PATH/train/`` and ``PATH/test/`` (or ``val/``), each
  centre-cropped to a square and resized to :data:`FOLDER_SIZE` = 64 (or ``image_size``; the
  paper's 128 with ``--set image_size=128``), hole 32x32 (64x64).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from genbench.data.base import TensorData, check_split, resize_images
from genbench.data.files import GRAY_MODES
from genbench.data.translation import _no_argument
from genbench.errors import GenbenchError

FILL = 0.0  # the hole's value in x, in [-1, 1]
DIGITS_SIZE = 32  # inpaint-digits: the 8x8 digits upsampled x4 (nearest)
FOLDER_SIZE = 64  # inpaint-folder: images resized to this side unless image_size says
MIN_SIDE = 8  # smaller images have a hole too small to mean anything


def hole_box(height: int, width: int) -> tuple[int, int, int, int]:
    """(top, left, hole height, hole width) of the centre hole of an ``height x width`` image:
    the centre square of half the shorter side."""
    if min(height, width) < MIN_SIDE:
        raise GenbenchError(f"inpainting needs images of at least {MIN_SIDE}x{MIN_SIDE} "
                            f"pixels, got {height}x{width}")
    side = min(height, width) // 2
    return (height - side) // 2, (width - side) // 2, side, side


def hole_mask(height: int, width: int, device=None) -> torch.Tensor:
    """(1, 1, H, W) float mask: 1 in the hole, 0 in the context."""
    top, left, h, w = hole_box(height, width)
    mask = torch.zeros(1, 1, height, width, device=device)
    mask[..., top:top + h, left:left + w] = 1.0
    return mask


def cut(images: torch.Tensor) -> torch.Tensor:
    """``images`` (N, C, H, W) with the hole set to :data:`FILL` (a new tensor)."""
    top, left, h, w = hole_box(*images.shape[-2:])
    out = images.clone()
    out[..., top:top + h, left:left + w] = FILL
    return out


def paste(context: torch.Tensor, output: torch.Tensor) -> torch.Tensor:
    """The completed images: ``context`` (the model's input) everywhere but the hole, the
    model's ``output`` (clamped to [-1, 1]) in it."""
    if context.shape != output.shape:
        raise GenbenchError(f"an inpainting model returned images of shape "
                            f"{tuple(output.shape[1:])} for inputs of shape "
                            f"{tuple(context.shape[1:])}; translate(x) must return whole "
                            f"images of the input's shape")
    top, left, h, w = hole_box(*context.shape[-2:])
    out = context.clone()
    out[..., top:top + h, left:left + w] = \
        output[..., top:top + h, left:left + w].clamp(-1.0, 1.0)
    return out


def hole(images: torch.Tensor) -> torch.Tensor:
    """The hole's pixels of (N, C, H, W) images, (N, C, h, w)."""
    top, left, h, w = hole_box(*images.shape[-2:])
    return images[..., top:top + h, left:left + w]


def masked(name: str, split: str, images: torch.Tensor, labels: torch.Tensor | None,
           image_size: int | None, meta: dict | None = None) -> TensorData:
    """Resize the images to ``image_size`` (genbench's resize rule) and cut their hole."""
    if image_size:
        images = resize_images(images, image_size)
    images = images.float().contiguous()
    info = {"hole": list(hole_box(*images.shape[-2:])), "fill": FILL,
            "mask": "centre square, half the side (Pathak et al. 2016)", **(meta or {})}
    return TensorData(name, split, cut(images), labels, meta=info, target=images)


def load_inpaint_digits(split: str = "train", image_size: int | None = None, root=None,
                        argument=None) -> TensorData:
    """The digits at 32x32 (nearest x4), hole 16x16. Train 1,437 / test 360."""
    from genbench.data.digits import load_digits

    check_split("inpaint-digits", split)
    _no_argument("inpaint-digits", argument)
    digits = load_digits(split, image_size=DIGITS_SIZE)
    return masked("inpaint-digits", split, digits.x, digits.y, image_size)


def load_inpaint_mnist(split: str = "train", image_size: int | None = None, root=None,
                       argument=None) -> TensorData:
    """MNIST 28x28, hole 14x14. Train 60,000 / test 10,000."""
    from genbench.data.vision import load_mnist

    check_split("inpaint-mnist", split)
    _no_argument("inpaint-mnist", argument)
    mnist = load_mnist(split, root=root)
    return masked("inpaint-mnist", split, mnist.x, mnist.y, image_size)


def load_inpaint_folder(split: str = "train", image_size: int | None = None, root=None,
                        argument=None) -> TensorData:
    """Your images: PATH/train/ and PATH/test/ (or PATH/val/), centre square crops resized."""
    from genbench.data.translation import _folder_argument, _scan, _train_test_folders

    name = "inpaint-folder"
    check_split(name, split)
    base = _folder_argument(name, argument, "train/ and test/ (or val/) folders of images")
    size = _photo_size(name, image_size)
    folders = _train_test_folders(name, base)
    headers = {key: _scan(name, folder) for key, folder in folders.items()}
    images, files = _centre_squares(name, headers, split, size)
    return masked(name, split, images, None, None,
                  meta={"folder": str(folders[split]), "files": files, "size": size})


def load_inpaint_horse2zebra(split: str = "train", image_size: int | None = None, root=None,
                             argument=None) -> TensorData:
    """The horse2zebra photos (horses and zebras), centre squares resized to 64x64."""
    from genbench.data.superres import horse2zebra_photos

    name = "inpaint-horse2zebra"
    check_split(name, split)
    _no_argument(name, argument)
    size = _photo_size(name, image_size)
    base, headers = horse2zebra_photos(name, root)
    images, files = _centre_squares(name, headers, split, size)
    return masked(name, split, images, None, None,
                  meta={"folder": str(base), "files": files, "size": size})


def _photo_size(name: str, image_size: int | None) -> int:
    """The side photos are resized to: ``image_size``, else :data:`FOLDER_SIZE`."""
    size = image_size or FOLDER_SIZE
    if size < MIN_SIDE:
        raise GenbenchError(f"dataset {name!r}: image size {size} is below {MIN_SIDE}")
    return size


def _centre_squares(name: str, headers: dict[str, list], split: str,
                    size: int) -> tuple[torch.Tensor, list[str]]:
    """The split's images, each cut to its centre square and resized to ``size``, in [-1, 1];
    grey only when every image of both splits is."""
    from genbench.data.translation import _pixels

    channels = 1 if all(mode in GRAY_MODES for key in headers
                        for _, mode, _ in headers[key]) else 3
    images, files = [], []
    for path, _, (width, height) in headers[split]:
        side = min(width, height)
        top, left = (height - side) // 2, (width - side) // 2
        pixels = _pixels(name, Path(path), channels)[:, top:top + side, left:left + side]
        square = torch.from_numpy(np.ascontiguousarray(pixels))[None].float()
        images.append(resize_images(square.div_(127.5).sub_(1.0), size)[0])
        files.append(str(path))
    return torch.stack(images), files
