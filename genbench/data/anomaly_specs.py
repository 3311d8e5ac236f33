"""The anomaly-detection protocols as datasets (loaders in :mod:`genbench.data.anomaly`).

Plain data, free of torch: imported whenever the registries are built.
"""

from __future__ import annotations

from genbench.registry import DatasetSpec

LOADERS = "genbench.data.anomaly"
ONECLASS = "Ruff et al. 2018, Deep One-Class Classification (Deep SVDD) protocol"
LEAVEOUT = "Akcay et al. 2018, GANomaly protocol"
ARG = "K (a class 0-9, or all)"
# What each protocol trains on and calls anomalous, in words.
PROTOCOLS = {
    "oneclass": "one-class: train on class K only; every other class in the test split is "
                "anomalous (Deep SVDD protocol)",
    "leaveout": "leave-one-out: train on every class but K; class K in the test split is the "
                "anomaly (GANomaly protocol)",
}


def anomaly_datasets() -> list[DatasetSpec]:
    common = {"kind": "images", "num_classes": 10, "traits": ("anomaly",), "argument": ARG}
    # Scored by the base dataset's evaluator, trained on its full train split (every class):
    # a one-class training split could not tell the classes apart.
    return [
        DatasetSpec(name="digits-oneclass", shape=(1, 8, 8), evaluator_from="digits", **common,
                    summary="one-class anomaly detection on the offline digits: train on class "
                            "K (~144 images), test on all 360 test digits, the other classes "
                            "anomalous",
                    source=f"{ONECLASS}, on scikit-learn's digits (fixed 80/20 split)",
                    loader=f"{LOADERS}:load_digits_oneclass"),
        DatasetSpec(name="digits-leaveout", shape=(1, 8, 8), evaluator_from="digits", **common,
                    summary="leave-one-out anomaly detection on the offline digits: train on "
                            "every class but K, class K of the test split is the anomaly",
                    source=f"{LEAVEOUT}, on scikit-learn's digits (fixed 80/20 split)",
                    loader=f"{LOADERS}:load_digits_leaveout"),
        DatasetSpec(name="mnist-oneclass", shape=(1, 28, 28), needs_data_root=True,
                    evaluator_from="mnist", **common,
                    summary="one-class anomaly detection on MNIST (--data-root, torchvision "
                            "layout): train on class K, test on all 10,000 test digits",
                    source=ONECLASS, loader=f"{LOADERS}:load_mnist_oneclass"),
        DatasetSpec(name="mnist-leaveout", shape=(1, 28, 28), needs_data_root=True,
                    evaluator_from="mnist", **common,
                    summary="leave-one-out anomaly detection on MNIST (--data-root): train on "
                            "every class but K, class K is the anomaly",
                    source=LEAVEOUT, loader=f"{LOADERS}:load_mnist_leaveout"),
        DatasetSpec(name="cifar10-oneclass", shape=(3, 32, 32), needs_data_root=True,
                    default_extractor="inception-v3", evaluator_from="cifar10", **common,
                    summary="one-class anomaly detection on CIFAR-10 (--data-root): train on "
                            "class K, test on all 10,000 test images",
                    source=ONECLASS, loader=f"{LOADERS}:load_cifar10_oneclass"),
    ]
