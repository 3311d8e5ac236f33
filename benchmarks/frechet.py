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

    python benchmarks/frechet.py --few 360 --dim 3072 --rounds 10

With ``--few N``, it times what a run does on a small set in a wide raw space (digits2ink:
360 test images of 3 x 32 x 32): the distance and ``--rounds`` bootstrap resamples of the
generated set, from N x D features, once through ``FrechetReference`` (the reference factored
once, nothing D x D formed) and once through covariances and ``frechet_distance_from_stats``
(the route every resample took before), and prints both times and the largest difference.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import scipy.linalg
from torch_fidelity.metric_fid import KEY_METRIC_FID, fid_statistics_to_metric

from genbench.metrics.frechet import FrechetReference, frechet_distance_from_stats, gaussian_stats


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
    parser.add_argument("--few", type=int, default=0, metavar="N",
                        help="time N samples' distance and its bootstrap instead")
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args()
    if args.few:
        return few_samples(args.few, args.dim, args.rounds)
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


def few_samples(n: int, d: int, rounds: int) -> None:
    rng = np.random.default_rng(0)
    mix = rng.standard_normal((d, d)).astype(np.float32) / np.sqrt(d)
    real = rng.standard_normal((n, d)).astype(np.float32) @ mix
    fake = rng.standard_normal((n, d)).astype(np.float32) @ mix + 0.1
    resamples = [fake] + [fake[rng.integers(0, n, n)] for _ in range(rounds)]

    started = time.perf_counter()
    reference = FrechetReference(real)
    new = [reference.distance(x) for x in resamples]
    new_time = time.perf_counter() - started
    started = time.perf_counter()
    old = [frechet_distance_from_stats(*gaussian_stats(real), *gaussian_stats(x))
           for x in resamples]
    old_time = time.perf_counter() - started
    worst = max(abs(a - b) / abs(b) for a, b in zip(new, old, strict=True))
    print(f"{n} samples of {d} dimensions, the distance and {rounds} bootstrap resamples: "
          f"FrechetReference {new_time:.2f} s, covariances {old_time:.2f} s "
          f"({old_time / new_time:.0f}x); largest relative difference {worst:.1e} "
          f"(FD {new[0]:.4f})")


if __name__ == "__main__":
    main()
