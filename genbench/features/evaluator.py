"""The ``evaluator`` extractor: a small classifier trained on a labelled dataset's training split.

Inception features mean little for 8x8 digits, and need weights that are not here offline. The
Stacked-MNIST literature scores with a classifier trained on the domain instead; this is that
classifier. It is trained once per (dataset, architecture, seed), cached under the workdir, and
used only if its accuracy on the held-out split reaches ``MIN_ACCURACY``; that accuracy is
recorded with every metric computed in its space. Features are its penultimate layer; logits
are its class scores. For datasets built by stacking examples as channels (stacked-digits), the
classifier of the base dataset is applied to each channel separately.
"""

from __future__ import annotations

import hashlib
import json

import torch
import torch.nn.functional as F
from torch import nn

from genbench.atomic import atomic_write
from genbench.data.base import resize_images
from genbench.errors import GenbenchError
from genbench.features.base import Extractor, ExtractorContext, Features
from genbench.features.cache import cache_dir
from genbench.registry import DatasetSpec, load_object

ARCH = "cnn3-v1"
MIN_ACCURACY = 0.97
EPOCHS = 20  # at most; large training sets get fewer (at least 2), about 30,000 examples seen
TRAINING_EXAMPLES = 30_000
BATCH = 64


class SmallCNN(nn.Module):
    """Three 3x3 conv blocks and global average pooling: 128-d features, then a linear head."""

    def __init__(self, channels: int, classes: int, width: int = 32):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(channels, width, 3, padding=1), nn.BatchNorm2d(width), nn.ReLU(),
            nn.Conv2d(width, 2 * width, 3, padding=1), nn.BatchNorm2d(2 * width), nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(2 * width, 4 * width, 3, padding=1), nn.BatchNorm2d(4 * width), nn.ReLU(),
            nn.AdaptiveAvgPool2d(1), nn.Flatten(),
        )
        self.head = nn.Linear(4 * width, classes)

    def forward(self, x):
        features = self.body(x)
        return features, self.head(features)


def _shift(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Random translations by up to one pixel: cheap augmentation that helps on 1.4k digits."""
    padded = F.pad(x, (1, 1, 1, 1), value=-1.0)
    dx, dy = torch.randint(0, 3, (2,), generator=gen).tolist()
    return padded[..., dy:dy + x.shape[-2], dx:dx + x.shape[-1]]


def train_classifier(train, test, seed: int, device) -> tuple[SmallCNN, float]:
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    classes = int(train.y.max()) + 1
    net = SmallCNN(train.x.shape[1], classes).to(device)
    x, y = train.x.to(device), train.y.to(device)
    epochs = min(EPOCHS, max(2, TRAINING_EXAMPLES // len(x)))
    opt = torch.optim.Adam(net.parameters(), lr=2e-3)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, max(1, epochs))
    for _ in range(epochs):
        net.train()
        order = torch.randperm(len(x), generator=gen).to(device)
        for i in range(0, len(x), BATCH):
            idx = order[i:i + BATCH]
            _, logits = net(_shift(x[idx], gen))
            loss = F.cross_entropy(logits, y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        sched.step()
    net.eval()
    with torch.no_grad():
        _, logits = net(test.x.to(device))
    accuracy = (logits.argmax(1).cpu() == test.y).float().mean().item()
    return net, accuracy


class EvaluatorExtractor(Extractor):
    name = "evaluator"
    batch_size = 1024

    def __init__(self, net: SmallCNN, native_size: int, per_channel: bool, key: str, info: dict):
        super().__init__()
        self.net, self.native_size, self.per_channel = net.eval(), native_size, per_channel
        self.key, self.info = key, info
        self.device = next(net.parameters()).device

    def extract(self, x: torch.Tensor) -> Features:
        x = resize_images(x.to(self.device), self.native_size)
        if not self.per_channel:
            features, logits = self.net(x)
            return Features(features, logits)
        n, c = x.shape[:2]
        features, logits = self.net(x.reshape(n * c, 1, *x.shape[2:]))
        # One classification per channel: logits (N, C, classes), features concatenated.
        return Features(features.reshape(n, -1), logits.reshape(n, c, -1))


def _base_dataset(dataset: DatasetSpec) -> tuple[DatasetSpec, bool]:
    from genbench.plugins import get_registries

    if dataset.evaluator_from:
        return get_registries().datasets.get(dataset.evaluator_from), True
    return dataset, False


def make_evaluator(ctx: ExtractorContext) -> EvaluatorExtractor:
    if ctx.dataset is None:
        raise GenbenchError("the evaluator extractor needs a labelled dataset; use "
                            "--extractor inception-v3 or raw for files")
    base, per_channel = _base_dataset(ctx.dataset)
    if base.kind != "images" or base.num_classes < 2:
        raise GenbenchError(f"the evaluator extractor needs labelled images; dataset "
                            f"{ctx.dataset.name!r} has none (use --extractor raw)")
    path = cache_dir(ctx.workdir) / "evaluators" / f"{base.name}-{ARCH}-s{ctx.seed}.pt"
    net = SmallCNN(base.shape[0], base.num_classes).to(ctx.device)
    if path.is_file():
        try:
            saved = torch.load(path, map_location=ctx.device, weights_only=True)
            net.load_state_dict(saved["state"])
            info = json.loads(saved["info"])
        except Exception:  # a damaged cache is retrained, never trusted
            saved = None
    else:
        saved = None
    if saved is None:
        loader = load_object(base.loader)
        root = ctx.options.get("data_root")
        train, test = loader(split="train", root=root), loader(split=base.eval_split, root=root)
        net, accuracy = train_classifier(train, test, ctx.seed, ctx.device)
        info = {"dataset": base.name, "arch": ARCH, "seed": ctx.seed,
                "accuracy": round(accuracy, 6), "tested_on": f"{base.name}/{base.eval_split}",
                "trained_on": f"{base.name}/train"}
        state = {k: v.cpu() for k, v in net.state_dict().items()}
        atomic_write(path, lambda tmp: torch.save({"state": state, "info": json.dumps(info)},
                                                  tmp))
    if info["accuracy"] < MIN_ACCURACY:
        raise GenbenchError(f"the {base.name} evaluator reaches only {info['accuracy']:.1%} "
                            f"held-out accuracy (< {MIN_ACCURACY:.0%}); its features would not "
                            f"be trustworthy (remove {path} to retrain, or use --extractor raw)")
    digest = hashlib.sha256(b"".join(v.cpu().numpy().tobytes()
                                     for v in net.state_dict().values())).hexdigest()[:16]
    key = f"evaluator-{base.name}-{ARCH}-s{ctx.seed}-{digest}" + ("-perchannel" * per_channel)
    return EvaluatorExtractor(net, base.shape[-1], per_channel, key, {**info, "key": key})
