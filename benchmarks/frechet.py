"""Fréchet distance: genbench's eigenvalue route against the two usual reference formulas.

    python benchmarks/frechet.py [--dim 2048] [--samples 10000] [--repeats 3]

All three run in this process on the same statistics (mean and covariance of 2048-d features,
the Inception pool size, from 10,000 samples per set):

* genbench: ``frechet_distance_from_stats`` (symmetric eigendecompositions, float64);
* scipy sqrtm: the pytorch-fid / TTUR formula with ``scipy.linalg.sqrtm(S1 @ S2)``;
* torch-fidelity: ``torch_fidelity.metric_fid.fid_statistics_to_metric`` (eigenvalues of the
  non-symmetric product ``S1 @ S2``).

Prints each median time, the speed-ups of genbench over the references, and the differences in
the result.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import scipy.linalg
from torch_fidelity.metric_fid import KEY_METRIC_FID, fid_statistics_to_metric

from genbench.metrics.frechet import frechet_distance_from_stats


def sqrtm_reference(mu1, s1, mu2, s2) -> float:
    covmean = scipy.linalg.sqrtm(s1 @ s2)
    return float(np.sum((mu1 - mu2) ** 2) + np.trace(s1) + np.trace(s2)
                 - 2 * np.trace(covmean).real)


def torch_fidelity_reference(mu1, s1, mu2, s2) -> float:
    stats1, stats2 = {"mu": mu1, "sigma": s1}, {"mu": mu2, "sigma": s2}
    return fid_statistics_to_metric(stats1, stats2, verbose=False)[KEY_METRIC_FID]


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
    parser.add_argument("--samples", type=int, default=10000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    a, b = stats(rng, args.samples, args.dim), stats(rng, args.samples, args.dim)
    ours, v1 = median_time(lambda: frechet_distance_from_stats(*a, *b), args.repeats)
    ref, v2 = median_time(lambda: sqrtm_reference(*a, *b), args.repeats)
    tf, v3 = median_time(lambda: torch_fidelity_reference(*a, *b), args.repeats)
    print(f"dim {args.dim}, {args.samples} samples: genbench {ours:.2f} s, "
          f"scipy sqrtm {ref:.2f} s, torch-fidelity {tf:.2f} s (median of {args.repeats})")
    print(f"genbench vs scipy sqrtm: speed-up {ref / ours:.1f}x, |difference| {abs(v1 - v2):.2e}"
          f" (FD {v1:.6f})")
    print(f"genbench vs torch-fidelity: speed-up {tf / ours:.2f}x, |difference| "
          f"{abs(v1 - v3):.2e} (relative {abs(v1 - v3) / abs(v3):.1e})")


if __name__ == "__main__":
    main()
