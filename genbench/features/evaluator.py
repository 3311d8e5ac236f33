"""The ``evaluator`` extractor: a small CNN trained on a labelled dataset's training split.

Inception features mean little for 8x8 digits, and need weights that are not here offline. The
Stacked-MNIST literature scores with a classifier trained on the domain instead; this is that
classifier. It is trained once per (dataset, data, architecture, seed), cached under the
workdir, and used only if its accuracy on the dataset's eval split reaches that dataset's bar
(:data:`MIN_ACCURACY`, from the literature; :data:`DEFAULT_MIN_ACCURACY` for other datasets).
The accuracy, the training time and where early stopping ended are recorded with every metric
computed in its space. Features are its penultimate (fully connected) layer; logits are its
class scores.

Training holds out a fixed, stratified 10% of the train split and stops when the loss there
stops improving, keeping the best weights; the eval split is only ever used to measure. It is
seeded, and repeats exactly on the same CPU. Another copy of a dataset's files (a subset, a
corrected file) trains its own evaluator: the cache is named by the data's fingerprint.

A dataset whose ``evaluator_from`` names another (the anomaly protocols, stacked-digits) is
scored by that dataset's evaluator, trained on its full labelled train split with every class:
the same cached file. Datasets with the ``stacked-modes`` trait hold one base example per
channel, and the evaluator reads each channel separately.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from genbench.atomic import atomic_write, one_at_a_time
from genbench.data.base import resize_images
from genbench.errors import GenbenchError
from genbench.features.base import Extractor, ExtractorContext, Features
from genbench.features.cache import cache_dir, fingerprint
from genbench.registry import DatasetSpec

ARCH = "cnn-v2"
EVALUATORS = "evaluators"  # the feature cache's folder of trained evaluators (sent to Ray nodes)

# The bar each dataset's evaluator must reach on its eval split, and why.
MIN_ACCURACY: dict[str, tuple[float, str]] = {
    "digits": (0.98, "1-NN and an RBF SVM on the raw pixels reach 98.3% on this split "
                     "(measured, scikit-learn); learned features must separate the digits as "
                     "well, within the 360 test images' +-0.7%"),
    "mnist": (0.985, "LeNet-5 reaches 99.05% (LeCun et al. 1998); a LeNet-class CNN that "
                     "cannot reach 98.5% is undertrained or has too little data"),
    "fashion-mnist": (0.90, "Xiao et al. 2017: the best non-neural classifier (SVC) reaches "
                            "89.7%, simple 2-conv CNNs in their benchmark 91-93%"),
    "svhn": (0.92, "above hand-designed and k-means features (Netzer et al. 2011: 85-90.6%), "
                   "below early ConvNets (Sermanet et al. 2012: ~95%)"),
    "cifar10": (0.80, "above single-layer k-means features (Coates et al. 2011: 79.6%), below "
                      "a small convnet without augmentation (Krizhevsky's cuda-convnet: 82%)"),
}
# Labelled datasets of third-party plugins: a classifier wrong on more than one held-out
# example in ten gives a feature space too weak to trust.
DEFAULT_MIN_ACCURACY = 0.90

WIDTH = 32  # channels of the first block, doubled at each next one
FEATURES = 128  # the penultimate layer's width: FD and PRDC run on it
VAL_FRACTION = 0.1  # of each class of the train split, held out for early stopping
# An epoch is a fixed number of training examples (as Keras' steps_per_epoch), drawn pass
# after pass without replacement: about 8 passes for digits, 1.4 for MNIST with 8,000 images,
# a sixth of full MNIST. The validation check then comes as often for every dataset, and the
# cost of training is bounded by MAX_EPOCHS whatever the dataset's size.
EPOCH_EXAMPLES = 10_000
BATCH = 128
LR = 1e-3  # Adam; halved after every epoch that does not improve
# Stop after 4 epochs without improvement, counted from the first epoch that improves on the
# initial weights (batch norm's running statistics can lag behind the first few hundred steps).
PATIENCE = 4
MAX_EPOCHS = 30
# Improvement: the validation loss (cross-entropy, nats) falls below its best so far by more
# than 0.001 or 1% of it, whichever is larger. Loss rather than accuracy: it does not saturate
# on small validation parts (digits: 142 images, often all right after a few epochs), so the
# weights kept are the most confident correct ones rather than the first to reach a lucky
# accuracy; the 1% ends the slow creep of a loss that has found its floor.
MIN_LOSS_DELTA, MIN_LOSS_RATIO = 1e-3, 0.01
# Natural images and clothes are the same class mirrored; digits are not.
FLIP = frozenset({"cifar10", "fashion-mnist"})

Report = Callable[[str, int, int], None]


def min_accuracy(dataset: str) -> float:
    return MIN_ACCURACY.get(dataset, (DEFAULT_MIN_ACCURACY, ""))[0]


class EvaluatorCNN(nn.Module):
    """VGG-style blocks (3x3 conv, batch norm, ReLU; max pooling), then a fully connected
    ``FEATURES``-wide layer (the features) and a linear head.

    Grayscale: 2 blocks of one conv (32, 64), LeNet-class. Colour: 2 convs per block and a
    third block (32, 64, 128) at 32 pixels and up, as natural images need more capacity.
    """

    def __init__(self, channels: int, size: int, classes: int, width: int | None = None):
        super().__init__()
        width = width or WIDTH
        blocks = 3 if size >= 32 else 2
        convs = 2 if channels >= 3 else 1
        layers: list[nn.Module] = []
        cin = channels
        for b in range(blocks):
            cout = width * 2 ** b
            for _ in range(convs):
                layers += [nn.Conv2d(cin, cout, 3, padding=1, bias=False),
                           nn.BatchNorm2d(cout), nn.ReLU()]
                cin = cout
            layers.append(nn.MaxPool2d(2))
            size //= 2
        self.body = nn.Sequential(
            *layers, nn.Flatten(), nn.Dropout(0.25),
            nn.Linear(cin * size * size, FEATURES, bias=False), nn.BatchNorm1d(FEATURES),
            nn.ReLU())
        self.head = nn.Sequential(nn.Dropout(0.25), nn.Linear(FEATURES, classes))

    def forward(self, x):
        features = self.body(x)
        return features, self.head(features)


def augment(x: torch.Tensor, gen: torch.Generator, flip: bool) -> torch.Tensor:
    """Each image shifted by up to ~1/14 of its size (1 pixel at 8x8, 2 at 28 and 32), the
    edge pixels repeated into the gap, and mirrored half of the time when ``flip``."""
    n, c, h, w = x.shape
    p = max(1, min(h, w) // 14)
    padded = F.pad(x, (p, p, p, p), mode="replicate")
    dy, dx = torch.randint(0, 2 * p + 1, (2, n), generator=gen).to(x.device)
    rows = (dy[:, None] + torch.arange(h, device=x.device))[:, None, :, None]
    cols = (dx[:, None] + torch.arange(w, device=x.device))[:, None, None, :]
    out = padded[torch.arange(n, device=x.device)[:, None, None, None],
                 torch.arange(c, device=x.device)[None, :, None, None], rows, cols]
    if flip:
        mirror = (torch.rand(n, generator=gen) < 0.5).to(x.device)
        out = torch.where(mirror[:, None, None, None], out.flip(-1), out)
    return out


def stratified_split(y: torch.Tensor, fraction: float,
                     gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """(train, validation) indices: ``fraction`` of each class (at least one example of every
    class that has two) goes to validation."""
    train, val = [], []
    for label in torch.unique(y).tolist():
        idx = torch.nonzero(y == label).flatten()
        idx = idx[torch.randperm(len(idx), generator=gen)]
        k = min(len(idx) - 1, max(1, round(fraction * len(idx))))
        val.append(idx[:k])
        train.append(idx[k:])
    return torch.cat(train).sort().values, torch.cat(val).sort().values


@torch.no_grad()
def accuracy_and_loss(net: EvaluatorCNN, x: torch.Tensor, y: torch.Tensor,
                      device) -> tuple[float, float]:
    net.eval()
    logits = torch.cat([net(x[i:i + 1024].to(device))[1].cpu() for i in range(0, len(x), 1024)])
    return ((logits.argmax(1) == y).float().mean().item(),
            F.cross_entropy(logits, y).item())


@dataclass
class Trained:
    net: EvaluatorCNN
    accuracy: float  # on the eval split
    val_accuracy: float  # of the weights kept
    val_loss: float
    epochs: int  # epochs run
    best_epoch: int  # whose weights are kept (0: the initial weights)
    stopped: str  # "plateau" (early stopping) or "cap" (MAX_EPOCHS reached)
    seconds: float
    n_train: int  # the part trained on
    n_val: int  # the part held out for early stopping


def _batches(n: int, gen: torch.Generator):
    """Endless minibatch indices into n examples, a fresh permutation per pass."""
    while True:
        order = torch.randperm(n, generator=gen)
        for i in range(0, n, BATCH):
            yield order[i:i + BATCH]


def train_classifier(train, test, classes: int, seed: int, device, flip: bool = False,
                     report: Callable[[int, int, float], None] | None = None) -> Trained:
    """Train on a stratified 90% of ``train`` until the loss on the other 10% stops improving
    (early stopping, best weights kept), then measure accuracy on ``test``.
    ``report(epoch, max_epochs, validation_accuracy)`` after each epoch."""
    started = time.perf_counter()
    with torch.random.fork_rng(devices=[]):  # leaves the caller's random state alone
        torch.manual_seed(seed)
        gen = torch.Generator().manual_seed(seed)
        net = EvaluatorCNN(train.x.shape[1], train.x.shape[-1], classes).to(device)
        fit, val = stratified_split(train.y, VAL_FRACTION, gen)
        x, y, x_val, y_val = train.x[fit], train.y[fit], train.x[val], train.y[val]
        opt = torch.optim.Adam(net.parameters(), lr=LR)
        batches = _batches(len(x), gen)
        (best_acc, best_loss), best_epoch = accuracy_and_loss(net, x_val, y_val, device), 0
        best_state = {k: v.detach().clone() for k, v in net.state_dict().items()}
        stale = epoch = 0
        stopped = "cap"
        for epoch in range(1, MAX_EPOCHS + 1):
            net.train()
            seen = 0
            while seen < EPOCH_EXAMPLES:
                idx = next(batches)
                seen += len(idx)
                if len(idx) < 2:  # batch norm needs two examples
                    continue
                _, logits = net(augment(x[idx].to(device), gen, flip))
                loss = F.cross_entropy(logits, y[idx].to(device))
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
            val_acc, val_loss = accuracy_and_loss(net, x_val, y_val, device)
            if val_loss < best_loss - max(MIN_LOSS_DELTA, MIN_LOSS_RATIO * best_loss):
                best_acc, best_loss, best_epoch = val_acc, val_loss, epoch
                best_state = {k: v.detach().clone() for k, v in net.state_dict().items()}
                stale = 0
            elif best_epoch:  # patience starts once the net beats its initial weights
                stale += 1
                for group in opt.param_groups:
                    group["lr"] /= 2
            if report:
                report(epoch, MAX_EPOCHS, val_acc)
            if stale >= PATIENCE:
                stopped = "plateau"
                break
        net.load_state_dict(best_state)
        accuracy, _ = accuracy_and_loss(net, test.x, test.y, device)
    return Trained(net.eval(), accuracy, best_acc, best_loss, epoch, best_epoch, stopped,
                   time.perf_counter() - started, len(fit), len(val))


class EvaluatorExtractor(Extractor):
    name = "evaluator"
    batch_size = 1024

    def __init__(self, net: EvaluatorCNN, native_size: int, per_channel: bool, key: str,
                 info: dict):
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


def base_dataset(dataset: DatasetSpec) -> tuple[DatasetSpec, bool]:
    """The dataset whose evaluator scores ``dataset``, and whether it reads each channel."""
    from genbench.plugins import get_registries

    base = get_registries().datasets.get(dataset.evaluator_from) if dataset.evaluator_from \
        else dataset
    per_channel = "stacked-modes" in dataset.traits and base is not dataset
    if per_channel and base.shape[0] != 1:
        raise GenbenchError(f"dataset {dataset.name!r} stacks {base.name!r} as channels, which "
                            f"needs single-channel {base.name!r} images")
    if not per_channel and dataset.shape and dataset.shape[0] != base.shape[0]:
        raise GenbenchError(f"dataset {dataset.name!r} has {dataset.shape[0]} channels and its "
                            f"evaluator's dataset {base.name!r} {base.shape[0]}; give it the "
                            f"'stacked-modes' trait if each channel is one {base.name} example")
    return base, per_channel


def _load_cached(path, net: EvaluatorCNN, device) -> dict | None:
    if not path.is_file():
        return None
    try:
        saved = torch.load(path, map_location=device, weights_only=True)
        net.load_state_dict(saved["state"])
        return json.loads(saved["info"])
    except Exception:  # a damaged cache is retrained, never trusted
        return None


def _load_labelled(base: DatasetSpec, root):
    """The base dataset's train and eval splits, checked against its spec."""
    train, test = base.load("train", root=root), base.load(base.eval_split, root=root)
    for data in (train, test):
        if data.y is None:
            raise GenbenchError(f"the evaluator needs class labels, and dataset {base.name!r} "
                                f"has none; use --extractor raw")
        if tuple(data.x.shape[1:]) != tuple(base.shape):
            raise GenbenchError(f"dataset {base.name!r} ({data.split} split) holds images of "
                                f"shape {tuple(data.x.shape[1:])}, not {tuple(base.shape)} as "
                                f"registered; fix the dataset or use --extractor raw")
        if len(data.y) and not 0 <= int(data.y.min()) <= int(data.y.max()) < base.num_classes:
            raise GenbenchError(f"dataset {base.name!r} ({data.split} split) has labels outside "
                                f"0-{base.num_classes - 1}; fix the dataset or use --extractor "
                                f"raw")
    return train, test


def _data_fingerprint(train, test) -> str:
    """Names the data the evaluator learns from and is measured on: another copy of the
    dataset (a subset, a corrected file) gets its own evaluator, never a stale one."""
    digest = hashlib.sha256()
    for data in (train, test):
        digest.update(fingerprint(data.x).encode())
        digest.update(data.y.numpy().tobytes())
    return digest.hexdigest()[:12]


def _train(base: DatasetSpec, train, test, ctx: ExtractorContext) -> tuple[EvaluatorCNN, dict]:
    report: Report | None = ctx.progress
    doing = f"training the {base.name} evaluator (once per workdir)"

    def epoch_done(epoch: int, total: int, val: float) -> None:
        if report:
            report(f"{doing}: epoch {epoch}/{total}, val {val:.1%}", epoch, total)

    if report:
        report(f"{doing}: starting", 0, MAX_EPOCHS)
    out = train_classifier(train, test, base.num_classes, ctx.seed, ctx.device,
                           base.name in FLIP, epoch_done)
    info = {"dataset": base.name, "arch": ARCH, "seed": ctx.seed,
            "accuracy": round(out.accuracy, 6), "tested_on": f"{base.name}/{base.eval_split}",
            "trained_on": f"{base.name}/train",
            "validation": f"{out.n_val} of {out.n_train + out.n_val} {base.name}/train images "
                          f"({VAL_FRACTION:.0%} of each class), for early stopping",
            "val_accuracy": round(out.val_accuracy, 6), "val_loss": round(out.val_loss, 6),
            "epochs": out.epochs, "best_epoch": out.best_epoch, "max_epochs": MAX_EPOCHS,
            "epoch_examples": EPOCH_EXAMPLES,
            "passes": round(out.epochs * EPOCH_EXAMPLES / max(out.n_train, 1), 1),
            "stopped": out.stopped, "train_seconds": round(out.seconds, 1),
            "device": str(ctx.device)}
    if report:
        report(f"{doing}: done in {out.seconds:.0f} s, {out.epochs} epochs, test "
               f"{out.accuracy:.1%}", out.epochs, out.epochs)
    return out.net, info


def make_evaluator(ctx: ExtractorContext) -> EvaluatorExtractor:
    if ctx.dataset is None:
        raise GenbenchError("the evaluator extractor needs a labelled dataset; use "
                            "--extractor inception-v3 or raw for files")
    base, per_channel = base_dataset(ctx.dataset)
    if base.kind != "images" or base.num_classes < 2:
        raise GenbenchError(f"the evaluator extractor needs labelled images; dataset "
                            f"{ctx.dataset.name!r} has none (use --extractor raw)")
    train, test = _load_labelled(base, ctx.options.get("data_root"))
    data = _data_fingerprint(train, test)
    path = cache_dir(ctx.workdir) / EVALUATORS / f"{base.name}-{ARCH}-s{ctx.seed}-{data}.pt"
    net = EvaluatorCNN(base.shape[0], base.shape[-1], base.num_classes).to(ctx.device)
    # Sweep workers starting together wait for the first to train it, then load it.
    with one_at_a_time(path):
        info = _load_cached(path, net, ctx.device)
        if info is None:
            net, info = _train(base, train, test, ctx)
            info["data"] = data
            state = {k: v.cpu() for k, v in net.state_dict().items()}
            atomic_write(path, lambda tmp: torch.save({"state": state,
                                                       "info": json.dumps(info)}, tmp))
    del train, test
    net.eval()
    bar = min_accuracy(base.name)
    info["min_accuracy"] = bar
    if info["accuracy"] < bar:
        raise GenbenchError(
            f"the {base.name} evaluator reaches only {info['accuracy']:.1%} accuracy on "
            f"{base.name}/{base.eval_split}, below the {bar:.1%} bar for {base.name}, so its "
            f"features would not be trustworthy; score with --extractor raw (or inception-v3), "
            f"or if the {base.name} files are wrong, fix them (a new copy trains its own "
            f"evaluator)")
    digest = hashlib.sha256(b"".join(v.cpu().numpy().tobytes()
                                     for v in net.state_dict().values())).hexdigest()[:16]
    key = f"evaluator-{base.name}-{ARCH}-s{ctx.seed}-{digest}" + ("-perchannel" * per_channel)
    return EvaluatorExtractor(net, base.shape[-1], per_channel, key, {**info, "key": key})
