"""Datasets for image-to-image translation (pix2pix, CycleGAN): domain A in ``x``, domain B in
``target`` (see :class:`genbench.data.base.TensorData`).

Every loader is ``load_X(split="train", image_size=None, root=None, argument=None,
direction="AtoB")`` and returns float32 (N, C, H, W) images in [-1, 1] (8-bit value ``v``
becomes ``v / 127.5 - 1``, as everywhere in genbench). ``direction="BtoA"`` swaps the domains
(``x`` is then domain B). ``image_size`` resizes both domains to image_size x image_size with
:func:`genbench.data.base.resize_images`. The folder loaders also take ``uint8=True`` (the
training path): images of one size then stay uint8 at that size, 4x smaller, and are converted
(and resized) a batch at a time (see :class:`genbench.data.base.TensorData`). ``root``
(``--data-root``) is not used: the folder datasets take their folder as ``argument`` (the ARG
of ``paired-folder:ARG``; ``~`` expanded, relative paths taken from the current directory).

Folders (see docs/datasets.md, "Translation datasets"):

* ``paired-folder:PATH``: pix2pix's "aligned" layout, ``PATH/train/`` and ``PATH/test/`` (or
  ``PATH/val/`` when there is no ``test/``), each image A|B side by side (width == 2 x height),
  A the left half.
* ``unpaired-folder:PATH``: CycleGAN's layout, ``PATH/trainA/``, ``trainB/``, ``testA/``,
  ``testB/``; the domains may hold different numbers of images and are not aligned.

Image files are ``.png .jpg .jpeg .bmp .webp`` (case-insensitive) anywhere below a split's
folder, hidden files and folders skipped, sorted by path. Channels, per domain (A and B of a
paired folder share their files, so they share this): one channel when every image of the
domain, in both splits, is grayscale (PIL mode ``L``, ``LA`` or ``1``), else three (RGB; the
grayscale images among them are repeated over the channels, palette/RGBA/CMYK... converted).
All images of a dataset (both splits, both domains) must share one size unless ``image_size``
is given, in which case each image is resized on its own (such a folder is held as float32).
A folder's images are decoded in threads and cached on disk (:mod:`genbench.data.decoded`).
Problems are a one-line :class:`~genbench.errors.GenbenchError` naming the folder or file.

Offline tasks, built from the 1,797 digits of :func:`genbench.data.digits.load_digits` (its
fixed train/test split, labels in ``y``), at a native 32x32 (the 8x8 digits upsampled x4 by
nearest neighbour, which area averaging undoes exactly), computed on every call, deterministic:

* ``edges2digits`` (paired): A = :func:`edge_map` (Sobel gradient magnitude) of B, B = the digit.
* ``digits2ink`` (unpaired): A = digits, B = :func:`ink_style` of digits (dark-blue ink on
  cream paper with diagonal stripes, RGB). Train: A = the train digits at even positions of the
  split, B = the style of those at odd positions (no digit appears in both); test: x = test
  digits, target = ink_style(x), aligned, so the true translation is known. The digits
  evaluator reads domain B through :func:`ink_to_digits` (``meta["evaluator_readers"]``), for
  the pair agreement of coupled models.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from genbench.data import decoded
from genbench.data.base import TensorData, check_split, resize_images, to_unit
from genbench.data.files import GRAY_MODES, IMAGE_EXTENSIONS
from genbench.errors import GenbenchError

DIRECTIONS = ("AtoB", "BtoA")
DIGITS_SIZE = 32  # native size of the offline tasks: the 8x8 digits upsampled x4 (nearest)

# ink_style: RGB colours in [0, 1].
PAPER = (0.95, 0.90, 0.70)  # cream
STRIPE = 0.15  # the darker stripes are PAPER - STRIPE
STRIPE_WIDTH = 4  # pixels along i + j at the native 32x32
INK = (0.10, 0.20, 0.60)  # dark blue

SOBEL_X = ((-1.0, 0.0, 1.0), (-2.0, 0.0, 2.0), (-1.0, 0.0, 1.0))
EDGE_SCALE = 4.0  # the Sobel magnitude of a step from 0 to 1; larger magnitudes clip to 1


# --- offline tasks ------------------------------------------------------------------------

def edge_map(images: torch.Tensor) -> torch.Tensor:
    """Edges of (N, 1, H, W) images in [-1, 1], as (N, 1, H, W) in [-1, 1].

    With ``t = (x + 1) / 2`` in [0, 1]: the Sobel gradients ``gx``, ``gy`` of ``t`` (borders
    padded by replication, so the border is not an edge), ``e = min(sqrt(gx^2 + gy^2) / 4, 1)``
    (a sharp step from 0 to 1 gives 4), returned as ``2 e - 1``: -1 wherever the 3x3
    neighbourhood is flat, 1 on strong edges.
    """
    t = (images + 1.0) / 2.0
    kx = torch.tensor(SOBEL_X, dtype=images.dtype)
    kernels = torch.stack([kx, kx.t()]).unsqueeze(1)  # (2, 1, 3, 3): gx, gy
    gradients = F.conv2d(F.pad(t, (1, 1, 1, 1), mode="replicate"), kernels)
    magnitude = gradients.pow(2).sum(dim=1, keepdim=True).sqrt()
    return (magnitude / EDGE_SCALE).clamp(max=1.0) * 2.0 - 1.0


def ink_style(images: torch.Tensor) -> torch.Tensor:
    """(N, 1, H, W) digits in [-1, 1] rendered as (N, 3, H, W) ink on striped paper, [-1, 1].

    With ``t = (x + 1) / 2`` (1 on the strokes, 0 on the background) and pixel row ``i``,
    column ``j``: ``paper = PAPER - STRIPE * (((i + j) // 4) % 2)``, ``rgb = (1 - t) * paper +
    t * INK``, returned as ``2 rgb - 1``. PAPER = (0.95, 0.90, 0.70), STRIPE = 0.15,
    INK = (0.10, 0.20, 0.60).
    """
    height, width = images.shape[-2:]
    i = torch.arange(height).view(height, 1)
    j = torch.arange(width).view(1, width)
    stripes = (((i + j) // STRIPE_WIDTH) % 2).to(images.dtype)  # (H, W)
    paper = torch.tensor(PAPER, dtype=images.dtype).view(3, 1, 1) - STRIPE * stripes
    ink = torch.tensor(INK, dtype=images.dtype).view(3, 1, 1)
    t = (images + 1.0) / 2.0
    return ((1.0 - t) * paper + t * ink) * 2.0 - 1.0


def ink_to_digits(images: torch.Tensor) -> torch.Tensor:
    """The inverse of :func:`ink_style`: (N, 3, H, W) images in [-1, 1] read as (N, 1, H, W)
    digits in [-1, 1], so the digits evaluator can classify the ink domain.

    Each pixel's ``t`` is the least-squares solution of ``rgb = paper + t (INK - paper)`` (the
    projection of ``rgb - paper`` on ``INK - paper``), clipped to [0, 1]; exact on images made
    by :func:`ink_style`, and a best guess on anything else (a generator's output)."""
    height, width = images.shape[-2:]
    i = torch.arange(height, device=images.device).view(height, 1)
    j = torch.arange(width, device=images.device).view(1, width)
    stripes = (((i + j) // STRIPE_WIDTH) % 2).to(images.dtype)
    paper = torch.tensor(PAPER, dtype=images.dtype, device=images.device).view(3, 1, 1) \
        - STRIPE * stripes
    ink = torch.tensor(INK, dtype=images.dtype, device=images.device).view(3, 1, 1)
    direction = ink - paper  # (3, H, W)
    rgb = (images + 1.0) / 2.0
    t = ((rgb - paper) * direction).sum(1, keepdim=True) / direction.pow(2).sum(0)
    return t.clamp(0.0, 1.0) * 2.0 - 1.0


def load_edges2digits(split: str = "train", image_size: int | None = None, root=None,
                      argument=None, direction: str = "AtoB") -> TensorData:
    """Paired: A = edge_map(digit), B = the digit, both (1, 32, 32); train 1,437 / test 360."""
    name = "edges2digits"
    check_split(name, split)
    _check_direction(direction)
    _no_argument(name, argument)
    digits = _digits32(split)
    return _finish(name, split, edge_map(digits.x), digits.x, digits.y, digits.y, image_size,
                   direction, ("edges", "digits"), paired=True, native=DIGITS_SIZE)


def load_digits2ink(split: str = "train", image_size: int | None = None, root=None,
                    argument=None, direction: str = "AtoB") -> TensorData:
    """Unpaired: A = digits (1, 32, 32), B = ink_style(digits) (3, 32, 32).

    Train: A = train digits 0, 2, 4... (719), B = ink_style of train digits 1, 3, 5... (718);
    test: x = the 360 test digits, target = ink_style(x), aligned.
    """
    name = "digits2ink"
    check_split(name, split)
    _check_direction(direction)
    _no_argument(name, argument)
    digits = _digits32(split)
    readers = {"evaluator_readers": (None, f"{__name__}:ink_to_digits")}
    if split == "train":
        a, a_labels = digits.x[0::2], digits.y[0::2]
        b, b_labels = ink_style(digits.x[1::2]), digits.y[1::2]
        return _finish(name, split, a, b, a_labels, b_labels, image_size, direction,
                       ("digits", "ink"), paired=False, native=DIGITS_SIZE, meta=readers)
    return _finish(name, split, digits.x, ink_style(digits.x), digits.y, digits.y, image_size,
                   direction, ("digits", "ink"), paired=False, native=DIGITS_SIZE, meta=readers)


def _digits32(split: str) -> TensorData:
    from genbench.data.digits import load_digits

    return load_digits(split, image_size=DIGITS_SIZE)  # x4: nearest, by resize_images


def _no_argument(name: str, argument) -> None:
    if argument not in (None, ""):
        raise GenbenchError(f"dataset {name!r} takes no argument (got {name}:{argument}); "
                            f"name it {name!r}")


# --- folders ------------------------------------------------------------------------------

def load_paired_folder(split: str = "train", image_size: int | None = None, root=None,
                       argument=None, direction: str = "AtoB",
                       uint8: bool = False) -> TensorData:
    """pix2pix "aligned" folders: PATH/train/ and PATH/test/ (or PATH/val/), A|B side by side."""
    name = "paired-folder"
    check_split(name, split)
    _check_direction(direction)
    base = _folder_argument(name, argument, "train/ and test/ (or val/) folders of images "
                            "with A and B side by side")
    folders = {}
    for wanted in ("train", "test"):
        folder = base / wanted
        if wanted == "test" and not folder.is_dir() and (base / "val").is_dir():
            folder = base / "val"
        if not folder.is_dir():
            loose = " (it holds images directly: move them into train/ and test/)" \
                if wanted == "train" and _image_files(base, recursive=False) else ""
            what = "train/" if wanted == "train" else "test/ (or val/)"
            raise GenbenchError(f"dataset {name!r}: {base} has no {what} folder{loose}; the "
                                f"pix2pix aligned layout is PATH/train/ and PATH/test/ (or "
                                f"PATH/val/), each image A|B side by side")
        folders[wanted] = folder
    headers = {key: _scan(name, folder) for key, folder in folders.items()}
    everything = [h for key in ("train", "test") for h in headers[key]]
    for path, _, (width, height) in everything:
        if width != 2 * height:
            raise GenbenchError(f"dataset {name!r}: {path} is {width}x{height}, not two "
                                f"images side by side (width must be 2 x height); fix or "
                                f"remove it")
    channels = _channels(everything)
    if image_size is None:
        _same_size(name, everything)
    files = [path for path, _, _ in headers[split]]
    both = _decode_all(name, f"{name}-{split}", folders[split], headers[split], channels,
                       image_size, halves=True)
    half = both.shape[-1] // 2
    a, b = both[..., :half].contiguous(), both[..., half:].contiguous()
    del both
    return _finish(name, split, a, b, None, None, image_size, direction, ("A", "B"),
                   paired=True, native=_native_size(everything, halves=True),
                   meta={"folder": str(folders[split]), "files": [str(f) for f in files]},
                   uint8=uint8)


def load_unpaired_folder(split: str = "train", image_size: int | None = None, root=None,
                         argument=None, direction: str = "AtoB",
                         uint8: bool = False) -> TensorData:
    """CycleGAN folders: PATH/trainA/, trainB/, testA/, testB/ (unaligned, counts may differ)."""
    name = "unpaired-folder"
    check_split(name, split)
    _check_direction(direction)
    layout = "PATH/trainA/, PATH/trainB/, PATH/testA/, PATH/testB/"
    base = _folder_argument(name, argument, "folders trainA/, trainB/, testA/ and testB/")
    subfolders = ("trainA", "trainB", "testA", "testB")
    for sub in subfolders:
        if not (base / sub).is_dir():
            raise GenbenchError(f"dataset {name!r}: {base} has no {sub}/ folder; the CycleGAN "
                                f"layout is {layout}")
    headers = {sub: _scan(name, base / sub) for sub in subfolders}
    channels = {domain: _channels(headers[f"train{domain}"] + headers[f"test{domain}"])
                for domain in "AB"}
    if image_size is None:
        _same_size(name, [h for sub in subfolders for h in headers[sub]])
    out, files = [], {}
    for domain in "AB":
        sub = f"{split}{domain}"
        files[domain] = [path for path, _, _ in headers[sub]]
        out.append(_decode_all(name, f"{name}-{sub}", base / sub, headers[sub],
                               channels[domain], image_size, halves=False))
    if out[0].dtype != out[1].dtype:  # one domain's images vary in size: both become float
        out = [_float(images, image_size) for images in out]
    meta = {"folder": str(base), "files": [str(f) for f in files["A"]],
            "target_files": [str(f) for f in files["B"]]}
    native = _native_size([h for sub in subfolders for h in headers[sub]], halves=False)
    return _finish(name, split, out[0], out[1], None, None, image_size, direction, ("A", "B"),
                   paired=False, native=native, meta=meta, uint8=uint8)


def _folder_argument(name: str, argument, layout: str) -> Path:
    if argument in (None, ""):
        raise GenbenchError(f"dataset {name!r} needs a folder: name it {name}:PATH, PATH "
                            f"holding {layout}")
    base = Path(str(argument)).expanduser()
    if not base.is_dir():
        what = "is not a folder" if base.exists() else "does not exist"
        raise GenbenchError(f"dataset {name!r}: {base} {what}; give {name}:PATH with PATH "
                            f"holding {layout}")
    return base


def _train_test_folders(name: str, base: Path) -> dict[str, Path]:
    """``{"train": base/train, "test": base/test or base/val}``, each holding images, or a
    one-line error naming the layout."""
    folders = {}
    for wanted in ("train", "test"):
        folder = base / wanted
        if wanted == "test" and not folder.is_dir() and (base / "val").is_dir():
            folder = base / "val"
        if not folder.is_dir() or not _image_files(folder):
            raise GenbenchError(f"dataset {name!r}: {base} has no {wanted}/ folder of images; "
                                f"the layout is PATH/train/ and PATH/test/ (or PATH/val/)")
        folders[wanted] = folder
    return folders


def _image_files(folder: Path, recursive: bool = True) -> list[Path]:
    found = []
    for file in folder.rglob("*") if recursive else folder.iterdir():
        if any(part.startswith(".") for part in file.relative_to(folder).parts):
            continue
        if file.suffix.lower() in IMAGE_EXTENSIONS and file.is_file():
            found.append(file)
    return sorted(found)


def _unreadable(name: str, path: Path, err: BaseException) -> GenbenchError:
    reason = " ".join(str(err).split())[:200] or type(err).__name__
    return GenbenchError(f"dataset {name!r}: cannot read image {path} ({reason}); fix or "
                         f"remove it")


def _scan(name: str, folder: Path) -> list[tuple[Path, str, tuple[int, int]]]:
    """(path, PIL mode, (width, height)) of every image in a folder, from the headers only."""
    from PIL import Image

    files = _image_files(folder)
    if not files:
        raise GenbenchError(f"dataset {name!r}: no images in {folder} (looked for "
                            f"{', '.join(IMAGE_EXTENSIONS)}, case-insensitive, in subfolders "
                            f"too)")
    headers = []
    for path in files:
        try:
            with Image.open(path) as image:
                mode, size = image.mode, image.size
        except Exception as err:  # PIL raises many types for foreign or broken files
            raise _unreadable(name, path, err) from None
        if mode in ("I", "F") or mode.startswith("I;"):
            depth = "float" if mode == "F" else "16/32-bit"
            raise GenbenchError(f"dataset {name!r}: image {path} has {depth} pixels (mode "
                                f"{mode}); save the images with 8-bit channels")
        headers.append((path, mode, size))
    return headers


def _channels(headers) -> int:
    return 1 if all(mode in GRAY_MODES for _, mode, _ in headers) else 3


def _same_size(name: str, headers) -> None:
    first_path, _, first = headers[0]
    for path, _, size in headers[1:]:
        if size != first:
            raise GenbenchError(
                f"dataset {name!r}: images differ in size: {first_path} is "
                f"{first[0]}x{first[1]} but {path} is {size[0]}x{size[1]}; resize them to one "
                f"size, or load them with an image size (--set image_size=N)")


def _native_size(headers, halves: bool) -> int | None:
    """The side of the dataset's images (of each half, for A|B files) when they are all one
    square size, else None."""
    sizes = {size for _, _, size in headers}
    if len(sizes) != 1:
        return None
    width, height = sizes.pop()
    return height if (width // 2 if halves else width) == height else None


def _pixels(name: str, path: Path, channels: int) -> np.ndarray:
    """One image as (C, H, W) uint8."""
    from PIL import Image

    try:
        with Image.open(path) as image:
            image.load()
            pixels = np.asarray(image.convert("L" if channels == 1 else "RGB"), dtype=np.uint8)
    except Exception as err:
        raise _unreadable(name, path, err) from None
    return pixels[None] if pixels.ndim == 2 else pixels.transpose(2, 0, 1)


def _decode_all(name: str, entry: str, folder: Path, headers, channels: int,
                image_size: int | None, halves: bool) -> torch.Tensor:
    """The images of one folder (in ``headers``' order), decoded in threads and cached: uint8
    (N, C, H, W) when they share one size (the size conversion then happens with the float
    conversion, image by image as here), else float32 in [-1, 1], each image (each half of an
    A|B image) resized to ``image_size`` on its own."""
    files = [path for path, _, _ in headers]
    sizes = {size for _, _, size in headers}
    label = f"loading {name} {folder}"
    if len(sizes) == 1:
        width, height = sizes.pop()

        def decode() -> np.ndarray:
            out = np.empty((len(files), channels, height, width), dtype=np.uint8)
            return decoded.decode_into(out, files, lambda p: _pixels(name, p, channels), label)

        params = {"channels": channels, "pixels": "uint8"}
    else:
        def read(path: Path) -> np.ndarray:
            image = to_unit(torch.from_numpy(_pixels(name, path, channels).copy())[None])
            if halves:
                half = image.shape[-1] // 2
                image = torch.cat([resize_images(image[..., :half], image_size),
                                   resize_images(image[..., half:], image_size)], dim=-1)
            else:
                image = resize_images(image, image_size)
            return image[0].numpy()

        def decode() -> np.ndarray:
            width = 2 * image_size if halves else image_size
            out = np.empty((len(files), channels, image_size, width), dtype=np.float32)
            return decoded.decode_into(out, files, read, label)

        params = {"channels": channels, "pixels": "float32 [-1, 1]", "resize": image_size,
                  "halves": halves, "resize_rule": "genbench.data.base.resize_images/1"}
    return torch.from_numpy(decoded.cached(entry, folder, files, params, decode, label))


def _float(images: torch.Tensor, image_size: int | None) -> torch.Tensor:
    return to_unit(images, image_size) if images.dtype == torch.uint8 else images


# --- common ending ------------------------------------------------------------------------

def _check_direction(direction: str) -> None:
    if direction not in DIRECTIONS:
        raise GenbenchError(f"direction must be 'AtoB' or 'BtoA', got {direction!r}")


def _finish(name: str, split: str, a: torch.Tensor, b: torch.Tensor, a_labels, b_labels,
            image_size: int | None, direction: str, domains: tuple[str, str], paired: bool,
            native: int | None, meta: dict | None = None, uint8: bool = False) -> TensorData:
    """Resize (float images; uint8 ones keep their size and record it), swap for BtoA, and
    pack. ``native``: the side of the dataset's own square images (None when they are not all
    one square size), kept as meta["native_size"]. uint8 images stay uint8 only when asked."""
    kept = None
    if a.dtype == torch.uint8 and uint8:
        kept = image_size
    else:
        a, b = _float(a, image_size), _float(b, image_size)
        a, b = resize_images(a, image_size).contiguous(), resize_images(b, image_size).contiguous()
    if direction == "BtoA":
        a, b, a_labels, b_labels = b, a, b_labels, a_labels
        domains = (domains[1], domains[0])
    info = {"native_size": native, "direction": direction,
            "domains": domains, "paired": paired, **(meta or {})}
    if direction == "BtoA" and "target_files" in info:
        info["files"], info["target_files"] = info["target_files"], info["files"]
    if direction == "BtoA" and "evaluator_readers" in info:
        info["evaluator_readers"] = tuple(reversed(info["evaluator_readers"]))
    if b_labels is not None and not paired:
        info["target_labels"] = b_labels
    return TensorData(name, split, a, a_labels, meta=info, target=b, image_size=kept)
