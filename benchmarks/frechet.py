"""Fréchet distance: genbench's eigenvalue route against the scipy.linalg.sqrtm formula.

    python benchmarks/frechet.py [--dim 2048] [--repeats 3]

Both run in this process on the same 2048-d statistics (the Inception pool size); prints each
median time, the ratio, and the largest difference in the result.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import scipy.linalg

from genbench.metrics.frechet import frechet_distance_from_stats


def sqrtm_reference(mu1, s1, mu2, s2) -> float:
    covmean = scipy.linalg.sqrtm(s1 @ s2)
    return float(np.sum((mu1 - mu2) ** 2) + np.trace(s1) + np.trace(s2)
                 - 2 * np.trace(covmean).real)


def stats(rng, n: int, d: int):
    x = rng.standard_normal((n, d)) @ rng.standard_normal((d, d)) / np.sqrt(d)
    return x.mean(0), np.cov(x, rowvar=False)


def median_time(fn, repeats: int) -> tuple[float, float]:
    times, value = [], 0.0
    for _ in range(repeats):
        started = time.perf_counter()
        value = fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times), value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dim", type=int, default=2048)
    parser.add_argument("--samples", type=int, default=5000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    a, b = stats(rng, args.samples, args.dim), stats(rng, args.samples, args.dim)
    ours, v1 = median_time(lambda: frechet_distance_from_stats(*a, *b), args.repeats)
    ref, v2 = median_time(lambda: sqrtm_reference(*a, *b), args.repeats)
    print(f"dim {args.dim}: genbench {ours:.2f} s, scipy sqrtm {ref:.2f} s, "
          f"speed-up {ref / ours:.1f}x, |difference| {abs(v1 - v2):.2e} (FD {v1:.6f})")


if __name__ == "__main__":
    main()
