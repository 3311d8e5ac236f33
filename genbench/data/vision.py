"""The standard image datasets, read from files in torchvision's own on-disk layout.

Every loader is ``load_X(split="train", image_size=None, root=None)`` and returns float32
(N, C, H, W) images in [-1, 1] (8-bit value ``v`` becomes ``v / 127.5 - 1``, as in
:mod:`genbench.data.files`) with int64 class labels (CelebA: ``y=None``).

Where the files are: ``root`` (``--data-root``), else the environment variable
``GENBENCH_DATA_ROOT``, else ``~/.cache/genbench/data``; below it torchvision's layout:

* mnist: ``MNIST/raw/``; fashion-mnist: ``FashionMNIST/raw/``. Each split needs its images and
  labels file (``train-*`` or ``t10k-*``), either extracted (``train-images-idx3-ubyte``, what
  torchvision's download leaves) or still gzipped (``train-images-idx3-ubyte.gz``). These are
  read by our own IDX reader, per split: ``torchvision.datasets.MNIST`` reads only the extracted
  files and insists on all four of them even to load one split.
* cifar10: ``cifar-10-batches-py/`` with ``data_batch_1`` ... ``data_batch_5``, ``test_batch``
  and ``batches.meta``, read by ``torchvision.datasets.CIFAR10`` (which checks the MD5 of every
  file).
* svhn: ``train_32x32.mat`` / ``test_32x32.mat`` directly in the root (the "cropped digits"
  format 2), read by ``torchvision.datasets.SVHN`` (MD5-checked; needs scipy). Label 10 (digit
  0) becomes 0. The "extra" split is not used.
* celeba: ``celeba/`` holding the folder ``img_align_celeba/`` (the aligned and cropped JPEGs)
  and ``list_eval_partition.txt``, ``list_attr_celeba.txt``, ``identity_CelebA.txt``,
  ``list_bbox_celeba.txt``, ``list_landmarks_align_celeba.txt`` (torchvision's ``CelebA``
  MD5-checks and parses all five). The official partition is used ("valid" is not offered).
  Each 178x218 image is center-cropped to 140x140 and resized to 64x64 (PIL bilinear, which
  antialiases), the crop of Tolstikhin et al. 2018 (WAE) and many GAN/VAE papers since; the
  DCGAN code of carpedm20 crops 108 instead. Decoding all 162,770 training images takes
  minutes and 8 GB as float32: set ``GENBENCH_CELEBA_LIMIT=N`` to load only the first N images
  of a split, for quick runs.

Nothing is downloaded unless ``GENBENCH_DOWNLOAD=1`` is set; then torchvision's ``download=True``
fetches what is missing into the layout above. Missing files, a failed download and corrupt
files (bad gzip, truncated IDX, bad pickle, bad .mat, wrong MD5, undecodable JPEG) are each a
one-line :class:`~genbench.errors.GenbenchError` naming the folder or file.
"""

from __future__ import annotations

import gzip
import math
import os
import pickle
import struct
import sys
import zlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch

from genbench.data.base import TensorData, check_split, resize_images
from genbench.errors import GenbenchError

DEFAULT_ROOT = "~/.cache/genbench/data"
CELEBA_CROP = 140
CELEBA_SIZE = 64
CELEBA_LIMIT_ENV = "GENBENCH_CELEBA_LIMIT"
DOWNLOAD_ENV = "GENBENCH_DOWNLOAD"
IDX_IMAGES_MAGIC = 2051  # unsigned bytes, 3 dimensions
IDX_LABELS_MAGIC = 2049  # unsigned bytes, 1 dimension


# --- public loaders -----------------------------------------------------------------------

def load_mnist(split: str = "train", image_size: int | None = None, root=None) -> TensorData:
    """MNIST handwritten digits: 60,000 train / 10,000 test, (1, 28, 28), 10 classes."""
    return _load_idx_dataset("mnist", "MNIST", split, image_size, root)


def load_fashion_mnist(split: str = "train", image_size: int | None = None,
                       root=None) -> TensorData:
    """Fashion-MNIST clothing images: 60,000 train / 10,000 test, (1, 28, 28), 10 classes."""
    return _load_idx_dataset("fashion-mnist", "FashionMNIST", split, image_size, root)


def load_cifar10(split: str = "train", image_size: int | None = None, root=None) -> TensorData:
    """CIFAR-10: 50,000 train / 10,000 test, (3, 32, 32), 10 classes."""
    from torchvision.datasets import CIFAR10

    check_split("cifar10", split)
    base = _data_root(root)
    folder = base / CIFAR10.base_folder
    expected = [*CIFAR10.train_list, *CIFAR10.test_list,
                [CIFAR10.meta["filename"], CIFAR10.meta["md5"]]]
    read = [name for name, _ in (CIFAR10.train_list if split == "train" else CIFAR10.test_list)]
    read.append(CIFAR10.meta["filename"])
    dataset = _open_torchvision(
        "cifar10", split, base, folder, expected, read, _probe_pickle,
        lambda download: CIFAR10(str(base), train=split == "train", download=download),
        where=f"{CIFAR10.base_folder}/ under the data root, as extracted from "
              f"cifar-10-python.tar.gz")
    x = torch.from_numpy(dataset.data).permute(0, 3, 1, 2)  # a view: the data is NCHW in memory
    y = torch.as_tensor(dataset.targets, dtype=torch.int64)
    return _finish("cifar10", split, x, y, image_size)


def load_svhn(split: str = "train", image_size: int | None = None, root=None) -> TensorData:
    """SVHN cropped house-number digits: 73,257 train / 26,032 test, (3, 32, 32), 10 classes."""
    from torchvision.datasets import SVHN

    check_split("svhn", split)
    base = _data_root(root)
    _, filename, md5 = SVHN.split_list[split]
    dataset = _open_torchvision(
        "svhn", split, base, base, [(filename, md5)], [filename], _probe_mat,
        lambda download: SVHN(str(base), split=split, download=download),
        where="directly in the data root")
    x = torch.from_numpy(dataset.data)
    y = torch.from_numpy(np.asarray(dataset.labels, dtype=np.int64).reshape(-1))
    return _finish("svhn", split, x, y, image_size)


def load_celeba(split: str = "train", image_size: int | None = None, root=None) -> TensorData:
    """CelebA aligned faces, center crop 140 resized to 64x64: 162,770 train / 19,962 test
    (official partition), (3, 64, 64), no class labels (``y=None``).

    ``GENBENCH_CELEBA_LIMIT=N`` loads only the first N images of the split.
    """
    from torchvision.datasets import CelebA

    check_split("celeba", split)
    limit = _celeba_limit()
    base = _data_root(root)
    folder = base / CelebA.base_folder
    expected = [("img_align_celeba/", None)]
    expected += [(name, md5) for _, md5, name in CelebA.file_list
                 if not name.endswith((".zip", ".7z"))]
    dataset = _open_torchvision(
        "celeba", split, base, folder, expected, [], None,
        lambda download: CelebA(str(base), split=split, target_type="attr", download=download),
        where=f"{CelebA.base_folder}/ under the data root")
    names = list(dataset.filename)[:limit]
    x = _decode_celeba(folder / "img_align_celeba", names, split)
    return _finish("celeba", split, x, None, image_size)


# --- where the files are ------------------------------------------------------------------

def _data_root(root) -> Path:
    chosen = root or os.environ.get("GENBENCH_DATA_ROOT") or DEFAULT_ROOT
    return Path(chosen).expanduser()


def _downloading() -> bool:
    return os.environ.get(DOWNLOAD_ENV, "").strip().lower() in ("1", "true", "yes")


def _fix_hint(base: Path) -> str:
    return (f"pass --data-root DIR (or set GENBENCH_DATA_ROOT) to the folder that holds them "
            f"(now {base}), or set {DOWNLOAD_ENV}=1 to download them when online")


def _download_failed(name: str, base: Path, exc: BaseException) -> GenbenchError:
    return GenbenchError(f"dataset {name!r}: downloading into {base} failed ({_one_line(exc)}); "
                         f"check the connection, or put the files there by hand (or pass "
                         f"--data-root DIR to where they are) and unset {DOWNLOAD_ENV}")


def _missing_error(name: str, split: str, base: Path, folder: Path, files: list[str],
                   where: str) -> GenbenchError:
    return GenbenchError(
        f"dataset {name!r} ({split} split) not found: torchvision's layout expects "
        f"{', '.join(files)} in {folder} ({where}); {_fix_hint(base)}")


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 300 else text[:297] + "..."


def _corrupt(name: str, path: Path, why: str) -> GenbenchError:
    return GenbenchError(f"dataset {name!r}: {path} is corrupt or not the right file ({why}); "
                         f"replace it with the original (or delete it and set {DOWNLOAD_ENV}=1 "
                         f"to download it again when online)")


# --- torchvision's classes ----------------------------------------------------------------

def _open_torchvision(name: str, split: str, base: Path, folder: Path,
                      expected: list, read: list[str], probe: Callable[[Path], None] | None,
                      make: Callable[[bool], object], where: str):
    """Build a torchvision dataset, turning each way it can fail into one clear line.

    ``expected``: (name, md5 or None) of every file/folder the class requires in ``folder``;
    ``read``: those it parses for this split, tried with ``probe`` to name the unreadable one.
    """
    download = _downloading()
    missing = [file for file, _ in expected if not (folder / file).exists()]
    if missing and not download:
        raise _missing_error(name, split, base, folder, [file for file, _ in expected], where)
    try:
        return make(download)
    except MemoryError:
        raise
    except Exception as exc:  # every failure becomes one line; diagnose which file is at fault
        from torchvision.datasets.utils import check_integrity

        missing = [file for file, _ in expected if not (folder / file).exists()]
        if missing:
            raise _download_failed(name, base, exc) from None
        for file, md5 in expected:
            if md5 and not check_integrity(str(folder / file), md5):
                raise _corrupt(name, folder / file, "its MD5 differs from the official "
                               "file's") from None
        for file in read:
            try:
                probe(folder / file)
            except Exception as bad:
                raise _corrupt(name, folder / file, _one_line(bad)) from None
        raise GenbenchError(f"dataset {name!r}: could not read the {split} split from "
                            f"{folder}: {_one_line(exc)}") from None


def _probe_pickle(path: Path) -> None:
    with open(path, "rb") as f:
        entry = pickle.load(f, encoding="latin1")
    if not isinstance(entry, dict):
        raise ValueError(f"expected a pickled dict, got {type(entry).__name__}")


def _probe_mat(path: Path) -> None:
    import scipy.io

    mat = scipy.io.loadmat(str(path))
    if "X" not in mat or "y" not in mat:
        raise ValueError("no X and y arrays in it")


# --- MNIST and Fashion-MNIST: IDX files ---------------------------------------------------

def _load_idx_dataset(name: str, folder_name: str, split: str, image_size: int | None,
                      root) -> TensorData:
    check_split(name, split)
    base = _data_root(root)
    folder = base / folder_name / "raw"
    prefix = "train" if split == "train" else "t10k"
    stems = (f"{prefix}-images-idx3-ubyte", f"{prefix}-labels-idx1-ubyte")
    paths = [_idx_file(folder, stem) for stem in stems]
    if None in paths:
        if not _downloading():
            raise _missing_error(name, split, base, folder,
                                 [f"{stem} (or {stem}.gz)" for stem in stems],
                                 f"{folder_name}/raw/ under the data root")
        _download_idx(name, folder_name, base, split)
        paths = [_idx_file(folder, stem) for stem in stems]
        if None in paths:
            raise GenbenchError(f"dataset {name!r}: the download left no {stems[0]} and "
                                f"{stems[1]} in {folder}; {_fix_hint(base)}")
    images = _read_idx(name, paths[0], IDX_IMAGES_MAGIC)
    labels = _read_idx(name, paths[1], IDX_LABELS_MAGIC)
    if len(labels) != len(images):
        raise _corrupt(name, paths[1], f"{len(labels)} labels for {len(images)} images in "
                       f"{paths[0].name}")
    if labels.size and labels.max() > 9:
        raise _corrupt(name, paths[1], f"label {int(labels.max())} is not a class 0-9")
    x = torch.from_numpy(images).unsqueeze(1)
    y = torch.from_numpy(labels.astype(np.int64))
    return _finish(name, split, x, y, image_size)


def _idx_file(folder: Path, stem: str) -> Path | None:
    for candidate in (folder / stem, folder / f"{stem}.gz"):
        if candidate.is_file():
            return candidate
    return None


def _download_idx(name: str, folder_name: str, base: Path, split: str) -> None:
    import torchvision.datasets

    cls = getattr(torchvision.datasets, folder_name)
    try:
        cls(str(base), train=split == "train", download=True)
    except MemoryError:
        raise
    except Exception as exc:
        raise _download_failed(name, base, exc) from None


def _read_idx(name: str, path: Path, magic: int) -> np.ndarray:
    """An IDX file of unsigned bytes (gzipped or not) as a writable uint8 array."""
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as f:
                raw = f.read()
        else:
            raw = path.read_bytes()
    except (OSError, EOFError, zlib.error) as exc:
        raise _corrupt(name, path, _one_line(exc)) from None
    ndim = magic & 0xFF
    header = 4 + 4 * ndim
    if len(raw) < header or int.from_bytes(raw[:4], "big") != magic:
        raise _corrupt(name, path, f"not an IDX file with magic number {magic}")
    dims = struct.unpack(f">{ndim}I", raw[4:header])
    size = math.prod(dims)
    if len(raw) - header != size:
        raise _corrupt(name, path, f"{len(raw) - header:,} bytes of data where the header "
                       f"promises {size:,}")
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(dims).copy()


# --- CelebA: JPEGs ------------------------------------------------------------------------

def _celeba_limit() -> int | None:
    value = os.environ.get(CELEBA_LIMIT_ENV, "").strip()
    if not value:
        return None
    try:
        limit = int(value)
    except ValueError:
        limit = 0
    if limit < 1:
        raise GenbenchError(f"{CELEBA_LIMIT_ENV} must be a positive number of images, got "
                            f"{value!r}")
    return limit


def _celeba_image(path: Path) -> np.ndarray:
    """One aligned CelebA image: center crop 140 (or the shorter side), resize to 64, RGB."""
    from PIL import Image

    with Image.open(path) as img:
        img = img.convert("RGB")
        width, height = img.size
        crop = min(CELEBA_CROP, width, height)
        left, top = int(round((width - crop) / 2)), int(round((height - crop) / 2))
        img = img.crop((left, top, left + crop, top + crop))
        img = img.resize((CELEBA_SIZE, CELEBA_SIZE), Image.Resampling.BILINEAR)
        return np.array(img, dtype=np.uint8)  # a writable copy


def _decode_celeba(folder: Path, names: list[str], split: str) -> torch.Tensor:
    """Decode the images in threads (PIL releases the GIL) straight into one float tensor."""
    total = len(names)
    try:
        x = torch.empty(total, 3, CELEBA_SIZE, CELEBA_SIZE)
    except RuntimeError:  # the allocator's "can't allocate memory"
        raise GenbenchError(f"not enough memory for {total:,} CelebA images as float32 "
                            f"({total * 3 * CELEBA_SIZE ** 2 * 4 / 2 ** 30:.1f} GiB); set "
                            f"{CELEBA_LIMIT_ENV}=N to load only the first N") from None
    chunk, report_every = 1024, max(total // 10, 1)
    show = total >= 5000

    def decode(file: str) -> np.ndarray:
        path = folder / file
        try:
            return _celeba_image(path)
        except MemoryError:
            raise
        except FileNotFoundError:
            raise GenbenchError(f"dataset 'celeba': {path} is missing (listed in "
                                f"list_eval_partition.txt); the folder img_align_celeba is "
                                f"incomplete") from None
        except Exception as exc:
            raise _corrupt("celeba", path, _one_line(exc)) from None

    workers = max(1, min(8, os.cpu_count() or 1))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for start in range(0, total, chunk):
            for i, image in enumerate(pool.map(decode, names[start:start + chunk]), start):
                x[i] = torch.from_numpy(image).permute(2, 0, 1)
                if show and ((i + 1) % report_every == 0 or i + 1 == total):
                    print(f"loading CelebA {split}: {i + 1:,}/{total:,} images",
                          file=sys.stderr, flush=True)
    return x.div_(127.5).sub_(1.0)


# --- common ending ------------------------------------------------------------------------

def _finish(name: str, split: str, pixels: torch.Tensor, y: torch.Tensor | None,
            image_size: int | None) -> TensorData:
    """uint8 (N, C, H, W) pixels (or floats already in [-1, 1]) to the TensorData."""
    native = pixels.shape[-1]
    x = pixels.to(torch.float32, memory_format=torch.contiguous_format)
    if not pixels.is_floating_point():
        x = x.div_(127.5).sub_(1.0)
    x = resize_images(x, image_size).contiguous()
    return TensorData(name, split, x, y, meta={"native_size": native})
