"""AnoGAN's latent search: all test images at once (what genbench runs) against one image at a
time (the paper's per-image loop).

Every image's mapping loss depends only on its own latent, and Adam's update is per coordinate,
so the batched search is the per-image search done together; the script checks that both give
the same scores and prints milliseconds per image for each and their ratio.

    python benchmarks/anogan_search.py [--n 360] [--steps 100] [--loop 24] [--profile quick]
                                       [--device cpu] [--repeats 1]

The nets are the profile's AnoGAN nets (a DCGAN) on the digits at 32x32, untrained: the cost
of a search step does not depend on the weights. ``--loop`` images go through the per-image
search (it is slow), and its time per image is compared with the batched search's over all
``--n``. Target: the batched search at least 10x faster per image than the per-image loop on
CPU at the quick profile's size.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from genbench.config import resolve_config
from genbench.model import DataInfo
from genbench.plugins import get_registries
from genbench.registry import load_object


def timed(fn, repeats: int, device: torch.device) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeats):
        if device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        out = fn()
        if device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return statistics.median(times), out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=360, help="images searched together")
    parser.add_argument("--steps", type=int, default=100, help="search steps per image")
    parser.add_argument("--loop", type=int, default=24, help="images searched one at a time")
    parser.add_argument("--profile", default="quick")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()
    device = torch.device(args.device)

    spec = get_registries().models.get("anogan")
    config = resolve_config(spec, args.profile, "images", None,
                            [f"search_steps={args.steps}", f"search_batch={args.n}"])
    torch.manual_seed(0)
    model = load_object(spec.factory)(config, DataInfo("images", (1, 32, 32), 10)).to(device)
    data = get_registries().datasets.get("digits-oneclass:0").load("test", image_size=32)
    x = data.x[:args.n].to(device)
    n = len(x)
    loop = min(args.loop, n)
    start = model.start(n).to(device)

    batched_s, batched = timed(lambda: model.latent_search(x, start)[1], args.repeats, device)

    def one_by_one() -> torch.Tensor:
        return torch.cat([model.latent_search(x[i:i + 1], start[i:i + 1])[1]
                          for i in range(loop)])

    loop_s, single = timed(one_by_one, 1, device)
    gap = ((batched[:loop] - single).abs() / single.abs().clamp_min(1e-12)).max().item()
    per_batched, per_loop = 1000 * batched_s / n, 1000 * loop_s / loop
    print(f"anogan {args.profile} nets (ngf {config.ngf}, ndf {config.ndf}, latent "
          f"{config.latent_dim}), {args.steps} search steps, {device}, "
          f"{torch.get_num_threads()} threads")
    print(f"  batched, {n} images at once: {per_batched:8.2f} ms/image   "
          f"({batched_s:.2f} s, median of {args.repeats})")
    print(f"  one image at a time ({loop}):  {per_loop:8.2f} ms/image   ({loop_s:.2f} s, once)")
    print(f"  speed-up: {per_loop / per_batched:.1f}x   largest relative score difference: "
          f"{gap:.1e}")


if __name__ == "__main__":
    main()
