"""The super-resolution task kind: datasets (LR/HR shapes, the fixed x4 bicubic degradation)
and metrics (Y-channel PSNR/SSIM with border crop, checked against independent formulas)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from genbench.errors import GenbenchError
from genbench.metrics.superres import crop_border, luma, superres_metrics
from genbench.plugins import get_registries


def test_sr_digits_pairs_32x32_hr_with_its_x4_bicubic_lr():
    spec = get_registries().datasets.get("sr-digits")
    assert spec.kind == "superres" and spec.shape == (1, 8, 8)
    assert spec.target_shape == (1, 32, 32)
    for split, count in (("train", 1437), ("test", 360)):
        data = spec.load(split)
        assert data.x.shape == (count, 1, 8, 8) and data.target.shape == (count, 1, 32, 32)
        assert data.y is not None and data.meta["scale"] == 4
        # The one documented degradation, written out here independently of the loader.
        expected = F.interpolate(data.target, size=(8, 8), mode="bicubic", antialias=True,
                                 align_corners=False).clamp(-1, 1)
        assert torch.equal(data.x, expected)
        assert data.x.min() >= -1 and data.x.max() <= 1


def test_sr_digits_hr_is_the_digits_upsampled_by_nearest():
    from genbench.data.digits import load_digits

    data = get_registries().datasets.get("sr-digits").load("test")
    digits = load_digits("test").x
    assert torch.equal(data.target, digits.repeat_interleave(4, 2).repeat_interleave(4, 3))


def test_a_direction_does_not_apply_to_superres():
    with pytest.raises(GenbenchError, match="not translation pairs"):
        get_registries().datasets.get("sr-digits:BtoA")


def test_sr_folder_cuts_fixed_crops(tmp_path):
    from PIL import Image

    rng = np.random.default_rng(0)
    for split, sizes in (("train", [(200, 100), (50, 50)]), ("test", [(120, 100)])):
        (tmp_path / split).mkdir()
        for i, (w, h) in enumerate(sizes):
            Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)).save(
                tmp_path / split / f"{i}.png")
    spec = get_registries().datasets.get(f"sr-folder:{tmp_path}")
    train, test = spec.load("train"), spec.load("test")
    # 200x100: two 96x96 crops side by side; 50x50 is too small and skipped.
    assert train.target.shape == (2, 3, 96, 96) and train.x.shape == (2, 3, 24, 24)
    assert test.target.shape == (1, 3, 96, 96)
    pixels = np.asarray(Image.open(tmp_path / "test" / "0.png"))
    centre = pixels[2:98, 12:108].transpose(2, 0, 1).copy()  # (100-96)/2, (120-96)/2
    assert torch.allclose(test.target[0], torch.from_numpy(centre).float() / 127.5 - 1)
    small = spec.load("train", image_size=48)
    assert small.target.shape == (9, 3, 48, 48)  # 4x2 + 1x1
    with pytest.raises(GenbenchError, match="multiple"):
        spec.load("test", image_size=50)


def test_luma_is_bt601_and_grey_passes_through():
    rgb = torch.rand(2, 3, 5, 5, dtype=torch.float64)
    r, g, b = rgb[:, 0], rgb[:, 1], rgb[:, 2]
    expected = (16 + 65.481 * r + 128.553 * g + 24.966 * b) / 255
    assert torch.allclose(luma(rgb)[:, 0], expected)
    white, black = torch.ones(1, 3, 1, 1), torch.zeros(1, 3, 1, 1)
    assert luma(white).item() == pytest.approx(235 / 255, abs=1e-6)
    assert luma(black).item() == pytest.approx(16 / 255, abs=1e-6)
    grey = torch.rand(2, 1, 5, 5)
    assert torch.equal(luma(grey), grey)


def test_border_crop():
    x = torch.arange(36.0).view(1, 1, 6, 6)
    assert torch.equal(crop_border(x, 2), x[..., 2:4, 2:4])
    with pytest.raises(ValueError):
        crop_border(x, 3)


def _gaussian_window(size: int = 11, sigma: float = 1.5) -> np.ndarray:
    ax = np.arange(size) - (size - 1) / 2
    g = np.exp(-ax ** 2 / (2 * sigma ** 2))
    g /= g.sum()
    return np.outer(g, g)


def _ssim_numpy(a: np.ndarray, b: np.ndarray) -> float:
    """Wang et al. 2004, Gaussian 11x11, sigma 1.5, data range 1, averaged over one window per
    pixel of the image reflect-padded by 5 (torchmetrics' convention; Wang's MATLAB code
    averages the valid windows only)."""
    from numpy.lib.stride_tricks import sliding_window_view

    w = _gaussian_window()
    a, b = np.pad(a, 5, mode="reflect"), np.pad(b, 5, mode="reflect")
    c1, c2 = 0.01 ** 2, 0.03 ** 2

    def filt(img):
        return (sliding_window_view(img, w.shape) * w).sum(axis=(-1, -2))

    mu_a, mu_b = filt(a), filt(b)
    var_a = filt(a * a) - mu_a ** 2
    var_b = filt(b * b) - mu_b ** 2
    cov = filt(a * b) - mu_a * mu_b
    s = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a ** 2 + mu_b ** 2 + c1)
                                                   * (var_a + var_b + c2))
    return float(s.mean())


@pytest.mark.parametrize("channels", [1, 3])
def test_psnr_and_ssim_match_independent_formulas(channels):
    gen = torch.Generator().manual_seed(0)
    hr = torch.rand(3, channels, 32, 32, generator=gen) * 2 - 1
    sr = (hr + 0.2 * torch.randn(3, channels, 32, 32, generator=gen)).clamp(-1, 1)
    got = superres_metrics(hr, sr, scale=4)
    psnrs, ssims, l1s = [], [], []
    for i in range(3):
        a = (hr[i].double().numpy() + 1) / 2
        b = (sr[i].double().numpy() + 1) / 2
        a, b = a[:, 4:-4, 4:-4], b[:, 4:-4, 4:-4]
        l1s.append(np.abs(a - b).mean())
        if channels == 3:
            coef = np.array([65.481, 128.553, 24.966]).reshape(3, 1, 1)
            a, b = (16 + (coef * a).sum(0)) / 255, (16 + (coef * b).sum(0)) / 255
        else:
            a, b = a[0], b[0]
        psnrs.append(10 * np.log10(1.0 / np.mean((a - b) ** 2)))
        ssims.append(_ssim_numpy(a, b))
    assert got["psnr_y"] == pytest.approx(np.mean(psnrs), abs=1e-5)
    assert got["ssim_y"] == pytest.approx(np.mean(ssims), abs=1e-4)
    assert got["l1"] == pytest.approx(np.mean(l1s), abs=1e-9)


def test_metric_applies_only_to_superres_and_fd_uses_the_evaluator():
    from genbench.api import default_extractor

    registries = get_registries()
    sr, paired = registries.datasets.get("sr-digits"), registries.datasets.get("edges2digits")
    metric = registries.metrics.get("superres")
    assert metric.applies(sr) and not metric.applies(paired)
    assert not registries.metrics.get("translation").applies(sr)
    assert default_extractor(sr) == "evaluator"
    assert registries.extractors.get("evaluator").applies(sr)


def test_sr_mnist_pairs_28x28_hr_with_7x7_lr(tmp_path):
    from conftest import write_idx

    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(5, 28, 28)).astype(np.uint8)
    write_idx(raw / "t10k-images-idx3-ubyte", images, 2051, True)
    write_idx(raw / "t10k-labels-idx1-ubyte", np.arange(5, dtype=np.uint8), 2049, True)
    spec = get_registries().datasets.get("sr-mnist")
    assert spec.needs_data_root and spec.evaluator_from == "mnist"
    data = spec.load("test", root=tmp_path)
    assert data.target.shape == (5, 1, 28, 28) and data.x.shape == (5, 1, 7, 7)
    assert torch.allclose(data.target[:, 0], torch.from_numpy(images).float() / 127.5 - 1)
    assert data.y.tolist() == [0, 1, 2, 3, 4]


def _write_images(folder, sizes, seed=0, mode="RGB"):
    from PIL import Image

    folder.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    for i, (w, h) in enumerate(sizes):
        pixels = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
        Image.fromarray(pixels).convert(mode).save(folder / f"image_{i:03d}.png")


def test_sr_horse2zebra_crops_both_domains_under_the_data_root(tmp_path):
    from PIL import Image

    base = tmp_path / "horse2zebra"
    _write_images(base / "trainA", [(200, 100)])
    _write_images(base / "trainB", [(100, 100)], seed=1, mode="L")  # grey files become RGB
    _write_images(base / "testA", [(120, 100)], seed=2)
    _write_images(base / "testB", [(96, 96)], seed=3)
    spec = get_registries().datasets.get("sr-horse2zebra")
    assert spec.needs_data_root and spec.target_shape == (3, 96, 96)
    train, test = spec.load("train", root=tmp_path), spec.load("test", root=tmp_path)
    # trainA 200x100: two crops; trainB 100x100: one; tests: one centre crop each.
    assert train.target.shape == (3, 3, 96, 96) and train.x.shape == (3, 3, 24, 24)
    assert test.target.shape == (2, 3, 96, 96)
    pixels = np.asarray(Image.open(base / "testA" / "image_000.png"))
    centre = pixels[2:98, 12:108].transpose(2, 0, 1).copy()
    assert torch.allclose(test.target[0], torch.from_numpy(centre).float() / 127.5 - 1)
    with pytest.raises(GenbenchError, match="--data-root"):
        spec.load("train", root=tmp_path / "elsewhere")


def test_sr_facades_takes_the_photo_halves_and_splits_one_folder_by_name(tmp_path):
    from PIL import Image

    from genbench.data import superres

    base = tmp_path / "facades"
    _write_images(base, [(200, 100)] * 5)
    spec = get_registries().datasets.get("sr-facades")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(superres, "FACADES_TRAIN", 3)
        train, test = spec.load("train", root=tmp_path), spec.load("test", root=tmp_path)
    # Each 100x100 photo half holds one 96x96 crop: 3 train files, 2 test files.
    assert train.target.shape == (3, 3, 96, 96) and test.target.shape == (2, 3, 96, 96)
    pixels = np.asarray(Image.open(base / "image_003.png"))
    centre = pixels[2:98, 2:98].transpose(2, 0, 1).copy()  # the left half's centre
    assert torch.allclose(test.target[0], torch.from_numpy(centre).float() / 127.5 - 1)
    Image.new("RGB", (64, 64)).save(base / "image_009.png")  # not an A|B file
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(superres, "FACADES_TRAIN", 3)
        with pytest.raises(GenbenchError, match="side by side"):
            spec.load("train", root=tmp_path)


SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.mark.skipif(not (SHARED_DATA / "facades").is_dir(), reason="no shared facades copy")
def test_sr_facades_on_the_shared_copy():
    spec = get_registries().datasets.get("sr-facades")
    test = spec.load("test", root=SHARED_DATA)
    assert test.target.shape == (100, 3, 96, 96) and test.x.shape == (100, 3, 24, 24)
