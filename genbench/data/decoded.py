"""Decoded images, cached on disk so that the second load of a large image set takes seconds.

Image folders (``genbench score`` folders, ``paired-folder:`` / ``unpaired-folder:``) and CelebA
are decoded once, in threads, into one array (uint8 pixels, or float32 where images of mixed
sizes are resized on their own), which is saved under ``$GENBENCH_CACHE_DIR/decoded/`` (else
``~/.cache/genbench/decoded/``) as ``NAME-PLACE-KEY.npy`` beside a ``.json`` description, and
read back with ``np.load(allow_pickle=False)``.

* The key covers the folder (its absolute path), the source files (paths relative to it in
  decoding order, sizes, modification times in nanoseconds; for CelebA also its five metadata
  lists) and the decode parameters (crop, size, channels, resize...): touching, replacing,
  adding or removing a file decodes again, and so does moving the folder. A file rewritten
  with the same size and the same time (on a file system whose clock is coarser than the
  rewrite) would go unnoticed: delete the entry.
* An entry is used only when its description, shape, dtype and CRC-32 of the pixels all match;
  anything else (a truncated or altered file, a foreign file) is decoded again and overwritten,
  never trusted. Both files are written atomically, so a reader never sees half an entry; a
  cache that cannot be written is reported on one line and costs only the next load.
* Writing a new entry removes the older ones of the same folder, parameters and file count
  (those the changed files made stale). Delete the folder at any time to reclaim the space.

Large sets (5,000 images or more) print a line per ~10% while decoding, and say on stderr when
they are saved to or read from the cache.

Threads, not processes: PIL releases the GIL while it decodes and resizes. On the 2-core
development machine threads decoded CelebA's crop + resize at 2,110-2,388 images/s against
1,709-1,856 for a process pool of as many workers, whose pickling and start-up cost more than
the GIL does (``benchmarks/celeba_decode.py --pools``; see benchmarks/README.md).
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import zlib
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from genbench.atomic import atomic_write, write_text
from genbench.errors import GenbenchError

CACHE_ENV = "GENBENCH_CACHE_DIR"
DEFAULT_CACHE = "~/.cache/genbench"
FORMAT = "genbench-decoded/1"
LARGE = 5000  # images: decodes at least this large report progress and cache use on stderr
CHUNK = 256  # images per task handed to a thread
CRC_BLOCK = 64 * 2 ** 20


def cache_dir() -> Path:
    """Where decoded arrays are kept: ``$GENBENCH_CACHE_DIR/decoded``, else the user cache."""
    return Path(os.environ.get(CACHE_ENV) or DEFAULT_CACHE).expanduser() / "decoded"


def workers() -> int:
    """Decoding threads: up to 8, within the cores this process may use and, in a sweep's
    worker, within its share of them (OMP_NUM_THREADS, which the driver sets)."""
    from genbench.parallel import usable_cores

    share = os.environ.get("OMP_NUM_THREADS", "").strip()
    limit = int(share) if share.isdigit() and int(share) > 0 else 8
    return max(1, min(8, limit, usable_cores()))


def cached(name: str, root: str | Path, files: Sequence[str | Path], params: dict,
           decode: Callable[[], np.ndarray], label: str,
           missing: Callable[[Path], GenbenchError] | None = None) -> np.ndarray:
    """The array ``decode()`` makes of ``files`` (below ``root``) with ``params``: from the
    cache when a valid entry exists, else decoded now and saved.

    ``name`` names the cache files (``celeba-train``, ``folder``...); ``label`` starts the
    lines printed to stderr for large sets; ``missing(path)`` is the error for a listed file
    that does not exist. ``files`` may also list files the result depends on without being
    decoded (CelebA's metadata): every one of them is in the key.
    """
    entry = _Entry(name, root, files, params, missing)
    found, why = _read(entry.path, entry.key)
    if found is not None:
        entry.say_hit(label, found)
        return found
    if why and entry.path.exists():
        _say(f"{label}: the cached {entry.path.name} is damaged ({why}); decoding again")
    array = decode()
    _write(entry.path, entry.key, array, {"source": entry.root, "name": name,
                                          "files": len(files), "params": params},
           label, len(files) >= LARGE)
    return array


def lookup(name: str, root: str | Path, files: Sequence[str | Path], params: dict,
           label: str) -> np.ndarray | None:
    """The valid cache entry :func:`cached` would use, or None (quietly, even if damaged: the
    caller then goes on to :func:`cached`). Lets a loader skip its slow checks of files that
    have not changed since the entry was made."""
    try:
        entry = _Entry(name, root, files, params, None)
    except (GenbenchError, OSError, ValueError):
        return None
    found, _ = _read(entry.path, entry.key)
    if found is not None:
        entry.say_hit(label, found)
    return found


class _Entry:
    """Where the entry for these files and parameters lives, and the key it must carry."""

    def __init__(self, name: str, root: str | Path, files: Sequence[str | Path], params: dict,
                 missing: Callable[[Path], GenbenchError] | None):
        self.root = os.path.realpath(root)
        sources = _sources(os.fspath(root), files, missing)
        place = _digest([FORMAT, name, self.root, params, len(files)])[:12]
        self.key = _digest([place, sources])
        self.path = cache_dir() / f"{name}-{place}-{self.key[:20]}.npy"
        self.large = len(files) >= LARGE

    def say_hit(self, label: str, found: np.ndarray) -> None:
        if self.large:
            _say(f"{label}: {len(found):,} decoded images from the cache {self.path}")


def decode_into(out: np.ndarray, files: Sequence[str | Path], read: Callable, label: str,
                start: int = 0) -> np.ndarray:
    """``out[i] = read(files[i])`` for every ``i >= start``, in threads, in chunks. Errors
    surface in file order (the first failing file's), and large sets print a line per ~10%."""
    total = len(files)
    show, every = total >= LARGE, max(total // 10, 1)
    done, reported = start, start // every
    chunk = max(1, min(CHUNK, total // 40))  # small enough for progress and balanced threads

    def fill(first: int) -> int:
        end = min(first + chunk, total)
        for i in range(first, end):
            out[i] = read(files[i])
        return end - first

    pool = ThreadPoolExecutor(max_workers=workers())
    try:
        for count in pool.map(fill, range(start, total, chunk)):
            done += count
            if show and (done // every > reported or done == total):
                reported = done // every
                _say(f"{label}: {done:,}/{total:,} images")
    finally:  # on an error, do not decode the rest first
        pool.shutdown(wait=True, cancel_futures=True)
    return out


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _digest(value) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()


def _sources(root: str, files: Sequence[str | Path], missing) -> list:
    """(path relative to root, size, mtime in ns) of every file; plain strings, as this runs
    over every image of a large set on each load."""
    prefix = os.path.join(root, "")
    rows = []
    for file in map(os.fspath, files):
        try:
            stat = os.stat(file)
        except FileNotFoundError:
            if missing is not None:
                raise missing(Path(file)) from None
            raise GenbenchError(f"{file} disappeared while it was being loaded; load "
                                f"again") from None
        relative = file[len(prefix):] if file.startswith(prefix) else os.path.relpath(file, root)
        rows.append((relative.replace(os.sep, "/"), stat.st_size, stat.st_mtime_ns))
    return rows


def _crc(array: np.ndarray) -> int:
    flat = array.reshape(-1).view(np.uint8)
    crc = 0
    for i in range(0, flat.size, CRC_BLOCK):
        crc = zlib.crc32(memoryview(flat[i:i + CRC_BLOCK]), crc)
    return crc


def _read(path: Path, key: str) -> tuple[np.ndarray | None, str]:
    """(the entry's array, "") when it is valid, else (None, why not)."""
    described = path.with_suffix(".json")
    if not described.exists():
        return None, "" if not path.exists() else "no description"
    try:
        info = json.loads(described.read_text(encoding="utf-8"))
        if not isinstance(info, dict) or info.get("format") != FORMAT or info.get("key") != key:
            return None, "its description is for other files"
        array = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as exc:  # unreadable, truncated, not an .npy
        return None, " ".join(str(exc).split())[:120] or type(exc).__name__
    if not isinstance(array, np.ndarray):  # an .npz archive
        array.close()
        return None, "it is not an .npy array"
    if list(array.shape) != info.get("shape") or str(array.dtype) != info.get("dtype"):
        return None, f"it holds {array.dtype}{list(array.shape)}"
    if _crc(array) != info.get("crc32"):
        return None, "its pixels fail their CRC-32"
    return array, ""


def _write(path: Path, key: str, array: np.ndarray, about: dict, label: str,
           large: bool) -> None:
    """Save the entry (pixels, then the description that validates them) and drop the stale
    entries of the same folder; a cache that cannot be written costs only the next load."""
    info = {"format": FORMAT, "key": key, "shape": list(array.shape), "dtype": str(array.dtype),
            "crc32": _crc(array), **about}
    try:
        atomic_write(path, lambda tmp: np.save(tmp, array, allow_pickle=False))
        write_text(path.with_suffix(".json"), json.dumps(info, indent=1) + "\n")
    except OSError as exc:
        _say(f"{label}: could not cache the decoded images in {path.parent} "
             f"({' '.join(str(exc).split())[:120]}); the next load decodes them again")
        return
    stem = path.stem.rsplit("-", 1)[0]
    for old in path.parent.glob(f"{stem}-*"):
        if old.stem != path.stem and old.suffix in (".npy", ".json"):
            old.unlink(missing_ok=True)
    if large:
        _say(f"{label}: saved the decoded images ({array.nbytes / 2 ** 20:,.0f} MiB) to {path}")
