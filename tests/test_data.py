"""The builtin datasets: shapes, ranges, fixed splits, and what the mode metrics rely on."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits as sk_load_digits

from genbench.data.base import resize_images
from genbench.data.digits import load_digits
from genbench.data.toy2d import load_grid25, load_ring8
from genbench.errors import GenbenchError


def test_digits_split_is_fixed_stratified_and_scaled():
    train, test = load_digits("train"), load_digits("test")
    assert train.x.shape == (1437, 1, 8, 8) and test.x.shape == (360, 1, 8, 8)
    assert train.x.min() == -1.0 and train.x.max() == 1.0
    # Together the splits are exactly scikit-learn's images, each once.
    raw = sk_load_digits()
    ours = torch.cat([train.x, test.x]).squeeze(1).add(1).mul(8).round().numpy()
    ours_sorted = np.sort(ours.reshape(len(ours), -1), axis=0)
    theirs_sorted = np.sort(raw.images.reshape(len(raw.images), -1), axis=0)
    assert np.array_equal(ours_sorted, theirs_sorted)
    counts = torch.bincount(test.y, minlength=10)
    assert counts.min() >= 35 and counts.max() <= 37  # stratified: ~36 of each digit
    assert torch.equal(load_digits("test").x, test.x)  # same split every time


def test_digits_upsampled_for_32x32_models():
    x = load_digits("train", image_size=32).x
    assert x.shape == (1437, 1, 32, 32)
    assert x.min() >= -1.0 and x.max() <= 1.0
    # The raw extractor's area pooling gives back the original 8x8 digits exactly, so models
    # trained at 32x32 are scored against the untouched originals.
    assert torch.equal(resize_images(x, 8), load_digits("train").x)


@pytest.mark.parametrize("loader, n_modes, std, radius", [
    (load_ring8, 8, 0.02, 2.0), (load_grid25, 25, 0.05, None)])
def test_mixtures(loader, n_modes, std, radius):
    data = loader("train")
    modes = data.meta["modes"]
    assert modes.shape == (n_modes, 2) and data.meta["std"] == std
    if radius:
        assert torch.allclose(modes.norm(dim=1), torch.full((n_modes,), radius))
    else:
        assert sorted(set(modes[:, 0].tolist())) == [-4.0, -2.0, 0.0, 2.0, 4.0]
    offsets = data.x - modes[data.y]
    assert abs(offsets.std().item() - std) < 0.1 * std
    assert torch.bincount(data.y, minlength=n_modes).min() > 0.8 * len(data) / n_modes
    test = loader("test")
    assert len(test) == 2500 and not torch.equal(test.x[:10], data.x[:10])


def test_unknown_split():
    with pytest.raises(GenbenchError, match="has no split 'val'"):
        load_ring8("val")
