"""CelebA loading: first decode, second start from the decode cache, peak memory, a short run.

    python benchmarks/celeba_decode.py [--n 30000] [--full] [--folder DIR] [--pools 4000]
                                       [--float] [--train-steps 20]

Builds a CelebA-format folder (``DIR/celeba/img_align_celeba/`` with N distinct 178x218 JPEGs
of about 10 KB, smooth colour fields plus noise, and the five metadata files) unless DIR
already holds one of that size: ``--folder`` keeps it for the next run (generating the full
162,770 takes a few minutes), otherwise it goes in a temporary folder that is deleted. N
images are train images; 1,000 more form the test split. ``--full`` sets N = 162,770, the size
of CelebA's train split. torchvision MD5-checks the metadata files against the official ones;
the children below accept the fake files' checksums instead (as tests/test_vision_data.py does)
and leave the rest of torchvision's loading as it is.

Each measurement runs in its own child process, so its peak RSS (``ru_maxrss`` from
``os.wait4``) is its own; the child also reports how far its RSS rose above the level the
imports left (VmHWM reset after the imports), against a child that only imports:

1. first decode: ``load_celeba("train", uint8=True)`` with an empty decode cache;
2. second start: the same call again (a cache hit);
3. with ``--float``: ``load_celeba("train")`` as float32 (the old form), from the cache;
4. with ``--train-steps S``: ``genbench run dcgan --dataset celeba --steps S`` (quick profile,
   CPU, scored by PRDC on raw pixels of 500 samples), with the cache warm.

``--pools K`` also times decoding the first K images (CelebA's crop + resize) in genbench's
thread pool against a process pool (fork) of as many workers, after a warm-up pass.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

FULL_TRAIN = 162_770
TEST = 1_000
WIDTH, HEIGHT = 178, 218
ATTRS = 40


# --- building the folder ------------------------------------------------------------------

def build(root: Path, n: int) -> Path:
    """Write a CelebA-format folder of n train and TEST test images below root."""
    from PIL import Image

    folder = root / "celeba"
    images = folder / "img_align_celeba"
    done = folder / "complete.json"
    if done.exists() and json.loads(done.read_text()) == {"train": n, "test": TEST}:
        print(f"reusing {folder} ({n:,} + {TEST:,} images)", flush=True)
        return folder
    if folder.exists():
        shutil.rmtree(folder)
    images.mkdir(parents=True)
    rng = np.random.default_rng(0)
    fields = [np.asarray(Image.fromarray(rng.integers(0, 256, (14, 12, 3), dtype=np.uint8))
                         .resize((WIDTH, HEIGHT), Image.Resampling.BICUBIC), dtype=np.int16)
              for _ in range(64)]
    total, started = n + TEST, time.perf_counter()
    names = [f"{i + 1:06d}.jpg" for i in range(total)]
    for i, name in enumerate(names):
        noise = rng.integers(-6, 7, (HEIGHT, WIDTH, 3), dtype=np.int16)
        pixels = np.clip(fields[i % 64] + noise, 0, 255).astype(np.uint8)
        Image.fromarray(pixels).save(images / name, quality=90)
        if (i + 1) % 20_000 == 0:
            print(f"  wrote {i + 1:,}/{total:,} JPEGs ({time.perf_counter() - started:.0f} s)",
                  flush=True)
    rows = {
        "list_eval_partition.txt": [f"{name} {0 if i < n else 2}" for i, name in enumerate(names)],
        "identity_CelebA.txt": [f"{name} {1 + i % 10_000}" for i, name in enumerate(names)],
        "list_bbox_celeba.txt": [str(total), "image_id x_1 y_1 width height"]
        + [f"{name}    95  71 226 313" for name in names],
        "list_landmarks_align_celeba.txt": [
            str(total), "lefteye_x lefteye_y righteye_x righteye_y nose_x nose_y leftmouth_x "
                        "leftmouth_y rightmouth_x rightmouth_y"]
        + [f"{name} 69 109 106 113 77 142 73 152 108 154" for name in names],
        "list_attr_celeba.txt": [str(total), " ".join(f"Attr_{j}" for j in range(ATTRS))]
        + [f"{name} " + " ".join("1" if (i + j) % 3 == 0 else "-1" for j in range(ATTRS))
           for i, name in enumerate(names)],
    }
    for filename, lines in rows.items():
        (folder / filename).write_text("\n".join(lines) + "\n")
    megabytes = sum(f.stat().st_size for f in images.iterdir()) / 2 ** 20
    print(f"built {folder}: {total:,} JPEGs, {megabytes:,.0f} MiB, "
          f"{time.perf_counter() - started:.0f} s", flush=True)
    done.write_text(json.dumps({"train": n, "test": TEST}))
    return folder


# --- children -------------------------------------------------------------------------------

def accept_fake_metadata(folder: Path) -> None:
    from torchvision.datasets import CelebA

    def md5(name: str, official: str) -> str:
        path = folder / name
        return hashlib.md5(path.read_bytes()).hexdigest() if path.exists() else official

    CelebA.file_list = [(file_id, md5(name, official), name)
                        for file_id, official, name in CelebA.file_list]


def child(what: str, root: Path, extra: list[str]) -> None:
    import torch  # noqa: F401  (every child imports the same modules)

    from genbench.data.vision import load_celeba

    accept_fake_metadata(root / "celeba")
    with open("/proc/self/clear_refs", "w") as clear:  # peak (VmHWM) := current RSS
        clear.write("5")
    print(json.dumps({"rss_start_mib": current_rss_mib()}), flush=True)
    started = time.perf_counter()
    if what == "baseline":
        pass
    elif what in ("uint8", "float"):
        data = load_celeba("train", root=root, uint8=what == "uint8")
        print(json.dumps({"images": len(data), "dtype": str(data.x.dtype),
                          "bytes": data.x.nbytes}))
    elif what == "train":
        from genbench.cli import main

        sys.argv = ["genbench", "run", "dcgan", "--dataset", "celeba", "--data-root", str(root),
                    "--device", "cpu", "--metrics", "prdc", "--extractor", "raw",
                    "--num-samples", "500", "--format", "json", *extra]
        try:
            main()
        except SystemExit as exc:
            if exc.code:
                raise
    print(json.dumps({"seconds": time.perf_counter() - started,
                      "rss_peak_after_imports_mib": current_rss_mib("VmHWM:")}))


def current_rss_mib(key: str = "VmRSS:") -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(key):
                return int(line.split()[1]) / 1024
    return float("nan")


def measure(what: str, root: Path, cache: Path, extra: list[str] = ()) -> dict:
    """Run one child; its output, wall time and own peak RSS (MiB)."""
    env = {**os.environ, "GENBENCH_CACHE_DIR": str(cache)}
    env.pop("GENBENCH_CELEBA_LIMIT", None)
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        started = time.perf_counter()
        proc = subprocess.Popen([sys.executable, __file__, "--child", what, "--folder",
                                 str(root), "--", *extra], stdout=out, stderr=err, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        wall = time.perf_counter() - started
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    if proc.returncode:
        sys.exit(f"{what} failed (exit {proc.returncode}):\n{stderr[-3000:]}")
    results = {"stdout": stdout, "wall": wall, "rss_mib": usage.ru_maxrss / 1024,
               "stderr": [line for line in stderr.splitlines() if line.strip()]}
    for line in stdout.splitlines():
        if line.startswith('{"'):
            results.update(json.loads(line))
    return results


# --- threads against processes ---------------------------------------------------------------

def _decode_chunk(paths: list[Path]) -> np.ndarray:
    from genbench.data.vision import _celeba_image

    return np.stack([_celeba_image(path) for path in paths])


def compare_pools(folder: Path, k: int) -> None:
    from concurrent.futures import ProcessPoolExecutor

    from genbench.data import decoded
    from genbench.data.vision import _celeba_image

    files = sorted((folder / "img_align_celeba").iterdir())[:k]
    workers = decoded.workers()
    for path in files:  # warm the page cache
        path.read_bytes()
    times = {}
    for _ in range(2):
        started = time.perf_counter()
        out = np.empty((len(files), 3, 64, 64), np.uint8)
        decoded.decode_into(out, files, _celeba_image, "pools")
        times.setdefault("threads", []).append(time.perf_counter() - started)
        started = time.perf_counter()
        chunks = [files[i:i + 64] for i in range(0, len(files), 64)]
        with ProcessPoolExecutor(workers) as pool:
            processes = np.concatenate(list(pool.map(_decode_chunk, chunks)))
        times.setdefault("processes", []).append(time.perf_counter() - started)
        assert np.array_equal(out, processes)
    for name, seconds in times.items():
        best = min(seconds)
        print(f"{name:>9} ({workers} workers): {k / best:,.0f} images/s "
              f"(best of {len(seconds)}: {best:.2f} s for {k:,})")


# --- main -------------------------------------------------------------------------------------

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=30_000, help="train images to build")
    parser.add_argument("--full", action="store_true", help=f"N = {FULL_TRAIN:,}")
    parser.add_argument("--folder", type=Path, help="build (or reuse) the data here")
    parser.add_argument("--pools", type=int, default=0, help="compare thread/process pools")
    parser.add_argument("--float", action="store_true", help="also load as float32")
    parser.add_argument("--train-steps", type=int, default=0, help="also run dcgan")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("extra", nargs="*", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args.child, args.folder, args.extra)
    n = FULL_TRAIN if args.full else args.n
    temporary = None if args.folder else tempfile.mkdtemp(prefix="celeba-bench-")
    root = args.folder or Path(temporary)
    try:
        root.mkdir(parents=True, exist_ok=True)
        folder = build(root, n)
        if args.pools:
            compare_pools(folder, min(args.pools, n))
        cache = Path(tempfile.mkdtemp(prefix="celeba-cache-", dir=root))
        try:
            run_measurements(root, cache, n, args)
        finally:
            shutil.rmtree(cache, ignore_errors=True)
    finally:
        if temporary:
            shutil.rmtree(temporary, ignore_errors=True)


def growth(result: dict) -> float:
    """How far the RSS rose above its level after the imports (the imports' own transient
    peak, which can exceed that level, is left out: the child resets VmHWM after them)."""
    return result["rss_peak_after_imports_mib"] - result["rss_start_mib"]


def run_measurements(root: Path, cache: Path, n: int, args) -> None:
    print(f"{os.cpu_count()} cores; N = {n:,} train images of {WIDTH}x{HEIGHT}, "
          f"decoded to 3x64x64", flush=True)
    base = measure("baseline", root, cache)
    print(f"baseline child (imports only): peak RSS {base['rss_mib']:,.0f} MiB, "
          f"{base['rss_start_mib']:,.0f} MiB after the imports", flush=True)
    uint8_mib = n * 3 * 64 * 64 / 2 ** 20
    rows = [("first decode (empty cache)", measure("uint8", root, cache)),
            ("second start (cache hit)", measure("uint8", root, cache))]
    for label, result in rows:
        print(f"{label:<28} {result['seconds']:7.1f} s load, {result['wall']:6.1f} s process, "
              f"peak RSS {result['rss_mib']:,.0f} MiB, of which the load "
              f"+{growth(result):,.0f} MiB", flush=True)
        for line in result["stderr"]:
            if "cache" in line:
                print(f"    {line}")
    entry = sum(f.stat().st_size for f in (cache / "decoded").glob("*.npy")) / 2 ** 20
    print(f"uint8 array {uint8_mib:,.0f} MiB (cache file {entry:,.0f} MiB); the same as "
          f"float32: {4 * uint8_mib:,.0f} MiB", flush=True)
    if args.float:
        result = measure("float", root, cache)
        print(f"{'float32 load (cache hit)':<28} {result['seconds']:7.1f} s load, "
              f"{result['wall']:6.1f} s process, peak RSS {result['rss_mib']:,.0f} MiB, of which "
              f"the load +{growth(result):,.0f} MiB", flush=True)
    if args.train_steps:
        workdir = Path(tempfile.mkdtemp(prefix="work-", dir=root))
        result = measure("train", root, cache, ["--steps", str(args.train_steps),
                                                "--workdir", str(workdir)])
        status = "completed" if '"status": "completed"' in result["stdout"] else "NOT completed"
        print(f"genbench run dcgan --dataset celeba --steps {args.train_steps}: "
              f"{result['wall']:.0f} s, peak RSS {result['rss_mib']:,.0f} MiB "
              f"({result['rss_mib'] / 1024:.2f} GiB; +{growth(result):,.0f} MiB after the "
              f"imports), {status}", flush=True)
        for line in result["stderr"]:
            if "cache" in line:
                print(f"    {line}")


if __name__ == "__main__":
    main()
