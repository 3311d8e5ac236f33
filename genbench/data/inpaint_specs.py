"""The inpainting datasets (loaders in :mod:`genbench.data.inpaint`).

Plain data, free of torch: imported whenever the registries are built.
"""

from __future__ import annotations

from genbench.registry import DatasetSpec

LOADERS = "genbench.data.inpaint"
HOLE = ("the centre square of half the side is cut out (set to 0 in [-1, 1]), the central-region "
        "task of Pathak et al. 2016")


def inpaint_datasets() -> list[DatasetSpec]:
    return [
        DatasetSpec(
            name="inpaint-digits", kind="inpaint", shape=(1, 32, 32),
            target_shape=(1, 32, 32), num_classes=10, evaluator_from="digits",
            default_extractor="evaluator",
            summary="offline inpainting: 32x32 digits (the 8x8 digits upsampled x4, nearest) "
                    "with their centre 16x16 cut out: train 1,437 / test 360",
            source=f"built from the offline digits (sklearn) with their fixed 80/20 split; "
                   f"{HOLE}",
            loader=f"{LOADERS}:load_inpaint_digits",
        ),
        DatasetSpec(
            name="inpaint-mnist", kind="inpaint", shape=(1, 28, 28), target_shape=(1, 28, 28),
            num_classes=10, evaluator_from="mnist", default_extractor="evaluator",
            needs_data_root=True,
            summary="inpainting: MNIST digits with their centre 14x14 cut out: 60,000 train / "
                    "10,000 test",
            source=f"MNIST (LeCun et al. 1998) under --data-root; {HOLE}",
            loader=f"{LOADERS}:load_inpaint_mnist",
        ),
        DatasetSpec(
            name="inpaint-horse2zebra", kind="inpaint", shape=(3, 64, 64),
            target_shape=(3, 64, 64), needs_data_root=True,
            summary="inpainting of real photos: the horse2zebra images (horses and zebras) "
                    "resized to 64x64 (--set image_size=128: the paper's), the centre 32x32 "
                    "cut out",
            source=f"Zhu et al. 2017 (CycleGAN) horse2zebra, ImageNet photos, under "
                   f"--data-root as horse2zebra/trainA, trainB, testA, testB; {HOLE}",
            loader=f"{LOADERS}:load_inpaint_horse2zebra",
        ),
        DatasetSpec(
            name="inpaint-folder", kind="inpaint", argument="PATH", shape=(3, 64, 64),
            target_shape=(3, 64, 64),
            summary="inpainting of your images: PATH/train/ and PATH/test/ (or val/), each "
                    "centre-cropped square and resized to 64x64 (--set image_size=128: the "
                    "paper's), the centre half cut out",
            source=f"your images; {HOLE}",
            loader=f"{LOADERS}:load_inpaint_folder",
        ),
    ]
