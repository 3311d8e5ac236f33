"""The super-resolution datasets (loaders in :mod:`genbench.data.superres`).

Plain data, free of torch: imported whenever the registries are built.
"""

from __future__ import annotations

from genbench.registry import DatasetSpec

LOADERS = "genbench.data.superres"
DEGRADATION = ("LR = clamp(F.interpolate(HR, 1/4, mode='bicubic', antialias=True, "
               "align_corners=False)), the x4 bicubic degradation of Ledig et al. 2017")


def superres_datasets() -> list[DatasetSpec]:
    return [
        DatasetSpec(
            name="sr-digits", kind="superres", shape=(1, 8, 8), target_shape=(1, 32, 32),
            num_classes=10, evaluator_from="digits", default_extractor="evaluator",
            summary="offline x4 super-resolution: 8x8 LR -> 32x32 HR digits (the 8x8 digits "
                    "upsampled x4, nearest): train 1,437 / test 360",
            source=f"built from the offline digits (sklearn) with their fixed 80/20 split; "
                   f"{DEGRADATION}",
            loader=f"{LOADERS}:load_sr_digits",
        ),
        DatasetSpec(
            name="sr-mnist", kind="superres", shape=(1, 7, 7), target_shape=(1, 28, 28),
            num_classes=10, evaluator_from="mnist", default_extractor="evaluator",
            needs_data_root=True,
            summary="x4 super-resolution: 7x7 LR -> 28x28 HR MNIST digits: 60,000 train / "
                    "10,000 test",
            source=f"MNIST (LeCun et al. 1998) under --data-root; {DEGRADATION}",
            loader=f"{LOADERS}:load_sr_mnist",
        ),
        DatasetSpec(
            name="sr-horse2zebra", kind="superres", shape=(3, 24, 24),
            target_shape=(3, 96, 96), needs_data_root=True,
            summary="x4 super-resolution of real photos: 96x96 HR crops of the horse2zebra "
                    "images (horses and zebras; train: every non-overlapping crop, test: the "
                    "centre crop)",
            source=f"Zhu et al. 2017 (CycleGAN) horse2zebra, ImageNet photos, under "
                   f"--data-root as horse2zebra/trainA, trainB, testA, testB; {DEGRADATION}",
            loader=f"{LOADERS}:load_sr_horse2zebra",
        ),
        DatasetSpec(
            name="sr-facades", kind="superres", shape=(3, 24, 24), target_shape=(3, 96, 96),
            needs_data_root=True,
            summary="x4 super-resolution of real photos: 96x96 HR crops of the facade photos "
                    "(the left halves of pix2pix's facades files)",
            source=f"Tylecek & Sara 2013 (CMP Facades), as pix2pix's facades, under --data-root "
                   f"as facades/ (train/ and test/, or one folder: the first 400 files by name "
                   f"train); {DEGRADATION}",
            loader=f"{LOADERS}:load_sr_facades",
        ),
        DatasetSpec(
            name="sr-folder", kind="superres", argument="PATH", shape=(3, 24, 24),
            target_shape=(3, 96, 96),
            summary="x4 super-resolution of your HR images: PATH/train/ and PATH/test/ (or "
                    "val/), cut into 96x96 HR crops (train: every non-overlapping crop; test: "
                    "the centre crop)",
            source=f"your images; {DEGRADATION}",
            loader=f"{LOADERS}:load_sr_folder",
        ),
    ]
