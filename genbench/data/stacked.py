"""stacked-digits: three digits stacked as the channels of one image, 1,000 modes.

The Stacked-MNIST protocol of VEEGAN (Srivastava et al. 2017) and PacGAN (Lin et al. 2018),
built on the offline scikit-learn digits: each channel holds a digit drawn independently, so the
data has 10^3 equally likely modes, and a generator's mode coverage is read off by classifying
each channel with the digits evaluator.
"""

from __future__ import annotations

import torch

from genbench.data.base import TensorData, check_split, resize_images
from genbench.data.digits import load_digits

SPLIT_SIZE = {"train": 20_000, "test": 26_000}  # 26,000 generated samples is the protocol's
SPLIT_SEED = {"train": 0, "test": 1}


def load_stacked_digits(split: str = "train", image_size: int | None = None,
                        root=None) -> TensorData:
    check_split("stacked-digits", split)
    base = load_digits(split)  # train stacks train digits, test stacks held-out digits
    gen = torch.Generator().manual_seed(SPLIT_SEED[split])
    idx = torch.randint(len(base), (SPLIT_SIZE[split], 3), generator=gen)
    x = base.x[idx].squeeze(2)  # (N, 3, 1, 8, 8) -> (N, 3, 8, 8)
    digits = base.y[idx]
    y = digits[:, 0] * 100 + digits[:, 1] * 10 + digits[:, 2]
    return TensorData("stacked-digits", split, resize_images(x, image_size).contiguous(), y,
                      meta={"native_size": 8, "modes": 1000})
