"""Wall time of a sweep run one entry after another against the same sweep with `--jobs N`.

    python benchmarks/sweep_jobs.py [--models gan,vae] [--datasets ring8] [--seeds 0,1]
                                    [--profile quick] [--steps N] [--jobs 2] [--device cpu]
                                    [--oversubscribed]

Both sweeps run as a user runs them (`python -m genbench sweep`, a fresh workdir each, the
evaluator cache shared and warmed first so neither pays for it), in the same command, one
after the other. The sequential sweep uses torch's default threads (every core); `--jobs N`
gives each of its N workers cores/N threads (with --device cuda: GPU i mod the GPUs).
`--oversubscribed` adds a third sweep whose N workers each take every core
(GENBENCH_WORKER_THREADS), to show what the thread share is for.

It prints the wall times, the ratio sequential / --jobs N, and whether the two sweeps stored
the same metrics (they should: each entry is seeded, and the thread count changes at most the
last digit of a float64 mean).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def sweep(workdir: Path, args, jobs: int, env: dict) -> tuple[float, dict]:
    command = [sys.executable, "-m", "genbench", "sweep", "-m", args.models, "-d",
               args.datasets, "--seeds", args.seeds, "--profile", args.profile,
               "--device", args.device, "--workdir", str(workdir), "--format", "json",
               "--jobs", str(jobs)] + (["--steps", str(args.steps)] if args.steps else [])
    started = time.perf_counter()
    proc = subprocess.run(command, capture_output=True, text=True, env=env)
    seconds = time.perf_counter() - started
    if proc.returncode != 0:
        sys.exit(f"sweep failed ({proc.returncode}): {proc.stderr.strip()[-500:]}")
    entries = json.loads(proc.stdout)["entries"]
    return seconds, {(e["model"], e["dataset"], e["seed"]): e for e in entries}


def metrics(workdir: Path) -> dict:
    from genbench.results.store import Store

    return {(r.model, r.dataset, r.seed): r.metric_map() for r in Store(workdir).runs()}


def same(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(
        a[k].keys() == b[k].keys()
        and all(math.isclose(v, b[k][n], rel_tol=1e-9) for n, v in a[k].items()) for k in a)


def largest_difference(a: dict, b: dict) -> float:
    """The largest relative difference between the metrics both sweeps stored."""
    return max((abs(v - b[k][n]) / max(abs(v), abs(b[k][n]), 1e-300)
                for k in a.keys() & b.keys() for n, v in a[k].items() if n in b[k]),
               default=math.nan)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", default="gan,vae")
    parser.add_argument("--datasets", default="ring8")
    parser.add_argument("--seeds", default="0,1")
    parser.add_argument("--profile", default="quick")
    parser.add_argument("--steps", type=int, default=None,
                        help="training steps per entry (default: the profile's)")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--oversubscribed", action="store_true")
    args = parser.parse_args()
    cores = os.cpu_count() or 1
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        env = {**os.environ, "GENBENCH_CACHE_DIR": str(root / "cache")}
        env.pop("OMP_NUM_THREADS", None)
        # Warm the evaluator/feature cache with one step of each pair, so neither sweep pays.
        warm = subprocess.run([sys.executable, "-m", "genbench", "sweep", "-m", args.models,
                               "-d", args.datasets, "--steps", "1", "--device", args.device,
                               "--workdir", str(root / "warm"), "--format", "json"],
                              capture_output=True, text=True, env=env)
        if warm.returncode not in (0, 1):
            sys.exit(f"warm-up failed: {warm.stderr.strip()[-500:]}")
        runs = [(f"sequential (1 process, {cores} threads)", 1, env, root / "seq"),
                (f"--jobs {args.jobs} ({max(1, cores // args.jobs)} threads each)", args.jobs,
                 env, root / "jobs")]
        if args.oversubscribed:
            runs.append((f"--jobs {args.jobs}, {cores} threads each (oversubscribed)",
                         args.jobs, {**env, "GENBENCH_WORKER_THREADS": str(cores)},
                         root / "over"))
        times = {}
        print(f"sweep: {args.models} x {args.datasets} x seeds {args.seeds}, profile "
              f"{args.profile}{f', {args.steps} steps' if args.steps else ''}, "
              f"{args.device}, {cores} cores")
        for label, jobs, run_env, workdir in runs:
            seconds, entries = sweep(workdir, args, jobs, run_env)
            times[label] = seconds
            statuses = sorted({e["status"] for e in entries.values()})
            per_run = sum(e["wall_time"] for e in entries.values())
            print(f"  {label:<45} {seconds:8.1f} s wall  ({len(entries)} entries "
                  f"{'/'.join(statuses)}, runs' own time {per_run:.1f} s)", flush=True)
        base = times[runs[0][0]]
        for label, *_ in runs[1:]:
            print(f"  speed-up of {label}: {base / times[label]:.2f}x")
        seq, par = metrics(root / "seq"), metrics(root / "jobs")
        print(f"  same metrics, sequential vs --jobs {args.jobs}: {same(seq, par)}"
              + ("" if same(seq, par) else
                 f" (largest relative difference {largest_difference(seq, par):.1e}"
                 + ("; GPU kernels such as cuDNN's convolution backward are not bit-"
                    "reproducible, so seeded runs on a GPU differ slightly" if
                    args.device.startswith("cuda") else "") + ")"))


if __name__ == "__main__":
    main()
