"""genbench's own datasets, metrics and feature extractors, registered like any plugin's.

This module is imported by ``genbench plugins`` and ``genbench --help``: keep it free of torch.
"""

from __future__ import annotations

from genbench import hookimpl
from genbench.registry import DatasetSpec, ExtractorSpec, MetricSpec


@hookimpl
def register_datasets(register):
    register(DatasetSpec(
        name="ring8", kind="points", shape=(2,), traits=("known-modes",),
        summary="8 Gaussians (std 0.02) on a circle of radius 2: the 2-D mode-collapse benchmark",
        source="Metz et al. 2017, Unrolled GANs; sampled with a fixed seed per split",
        loader="genbench.data.toy2d:load_ring8",
    ))
    register(DatasetSpec(
        name="grid25", kind="points", shape=(2,), traits=("known-modes",),
        summary="25 Gaussians (std 0.05) on a 5x5 grid with spacing 2: harder 2-D mode collapse",
        source="Srivastava et al. 2017, VEEGAN; sampled with a fixed seed per split",
        loader="genbench.data.toy2d:load_grid25",
    ))
    register(DatasetSpec(
        name="digits", kind="images", shape=(1, 8, 8), num_classes=10,
        summary="1,797 real 8x8 handwritten digits (offline, ships with scikit-learn), [-1, 1]",
        source="UCI optical recognition of handwritten digits, via sklearn.datasets.load_digits; "
               "fixed stratified 80/20 train/test split",
        loader="genbench.data.digits:load_digits",
    ))
    register(DatasetSpec(
        name="stacked-digits", kind="images", shape=(3, 8, 8), num_classes=1000,
        traits=("stacked-modes",), evaluator_from="digits",
        summary="three digits stacked as RGB channels: 1,000 modes (Stacked-MNIST protocol on "
                "the offline digits)",
        source="Srivastava et al. 2017 (VEEGAN), Lin et al. 2018 (PacGAN); built from digits "
               "with a fixed seed: train stacks train digits (20,000), test held-out (26,000)",
        loader="genbench.data.stacked:load_stacked_digits",
    ))


@hookimpl
def register_metrics(register):
    register(MetricSpec(
        name="modes",
        summary="2-D mode collapse: modes covered, % high-quality samples (within 3 std of a "
                "mode), reverse KL of the mode histogram to uniform",
        reference="Metz et al. 2017; Srivastava et al. 2017; Lin et al. 2018 (PacGAN)",
        compute="genbench.evaluation:compute_modes",
        outputs={"modes_covered": True, "high_quality": True, "reverse_kl": False},
        applies=lambda dataset: "known-modes" in dataset.traits,
        uses_features=False,
    ))
    register(MetricSpec(
        name="stacked-modes",
        summary="modes covered (of 1,000) and reverse KL of the mode histogram to uniform, "
                "each channel classified by the evaluator",
        reference="Srivastava et al. 2017 (VEEGAN); Lin et al. 2018 (PacGAN)",
        compute="genbench.evaluation:compute_stacked_modes",
        outputs={"modes_covered": True, "reverse_kl": False},
        applies=lambda dataset: "stacked-modes" in dataset.traits,
        extractor="evaluator",
    ))
    register(MetricSpec(
        name="fd",
        summary="Frechet distance between Gaussians fitted to real and generated features "
                "(float64; called FID only on Inception features)",
        reference="Heusel et al. 2017",
        compute="genbench.evaluation:compute_fd",
        outputs={"FD": False},
    ))
    register(MetricSpec(
        name="kid",
        summary="kernel inception distance: unbiased MMD^2, cubic polynomial kernel, mean and "
                "std over 100 subsets of up to 1,000",
        reference="Binkowski et al. 2018",
        compute="genbench.evaluation:compute_kid",
        outputs={"kid_mean": False, "kid_std": False},
    ))
    register(MetricSpec(
        name="is",
        summary="inception score from the extractor's class logits (10 splits); needs an "
                "extractor with a classifier head",
        reference="Salimans et al. 2016",
        compute="genbench.evaluation:compute_is",
        outputs={"is_mean": True, "is_std": False},
        requires_logits=True,
    ))
    register(MetricSpec(
        name="ndb",
        summary="NDB/K: fraction of k-means bins (on raw pixels of the reference) whose share "
                "of generated samples differs significantly (z-test, 0.05)",
        reference="Richardson & Weiss 2018",
        compute="genbench.evaluation:compute_ndb",
        outputs={"NDB/K": False},
        applies=lambda dataset: dataset.kind == "images",
        extractor="raw",
    ))
    register(MetricSpec(
        name="prdc",
        summary="improved precision/recall (k=3) and density/coverage (k=5) of k-NN balls",
        reference="Kynkaanniemi et al. 2019; Naeem et al. 2020",
        compute="genbench.evaluation:compute_prdc",
        outputs={"precision": True, "recall": True, "density": True, "coverage": True},
    ))


@hookimpl
def register_extractors(register):
    register(ExtractorSpec(
        name="raw",
        summary="the data vectors themselves (images at the dataset's native size, flattened)",
        factory="genbench.features.raw:make_raw_extractor",
    ))
    register(ExtractorSpec(
        name="evaluator",
        summary="a small CNN trained on the dataset's labelled training split (cached; used "
                "only at >= 97% held-out accuracy): 128-d features and class logits",
        factory="genbench.features.evaluator:make_evaluator",
        applies=lambda dataset: dataset.kind == "images" and dataset.num_classes > 1,
    ))
    register(ExtractorSpec(
        name="inception-v3",
        summary="torch-fidelity's InceptionV3 (2048-d pool features, logits); weights from "
                "--inception-weights, GENBENCH_INCEPTION_WEIGHTS or the torch hub cache",
        factory="genbench.features.inception:make_inception_extractor",
        applies=lambda dataset: dataset.kind == "images",
    ))
