"""Loading user files for ``genbench score``: real image folders (and their decode cache) and
array files on disk."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from genbench.data.files import load_features, load_images
from genbench.errors import GenbenchError


def _save(path: Path, pixels: np.ndarray, **kwargs) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path, **kwargs)
    return path


def _unit(pixels: np.ndarray) -> torch.Tensor:
    """What 8-bit pixels must become: v / 127.5 - 1."""
    return torch.from_numpy(pixels.astype(np.float32)) / 127.5 - 1


def _f32(value: int) -> float:
    """An 8-bit value in [-1, 1], computed in float32 as the loader does."""
    return (torch.tensor(float(value)) / 127.5 - 1).item()


def _raises(match: str, fn, *args) -> str:
    with pytest.raises(GenbenchError, match=match) as err:
        fn(*args)
    message = str(err.value)
    assert "\n" not in message
    return message


def test_png_folder_round_trips_exactly(tmp_path):
    rng = np.random.default_rng(0)
    rgb = [rng.integers(0, 256, (5, 7, 3), dtype=np.uint8) for _ in range(3)]
    rgb[0][0, 0] = [0, 255, 128]
    # Sorted by path, subfolders included; other files and hidden ones ignored.
    _save(tmp_path / "imgs" / "b.png", rgb[1])
    _save(tmp_path / "imgs" / "a.PNG", rgb[0])
    _save(tmp_path / "imgs" / "sub" / "c.png", rgb[2])
    _save(tmp_path / "imgs" / ".hidden" / "z.png", rng.integers(0, 256, (2, 2, 3), np.uint8))
    (tmp_path / "imgs" / "notes.txt").write_text("not an image")

    x = load_images(tmp_path / "imgs")
    assert x.dtype == torch.float32 and x.shape == (3, 3, 5, 7)
    for got, pixels in zip(x, rgb, strict=True):
        assert torch.equal(got, _unit(pixels).permute(2, 0, 1))
    assert x[0, :, 0, 0].tolist() == [-1.0, 1.0, _f32(128)]
    # Back to the same uint8 values, as the Inception extractor converts them.
    back = ((x + 1) * 127.5).round().clamp(0, 255).to(torch.uint8)
    assert torch.equal(back[1], torch.from_numpy(rgb[1]).permute(2, 0, 1))


def test_folder_is_decoded_once_and_again_when_it_changes(tmp_path, monkeypatch):
    from genbench.data import files

    monkeypatch.setenv("GENBENCH_CACHE_DIR", str(tmp_path / "cache"))
    decoded, original = [], files._read_image

    def counting(file: Path, mode: str) -> np.ndarray:
        decoded.append(file.name)
        return original(file, mode)

    monkeypatch.setattr(files, "_read_image", counting)
    rng = np.random.default_rng(3)
    for i in range(7):
        _save(tmp_path / "imgs" / f"{i}.png", rng.integers(0, 256, (6, 5, 3), dtype=np.uint8))
    first = load_images(tmp_path / "imgs")
    assert len(decoded) == 7 and len(list((tmp_path / "cache" / "decoded").glob("*.npy"))) == 1
    assert torch.equal(load_images(tmp_path / "imgs"), first) and len(decoded) == 7
    new = rng.integers(0, 256, (6, 5, 3), dtype=np.uint8)
    _save(tmp_path / "imgs" / "3.png", new)
    second = load_images(tmp_path / "imgs")
    assert len(decoded) == 14 and torch.equal(second[3], _unit(new).permute(2, 0, 1))
    _save(tmp_path / "imgs" / "7.png", new)  # one more image
    assert len(load_images(tmp_path / "imgs")) == 8 and len(decoded) == 22
    # A problem is still found, and reported, when the folder is decoded again.
    _save(tmp_path / "imgs" / "8.png", new[:3])
    _raises("images differ in size", load_images, tmp_path / "imgs")


def test_grayscale_stays_one_channel_and_other_modes_become_rgb(tmp_path):
    gray = np.arange(12, dtype=np.uint8).reshape(3, 4) * 20
    _save(tmp_path / "gray" / "0.png", gray)
    _save(tmp_path / "gray" / "1.bmp", gray[::-1].copy())
    # Grayscale with alpha, and 1-bit, are grayscale too (as the folder datasets read them).
    Image.fromarray(np.stack([gray, np.full_like(gray, 7)], -1), mode="LA").save(
        tmp_path / "gray" / "2.png")
    Image.fromarray(gray > 100).save(tmp_path / "gray" / "3.png")
    x = load_images(tmp_path / "gray")
    assert x.shape == (4, 1, 3, 4)
    assert torch.equal(x[0, 0], _unit(gray)) and torch.equal(x[1, 0], _unit(gray[::-1].copy()))
    assert torch.equal(x[2, 0], _unit(gray))
    assert torch.equal(x[3, 0], _unit(np.where(gray > 100, 255, 0).astype(np.uint8)))

    rgba = np.zeros((4, 4, 4), dtype=np.uint8)
    rgba[..., 0], rgba[..., 3] = 200, 10
    _save(tmp_path / "rgba" / "a.png", rgba)
    palette = Image.new("P", (4, 4), 1)
    palette.putpalette([0, 0, 0, 60, 60, 60])
    palette.save(tmp_path / "rgba" / "b.png")
    x = load_images(tmp_path / "rgba")
    assert x.shape == (2, 3, 4, 4)
    assert torch.equal(x[0, 0], torch.full((4, 4), _f32(200)))
    assert torch.equal(x[0, 1], torch.full((4, 4), -1.0))
    assert torch.equal(x[1], torch.full((3, 4, 4), _f32(60)))


def test_grayscale_images_among_rgb_ones_are_read_as_rgb(tmp_path):
    """As the folder datasets read horse2zebra's trainB (RGB zebras and a few grayscale ones):
    the folder is RGB, each grayscale image's value repeated over the channels."""
    rng = np.random.default_rng(5)
    rgb = rng.integers(0, 256, (6, 5, 3), dtype=np.uint8)
    gray = rng.integers(0, 256, (6, 5), dtype=np.uint8)
    _save(tmp_path / "zebras" / "a.jpg", rgb, quality=95)
    _save(tmp_path / "zebras" / "b.png", gray)
    Image.fromarray(np.stack([gray, gray], -1), mode="LA").save(tmp_path / "zebras" / "c.png")
    rgba = np.concatenate([rgb, np.full((6, 5, 1), 30, np.uint8)], -1)
    _save(tmp_path / "zebras" / "d.png", rgba)  # alpha dropped, as the datasets drop it
    x = load_images(tmp_path / "zebras")
    assert x.shape == (4, 3, 6, 5)
    for i in (1, 2):
        assert torch.equal(x[i], _unit(gray)[None].expand(3, -1, -1))
    assert torch.equal(x[3], _unit(rgb).permute(2, 0, 1))
    # The cache of the folder's decoded pixels is keyed by the rule: read again, same images.
    assert torch.equal(load_images(tmp_path / "zebras"), x)


def test_jpeg_and_webp_load_as_rgb(tmp_path):
    flat = np.full((8, 8, 3), 100, np.uint8)
    _save(tmp_path / "mixed" / "a.jpg", flat, quality=95)
    _save(tmp_path / "mixed" / "b.jpeg", flat, quality=95)
    _save(tmp_path / "mixed" / "c.webp", flat, lossless=True)
    x = load_images(tmp_path / "mixed")
    assert x.shape == (3, 3, 8, 8)
    assert (x - _f32(100)).abs().max() < 0.05  # JPEG is lossy, but a flat image survives
    assert torch.equal(x[2], torch.full((3, 8, 8), _f32(100)))


def test_folder_errors(tmp_path):
    message = _raises("does not exist", load_images, tmp_path / "missing")
    assert "missing" in message

    (tmp_path / "empty" / "sub").mkdir(parents=True)
    (tmp_path / "empty" / "readme.txt").write_text("hi")
    message = _raises("no images found", load_images, tmp_path / "empty")
    assert all(ext in message for ext in (".png", ".jpg", ".jpeg", ".bmp", ".webp"))

    _save(tmp_path / "corrupt" / "good.png", np.zeros((4, 4, 3), np.uint8))
    (tmp_path / "corrupt" / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    _raises("bad.png", load_images, tmp_path / "corrupt")

    _save(tmp_path / "truncated" / "t.png", np.arange(4096, dtype=np.uint32).astype(np.uint8)
          .reshape(64, 64))
    data = (tmp_path / "truncated" / "t.png").read_bytes()
    (tmp_path / "truncated" / "t.png").write_bytes(data[: len(data) // 2])
    _raises("cannot read image .*t.png", load_images, tmp_path / "truncated")

    _save(tmp_path / "sizes" / "a.png", np.zeros((4, 4, 3), np.uint8))
    _save(tmp_path / "sizes" / "b.png", np.zeros((4, 5, 3), np.uint8))
    message = _raises("differ in size", load_images, tmp_path / "sizes")
    assert "a.png" in message and "b.png" in message and "resize" in message


    _save(tmp_path / "deep" / "a.png", np.zeros((4, 4), np.uint16))
    _raises("8-bit", load_images, tmp_path / "deep")

    (tmp_path / "data.csv").write_text("1,2\n")
    _raises("unsupported file type '.csv'", load_images, tmp_path / "data.csv")
    single = _save(tmp_path / "one.png", np.zeros((4, 4, 3), np.uint8))
    _raises("single image", load_images, single)


@pytest.mark.parametrize("layout", ["nhwc", "nchw", "nhw"])
def test_uint8_arrays_in_every_layout(tmp_path, layout):
    rng = np.random.default_rng(1)
    channels = 1 if layout == "nhw" else 3
    pixels = rng.integers(0, 256, (4, channels, 6, 5), dtype=np.uint8)  # NCHW
    pixels[0, 0, 0, 0], pixels[0, 0, 0, 1] = 0, 255
    stored = {"nhwc": pixels.transpose(0, 2, 3, 1), "nchw": pixels, "nhw": pixels[:, 0]}[layout]
    np.save(tmp_path / "images.npy", stored)
    x = load_images(tmp_path / "images.npy")
    assert x.dtype == torch.float32 and x.shape == (4, channels, 6, 5)
    assert torch.equal(x, _unit(pixels))
    assert x[0, 0, 0, :2].tolist() == [-1.0, 1.0]


def test_one_channel_nhwc_and_tiny_square_images(tmp_path):
    pixels = np.arange(2 * 4 * 4, dtype=np.uint8).reshape(2, 4, 4, 1)
    np.save(tmp_path / "gray.npy", pixels)
    assert torch.equal(load_images(tmp_path / "gray.npy"), _unit(pixels.transpose(0, 3, 1, 2)))
    # (N, 3, 3, 1): channels last reads as square 3x3 images, channels first would not.
    tiny = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3, 1)
    np.save(tmp_path / "tiny.npy", tiny)
    assert load_images(tmp_path / "tiny.npy").shape == (2, 1, 3, 3)
    np.save(tmp_path / "cube.npy", np.zeros((2, 3, 3, 3), np.uint8))
    _raises("cannot tell the channel dimension", load_images, tmp_path / "cube.npy")


def test_float_ranges(tmp_path):
    unit = np.array([0.0, 0.25, 0.5, 1.0], np.float32).reshape(1, 1, 2, 2)
    np.save(tmp_path / "unit.npy", unit)
    assert load_images(tmp_path / "unit.npy").flatten().tolist() == [-1.0, -0.5, 0.0, 1.0]

    signed = np.array([-1.0, -0.5, 0.0, 1.0], np.float64).reshape(1, 2, 2, 1)
    np.save(tmp_path / "signed.npy", signed)
    x = load_images(tmp_path / "signed.npy")
    assert x.dtype == torch.float32 and x.flatten().tolist() == [-1.0, -0.5, 0.0, 1.0]

    np.save(tmp_path / "wide.npy", unit * 255)
    message = _raises("range", load_images, tmp_path / "wide.npy")
    assert "uint8" in message
    np.save(tmp_path / "beyond.npy", signed * 3)
    _raises("range", load_images, tmp_path / "beyond.npy")

    ints = np.array([0, 10, 255, 128], np.int64).reshape(1, 1, 2, 2)
    np.save(tmp_path / "ints.npy", ints)
    assert torch.equal(load_images(tmp_path / "ints.npy"), _unit(ints))
    np.save(tmp_path / "bigints.npy", ints * 4)
    _raises(r"\[0, 255\]", load_images, tmp_path / "bigints.npy")
    np.save(tmp_path / "bools.npy", np.zeros((1, 1, 2, 2), bool))
    _raises("dtype bool", load_images, tmp_path / "bools.npy")


def test_array_errors(tmp_path):
    for value in (np.nan, np.inf):
        bad = np.zeros((2, 3, 4, 4), np.float32)
        bad[1, 2, 3, 3] = value
        np.save(tmp_path / "bad.npy", bad)
        _raises("NaN or inf", load_images, tmp_path / "bad.npy")

    np.save(tmp_path / "flat.npy", np.zeros((4, 10), np.float32))
    _raises(r"shape \(4, 10\).*--extractor raw", load_images, tmp_path / "flat.npy")
    np.save(tmp_path / "five.npy", np.zeros((1, 2, 3, 4, 5), np.float32))
    _raises("shape", load_images, tmp_path / "five.npy")
    np.save(tmp_path / "nochannel.npy", np.zeros((2, 5, 6, 7), np.uint8))
    _raises("no channel dimension", load_images, tmp_path / "nochannel.npy")
    np.save(tmp_path / "none.npy", np.zeros((0, 3, 4, 4), np.uint8))
    _raises("empty", load_images, tmp_path / "none.npy")

    (tmp_path / "corrupt.npy").write_bytes(b"\x93NUMPY garbage")
    _raises("cannot read array file .*corrupt.npy", load_images, tmp_path / "corrupt.npy")
    np.save(tmp_path / "objects.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    _raises("objects.npy", load_images, tmp_path / "objects.npy")


def test_npz_key_choice(tmp_path):
    pixels = np.full((2, 4, 4, 3), 255, np.uint8)
    np.savez(tmp_path / "single.npz", whatever=pixels)
    assert load_images(tmp_path / "single.npz").shape == (2, 3, 4, 4)
    np.savez(tmp_path / "positional.npz", pixels, np.arange(2))  # arr_0, arr_1
    assert torch.equal(load_images(tmp_path / "positional.npz"), torch.ones(2, 3, 4, 4))
    np.savez(tmp_path / "named.npz", images=pixels, labels=np.arange(2))
    assert load_images(tmp_path / "named.npz").shape == (2, 3, 4, 4)
    np.savez(tmp_path / "ambiguous.npz", a=pixels, b=pixels)
    message = _raises("cannot tell which", load_images, tmp_path / "ambiguous.npz")
    assert "'a'" in message and "'b'" in message


def test_load_features(tmp_path):
    feats = np.random.default_rng(2).normal(size=(5, 7))
    np.save(tmp_path / "f.npy", feats)
    x = load_features(tmp_path / "f.npy")
    assert x.dtype == torch.float32 and x.shape == (5, 7)
    assert torch.equal(x, torch.from_numpy(feats.astype(np.float32)))
    np.savez(tmp_path / "f.npz", features=feats, labels=np.arange(5))
    assert torch.equal(load_features(tmp_path / "f.npz"), x)

    _raises("does not exist", load_features, tmp_path / "nope.npy")
    _raises("a folder", load_features, tmp_path)
    (tmp_path / "f.txt").write_text("1 2")
    _raises("'.txt'", load_features, tmp_path / "f.txt")
    np.save(tmp_path / "img.npy", np.zeros((2, 3, 4, 4), np.float32))
    _raises(r"shape \(2, 3, 4, 4\)", load_features, tmp_path / "img.npy")
    feats[2, 3] = np.nan
    np.save(tmp_path / "nan.npy", feats)
    _raises("NaN or inf", load_features, tmp_path / "nan.npy")
    np.save(tmp_path / "empty.npy", np.zeros((0, 7), np.float32))
    _raises("empty", load_features, tmp_path / "empty.npy")
    np.save(tmp_path / "str.npy", np.array([["a", "b"]]))
    _raises("dtype", load_features, tmp_path / "str.npy")
