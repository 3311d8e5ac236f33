"""The device check: is genbench right and fast on this machine's GPU? One command.

    python benchmarks/gpu_check.py                      # on a GPU: everything, about 8 minutes
    python benchmarks/gpu_check.py --device cpu --models gan,copy --steps 3 --no-tests \\
        --no-benchmarks                                 # the CPU subset CI runs

In order, each part within what is left of ``--budget`` seconds (what does not fit is listed as
skipped, never silently dropped):

1. **tests**: ``pytest -k cuda`` (the tests that need a GPU; they skip without one).
2. **models**: every registered model, one at a time, ``genbench run MODEL --dataset DATASET
   --steps 50 --device DEVICE`` in one workdir (so the digits evaluator trains once), each in
   its own process with a time limit, as a user runs it. The dataset is the first that fits
   the model: anomaly detectors ``digits-oneclass:0``, unpaired translation ``digits2ink``
   (first, for models that take both), paired ``edges2digits``, images ``digits``, points
   ``ring8`` (``--dataset MODEL=NAME`` changes one). The table: model, dataset, wall
   seconds, status, the error's first line.
3. **benchmarks**: training speed (``train_speed.py``) and FID-50k (``fid50k.py``), which have
   targets, then where a run's time goes (``run_costs.py``) and a sweep with ``--jobs 2``
   against one after another (``sweep_jobs.py``), on the device, each with a time limit.

``--no-tests``, ``--no-models`` and ``--no-benchmarks`` leave a part out, so the check can be
split over two calls when one is too short. On a lent GPU machine (no network),
``benchmarks/device_session.sh`` installs what it needs and runs this script in one call.

Everything printed is also written to ``--out`` (default ``gpu-check/``): ``report.md``, and
each part's full output; the models' workdir is ``--workdir`` (default ``OUT/work``). Exit
status 1 if a test or a model failed.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# The first dataset whose data kind the model takes (and anomaly models get an anomaly set).
DATASET_FOR_KIND = {"paired": "edges2digits", "unpaired": "digits2ink", "images": "digits",
                    "points": "ring8", "superres": "sr-digits", "inpaint": "inpaint-digits"}
ANOMALY_DATASET = "digits-oneclass:0"
ENV = {**os.environ, "PYTHONUNBUFFERED": "1", "GENBENCH_NO_COLOR": "1"}

# (script, arguments on a GPU, arguments on a CPU, time limit in seconds), the ones with targets
# first, so that a check short of time still measures them.
BENCHMARKS = [
    ("train_speed.py", [], ["--image-size", "32", "--batch", "16", "--steps", "3", "--warmup",
                            "1", "--no-compile"], 150),
    ("fid50k.py", [], ["--n", "32", "--skip-torch-fidelity"], 200),
    ("run_costs.py", ["dcgan", "digits", "cyclegan", "digits2ink"],
     ["gan", "ring8"], 150),
    # Two runs sharing the GPU (--jobs 2) against one after another.
    ("sweep_jobs.py", ["--models", "dcgan", "--datasets", "digits", "--steps", "300"],
     ["--models", "gan", "--steps", "20"], 150),
]


@dataclass
class Outcome:
    name: str
    dataset: str
    seconds: float
    status: str
    error: str = ""


def default_dataset(model: str) -> str:
    from genbench.plugins import get_registries

    spec = get_registries().models.get(model)
    if "anomaly_score" in spec.capabilities:
        return ANOMALY_DATASET
    for kind in ("unpaired", "paired", "superres", "inpaint", "images", "points"):
        if kind in spec.accepts:
            return DATASET_FOR_KIND[kind]
    raise SystemExit(f"no offline dataset fits {model} (it takes {', '.join(spec.accepts)}); "
                     f"give one with --dataset {model}=NAME")


def first_error_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    for line in lines:
        if line.startswith(("error:", "internal error:")) or "Error" in line.split(":")[0]:
            return line[:160]
    return lines[-1][:160] if lines else ""


def run_logged(cmd: list[str], log: Path, timeout: float, env: dict | None = None
               ) -> tuple[int | None, float, str]:
    """Run ``cmd`` with its output in ``log``; (exit code or None on time-out, seconds, output)."""
    started = time.perf_counter()
    try:
        done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=timeout,
                              env=env)
        code, out = done.returncode, done.stdout + done.stderr
    except subprocess.TimeoutExpired as exc:
        code = None
        out = "".join(part.decode() if isinstance(part, bytes) else (part or "")
                      for part in (exc.stdout, exc.stderr))
    seconds = time.perf_counter() - started
    log.write_text(f"$ {' '.join(cmd)}\n{out}")
    return code, seconds, out


class Report:
    def __init__(self, out: Path):
        self.out = out
        self.lines: list[str] = []

    def say(self, text: str = "") -> None:
        print(text, flush=True)
        self.lines.append(text)
        (self.out / "report.md").write_text("\n".join(self.lines) + "\n")


def check_models(args, deadline: float, report: Report) -> bool:
    """Part 2: every model (or --models) in turn; True if one failed."""
    from genbench.plugins import get_registries

    failed = False
    models = ([m for m in args.models.split(",") if m] if args.models
              else sorted(get_registries().models.names()))
    chosen = dict(item.split("=", 1) for item in args.dataset)
    workdir = args.workdir or args.out / "work"
    report.say(f"\n## every model: {args.steps} steps, sampled and scored on {args.device}, "
               f"one at a time" + (f", with {args.run_args}" if args.run_args else "") + "\n")
    report.say("| model | dataset | wall s | status | error |")
    report.say("|---|---|---:|---|---|")
    outcomes = []
    for model in models:
        dataset = chosen.get(model) or default_dataset(model)
        left = deadline - time.perf_counter()
        if left < 5:
            outcome = Outcome(model, dataset, 0.0, "skipped", "out of --budget")
        else:
            code, seconds, out = run_logged(
                [sys.executable, "-m", "genbench", "run", model, "--dataset", dataset,
                 "--steps", str(args.steps), "--device", args.device, "--workdir",
                 str(workdir), *shlex.split(args.run_args)],
                args.out / f"run-{model}.log", min(args.run_timeout, left), ENV)
            status = ("timed out" if code is None else "completed" if code == 0
                      else f"exit {code}")
            outcome = Outcome(model, dataset, seconds, status,
                              "" if code == 0 else first_error_line(out))
        outcomes.append(outcome)
        failed |= outcome.status not in ("completed", "skipped")
        report.say(f"| {outcome.name} | {outcome.dataset} | {outcome.seconds:.1f} | "
                   f"{outcome.status} | {outcome.error} |")
    done = [o for o in outcomes if o.status == "completed"]
    report.say(f"\n{len(done)} of {len(outcomes)} completed; median wall "
               f"{sorted(o.seconds for o in done)[len(done) // 2]:.1f} s" if done
               else f"\n0 of {len(outcomes)} completed")
    (args.out / "models.json").write_text(json.dumps([o.__dict__ for o in outcomes], indent=1))

    return failed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda", help="cuda (default) or cpu")
    parser.add_argument("--models", default="", help="comma-separated; default every model")
    parser.add_argument("--dataset", action="append", default=[], metavar="MODEL=NAME",
                        help="the dataset for one model (repeatable)")
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--run-timeout", type=float, default=90.0,
                        help="seconds one model's run may take")
    parser.add_argument("--budget", type=float, default=480.0,
                        help="seconds for the whole check")
    parser.add_argument("--run-args", default="", metavar="ARGS",
                        help="more options for every model's run, e.g. \"--precision bf16 "
                             "--channels-last\" (the table's title says them)")
    parser.add_argument("--no-tests", action="store_true")
    parser.add_argument("--no-models", action="store_true")
    parser.add_argument("--no-benchmarks", action="store_true")
    parser.add_argument("--out", type=Path, default=Path("gpu-check"))
    parser.add_argument("--workdir", type=Path, default=None,
                        help="the models' genbench workdir (default OUT/work); its checkpoints "
                             "take hundreds of MB, so keep it out of a folder that is shipped")
    args = parser.parse_args(argv)
    deadline = time.perf_counter() + args.budget
    args.out.mkdir(parents=True, exist_ok=True)
    report = Report(args.out)
    failed = False

    import torch

    gpu = (torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no CUDA device")
    report.say(f"# genbench device check: {args.device}, {gpu}, torch {torch.__version__}")
    if args.device == "cuda" and not torch.cuda.is_available():
        report.say("error: --device cuda, but torch sees no CUDA device (use --device cpu)")
        return 2

    if not args.no_tests:
        report.say("\n## tests needing CUDA (`pytest -k cuda`)\n")
        code, seconds, out = run_logged(
            [sys.executable, "-m", "pytest", "-q", "-k", "cuda", "-p", "no:cacheprovider"],
            args.out / "tests.log", max(10.0, deadline - time.perf_counter()))
        summary = next((line for line in reversed(out.splitlines())
                        if " passed" in line or " failed" in line or " skipped" in line), "")
        report.say(f"{summary.strip('= ') or 'no summary'} ({seconds:.0f} s)")
        failed |= code != 0

    if not args.no_models:
        failed |= check_models(args, deadline, report)

    if not args.no_benchmarks:
        report.say("\n## benchmarks\n")
        for script, on_gpu, on_cpu, limit in BENCHMARKS:
            path = ROOT / "benchmarks" / script
            if not path.exists():
                report.say(f"### {script}: not present")
                continue
            left = deadline - time.perf_counter()
            if left < 10:
                report.say(f"### {script}: skipped (out of --budget)")
                continue
            extra = on_gpu if args.device == "cuda" else on_cpu
            cmd = [sys.executable, str(path), *extra, "--device", args.device]
            code, seconds, out = run_logged(cmd, args.out / f"{path.stem}.log",
                                            min(limit, left), ENV)
            status = "timed out" if code is None else f"exit {code}"
            report.say(f"### {script} ({seconds:.0f} s, {status})\n")
            report.say("```\n" + "\n".join(out.strip().splitlines()[-25:]) + "\n```")
    report.say(f"\nreport: {args.out / 'report.md'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
