"""The standard image datasets, read from files in torchvision's own on-disk layout.

Every loader is ``load_X(split="train", image_size=None, root=None, uint8=False)`` and returns
float32 (N, C, H, W) images in [-1, 1] (8-bit value ``v`` becomes ``v / 127.5 - 1``, as in
:mod:`genbench.data.files`) with int64 class labels (CelebA: ``y=None``). With ``uint8=True``
(the training path) the images stay uint8 at their own size, 4x smaller, with ``image_size``
recorded for the conversion (see :class:`genbench.data.base.TensorData`).

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
  DCGAN code of carpedm20 crops 108 instead. The JPEGs are decoded in threads into uint8 and
  cached (:mod:`genbench.data.decoded`): the 162,770 training images take about a minute and a
  half to decode on 2 cores the first time, a few seconds after that, and 2 GB as uint8 (8 GB
  only if loaded as float32, which training does not do). ``GENBENCH_CELEBA_LIMIT=N`` loads
  only the first N images of a split, for quick runs.

Nothing is downloaded unless ``GENBENCH_DOWNLOAD=1`` is set; then torchvision's ``download=True``
fetches what is missing into the layout above. Missing files, a failed download and corrupt
files (bad gzip, truncated IDX, bad pickle, bad .mat, wrong MD5, undecodable JPEG) are each a
one-line :class:`~genbench.errors.GenbenchError` naming the folder or file.
"""

from __future__ import annotations

import dataclasses
import gzip
import math
import os
import pickle
import struct
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from genbench.data import decoded
from genbench.data.base import TensorData, check_split, resize_images
from genbench.errors import GenbenchError

DEFAULT_ROOT = "~/.cache/genbench/data"
CELEBA_CROP = 140
CELEBA_SIZE = 64
CELEBA_LIMIT_ENV = "GENBENCH_CELEBA_LIMIT"
CELEBA_PARTITION = {"train": "0", "test": "2"}  # list_eval_partition.txt's codes
CELEBA_PARAMS = {"crop": CELEBA_CROP, "size": CELEBA_SIZE, "resample": "PIL bilinear",
                 "channels": 3}
DOWNLOAD_ENV = "GENBENCH_DOWNLOAD"
IDX_IMAGES_MAGIC = 2051  # unsigned bytes, 3 dimensions
IDX_LABELS_MAGIC = 2049  # unsigned bytes, 1 dimension


# --- public loaders -----------------------------------------------------------------------

def load_mnist(split: str = "train", image_size: int | None = None, root=None,
               uint8: bool = False) -> TensorData:
    """MNIST handwritten digits: 60,000 train / 10,000 test, (1, 28, 28), 10 classes."""
    return _load_idx_dataset("mnist", "MNIST", split, image_size, root, uint8)


def load_fashion_mnist(split: str = "train", image_size: int | None = None,
                       root=None, uint8: bool = False) -> TensorData:
    """Fashion-MNIST clothing images: 60,000 train / 10,000 test, (1, 28, 28), 10 classes."""
    return _load_idx_dataset("fashion-mnist", "FashionMNIST", split, image_size, root, uint8)


def load_cifar10(split: str = "train", image_size: int | None = None, root=None,
                 uint8: bool = False) -> TensorData:
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
    x = torch.from_numpy(dataset.data).permute(0, 3, 1, 2)  # a view: the data is NHWC in memory
    y = torch.as_tensor(dataset.targets, dtype=torch.int64)
    return _finish("cifar10", split, x, y, image_size, uint8)


def load_svhn(split: str = "train", image_size: int | None = None, root=None,
              uint8: bool = False) -> TensorData:
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
    return _finish("svhn", split, x, y, image_size, uint8)


def load_celeba(split: str = "train", image_size: int | None = None, root=None,
                uint8: bool = False) -> TensorData:
    """CelebA aligned faces, center crop 140 resized to 64x64: 162,770 train / 19,962 test
    (official partition), (3, 64, 64), no class labels (``y=None``).

    ``GENBENCH_CELEBA_LIMIT=N`` loads only the first N images of the split. Decoded images
    are cached (:mod:`genbench.data.decoded`).
    """
    from torchvision.datasets import CelebA

    check_split("celeba", split)
    limit = _celeba_limit()
    base = _data_root(root)
    folder = base / CelebA.base_folder
    metadata = [name for _, _, name in CelebA.file_list if not name.endswith((".zip", ".7z"))]
    label = f"loading CelebA {split}"
    # A cache entry made from these very files (the five lists included) skips torchvision's
    # MD5 checks and parsing of the lists (~10 s for the whole set): they passed when the
    # entry was made, and nothing has changed since. Any doubt: the full path below.
    names = _partition_names(folder, split, limit)
    if names is not None:
        found = decoded.lookup(f"celeba-{split}", folder, _celeba_sources(folder, metadata, names),
                               CELEBA_PARAMS, label)
        if found is not None:
            return _finish("celeba", split, torch.from_numpy(found), None, image_size, uint8)
    expected = [("img_align_celeba/", None)]
    expected += [(name, md5) for _, md5, name in CelebA.file_list if name in metadata]
    dataset = _open_torchvision(
        "celeba", split, base, folder, expected, [], None,
        lambda download: CelebA(str(base), split=split, target_type="attr", download=download),
        where=f"{CelebA.base_folder}/ under the data root")
    sources = _celeba_sources(folder, metadata, list(dataset.filename)[:limit])
    x = _decode_celeba(folder, sources, len(metadata), split, label)
    return _finish("celeba", split, x, None, image_size, uint8)


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
                   where: str, missing: list[str] | None = None) -> GenbenchError:
    """``missing``: those of ``files`` that are not there, said when only some are."""
    lacking = ("" if not missing or len(missing) == len(files) else
               f"; missing: {', '.join(missing)}")
    return GenbenchError(
        f"dataset {name!r} ({split} split) not found: torchvision's layout expects "
        f"{', '.join(files)} in {folder} ({where}){lacking}; {_fix_hint(base)}")


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
        raise _missing_error(name, split, base, folder, [file for file, _ in expected], where,
                             missing)
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
                      root, uint8: bool) -> TensorData:
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
                                 f"{folder_name}/raw/ under the data root",
                                 [stem for stem, path in zip(stems, paths, strict=True)
                                  if path is None])
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
    return _finish(name, split, x, y, image_size, uint8)


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


def _celeba_image(path: str | Path) -> np.ndarray:
    """One aligned CelebA image: center crop 140 (or the shorter side), resize to 64, RGB, as
    uint8 (3, 64, 64)."""
    from PIL import Image

    with Image.open(path) as img:
        img = img.convert("RGB")
        width, height = img.size
        crop = min(CELEBA_CROP, width, height)
        left, top = int(round((width - crop) / 2)), int(round((height - crop) / 2))
        img = img.crop((left, top, left + crop, top + crop))
        img = img.resize((CELEBA_SIZE, CELEBA_SIZE), Image.Resampling.BILINEAR)
        return np.asarray(img, dtype=np.uint8).transpose(2, 0, 1)


def _partition_names(folder: Path, split: str, limit: int | None) -> list[str] | None:
    """The split's image names read straight from list_eval_partition.txt (None if it cannot
    be read): only a key to look the cache up with, so an odd line costs a cache miss."""
    try:
        text = (folder / "list_eval_partition.txt").read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError):
        return None
    code = CELEBA_PARTITION[split]
    names = [fields[0] for fields in map(str.split, text.splitlines())
             if len(fields) == 2 and fields[1] == code]
    return names[:limit]


def _celeba_sources(folder: Path, metadata: list[str], names: list[str]) -> list[str]:
    """The files a split's decoded images depend on: the five lists, then the images."""
    top = os.fspath(folder)
    images = os.path.join(top, "img_align_celeba")
    return [os.path.join(top, name) for name in metadata] + [os.path.join(images, name)
                                                             for name in names]


def _decode_celeba(folder: Path, sources: list[str], skip: int, split: str,
                   label: str) -> torch.Tensor:
    """uint8 (N, 3, 64, 64) pixels of ``sources[skip:]``, decoded in threads and cached under
    a key that covers every source."""
    files = sources[skip:]

    def missing(path: Path) -> GenbenchError:
        return GenbenchError(f"dataset 'celeba': {path} is missing (listed in "
                             f"list_eval_partition.txt); the folder img_align_celeba is "
                             f"incomplete")

    def read(path: str) -> np.ndarray:
        try:
            return _celeba_image(path)
        except MemoryError:
            raise
        except FileNotFoundError:
            raise missing(Path(path)) from None
        except Exception as exc:
            raise _corrupt("celeba", Path(path), _one_line(exc)) from None

    def decode() -> np.ndarray:
        shape = (len(files), 3, CELEBA_SIZE, CELEBA_SIZE)
        try:
            out = np.empty(shape, dtype=np.uint8)
        except MemoryError:
            raise GenbenchError(f"not enough memory for {len(files):,} CelebA images "
                                f"({math.prod(shape) / 2 ** 30:.1f} GiB as uint8); set "
                                f"{CELEBA_LIMIT_ENV}=N to load only the first N") from None
        return decoded.decode_into(out, files, read, label)

    array = decoded.cached(f"celeba-{split}", folder, sources, CELEBA_PARAMS, decode, label,
                           missing)
    return torch.from_numpy(array)


# --- common ending ------------------------------------------------------------------------

def _finish(name: str, split: str, pixels: torch.Tensor, y: torch.Tensor | None,
            image_size: int | None, uint8: bool) -> TensorData:
    """uint8 (N, C, H, W) pixels (or floats already in [-1, 1]) to the TensorData: uint8 at
    their own size when asked for, else float32 resized to ``image_size``."""
    native = pixels.shape[-1]
    pixels = pixels.contiguous()
    data = TensorData(name, split, pixels, y, meta={"native_size": native},
                      image_size=image_size)
    if uint8 and data.is_uint8:
        return data
    if data.is_uint8:
        return data.to_float()
    return dataclasses.replace(data, x=resize_images(pixels.float(), image_size).contiguous(),
                               image_size=None)
