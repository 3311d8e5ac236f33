"""Loading what users give ``genbench score REAL FAKE``: image folders and array files.

Images come back as float32 (N, C, H, W) in [-1, 1], like every dataset's: 8-bit pixel values
``v`` become ``v / 127.5 - 1``, which the Inception extractor's ``((x + 1) * 127.5).round()``
turns back into ``v`` exactly. A folder is decoded in threads and its uint8 pixels cached on
disk (:mod:`genbench.data.decoded`), so scoring against the same folder again skips decoding.

* A folder: every ``.png .jpg .jpeg .bmp .webp`` file below it (recursively, case-insensitive,
  hidden files and folders skipped), sorted by path. Channels as the folder datasets decide
  them (:mod:`genbench.data.translation`): one when every image is grayscale (PIL mode ``L``,
  ``LA`` or ``1``), else three, the grayscale images repeated over them and every other 8-bit
  mode (palette, RGBA, CMYK...) converted to RGB, alpha dropped. All images must share one
  size; 16-bit and float pixels are refused.
* A ``.npy`` / ``.npz`` array of images, NHWC or NCHW (told apart by which of dimension 1 or
  the last has size 1 or 3) or NHW (one channel). Values: integers in [0, 255] (uint8 or any
  integer type); floats with a negative minimum are taken as [-1, 1]; other floats must lie in
  [0, 1]. An array of floats in [-1, 1] that happens to hold no negative value is read as [0, 1]:
  save such data as uint8 to avoid the ambiguity.

:func:`load_features` reads an (N, D) array of precomputed features for ``--extractor raw``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from genbench.data import decoded
from genbench.errors import GenbenchError

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".webp")
ARRAY_EXTENSIONS = (".npy", ".npz")
GRAY_MODES = ("1", "L", "LA", "La")  # PIL modes read as one channel
IMAGE_KEYS = ("images", "x", "arr_0")
FEATURE_KEYS = ("features", "x", "arr_0")
RANGE_TOLERANCE = 1e-3  # floats this far outside [-1, 1] are clamped, further is an error

_WHAT_TO_GIVE = (f"give a folder of images ({' '.join(IMAGE_EXTENSIONS)}) or a "
                 f"{'/'.join(ARRAY_EXTENSIONS)} array")


def load_images(path: str | Path) -> torch.Tensor:
    """Images from a folder or a ``.npy``/``.npz`` file as float32 (N, C, H, W) in [-1, 1]."""
    path = _existing(path)
    if path.is_dir():
        return _load_folder(path)
    if path.suffix.lower() in ARRAY_EXTENSIONS:
        return _images_from_array(_load_array(path, IMAGE_KEYS), path)
    if path.suffix.lower() in IMAGE_EXTENSIONS:
        raise GenbenchError(f"{str(path)!r} is a single image; put the images to score in a "
                            f"folder and give the folder")
    raise GenbenchError(f"unsupported file type {path.suffix or '(none)'!r} for {str(path)!r}: "
                        f"{_WHAT_TO_GIVE}")


def load_features(path: str | Path) -> torch.Tensor:
    """An (N, D) array of features from a ``.npy``/``.npz`` file, as float32."""
    path = _existing(path)
    if path.is_dir() or path.suffix.lower() not in ARRAY_EXTENSIONS:
        kind = "a folder" if path.is_dir() else f"file type {path.suffix or '(none)'!r}"
        raise GenbenchError(f"features must be a .npy/.npz array of shape (N, D), got {kind}: "
                            f"{str(path)!r}")
    array = _load_array(path, FEATURE_KEYS)
    if array.ndim != 2:
        raise GenbenchError(f"features in {str(path)!r} have shape {array.shape}; expected a 2-D "
                            f"(N, D) array (flatten images, or score them as images)")
    if not (np.issubdtype(array.dtype, np.floating) or np.issubdtype(array.dtype, np.integer)):
        raise GenbenchError(f"features in {str(path)!r} have dtype {array.dtype}; expected "
                            f"floating-point numbers")
    _check_nonempty_finite(array, path)
    return torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32))


def _existing(path: str | Path) -> Path:
    path = Path(path).expanduser()
    if not path.exists():
        raise GenbenchError(f"{str(path)!r} does not exist; {_WHAT_TO_GIVE}")
    return path


# --- folders of images ----------------------------------------------------------------------

def _image_files(folder: Path) -> list[Path]:
    found = []
    for file in folder.rglob("*"):
        relative = file.relative_to(folder).parts
        if any(part.startswith(".") for part in relative):
            continue
        if file.suffix.lower() in IMAGE_EXTENSIONS and file.is_file():
            found.append(file)
    return sorted(found)


def _mode(file: Path) -> str:
    """The PIL mode of an image, from its header only."""
    from PIL import Image

    try:
        with Image.open(file) as image:
            mode = image.mode
    except Exception as err:  # PIL raises many types for truncated / foreign files
        raise _unreadable(file, err) from None
    if mode in ("I", "F") or mode.startswith("I;"):
        raise GenbenchError(f"{str(file)!r} has {'float' if mode == 'F' else '16/32-bit'} "
                            f"pixels (mode {mode}); save the images with 8-bit channels")
    return mode


def _read_image(file: Path, mode: str) -> np.ndarray:
    """(H, W) for mode ``L``, (H, W, 3) for ``RGB``, uint8."""
    from PIL import Image

    try:
        with Image.open(file) as image:
            image.load()
            return np.asarray(image.convert(mode), dtype=np.uint8)
    except Exception as err:
        raise _unreadable(file, err) from None


def _unreadable(file: Path, err: BaseException) -> GenbenchError:
    reason = " ".join(str(err).split())[:200] or type(err).__name__
    return GenbenchError(f"cannot read image {str(file)!r} ({reason}); fix or remove it")


def _load_folder(folder: Path) -> torch.Tensor:
    files = _image_files(folder)
    if not files:
        raise GenbenchError(f"no images found in folder {str(folder)!r} (looked for "
                            f"{', '.join(IMAGE_EXTENSIONS)}, case-insensitive, in subfolders too)")
    label = f"loading {folder}"

    def decode() -> np.ndarray:
        # As the folder datasets do: a folder of RGB photos with a few grayscale ones among
        # them (horse2zebra's zebras) is an RGB folder, and trains and scores as one.
        mode = "L" if all(_mode(file) in GRAY_MODES for file in files) else "RGB"
        first = _read_image(files[0], mode)

        def read(file: Path) -> np.ndarray:
            pixels = _read_image(file, mode)
            _same_size(files[0], first, file, pixels)
            return pixels

        out = np.empty((len(files), *first.shape), dtype=np.uint8)
        out[0] = first
        return decoded.decode_into(out, files, read, label, start=1)

    pixels = decoded.cached("folder", folder, files,
                            {"pixels": "8-bit L if every image is grayscale (1, L, LA), else RGB"},
                            decode, label)
    x = torch.from_numpy(pixels)
    x = x.unsqueeze(1) if x.dim() == 3 else x.permute(0, 3, 1, 2)
    return _uint8_to_unit(x.contiguous())


def _same_size(first_file: Path, first: np.ndarray, file: Path, pixels: np.ndarray) -> None:
    if pixels.shape[:2] != first.shape[:2]:
        raise GenbenchError(
            f"images differ in size: {str(first_file)!r} is {first.shape[1]}x{first.shape[0]} "
            f"but {str(file)!r} is {pixels.shape[1]}x{pixels.shape[0]}; resize them all to "
            f"one size first")


def _uint8_to_unit(x: torch.Tensor) -> torch.Tensor:
    return x.to(torch.float32).div_(127.5).sub_(1.0)


# --- arrays -------------------------------------------------------------------------------

def _load_array(path: Path, keys: tuple[str, ...]) -> np.ndarray:
    try:
        loaded = np.load(path, allow_pickle=False)
    except Exception as err:
        reason = " ".join(str(err).split())[:200] or type(err).__name__
        if "pickle" in reason:  # numpy's hint to load it unsafely is no advice to follow
            reason = "it holds pickled Python objects, which are never loaded"
        raise GenbenchError(f"cannot read array file {str(path)!r} ({reason}); save it with "
                            f"numpy.save / numpy.savez") from None
    if isinstance(loaded, np.ndarray):
        return loaded
    with loaded:
        names = list(loaded.files)
        if len(names) == 1:
            key = names[0]
        else:
            matches = [k for k in keys if k in names]
            if len(matches) != 1:
                raise GenbenchError(
                    f"{str(path)!r} holds arrays {names}; cannot tell which to use: save a single "
                    f"array, or name it one of {list(keys)}")
            key = matches[0]
        try:
            return loaded[key]
        except Exception as err:
            reason = " ".join(str(err).split())[:200] or type(err).__name__
            raise GenbenchError(f"cannot read array {key!r} from {str(path)!r} "
                                f"({reason})") from None


def _check_nonempty_finite(array: np.ndarray, path: Path) -> None:
    if array.shape[0] == 0 or array.size == 0:
        raise GenbenchError(f"the array in {str(path)!r} is empty (shape {array.shape})")
    if np.issubdtype(array.dtype, np.floating) and not np.isfinite(array).all():
        bad = int(array.size - np.isfinite(array).sum())
        raise GenbenchError(f"the array in {str(path)!r} holds {bad} NaN or inf value(s); "
                            f"remove or fix them")


def _to_nchw(array: np.ndarray, path: Path) -> np.ndarray:
    if array.ndim == 3:
        return array[:, None]
    if array.ndim != 4:
        hint = " (features? use --extractor raw)" if array.ndim == 2 else ""
        raise GenbenchError(f"images in {str(path)!r} have shape {array.shape}{hint}; expected "
                            f"(N, H, W), (N, H, W, C) or (N, C, H, W) with C = 1 or 3")
    first, last = array.shape[1] in (1, 3), array.shape[3] in (1, 3)
    if first and last:  # tiny images: prefer the reading in which the images are square
        first = array.shape[2] == array.shape[3]
        last = array.shape[1] == array.shape[2]
        if first == last:
            raise GenbenchError(f"cannot tell the channel dimension of images shaped "
                                f"{array.shape} in {str(path)!r}; save them as (N, H, W, C)")
    if first:
        return array
    if last:
        return array.transpose(0, 3, 1, 2)
    raise GenbenchError(f"images in {str(path)!r} have shape {array.shape}: no channel "
                        f"dimension of size 1 or 3 (expected (N, H, W, C) or (N, C, H, W))")


def _images_from_array(array: np.ndarray, path: Path) -> torch.Tensor:
    array = _to_nchw(array, path)
    _check_nonempty_finite(array, path)
    if np.issubdtype(array.dtype, np.integer):
        low, high = int(array.min()), int(array.max())
        if low < 0 or high > 255:
            raise GenbenchError(f"integer images in {str(path)!r} range over [{low}, {high}]; "
                                f"expected pixel values in [0, 255]")
        return _uint8_to_unit(torch.from_numpy(np.ascontiguousarray(array, dtype=np.uint8)))
    if not np.issubdtype(array.dtype, np.floating):
        raise GenbenchError(f"images in {str(path)!r} have dtype {array.dtype}; expected uint8 "
                            f"in [0, 255] or floats in [0, 1] or [-1, 1]")
    low, high = float(array.min()), float(array.max())
    x = torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32))
    if low < 0:
        if low < -1 - RANGE_TOLERANCE or high > 1 + RANGE_TOLERANCE:
            raise GenbenchError(f"float images in {str(path)!r} range over [{low:.4g}, "
                                f"{high:.4g}]; expected [0, 1] or [-1, 1] (save 0-255 values "
                                f"as uint8)")
        return x.clamp_(-1.0, 1.0)
    if high > 1 + RANGE_TOLERANCE:
        raise GenbenchError(f"float images in {str(path)!r} range over [{low:.4g}, {high:.4g}]; "
                            f"expected [0, 1] or [-1, 1] (save 0-255 values as uint8)")
    return x.clamp_(0.0, 1.0).mul_(2.0).sub_(1.0)
