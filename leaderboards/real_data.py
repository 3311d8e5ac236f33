"""Lay out the real datasets of ../shared/data the way genbench reads them, for the real-data
leaderboards (facades, horse2zebra, mnist). Run from the repository root:

    python leaderboards/real_data.py            # writes real-data/ (git-ignored)

* ``real-data/facades/``: pix2pix's aligned layout. The 500 facades of ../shared/data/facades
  have no split; ``train/`` holds image_001 ... image_400 and ``test/`` image_401 ... image_500
  (symbolic links, the files untouched). A is the photo (left), B the label map (right).
* ``real-data/mnist/MNIST/raw/``: torchvision's layout. ../shared/data/mnist holds only the
  10,000 MNIST *test* images, so genbench's ``train`` split here is the first 8,000 of them
  (t10k indices 0-7,999) and its ``test`` split the last 2,000 (indices 8,000-9,999), written as
  gzipped IDX files with their labels.
* horse2zebra needs nothing: ../shared/data/horse2zebra is already CycleGAN's layout
  (``unpaired-folder:../shared/data/horse2zebra``).
"""

from __future__ import annotations

import argparse
import gzip
import struct
import sys
from pathlib import Path

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
FACADES_TRAIN = 400
MNIST_TRAIN = 8000


def _read_idx(path: Path) -> tuple[tuple[int, ...], bytes]:
    raw = gzip.decompress(path.read_bytes())
    ndim = raw[3]
    dims = struct.unpack(f">{ndim}I", raw[4:4 + 4 * ndim])
    return dims, raw[4 + 4 * ndim:]


def _write_idx(path: Path, magic: int, dims: tuple[int, ...], data: bytes) -> None:
    header = struct.pack(">I", magic) + struct.pack(f">{len(dims)}I", *dims)
    tmp = path.with_suffix(".tmp")
    with gzip.open(tmp, "wb") as f:
        f.write(header + data)
    tmp.replace(path)


def facades(out: Path) -> None:
    files = sorted((SHARED / "facades").glob("image_*.jpg"))
    if len(files) != 500:
        sys.exit(f"expected 500 facades in {SHARED / 'facades'}, found {len(files)}")
    for split, part in (("train", files[:FACADES_TRAIN]), ("test", files[FACADES_TRAIN:])):
        folder = out / "facades" / split
        folder.mkdir(parents=True, exist_ok=True)
        for file in part:
            link = folder / file.name
            if not link.exists():
                link.symlink_to(file)


def mnist(out: Path) -> None:
    (shape, images), (_, labels) = (_read_idx(SHARED / "mnist" / f"t10k-{kind}-idx{n}-ubyte.gz")
                                    for kind, n in (("images", 3), ("labels", 1)))
    n, height, width = shape
    size = height * width
    raw = out / "mnist" / "MNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    for prefix, lo, hi in (("train", 0, MNIST_TRAIN), ("t10k", MNIST_TRAIN, n)):
        _write_idx(raw / f"{prefix}-images-idx3-ubyte.gz", 2051, (hi - lo, height, width),
                   images[lo * size:hi * size])
        _write_idx(raw / f"{prefix}-labels-idx1-ubyte.gz", 2049, (hi - lo,), labels[lo:hi])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="real-data", help="where to write (default real-data)")
    args = parser.parse_args()
    if not SHARED.is_dir():
        sys.exit(f"{SHARED} not found: these boards need ../shared/data beside the checkout")
    out = Path(args.out)
    facades(out)
    mnist(out)
    print(f"wrote {out}/facades (train 400, test 100) and {out}/mnist (train 8,000, test 2,000)")


if __name__ == "__main__":
    main()
