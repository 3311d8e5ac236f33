"""Precision / recall / density / coverage: genbench's one-pass prdc() against the references.

    python benchmarks/prdc.py [--n 10000] [--dim 2048] [--k 5] [--repeats 3]

On the same random float32 features (N real and N fake samples of dimension D) it times

* genbench: ``genbench.metrics.prdc.prdc`` (float32, the three distance matrices each computed
  once in row chunks, within-set matrices as upper halves);
* prdc package: ``prdc.compute_prdc`` of Naeem et al. (full matrices via scikit-learn);
* torch-fidelity: ``torch_fidelity.metric_prc.prc_features_to_metric`` with the same k
  (precision and recall only; full matrices via ``torch.cdist``);
* floor: the three N x N x D float32 matrix products (``torch.mm``) that any exact method based
  on the three distance matrices has to do (genbench needs only about two of them thanks to
  symmetry).

genbench and the floor are run ``--repeats`` times (median); the two references once. Prints the
times, the ratios and the largest absolute difference of the four values against the package.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import statistics
import sys
import time
from pathlib import Path

import torch

# This script is itself called prdc.py: keep its folder off the path so that ``import prdc``
# below finds the installed package.
sys.path = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

from genbench.metrics.prdc import prdc  # noqa: E402


def timed(fn):
    started = time.perf_counter()
    value = fn()
    return time.perf_counter() - started, value


def median_time(fn, repeats: int):
    runs = [timed(fn) for _ in range(repeats)]
    return statistics.median(t for t, _ in runs), runs[-1][1]


def floor(real: torch.Tensor, fake: torch.Tensor) -> None:
    torch.mm(real, real.T)
    torch.mm(fake, fake.T)
    torch.mm(real, fake.T)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=10000)
    parser.add_argument("--dim", type=int, default=2048)
    parser.add_argument("--k", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--skip-references", action="store_true",
                        help="time only genbench and the floor")
    args = parser.parse_args()

    generator = torch.Generator().manual_seed(0)
    real = torch.randn(args.n, args.dim, generator=generator)
    # Same distribution, slightly contracted: no value is trivially 0 or 1.
    fake = torch.randn(args.n, args.dim, generator=generator) * 0.99
    print(f"N = M = {args.n}, D = {args.dim}, k = {args.k}, float32, "
          f"{torch.get_num_threads()} torch threads")

    t_floor, _ = median_time(lambda: floor(real, fake), args.repeats)
    t_ours, ours = median_time(lambda: prdc(real, fake, k=args.k), args.repeats)
    print(f"genbench prdc(): {t_ours:.2f} s; floor (3 matmuls): {t_floor:.2f} s; "
          f"genbench/floor {t_ours / t_floor:.2f}  (target <= 1.5)")
    print("genbench values: " + ", ".join(f"{key} {value:.5f}" for key, value in ours.items()))
    if args.skip_references:
        return

    import prdc as prdc_package
    from torch_fidelity.metric_prc import prc_features_to_metric

    with contextlib.redirect_stdout(io.StringIO()):  # compute_prdc prints the sample counts
        t_pkg, pkg = timed(
            lambda: prdc_package.compute_prdc(real.numpy(), fake.numpy(), nearest_k=args.k)
        )
    diff = max(abs(ours[key] - float(pkg[key])) for key in ours)
    print(f"prdc.compute_prdc: {t_pkg:.2f} s; prdc/genbench {t_pkg / t_ours:.2f}x "
          f"(target >= 2.5); max |difference| of the 4 values {diff:.2e}")

    # torch-fidelity's convention: the first argument is the generated set.
    t_tf, tf = timed(lambda: prc_features_to_metric(
        fake, real, prc_neighborhood=args.k, prc_batch_size=10000, save_cpu_ram=False,
        verbose=False,
    ))
    diff_tf = max(abs(ours[key] - tf[key]) for key in ("precision", "recall"))
    print(f"torch-fidelity prc: {t_tf:.2f} s (precision & recall only); "
          f"torch-fidelity/genbench {t_tf / t_ours:.2f}x; max |difference| of P & R {diff_tf:.2e}")


if __name__ == "__main__":
    main()
