"""Where the time of a short run goes: start-up, data, evaluator, training, metrics, bootstrap
intervals, pictures, store and leaderboard.

    python benchmarks/run_costs.py [MODEL DATASET ...] [--steps 40] [--device cpu]

Each MODEL DATASET pair runs twice in a fresh workdir, as `genbench run` does: the first run
pays for building the reference's feature space (the digits evaluator trains, its features are
cached), the second finds them in the workdir, as every later run of a sweep does. Each phase
is timed by wrapping the function that does it (no profiler overhead); what is left is the
difference to the wall time. Start-up (the interpreter, `import genbench.cli`, and `import
torch`) is measured in separate processes, as a user's `genbench run` pays it.

Default pairs: dcgan on digits, ae on digits, cyclegan on digits2ink, pix2pix on
edges2digits, gan on ring8.
"""

from __future__ import annotations

import argparse
import functools
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict

DEFAULT_PAIRS = [("dcgan", "digits"), ("ae", "digits"), ("cyclegan", "digits2ink"),
                 ("pix2pix", "edges2digits"), ("gan", "ring8")]

# (label, module, attribute): each is timed where it is called from, so inner phases are
# subtracted from the outer ones below.
PHASES = [
    ("environment", "genbench.api", "_environment"),
    ("data", "genbench.registry.DatasetSpec", "load"),
    ("feature space", "genbench.api", "prepare_scoring"),
    ("model build", "genbench.api", "build_model"),
    ("training", "genbench.training", "train"),
    ("loss plot", "genbench.plots", "loss_curves"),
    ("scoring", "genbench.api", "_score"),
    ("bootstrap", "genbench.evaluation", "bootstrap_se"),
    ("reference features", "genbench.evaluation", "split_features"),
    ("scoring+pictures", "genbench.api", "_score_and_draw"),
    ("store", "genbench.api", "save_record"),
    ("leaderboard", "genbench.api", "render"),
]


def _resolve(path: str):
    import importlib

    parts = path.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError:
            continue
        for name in parts[cut:]:
            obj = getattr(obj, name)
        return obj
    raise ImportError(path)


def instrument(times: dict[str, float]) -> None:
    """Wrap every phase's function so its inclusive wall time adds up in ``times``."""
    for label, owner, attr in PHASES:
        target = _resolve(owner)
        original = getattr(target, attr)

        def timed(*args, _original=original, _label=label, **kwargs):
            started = time.perf_counter()
            try:
                return _original(*args, **kwargs)
            finally:
                times[_label] += time.perf_counter() - started

        setattr(target, attr, functools.wraps(original)(timed))


def exclusive(times: dict[str, float], wall: float) -> dict[str, float]:
    """Inclusive phase times made exclusive: pictures = scoring+pictures - scoring; scoring
    without its bootstrap and reference features; the rest of the wall time as 'other'."""
    out = dict(times)
    out["pictures"] = out.pop("scoring+pictures") - out["scoring"]
    out["scoring"] -= out["bootstrap"] + out["reference features"]
    out["other"] = wall - sum(out.values())
    return out


def startup_seconds(repeats: int = 3) -> dict[str, float]:
    def median(code: str) -> float:
        times = []
        for _ in range(repeats):
            started = time.perf_counter()
            subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)
            times.append(time.perf_counter() - started)
        return statistics.median(times)

    return {"python": median("pass"), "import genbench.cli": median("import genbench.cli"),
            "import torch, torchvision": median("import torch, torchvision")}


def profile_pair(model: str, dataset: str, steps: int, device: str) -> list[dict[str, float]]:
    from genbench import api

    rows = []
    with tempfile.TemporaryDirectory() as workdir:
        for attempt in ("first run", "second run"):
            times: dict[str, float] = defaultdict(float)
            PROFILE_TIMES.clear()
            started = time.perf_counter()
            api.run(model, dataset, steps=steps, device=device, workdir=workdir,
                    seed=len(rows))
            wall = time.perf_counter() - started
            times.update(PROFILE_TIMES)
            rows.append({"run": f"{model} {dataset} ({attempt})", "wall": wall,
                         **exclusive(times, wall)})
    return rows


PROFILE_TIMES: dict[str, float] = defaultdict(float)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("pairs", nargs="*", metavar="MODEL DATASET")
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args(argv)
    if len(args.pairs) % 2:
        parser.error("give models and datasets in pairs: MODEL DATASET [MODEL DATASET ...]")
    pairs = list(zip(args.pairs[::2], args.pairs[1::2], strict=True)) or DEFAULT_PAIRS

    start = startup_seconds()
    print("start-up, median of 3 processes: "
          + ", ".join(f"{k} {v:.2f} s" for k, v in start.items()))
    instrument(PROFILE_TIMES)
    rows = []
    for model, dataset in pairs:
        rows += profile_pair(model, dataset, args.steps, args.device)
    columns = ["wall"] + [label for label, *_ in PHASES if label != "scoring+pictures"] \
        + ["pictures", "other"]
    print(f"\nseconds per phase, {args.steps} steps on {args.device} (one process; start-up "
          f"not included):\n")
    print("| run | " + " | ".join(columns) + " |")
    print("|---|" + "---:|" * len(columns))
    for row in rows:
        print(f"| {row['run']} | " + " | ".join(f"{row[c]:.2f}" for c in columns) + " |")


if __name__ == "__main__":
    main()
