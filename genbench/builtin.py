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
    # torchvision's datasets: files under --data-root in torchvision's layout (see
    # genbench.data.vision), downloaded only when GENBENCH_DOWNLOAD=1.
    register(DatasetSpec(
        name="mnist", kind="images", shape=(1, 28, 28), num_classes=10, needs_data_root=True,
        summary="MNIST handwritten digits, 28x28 grayscale in [-1, 1]: 60,000 train / 10,000 "
                "test",
        source="LeCun et al. 1998, Gradient-based learning applied to document recognition; "
               "http://yann.lecun.com/exdb/mnist/ (MNIST/raw/ in torchvision's layout)",
        loader="genbench.data.vision:load_mnist",
    ))
    register(DatasetSpec(
        name="fashion-mnist", kind="images", shape=(1, 28, 28), num_classes=10,
        needs_data_root=True,
        # Inception features by default; the evaluator (--extractor evaluator, bar 90%) is the
        # offline alternative.
        default_extractor="inception-v3",
        summary="Fashion-MNIST clothing images, 28x28 grayscale in [-1, 1]: 60,000 train / "
                "10,000 test",
        source="Xiao et al. 2017, Fashion-MNIST; https://github.com/zalandoresearch/fashion-mnist "
               "(FashionMNIST/raw/ in torchvision's layout)",
        loader="genbench.data.vision:load_fashion_mnist",
    ))
    register(DatasetSpec(
        name="cifar10", kind="images", shape=(3, 32, 32), num_classes=10, needs_data_root=True,
        default_extractor="inception-v3",
        summary="CIFAR-10 natural images, 32x32 RGB in [-1, 1], 10 classes: 50,000 train / "
                "10,000 test",
        source="Krizhevsky 2009, Learning Multiple Layers of Features from Tiny Images; "
               "https://www.cs.toronto.edu/~kriz/cifar.html (cifar-10-batches-py/)",
        loader="genbench.data.vision:load_cifar10",
    ))
    register(DatasetSpec(
        name="svhn", kind="images", shape=(3, 32, 32), num_classes=10, needs_data_root=True,
        default_extractor="inception-v3",
        summary="SVHN cropped house-number digits, 32x32 RGB in [-1, 1]: 73,257 train / 26,032 "
                "test (extra unused; digit 0 labelled 0)",
        source="Netzer et al. 2011, Reading Digits in Natural Images with Unsupervised Feature "
               "Learning; http://ufldl.stanford.edu/housenumbers/ (train_32x32.mat, "
               "test_32x32.mat)",
        loader="genbench.data.vision:load_svhn",
    ))
    register(DatasetSpec(
        name="celeba", kind="images", shape=(3, 64, 64), needs_data_root=True,
        default_extractor="inception-v3",
        summary="CelebA aligned faces, center crop 140 resized to 64x64 RGB in [-1, 1], no "
                "labels: 162,770 train / 19,962 test (GENBENCH_CELEBA_LIMIT=N loads N)",
        source="Liu et al. 2015, Deep Learning Face Attributes in the Wild; "
               "https://mmlab.ie.cuhk.edu.hk/projects/CelebA.html (celeba/img_align_celeba/, "
               "official partition)",
        loader="genbench.data.vision:load_celeba",
    ))


    from genbench.data.anomaly_specs import anomaly_datasets
    from genbench.data.inpaint_specs import inpaint_datasets
    from genbench.data.superres_specs import superres_datasets
    from genbench.data.translation_specs import translation_datasets

    for spec in (translation_datasets() + anomaly_datasets() + superres_datasets()
                 + inpaint_datasets()):
        register(spec)


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
        bootstrap=True,
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
        bootstrap=True,
    ))
    register(MetricSpec(
        name="fd",
        summary="Frechet distance between Gaussians fitted to real and generated features "
                "(float64; called FID only on Inception features)",
        reference="Heusel et al. 2017",
        compute="genbench.evaluation:compute_fd",
        outputs={"FD": False},
        bootstrap=True,
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
    register(MetricSpec(
        name="reconstruction",
        summary="MSE, PSNR and SSIM (torchmetrics) of the model's reconstructions of the "
                "reference split, images in [0, 1] at native size; points: MSE",
        reference="Wang et al. 2004 (SSIM)",
        compute="genbench.evaluation:compute_reconstruction",
        outputs={"mse": False, "psnr": True, "ssim": True},
        uses_features=False,
        requires=("reconstruct",),
    ))
    register(MetricSpec(
        name="translation",
        summary="L1, PSNR and SSIM of translations against the true translations of the same "
                "test images (paired data, and offline tasks whose answer is known), [0, 1]",
        reference="Isola et al. 2017 (pix2pix); Wang et al. 2004 (SSIM)",
        compute="genbench.evaluation:compute_translation",
        outputs={"l1": False, "psnr": True, "ssim": True},
        applies=lambda dataset: dataset.kind == "paired" or "aligned-target" in dataset.traits,
        uses_features=False,
        requires=("translate",),
    ))
    register(MetricSpec(
        name="domain-fd",
        summary="coupled models: Frechet distance of each domain's generated images (the pairs' "
                "x_A and x_B) to that domain's test images, in the run's feature space",
        reference="Heusel et al. 2017; per domain as in Liu & Tuzel 2016 (CoGAN)",
        compute="genbench.evaluation:compute_domain_fd",
        outputs={"FD_A": False, "FD_B": False},
        applies=lambda dataset: dataset.kind in ("paired", "unpaired"),
        requires=("pairs",),
    ))
    register(MetricSpec(
        name="pair-agreement",
        summary="coupled models: fraction of generated pairs (x_A, x_B) whose two images the "
                "dataset's evaluator puts in the same class (chance: about 1/classes, noted "
                "per run); datasets whose evaluator reads both domains (digits2ink)",
        reference="Liu & Tuzel 2016 (CoGAN) measure pair correspondence; a classifier's "
                  "agreement as the Stacked-MNIST protocol uses one",
        compute="genbench.evaluation:compute_pair_agreement",
        outputs={"pair_agreement": True},
        applies=lambda dataset: dataset.kind in ("paired", "unpaired")
        and bool(dataset.evaluator_from),
        uses_features=False,
        requires=("pairs",),
    ))
    register(MetricSpec(
        name="superres",
        summary="super-resolution: PSNR and SSIM on the luma (BT.601 Y; grey images as they "
                "are) after cropping `scale` pixels at each border, and L1 (all channels, same "
                "crop) of the SR outputs against the HR test images, [0, 1]",
        reference="Ledig et al. 2017 (SRGAN) protocol; Wang et al. 2004 (SSIM, torchmetrics)",
        compute="genbench.evaluation:compute_superres",
        outputs={"l1": False, "psnr_y": True, "ssim_y": True},
        applies=lambda dataset: dataset.kind == "superres",
        uses_features=False,
        requires=("translate",),
    ))
    register(MetricSpec(
        name="inpaint",
        summary="inpainting: L1, L2 (mean squared error), PSNR and SSIM of the hole only (the "
                "completed images' cut-out centre against the original's), images in [0, 1], "
                "all channels",
        reference="Pathak et al. 2016 (context encoders: mean L1, mean L2, PSNR of the hole); "
                  "Wang et al. 2004 (SSIM, torchmetrics)",
        compute="genbench.evaluation:compute_inpaint",
        outputs={"l1_hole": False, "l2_hole": False, "psnr_hole": True, "ssim_hole": True},
        applies=lambda dataset: dataset.kind == "inpaint",
        uses_features=False,
        requires=("translate",),
    ))
    register(MetricSpec(
        name="likelihood",
        summary="negative log-likelihood (nats/example) and bits/dim of the reference split: "
                "exact, or the IWAE bound (k=64) with the ELBO beside it; 8-bit images, "
                "uniform dequantisation for densities",
        reference="Theis et al. 2016 (dequantisation); Burda et al. 2016 (IWAE)",
        compute="genbench.evaluation:compute_likelihood",
        outputs={"nll": False, "bpd": False, "nll_elbo": False, "bpd_elbo": False},
        uses_features=False,
        requires=("log_prob",),
    ))
    register(MetricSpec(
        name="anomaly",
        summary="anomaly detection on a protocol dataset (digits-oneclass:K, ...): AUROC and "
                "AUPRC (anomalies positive) of the model's anomaly scores on the test split; "
                "models that reconstruct are scored by their reconstruction error",
        reference="torchmetrics binary_auroc / binary_average_precision; protocols: Ruff et "
                  "al. 2018 (one-class), Akcay et al. 2018 (leave-one-out)",
        compute="genbench.evaluation:compute_anomaly",
        outputs={"auroc": True, "auprc": True},
        applies=lambda dataset: "anomaly" in dataset.traits,
        uses_features=False,
        requires=("anomaly_score",),
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
        summary="a small CNN trained once per workdir on the dataset's labelled train split, "
                "early-stopped on 10% of it, used only if its test accuracy reaches the "
                "dataset's bar (digits 98%, MNIST 98.5%, Fashion-MNIST 90%, SVHN 92%, "
                "CIFAR-10 80%; others 90%): 128-d features and class logits",
        factory="genbench.features.evaluator:make_evaluator",
        # Super-resolution and inpainting datasets are scored on their whole (HR, completed)
        # images, which are labelled images.
        applies=lambda dataset: dataset.kind in ("images", "superres", "inpaint")
        and dataset.num_classes > 1,
    ))
    register(ExtractorSpec(
        name="inception-v3",
        summary="torch-fidelity's InceptionV3 (2048-d pool features, logits); weights from "
                "--inception-weights, GENBENCH_INCEPTION_WEIGHTS or the torch hub cache",
        factory="genbench.features.inception:make_inception_extractor",
        applies=lambda dataset: dataset.kind != "points",
    ))
