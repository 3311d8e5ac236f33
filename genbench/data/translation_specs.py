"""The image-to-image translation datasets (loaders in :mod:`genbench.data.translation`).

Plain data, free of torch: imported whenever the registries are built.
"""

from __future__ import annotations

from genbench.registry import DatasetSpec

# A folder's true size is known only once it is loaded; the core takes shapes from the loaded
# data. This nominal shape is pix2pix's and CycleGAN's usual 256x256 RGB.
FOLDER_SHAPE = (3, 256, 256)
LOADERS = "genbench.data.translation"


def translation_datasets() -> list[DatasetSpec]:
    return [
        DatasetSpec(
            name="paired-folder", kind="paired", argument="PATH",
            shape=FOLDER_SHAPE, target_shape=FOLDER_SHAPE,
            summary="your pix2pix 'aligned' folder: PATH/train/ and PATH/test/ (or val/), each "
                    "image A|B side by side (width = 2 x height); nominal 3x256x256, the "
                    "loaded size counts",
            source="Isola et al. 2017, Image-to-Image Translation with Conditional Adversarial "
                   "Networks (pix2pix), datasets facades, maps, edges2shoes... in this layout",
            loader=f"{LOADERS}:load_paired_folder",
        ),
        DatasetSpec(
            name="unpaired-folder", kind="unpaired", argument="PATH",
            shape=FOLDER_SHAPE, target_shape=FOLDER_SHAPE,
            summary="your CycleGAN folder: PATH/trainA/, trainB/, testA/, testB/ (unaligned, "
                    "counts may differ); nominal 3x256x256, the loaded size counts",
            source="Zhu et al. 2017, Unpaired Image-to-Image Translation using Cycle-Consistent "
                   "Adversarial Networks (CycleGAN), datasets horse2zebra, monet2photo... in "
                   "this layout",
            loader=f"{LOADERS}:load_unpaired_folder",
        ),
        DatasetSpec(
            name="edges2digits", kind="paired", shape=(1, 32, 32), target_shape=(1, 32, 32),
            num_classes=10, traits=("aligned-target",),
            summary="offline paired task: Sobel edge map of a digit -> the digit, 32x32 "
                    "(digits upsampled x4): train 1,437 / test 360",
            source="built from the offline digits (sklearn) with their fixed 80/20 split; A = "
                   "clip(|Sobel gradient| / 4, 0, 1) of the digit in [0, 1], as in pix2pix's "
                   "edges2shoes",
            loader=f"{LOADERS}:load_edges2digits",
        ),
        DatasetSpec(
            name="digits2ink", kind="unpaired", shape=(1, 32, 32), target_shape=(3, 32, 32),
            num_classes=10, traits=("aligned-target",),
            # Pair agreement: the digits evaluator reads A as it is and B through
            # translation.ink_to_digits (meta["evaluator_readers"]).
            evaluator_from="digits",
            summary="offline unpaired task: white-on-black digits -> dark-blue ink on striped "
                    "cream paper (RGB), 32x32: train 719 A / 718 B (disjoint digits), test 360 "
                    "with the true translation",
            source="built from the offline digits (sklearn) with their fixed 80/20 split; B = "
                   "a fixed colour/texture formula of the digit (genbench.data.translation."
                   "ink_style)",
            loader=f"{LOADERS}:load_digits2ink",
        ),
    ]
