"""Super-resolution datasets (data kind ``"superres"``): the low-resolution input in ``x``, the
high-resolution image it was made from in ``target`` (see :class:`genbench.data.base.TensorData`).

One fixed degradation, the one of Ledig et al. 2017 (SRGAN) and most of the literature since:
``LR = clamp(bicubic_downsample(HR, 1/scale), -1, 1)`` with
``F.interpolate(mode="bicubic", antialias=True, align_corners=False)`` (torch's antialiased
bicubic, the kernel widened by ``scale`` like MATLAB's ``imresize``), ``scale = 4``, in
genbench's [-1, 1] range. It is computed on every call, deterministic; :func:`downsample` is the
one place it is written.

Every loader is ``load_X(split="train", image_size=None, root=None, argument=None)`` and returns
float32 images in [-1, 1]: ``target`` (N, C, S, S) the HR images, ``x`` (N, C, S/4, S/4) their
LR versions, ``y`` the class labels where the HR images have them, ``meta["scale"] = 4``.
``image_size`` sets the HR side S (it must be a multiple of the scale); the LR follows.

* ``sr-digits``: the offline digits of :func:`genbench.data.digits.load_digits` at 32x32 (the
  8x8 digits upsampled x4 by nearest neighbour, as the offline translation tasks do), so the
  LR is 8x8: an 8x8 digit is too small to downsample x4 (2x2 would hold no digit).
* ``sr-mnist``: MNIST (files under ``--data-root``), HR 28x28, LR 7x7.
* ``sr-horse2zebra``: the CycleGAN horse2zebra photos (256x256, horses and zebras together)
  under ``--data-root``/horse2zebra/{trainA,trainB,testA,testB}, cut into 96x96 HR crops as
  ``sr-folder`` does: real photographs, offline.
* ``sr-facades``: the facade photos of pix2pix's facades files (the left half of each A|B
  image) under ``--data-root``/facades/, in train/ and test/ (or val/) folders, or one folder
  whose first :data:`FACADES_TRAIN` files by name are the train split and the rest the test
  split (the layout of the copy in ../shared/data); 96x96 HR crops as ``sr-folder``.
* ``sr-folder:PATH``: your own HR images, ``PATH/train/`` and ``PATH/test/`` (or ``val/``),
  cut into fixed-size HR crops (:data:`FOLDER_CROP` = 96, the paper's HR patch, or
  ``image_size``): in train every non-overlapping crop on a grid from the top-left corner, in
  test one centre crop per image. Images smaller than a crop are skipped; grey images stay one
  channel when every image is grey, else all are RGB.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from genbench.data.base import TensorData, check_split
from genbench.data.files import GRAY_MODES
from genbench.data.translation import _no_argument
from genbench.errors import GenbenchError

SCALE = 4  # the paper's x4
DIGITS_HR = 32  # sr-digits: the 8x8 digits upsampled x4 (nearest)
FOLDER_CROP = 96  # sr-folder: the paper's 96x96 HR training patches
FACADES_TRAIN = 400  # sr-facades without train/ and test/: the first 400 files by name train


def downsample(hr: torch.Tensor, scale: int = SCALE) -> torch.Tensor:
    """The fixed degradation: (N, C, H, W) HR in [-1, 1] -> (N, C, H/scale, W/scale) LR in
    [-1, 1] by antialiased bicubic interpolation, clamped (bicubic overshoots at edges)."""
    height, width = hr.shape[-2:]
    if height % scale or width % scale:
        raise GenbenchError(f"HR images of {height}x{width} are not a multiple of the scale "
                            f"{scale}; choose an image size divisible by {scale}")
    lr = F.interpolate(hr.float(), size=(height // scale, width // scale), mode="bicubic",
                       antialias=True, align_corners=False)
    return lr.clamp(-1.0, 1.0).contiguous()


def upsample_bicubic(lr: torch.Tensor, scale: int = SCALE) -> torch.Tensor:
    """The baseline's upsampling: plain bicubic (no antialias needed going up), clamped."""
    height, width = lr.shape[-2:]
    hr = F.interpolate(lr.float(), size=(height * scale, width * scale), mode="bicubic",
                       align_corners=False)
    return hr.clamp(-1.0, 1.0)


def pair(name: str, split: str, hr: torch.Tensor, labels: torch.Tensor | None,
         image_size: int | None, meta: dict | None = None) -> TensorData:
    """Resize the HR images to ``image_size`` (genbench's resize rule) and degrade them."""
    from genbench.data.base import resize_images

    if image_size:
        if image_size % SCALE:
            raise GenbenchError(f"dataset {name!r}: image_size {image_size} is not a multiple "
                                f"of the scale {SCALE}")
        hr = resize_images(hr, image_size)
    hr = hr.float().contiguous()
    info = {"scale": SCALE, "native_size": hr.shape[-1], "degradation": "bicubic-antialias-x4",
            **(meta or {})}
    return TensorData(name, split, downsample(hr), labels, meta=info, target=hr)


def load_sr_digits(split: str = "train", image_size: int | None = None, root=None,
                   argument=None) -> TensorData:
    """HR: the digits at 32x32 (nearest x4); LR: 8x8. Train 1,437 / test 360."""
    from genbench.data.digits import load_digits

    check_split("sr-digits", split)
    _no_argument("sr-digits", argument)
    digits = load_digits(split, image_size=DIGITS_HR)
    return pair("sr-digits", split, digits.x, digits.y, image_size)


def load_sr_mnist(split: str = "train", image_size: int | None = None, root=None,
                  argument=None) -> TensorData:
    """HR: MNIST 28x28; LR: 7x7. Train 60,000 / test 10,000."""
    from genbench.data.vision import load_mnist

    check_split("sr-mnist", split)
    _no_argument("sr-mnist", argument)
    mnist = load_mnist(split, root=root)
    return pair("sr-mnist", split, mnist.x, mnist.y, image_size)


def load_sr_folder(split: str = "train", image_size: int | None = None, root=None,
                   argument=None) -> TensorData:
    """HR crops of your images: PATH/train/ and PATH/test/ (or PATH/val/)."""
    from genbench.data.translation import _folder_argument, _scan, _train_test_folders

    name = "sr-folder"
    check_split(name, split)
    base = _folder_argument(name, argument, "train/ and test/ (or val/) folders of HR images")
    crop = _crop_size(name, image_size)
    folders = _train_test_folders(name, base)
    headers = {key: _scan(name, folder) for key, folder in folders.items()}
    return _crops(name, split, headers, crop, meta={"folder": str(folders[split])})


def _crops(name: str, split: str, headers: dict[str, list], crop: int, meta: dict,
           half: bool = False) -> TensorData:
    """The HR crops of ``headers[split]`` (path, mode, (width, height)) and their LR: every
    non-overlapping crop in train, the centre crop in test; ``half``: of each image's left
    half only (pix2pix A|B files). Grey only when every image of both splits is."""
    channels = 1 if all(mode in GRAY_MODES for key in headers
                        for _, mode, _ in headers[key]) else 3
    crops, files = [], []
    for path, _, (width, height) in headers[split]:
        width = width // 2 if half else width
        boxes = _crop_boxes(width, height, crop, every=split == "train")
        if not boxes:
            continue
        pixels = _read(name, path, channels)
        for top, left in boxes:
            crops.append(pixels[:, top:top + crop, left:left + crop])
            files.append(str(path))
    if not crops:
        raise GenbenchError(f"dataset {name!r}: no {split} image is at least {crop}x{crop}; "
                            f"give larger images or a smaller crop (--set image_size=N, a "
                            f"multiple of {SCALE})")
    hr = torch.from_numpy(np.stack(crops)).float().div_(127.5).sub_(1.0)
    return pair(name, split, hr, None, None, meta={**meta, "files": files, "crop": crop})


def _shared_folder(name: str, root, sub: str, layout: str) -> Path:
    """``sub`` under the data root (``--data-root`` / GENBENCH_DATA_ROOT), or a one-line error
    that says what belongs there."""
    from genbench.data.vision import _data_root

    base = _data_root(root) / sub
    if not base.is_dir():
        raise GenbenchError(f"dataset {name!r} needs {layout} under {base.parent} (pass "
                            f"--data-root DIR, DIR holding {sub}/); nothing is downloaded")
    return base


def load_sr_horse2zebra(split: str = "train", image_size: int | None = None, root=None,
                        argument=None) -> TensorData:
    """HR crops of the CycleGAN horse2zebra photos (horses and zebras together)."""

    name = "sr-horse2zebra"
    check_split(name, split)
    _no_argument(name, argument)
    base, headers = horse2zebra_photos(name, root)
    return _crops(name, split, headers, _crop_size(name, image_size), meta={"folder": str(base)})


def horse2zebra_photos(name: str, root) -> tuple[Path, dict[str, list]]:
    """The horse2zebra folder under the data root and its photos' headers by split: horses
    and zebras together (trainA + trainB, testA + testB)."""
    from genbench.data.translation import _scan

    base = _shared_folder(name, root, "horse2zebra", "horse2zebra/trainA, trainB, testA, testB")
    headers = {}
    for key in ("train", "test"):
        folders = [base / f"{key}A", base / f"{key}B"]
        missing = [f.name for f in folders if not f.is_dir()]
        if missing:
            raise GenbenchError(f"dataset {name!r}: {base} has no {', '.join(missing)} "
                                f"folder; the CycleGAN layout is trainA/, trainB/, testA/, "
                                f"testB/")
        headers[key] = [h for folder in folders for h in _scan(name, folder)]
    return base, headers


def load_sr_facades(split: str = "train", image_size: int | None = None, root=None,
                    argument=None) -> TensorData:
    """HR crops of the facade photos: the left (A) halves of pix2pix facades files."""
    from genbench.data.translation import _scan

    name = "sr-facades"
    check_split(name, split)
    _no_argument(name, argument)
    base = _shared_folder(name, root, "facades", "facades/ (pix2pix A|B files, photo left)")
    sub = {"train": "train", "test": "test"}
    if (base / "train").is_dir():  # the pix2pix layout: train/ and test/ (or val/)
        if not (base / "test").is_dir() and (base / "val").is_dir():
            sub["test"] = "val"
        headers = {key: _scan(name, base / folder) for key, folder in sub.items()}
    else:  # one folder of files: the first FACADES_TRAIN by name train, the rest test
        files = _scan(name, base)
        if len(files) <= FACADES_TRAIN:
            raise GenbenchError(f"dataset {name!r}: {base} holds {len(files)} images; without "
                                f"train/ and test/ folders the first {FACADES_TRAIN} by name "
                                f"are the train split, so it needs more")
        headers = {"train": files[:FACADES_TRAIN], "test": files[FACADES_TRAIN:]}
    for path, _, (width, height) in headers["train"] + headers["test"]:
        if width != 2 * height:
            raise GenbenchError(f"dataset {name!r}: {path} is {width}x{height}, not a photo "
                                f"and its labels side by side (width must be 2 x height)")
    return _crops(name, split, headers, _crop_size(name, image_size), meta={"folder": str(base)},
                  half=True)


def _crop_size(name: str, image_size: int | None) -> int:
    crop = image_size or FOLDER_CROP
    if crop % SCALE:
        raise GenbenchError(f"dataset {name!r}: crop size {crop} is not a multiple of the "
                            f"scale {SCALE}")
    return crop


def _crop_boxes(width: int, height: int, crop: int, every: bool) -> list[tuple[int, int]]:
    """(top, left) of the crops of one image: a grid of non-overlapping crops from the
    top-left corner (``every``), or the centre crop."""
    if width < crop or height < crop:
        return []
    if not every:
        return [((height - crop) // 2, (width - crop) // 2)]
    return [(top, left) for top in range(0, height - crop + 1, crop)
            for left in range(0, width - crop + 1, crop)]


def _read(name: str, path: Path, channels: int) -> np.ndarray:
    from genbench.data.translation import _pixels

    return _pixels(name, path, channels)
