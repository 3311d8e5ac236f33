"""How long the light commands take to answer, against the bare interpreter start-up.

    python benchmarks/startup.py

Prints median wall times over repeated runs and the ratio to `python -c pass`; the target is
that `--help`, `models` and `plugins` answer in well under a second (no torch import).
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time

RUNS = 7
COMMANDS = {
    "python -c pass": [sys.executable, "-c", "pass"],
    "python -c 'import torch'": [sys.executable, "-c", "import torch"],
    **{f"genbench {' '.join(a)}": [sys.executable, "-c", "from genbench.cli import main; main()",
                                    *a] for a in (["--help"], ["models"], ["plugins"])},
}


def median_seconds(cmd: list[str]) -> float:
    times = []
    for _ in range(RUNS):
        started = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    base = median_seconds(COMMANDS["python -c pass"])
    for name, cmd in COMMANDS.items():
        t = median_seconds(cmd)
        print(f"{name:<28} {t * 1000:8.1f} ms  {t / base:6.1f}x bare python")


if __name__ == "__main__":
    main()
