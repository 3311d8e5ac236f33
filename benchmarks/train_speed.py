"""Training throughput: genbench's dcgan against a plain PyTorch DCGAN loop, same process, same
device, data already on the device.

The plain loop is the pytorch/examples DCGAN (``dcgan/main.py``): the same network sizes
(nz=100, ngf=ndf=64, BatchNorm, a sigmoid D with BCELoss), Adam 2e-4 with betas (0.5, 0.999),
one D and one G update per batch, and the five ``.item()`` reads per step that its log line
makes. genbench runs its own dcgan (BCE on logits, the same nets) through its training loop
(``genbench.training.train``: the losses read every ``log_every`` steps, fused Adam on CUDA),
with its defaults and with each speed option (``--precision bf16``, ``--channels-last``,
``--compile``), then with all of them. Checkpoint writing is left out of the timings.

    python benchmarks/train_speed.py --device cuda                 # 64x64x3, batch 128
    python benchmarks/train_speed.py --device cpu --image-size 32 --batch 32 --steps 10

Each row is images per second over ``--steps`` timed steps after ``--warmup`` steps (compiling
happens there), the best of ``--repeats``; the last column is the ratio to the plain fp32 loop.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import sys
import tempfile
import time
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from genbench import api, speed, training  # noqa: E402
from genbench.config import resolve_config  # noqa: E402
from genbench.model import DataInfo  # noqa: E402
from genbench.plugins import get_registries  # noqa: E402
from genbench.speed import SpeedOptions  # noqa: E402

NZ, NGF, NDF = 100, 64, 64


# --- the plain loop: pytorch/examples dcgan/main.py ---------------------------------------------

def weights_init(m: nn.Module) -> None:
    name = type(m).__name__
    if "Conv" in name:
        nn.init.normal_(m.weight, 0.0, 0.02)
    elif "BatchNorm" in name:
        nn.init.normal_(m.weight, 1.0, 0.02)
        nn.init.zeros_(m.bias)


def plain_nets(channels: int, size: int) -> tuple[nn.Module, nn.Module]:
    levels = size.bit_length() - 3  # 4 for 64x64, 3 for 32x32
    width = NGF * 2 ** (levels - 1)
    g = [nn.ConvTranspose2d(NZ, width, 4, 1, 0, bias=False), nn.BatchNorm2d(width), nn.ReLU(True)]
    for _ in range(levels - 1):
        g += [nn.ConvTranspose2d(width, width // 2, 4, 2, 1, bias=False),
              nn.BatchNorm2d(width // 2), nn.ReLU(True)]
        width //= 2
    g += [nn.ConvTranspose2d(width, channels, 4, 2, 1, bias=False), nn.Tanh()]
    d = [nn.Conv2d(channels, NDF, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, inplace=True)]
    width = NDF
    for _ in range(levels - 1):
        d += [nn.Conv2d(width, width * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(width * 2),
              nn.LeakyReLU(0.2, inplace=True)]
        width *= 2
    d += [nn.Conv2d(width, 1, 4, 1, 0, bias=False), nn.Sigmoid()]
    return nn.Sequential(*g), nn.Sequential(*d)


def plain_loop(data: torch.Tensor, batch: int, warmup: int, steps: int) -> float:
    """Seconds for ``steps`` steps of the examples' loop, after ``warmup`` steps."""
    device = data.device
    torch.manual_seed(0)
    net_g, net_d = plain_nets(data.shape[1], data.shape[-1])
    net_g.to(device).apply(weights_init)
    net_d.to(device).apply(weights_init)
    criterion = nn.BCELoss()
    opt_d = torch.optim.Adam(net_d.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_g = torch.optim.Adam(net_g.parameters(), lr=2e-4, betas=(0.5, 0.999))
    per_epoch = data.shape[0] // batch
    perm = torch.randperm(data.shape[0], device=device)
    logged = []

    def step(i: int) -> None:
        real = data[perm[(i % per_epoch) * batch:(i % per_epoch + 1) * batch]]
        net_d.zero_grad()
        label = torch.full((batch,), 1.0, device=device)
        output = net_d(real).view(-1)
        err_d_real = criterion(output, label)
        err_d_real.backward()
        d_x = output.mean().item()
        noise = torch.randn(batch, NZ, 1, 1, device=device)
        fake = net_g(noise)
        label.fill_(0.0)
        output = net_d(fake.detach()).view(-1)
        err_d_fake = criterion(output, label)
        err_d_fake.backward()
        d_g_z1 = output.mean().item()
        err_d = err_d_real + err_d_fake
        opt_d.step()
        net_g.zero_grad()
        label.fill_(1.0)
        output = net_d(fake).view(-1)
        err_g = criterion(output, label)
        err_g.backward()
        d_g_z2 = output.mean().item()
        opt_g.step()
        logged.append((err_d.item(), err_g.item(), d_x, d_g_z1, d_g_z2))  # its print line

    for i in range(warmup):
        step(i)
    sync(device)
    start = time.perf_counter()
    for i in range(warmup, warmup + steps):
        step(i)
    sync(device)
    return time.perf_counter() - start


# --- genbench ---------------------------------------------------------------------------------

def genbench_loop(data: torch.Tensor, batch: int, warmup: int, steps: int,
                  options: SpeedOptions) -> float:
    device = data.device
    spec = get_registries().models.get("dcgan")
    size = data.shape[-1]
    config = resolve_config(spec, "quick", "images", warmup, (
        f"image_size={size}", f"ngf={NGF}", f"ndf={NDF}", f"latent_dim={NZ}",
        f"batch_size={batch}", "checkpoint_every=1000000"))
    torch.manual_seed(0)
    net = api.build_model(spec, config, DataInfo("images", tuple(data.shape[1:])), device)
    compiled = speed.prepare(net, options)
    batches = training.InMemoryBatches(data, None, batch, 0, device,
                                       channels_last=options.channels_last)
    with tempfile.TemporaryDirectory() as tmp:
        def run(n: int) -> None:
            outcome = training.train(net, batches, dataclasses.replace(config, steps=n),
                                     checkpoint=Path(tmp) / "checkpoint.pt", meta={},
                                     log_every=options.log_interval(device),
                                     precision=options.precision, compiled=bool(compiled))
            if outcome.status != "completed":
                raise SystemExit(f"genbench {options}: {outcome.status} {outcome.message}")

        run(warmup)
        sync(device)
        start = time.perf_counter()
        run(steps)  # ends with a read of the losses: everything queued has run
        sync(device)
        return time.perf_counter() - start


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--image-size", type=int, default=64, choices=(32, 64))
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--steps", type=int, default=200, help="timed steps per variant")
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--compile-mode", default="default", choices=speed.COMPILE_MODES)
    parser.add_argument("--no-compile", action="store_true",
                        help="skip the compiled variants (compiling takes minutes on a CPU)")
    args = parser.parse_args()
    logging.getLogger("torch.utils.cpp_extension").setLevel(logging.ERROR)  # "no CUDA runtime"
    device = torch.device(args.device)
    training.atomic_torch_save = lambda obj, path: None  # checkpoints are not timed
    torch.manual_seed(0)
    n = args.batch * 16
    data = (torch.rand(n, 3, args.image_size, args.image_size) * 2 - 1).to(device)
    mode = args.compile_mode
    variants: list[tuple[str, SpeedOptions | None]] = [
        ("plain PyTorch loop, fp32", None),
        ("genbench defaults", SpeedOptions()),
        ("genbench --precision bf16", SpeedOptions(precision="bf16")),
        ("genbench --channels-last", SpeedOptions(channels_last=True)),
        (f"genbench --compile-mode {mode}", SpeedOptions(compile=mode)),
        ("genbench, all three", SpeedOptions("bf16", True, mode)),
    ]
    if args.no_compile:
        variants = [(name, o) for name, o in variants if not (o and o.compile)]
    threads = torch.get_num_threads()
    print(f"DCGAN {args.image_size}x{args.image_size}x3, batch {args.batch}, {args.steps} steps "
          f"after {args.warmup}, best of {args.repeats}, on {describe(device)}, torch "
          f"{torch.__version__}, {threads} thread{'s' * (threads > 1)}", flush=True)
    rates = {}
    for name, options in variants:
        best = min((plain_loop(data, args.batch, args.warmup, args.steps) if options is None
                    else genbench_loop(data, args.batch, args.warmup, args.steps, options))
                   for _ in range(args.repeats))
        rates[name] = args.batch * args.steps / best
        plain = rates[variants[0][0]]
        print(f"  {name:<40} {rates[name]:>9,.0f} img/s  {rates[name] / plain:5.2f}x", flush=True)


def describe(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"CPU ({os.cpu_count()} cores)"


if __name__ == "__main__":
    main()
