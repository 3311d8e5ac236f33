"""Anomaly-detection protocols as datasets: ``BASE-oneclass:K`` and ``BASE-leaveout:K``.

- **one-class** (Ruff et al. 2018, Deep SVDD): train on class K only; test on the whole test
  split, where every other class is anomalous.
- **leave-one-out** (Akcay et al. 2018, GANomaly): train on every class but K; test on the whole
  test split, where class K is the anomaly.

The training split holds only normal examples, and the test split keeps its class labels in
``y``. ``meta["normal_classes"]`` says which labels are normal, so a metric can tell anomalies
from normal examples. ``K`` may be ``all`` on the command line, which runs every class in turn
(``genbench run MODEL --dataset digits-oneclass:all``); a loader only ever sees one class.
"""

from __future__ import annotations

import torch

from genbench.data.anomaly_specs import PROTOCOLS
from genbench.data.base import TensorData
from genbench.errors import GenbenchError


def parse_class(argument: str, num_classes: int, dataset: str) -> int:
    try:
        k = int(argument)
    except ValueError:
        k = -1
    if not 0 <= k < num_classes:
        raise GenbenchError(f"{dataset}: the class must be 0-{num_classes - 1} (or 'all' to run "
                            f"every class), not {argument!r}")
    return k


def normal_classes(protocol: str, k: int, num_classes: int) -> list[int]:
    if protocol == "oneclass":
        return [k]
    return [c for c in range(num_classes) if c != k]


def protocol_split(base: TensorData, protocol: str, k: int, num_classes: int,
                   dataset: str) -> TensorData:
    """``base`` (a labelled split) under the protocol: training keeps the normal classes."""
    if base.y is None:
        raise GenbenchError(f"{dataset}: the underlying data has no class labels")
    normal = normal_classes(protocol, k, num_classes)
    x, y = base.x, base.y
    if base.split == "train":
        keep = torch.isin(y, torch.tensor(normal))
        x, y = x[keep], y[keep]
    anomalous = int((~torch.isin(y, torch.tensor(normal))).sum())
    meta = {**base.meta, "protocol": protocol, "normal_classes": normal,
            "normal": len(y) - anomalous, "anomalous": anomalous}
    return TensorData(dataset, base.split, x.contiguous(), y.contiguous(), meta=meta)


def _loader(base_loader: str, protocol: str, name: str):
    def load(split: str = "train", image_size: int | None = None, root=None,
             argument: str = "") -> TensorData:
        from genbench.registry import load_object

        k = parse_class(argument, 10, name)
        base = load_object(base_loader)(split=split, image_size=image_size, root=root)
        return protocol_split(base, protocol, k, 10, f"{name}:{k}")

    load.__doc__ = f"{name}:K, {PROTOCOLS[protocol]}"
    return load


load_digits_oneclass = _loader("genbench.data.digits:load_digits", "oneclass", "digits-oneclass")
load_digits_leaveout = _loader("genbench.data.digits:load_digits", "leaveout", "digits-leaveout")
load_mnist_oneclass = _loader("genbench.data.vision:load_mnist", "oneclass", "mnist-oneclass")
load_mnist_leaveout = _loader("genbench.data.vision:load_mnist", "leaveout", "mnist-leaveout")
load_cifar10_oneclass = _loader("genbench.data.vision:load_cifar10", "oneclass",
                                "cifar10-oneclass")
