"""scikit-learn's handwritten digits: real data that is always available offline."""

from __future__ import annotations

import torch

from genbench.data.base import TensorData, check_split, resize_images

TEST_FRACTION = 0.2
SPLIT_SEED = 0


def load_digits(split: str = "train", image_size: int | None = None, root=None) -> TensorData:
    """The 1,797 8x8 digits (pixel values 0-16) as (N, 1, H, W) images in [-1, 1].

    The split is stratified 80/20 with a fixed seed, so it is the same on every machine.
    ``image_size`` upsamples (bilinear) for models built for larger images.
    """
    from sklearn.datasets import load_digits as sk_load_digits
    from sklearn.model_selection import train_test_split

    check_split("digits", split)
    bunch = sk_load_digits()
    images = torch.from_numpy(bunch.images).float().unsqueeze(1) / 16.0 * 2.0 - 1.0
    labels = torch.from_numpy(bunch.target).long()
    train_idx, test_idx = train_test_split(
        torch.arange(len(labels)).numpy(), test_size=TEST_FRACTION, random_state=SPLIT_SEED,
        stratify=labels.numpy(),
    )
    idx = torch.from_numpy(train_idx if split == "train" else test_idx)
    x = resize_images(images[idx], image_size)
    return TensorData("digits", split, x.contiguous(), labels[idx], meta={"native_size": 8})
