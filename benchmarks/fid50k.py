"""FID-50k end to end: genbench's path against torch-fidelity's ``calculate_metrics``.

    python benchmarks/fid50k.py [--n 50000] [--device auto] [--batch N] [--precision fp32|bf16]
                                [--real DIR --fake DIR] [--skip-torch-fidelity]

N reference and N generated 32x32 images are made by two small DCGAN-like generators with
random weights (or read from two image folders), then scored both ways on the same images:

* genbench: :class:`genbench.features.inception.InceptionExtractor` (uint8 batches through
  pinned memory, features gathered on the device; ``--batch`` and ``--precision`` are its
  options), then ``FrechetReference`` (the reference's factor, in float64 on the device) from
  :mod:`genbench.metrics.frechet`. The reference goes in as uint8, as 8-bit datasets hold it;
  the generated images as float32 in [-1, 1], as models' samples come.
* torch-fidelity: ``torch_fidelity.calculate_metrics(input1=..., input2=..., fid=True)`` on
  datasets of the same uint8 images, with its defaults (batch 64, its data loader) except
  ``cache=False`` and the weights file.

Both load the same weights file, written to a temporary folder: torch-fidelity's Inception
network at its random initialisation, its batch-norm statistics set by one pass over random
images (so features are of order one, as a trained network's are, rather than 1e-7). Random
weights cost what the real ones do. Nothing is downloaded.

Prints seconds per stage, the speed-up of genbench over torch-fidelity (building the network,
features, statistics and distance; generation is shared and counted apart) and the two FIDs.
Targets on one H100/H200: genbench end to end (generation included) within 10 s at N = 50,000,
and at least 3x faster than torch-fidelity.
"""

from __future__ import annotations

import argparse
import io
import tempfile
import time
import warnings
from pathlib import Path

import torch
from torch import nn
from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3

from genbench.features.inception import PRECISIONS, InceptionExtractor, to_pixels
from genbench.metrics.frechet import FrechetReference

Z = 128


class _Unloaded(FeatureExtractorInceptionV3):
    """torch-fidelity's network, left at its random initialisation."""

    def load_state_dict(self, state_dict, *args, **kwargs):
        return None


@torch.no_grad()
def _set_batch_norm_statistics(net: nn.Module, inputs: torch.Tensor) -> None:
    """Batch-norm statistics from one pass over ``inputs``: each layer's outputs then have
    unit scale, as in a trained network, instead of shrinking layer after layer."""
    for module in net.modules():
        if isinstance(module, nn.BatchNorm2d):
            module.reset_running_stats()
            module.momentum = None  # a plain average over the pass
    net.train()
    net(inputs)
    net.eval()


def random_inception_weights(folder: Path) -> Path:
    """A weights file for the real architecture: random convolutions, batch-norm statistics
    from one pass over 8 random images."""
    empty = io.BytesIO()
    torch.save({}, empty)
    empty.seek(0)
    torch.manual_seed(0)
    net = _Unloaded("random-inception", ["2048"], feature_extractor_weights_path=empty)
    _set_batch_norm_statistics(net, torch.randint(0, 256, (8, 3, 32, 32), dtype=torch.uint8))
    path = folder / "random-inception.pth"
    torch.save(net.state_dict(), path)
    return path


def generator(seed: int) -> nn.Module:
    """DCGAN's generator at 32x32 (Radford et al. 2016), with random weights."""
    torch.manual_seed(seed)

    def up(cin: int, cout: int) -> list[nn.Module]:
        return [nn.ConvTranspose2d(cin, cout, 4, 2, 1, bias=False), nn.BatchNorm2d(cout),
                nn.ReLU(True)]

    net = nn.Sequential(nn.ConvTranspose2d(Z, 256, 4, 1, 0, bias=False), nn.BatchNorm2d(256),
                        nn.ReLU(True), *up(256, 128), *up(128, 64),
                        nn.ConvTranspose2d(64, 3, 4, 2, 1), nn.Tanh())
    _set_batch_norm_statistics(net, torch.randn(64, Z, 1, 1))
    return net


@torch.no_grad()
def generate(seed: int, n: int, device: torch.device, batch: int = 5000) -> torch.Tensor:
    """n images as float32 in [-1, 1] on the CPU, generated on ``device``."""
    net = generator(seed).to(device)
    gen = torch.Generator(device).manual_seed(seed)
    out = [net(torch.randn(min(batch, n - i), Z, 1, 1, device=device, generator=gen))
           for i in range(0, n, batch)]
    return torch.cat(out).cpu()


class ImageDataset(torch.utils.data.Dataset):
    """uint8 (N, 3, H, W) images, one (3, H, W) image per item, as torch-fidelity takes them."""

    def __init__(self, images: torch.Tensor):
        self.images = images

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> torch.Tensor:
        return self.images[i]


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(what: str, fn, device: torch.device, note=None):
    sync(device)
    started = time.perf_counter()
    value = fn()
    sync(device)
    seconds = time.perf_counter() - started
    extra = note(value, seconds) if note else ""
    print(f"{what:<34} {seconds:8.2f} s{extra}", flush=True)
    return value, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=50_000, help="images per side")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:1...")
    parser.add_argument("--batch", type=int, default=None,
                        help="genbench's batch (default: its own, 64 on a CPU, up to 500 on a "
                             "GPU)")
    parser.add_argument("--precision", choices=list(PRECISIONS), default="fp32")
    parser.add_argument("--real", type=Path, help="a folder of reference images instead")
    parser.add_argument("--fake", type=Path, help="a folder of generated images instead")
    parser.add_argument("--skip-torch-fidelity", action="store_true")
    args = parser.parse_args()
    if args.device == "auto":
        args.device = "cuda" if torch.cuda.is_available() else "cpu"
    device = torch.device(args.device)

    with tempfile.TemporaryDirectory() as tmp:
        weights = random_inception_weights(Path(tmp))
        ext = InceptionExtractor(weights, device, args.precision, args.batch)
        if args.real or args.fake:
            from genbench.data.files import load_images

            if not (args.real and args.fake):
                parser.error("--real and --fake go together")
            real, fake = load_images(args.real)[:args.n], load_images(args.fake)[:args.n]
            print(f"read {len(real)} + {len(fake)} images of {tuple(real.shape[1:])}")
            generating = 0.0
        else:
            (real, fake), generating = timed(
                "generate (DCGAN-like, random)", lambda: (generate(1, args.n, device),
                                                          generate(2, args.n, device)), device)
        real = to_pixels(real)  # the reference as uint8, as datasets hold it
        threads = torch.get_num_threads()
        print(f"n = {len(real)} + {len(fake)} images of {tuple(real.shape[1:])}, device "
              f"{device}, genbench batch {ext.batch_size}, {args.precision}, {threads} CPU "
              f"thread{'s' * (threads > 1)}")

        rate = lambda _, s: f"  ({(len(real) + len(fake)) / s:,.0f} img/s)"  # noqa: E731
        _, build = timed("genbench: build the network", ext.model, device)
        (f_real, f_fake), extract = timed(
            "genbench: features", lambda: (ext(real).features, ext(fake).features), device,
            rate)
        # As a run's FD does (genbench.evaluation.compute_fd): the reference factored once, in
        # float64 on the device.
        reference, stats = timed("genbench: statistics (reference factor)",
                                 lambda: FrechetReference(f_real.to(device)), device)
        fid, distance = timed("genbench: distance", lambda: reference.distance(f_fake), device)
        ours = build + extract + stats + distance
        print(f"{'genbench: total':<34} {ours:8.2f} s  FID {fid:.6g}; end to end with "
              f"generation {ours + generating:.2f} s (target <= 10 s at n = 50,000 on one "
              f"H100/H200)")
        if args.skip_torch_fidelity:
            return
        import torch_fidelity

        # Its loader asks for 4 workers whatever the machine; the warning is not ours to fix.
        warnings.filterwarnings("ignore", message="This DataLoader will create")
        fake_u8 = to_pixels(fake)
        result, theirs = timed("torch-fidelity: calculate_metrics", lambda: (
            torch_fidelity.calculate_metrics(
                input1=ImageDataset(real), input2=ImageDataset(fake_u8), fid=True,
                cuda=device.type == "cuda", feature_extractor="inception-v3-compat",
                feature_extractor_weights_path=str(weights), cache=False, verbose=False)),
            device, rate)
        theirs_fid = result["frechet_inception_distance"]
        print(f"torch-fidelity FID {theirs_fid:.6g}; genbench's differs by "
              f"{abs(fid - theirs_fid) / abs(theirs_fid):.2e} relative"
              + (" (genbench in bf16, torch-fidelity in fp32)" if args.precision != "fp32"
                 else ""))
        print(f"speed-up torch-fidelity / genbench: {theirs / ours:.2f}x (target >= 3 on one "
              f"H100/H200)")


if __name__ == "__main__":
    main()
