"""PixelCNN sampling: the cached path genbench uses against plain ancestral sampling.

Plain ancestral sampling runs the whole network once per value (C*H*W forward passes per
batch); genbench's cached path (``GatedPixelCNN.sample``) updates only what one new value
changes. Both draw the same images from the same uniforms, which the script checks, and the
script prints seconds per 500 images for each and their ratio.

    python benchmarks/pixelcnn_sampling.py [--n 500] [--channels 1] [--size 8] [--repeats 3]

Defaults are the quick profile's network on digits (1x8x8); --channels 3 is stacked-digits.
Target: the cached path at least 5x faster than plain sampling at the quick profile's size.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from genbench_vaes.pixelcnn import GatedPixelCNN

from genbench.config import resolve_config
from genbench.plugins import get_registries


def plain_sample(net: GatedPixelCNN, n: int, size: int, uniforms: torch.Tensor) -> torch.Tensor:
    """Ancestral sampling with a full forward pass per value, inverse-CDF on the same
    uniforms as the cached path."""
    k = torch.zeros(n, net.channels, size, size, dtype=torch.long)
    for c in range(net.channels):
        for i in range(size):
            for j in range(size):
                logits = net.logits(k)[:, c, :, i, j]
                cdf = torch.softmax(logits.double(), dim=1).cumsum(dim=1)
                u = uniforms[:, c, i, j].unsqueeze(1) * cdf[:, -1:]
                k[:, c, i, j] = (cdf < u).sum(dim=1).clamp(max=net.levels - 1)
    return k


def timed(fn, repeats: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=500)
    parser.add_argument("--channels", type=int, default=1)
    parser.add_argument("--size", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    spec = get_registries().models.get("pixelcnn")
    cfg = resolve_config(spec, "quick", "images")
    torch.manual_seed(0)
    net = GatedPixelCNN(args.channels, 256, hidden=cfg.hidden, layers=cfg.layers,
                        first_kernel=cfg.first_kernel, kernel=cfg.kernel,
                        out_hidden=cfg.out_hidden, embedding=cfg.embedding).eval()
    shape = (args.n, args.channels, args.size, args.size)
    uniforms = torch.rand(shape, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    with torch.no_grad():
        cached_s, cached = timed(lambda: net.sample(args.n, (args.size, args.size),
                                                    torch.Generator().manual_seed(1)),
                                 args.repeats)
        plain_s, plain = timed(lambda: plain_sample(net, args.n, args.size, uniforms), 1)
    agree = (cached == plain).float().mean().item()
    print(f"pixelcnn quick net, {args.n} images of {args.channels}x{args.size}x{args.size}, "
          f"{torch.get_num_threads()} threads")
    print(f"  cached (genbench): {cached_s:8.2f} s   (median of {args.repeats})")
    print(f"  plain ancestral:   {plain_s:8.2f} s   (once)")
    print(f"  speed-up:          {plain_s / cached_s:8.1f}x   same values: {agree:.2%}")


if __name__ == "__main__":
    main()
