"""Translation datasets (genbench.data.translation): pix2pix "aligned" and CycleGAN folders on
tiny copies written in the real formats (PNG/JPEG files in the real layouts), their uint8 form
and decode cache, and the offline edges2digits / digits2ink tasks built from the digits."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from genbench.data.base import resize_images
from genbench.data.digits import load_digits
from genbench.data.translation import (
    edge_map,
    ink_style,
    load_digits2ink,
    load_edges2digits,
    load_paired_folder,
    load_unpaired_folder,
)
from genbench.data.translation_specs import translation_datasets
from genbench.errors import GenbenchError
from genbench.registry import DATA_KINDS, DatasetSpec, Registry, load_object

SHARED = Path("/work/shared/data")
RED, BLUE, GREEN, YELLOW = (255, 0, 0), (0, 0, 255), (0, 255, 0), (255, 255, 0)


def unit(rgb) -> torch.Tensor:
    """8-bit colour as the loaders scale it, shaped (C, 1, 1)."""
    return (torch.tensor(rgb, dtype=torch.float32) / 127.5 - 1).view(-1, 1, 1)


def save(path: Path, left, right=None, height: int = 16, width: int = 16, mode: str = "RGB"):
    """One image: ``left`` (and ``right``, side by side) as solid colours of height x width."""
    path.parent.mkdir(parents=True, exist_ok=True)
    halves = [left] if right is None else [left, right]
    channels = 1 if mode == "L" else 3
    pixels = np.concatenate([np.broadcast_to(np.array(c, np.uint8).reshape(1, 1, channels),
                                             (height, width, channels)) for c in halves], axis=1)
    Image.fromarray(pixels.squeeze(-1) if mode == "L" else pixels, mode).save(path)
    return path


def make_paired(base: Path, test_folder: str = "test") -> Path:
    """pix2pix aligned layout: train 3 pairs (red|blue, 2 PNG + 1 JPEG), test 2 (green|yellow)."""
    save(base / "train" / "1.png", RED, BLUE)
    save(base / "train" / "2.png", RED, BLUE)
    save(base / "train" / "3.jpg", RED, BLUE)
    save(base / test_folder / "1.png", GREEN, YELLOW)
    save(base / test_folder / "2.png", GREEN, YELLOW)
    return base


def make_unpaired(base: Path, counts=(3, 2, 2, 1)) -> Path:
    """CycleGAN layout; A is red (train) / green (test), B blue / yellow; counts differ."""
    for (folder, colour), n in zip({"trainA": RED, "trainB": BLUE, "testA": GREEN,
                                    "testB": YELLOW}.items(), counts, strict=True):
        for i in range(n):
            save(base / folder / f"{i}.png", colour)
    return base


def one_line(excinfo) -> str:
    message = str(excinfo.value)
    assert "\n" not in message and message
    return message


# --- paired-folder ------------------------------------------------------------------------

def test_paired_folder_halves_land_in_their_domains(tmp_path):
    base = make_paired(tmp_path / "facades")
    train = load_paired_folder("train", argument=str(base))
    assert train.name == "paired-folder" and train.split == "train" and train.y is None
    assert train.x.shape == train.target.shape == (3, 3, 16, 16)
    assert train.x.dtype == torch.float32 and train.x.is_contiguous()
    assert train.x.min() >= -1 and train.x.max() <= 1
    assert torch.equal(train.x[:2], unit(RED).expand(2, 3, 16, 16))  # PNGs: exact
    assert torch.equal(train.target[:2], unit(BLUE).expand(2, 3, 16, 16))
    # the JPEG: close, away from the seam (chroma subsampling blurs colour across it)
    assert (train.x[2, :, :, :12] - unit(RED)).abs().max() < 0.1
    assert (train.target[2, :, :, 4:] - unit(BLUE)).abs().max() < 0.1
    assert train.meta["native_size"] == 16 and train.meta["paired"] is True
    assert [Path(f).name for f in train.meta["files"]] == ["1.png", "2.png", "3.jpg"]
    test = load_paired_folder("test", argument=str(base))
    assert torch.equal(test.x, unit(GREEN).expand(2, 3, 16, 16))
    assert torch.equal(test.target, unit(YELLOW).expand(2, 3, 16, 16))


def test_paired_folder_val_is_used_only_without_test(tmp_path):
    base = make_paired(tmp_path / "maps", test_folder="val")
    assert torch.equal(load_paired_folder("test", argument=base).x,
                       unit(GREEN).expand(2, 3, 16, 16))
    save(base / "test" / "1.png", YELLOW, GREEN)  # test/ wins over val/
    assert torch.equal(load_paired_folder("test", argument=base).x,
                       unit(YELLOW).expand(1, 3, 16, 16))


def test_direction_btoa_swaps_the_domains(tmp_path):
    paired = make_paired(tmp_path / "p")
    data = load_paired_folder("test", argument=paired, direction="BtoA")
    assert torch.equal(data.x, unit(YELLOW).expand(2, 3, 16, 16))
    assert torch.equal(data.target, unit(GREEN).expand(2, 3, 16, 16))
    assert data.meta["direction"] == "BtoA"
    unpaired = make_unpaired(tmp_path / "u")
    data = load_unpaired_folder("train", argument=unpaired, direction="BtoA")
    assert data.x.shape[0] == 2 and data.target.shape[0] == 3
    assert torch.equal(data.x, unit(BLUE).expand(2, 3, 16, 16))
    assert torch.equal(data.target, unit(RED).expand(3, 3, 16, 16))
    assert [Path(f).parent.name for f in data.meta["files"]] == ["trainB"] * 2


def test_image_size_resizes_both_domains(tmp_path):
    base = make_paired(tmp_path / "p")
    small = load_paired_folder("train", image_size=4, argument=base)
    assert small.x.shape == small.target.shape == (3, 3, 4, 4)
    assert torch.equal(small.x[0], unit(RED).expand(3, 4, 4))
    big = load_unpaired_folder("test", image_size=32, argument=make_unpaired(tmp_path / "u"))
    assert big.x.shape == (2, 3, 32, 32) and big.target.shape == (1, 3, 32, 32)


def test_sizes_must_agree_unless_image_size_is_given(tmp_path):
    base = make_paired(tmp_path / "p")
    save(base / "test" / "3.png", GREEN, YELLOW, height=8, width=8)
    with pytest.raises(GenbenchError) as excinfo:
        load_paired_folder("train", argument=base)  # checked over both splits
    message = one_line(excinfo)
    assert "differ in size" in message and "3.png is 16x8" in message and "image_size" in message
    data = load_paired_folder("test", image_size=8, argument=base)
    assert data.x.shape == (3, 3, 8, 8) and data.meta["native_size"] is None
    assert torch.equal(data.target, unit(YELLOW).expand(3, 3, 8, 8))


def test_grayscale_rule(tmp_path):
    gray = tmp_path / "gray"
    for split, n in (("train", 2), ("test", 1)):
        for i in range(n):
            save(gray / split / f"{i}.png", 40, 200, mode="L")
    data = load_paired_folder("train", argument=gray)
    assert data.x.shape == (2, 1, 16, 16)
    assert torch.equal(data.x, unit((40,)).expand(2, 1, 16, 16))
    assert torch.equal(data.target, unit((200,)).expand(2, 1, 16, 16))
    # one colour image anywhere in the set (here in test/) makes every split RGB
    save(gray / "test" / "9.png", RED, BLUE)
    data = load_paired_folder("train", argument=gray)
    assert data.x.shape == (2, 3, 16, 16)
    assert torch.equal(data.x, unit((40, 40, 40)).expand(2, 3, 16, 16))
    # unpaired: decided per domain, over both splits
    base = make_unpaired(tmp_path / "u", counts=(1, 1, 1, 1))
    for folder in ("trainA", "testA"):
        save(base / folder / "0.png", 90, mode="L")
    data = load_unpaired_folder("train", argument=base)
    assert data.x.shape == (1, 1, 16, 16) and data.target.shape == (1, 3, 16, 16)
    assert torch.equal(data.x, unit((90,)).expand(1, 1, 16, 16))


# --- unpaired-folder ----------------------------------------------------------------------

def test_unpaired_folder_loads_each_domain(tmp_path):
    base = make_unpaired(tmp_path / "horse2zebra", counts=(3, 2, 2, 1))
    train = load_unpaired_folder("train", argument=str(base))
    assert train.x.shape == (3, 3, 16, 16) and train.target.shape == (2, 3, 16, 16)
    assert torch.equal(train.x, unit(RED).expand(3, 3, 16, 16))
    assert torch.equal(train.target, unit(BLUE).expand(2, 3, 16, 16))
    assert train.y is None and train.meta["paired"] is False and train.meta["native_size"] == 16
    test = load_unpaired_folder("test", argument=str(base))
    assert torch.equal(test.x, unit(GREEN).expand(2, 3, 16, 16))
    assert torch.equal(test.target, unit(YELLOW).expand(1, 3, 16, 16))
    assert [Path(f).parent.name for f in test.meta["target_files"]] == ["testB"]


# --- uint8 form and the decode cache ------------------------------------------------------

def noise_image(path: Path, width: int, height: int, seed: int, mode: str = "RGB") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    shape = (height, width) if mode == "L" else (height, width, 3)
    pixels = np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)
    Image.fromarray(pixels, mode).save(path)
    return path


def make_noisy(tmp_path: Path, height: int = 12) -> tuple[Path, Path]:
    """Random-pixel PNGs (so that every resize changes values): a paired and an unpaired
    folder, B in colour and A grey in the unpaired one."""
    paired, unpaired = tmp_path / "paired", tmp_path / "unpaired"
    for split, n in (("train", 5), ("test", 2)):
        for i in range(n):
            noise_image(paired / split / f"{i}.png", 2 * height, height, seed=i)
    for folder, n, mode in (("trainA", 4, "L"), ("trainB", 3, "RGB"), ("testA", 2, "L"),
                            ("testB", 1, "RGB")):
        for i in range(n):
            noise_image(unpaired / folder / f"{i}.png", height, height, seed=10 + i, mode=mode)
    return paired, unpaired


def float_halves(path: Path, size, channels: int = 3) -> tuple[torch.Tensor, torch.Tensor]:
    """One A|B image as the float path has always read it: each half resized on its own."""
    with Image.open(path) as image:
        pixels = np.asarray(image.convert("RGB" if channels == 3 else "L"), dtype=np.uint8)
    x = torch.from_numpy(pixels.copy()).permute(2, 0, 1).to(torch.float32).div_(127.5).sub_(1)
    half = x.shape[-1] // 2
    return (resize_images(x[None, :, :, :half], size)[0],
            resize_images(x[None, :, :, half:], size)[0])


@pytest.mark.parametrize("size", [None, 5, 24, 20])  # native, area, nearest, bilinear
def test_folders_uint8_form_converts_to_the_float_load(tmp_path, size):
    paired, unpaired = make_noisy(tmp_path)
    for direction in ("AtoB", "BtoA"):
        floats = load_paired_folder("train", size, argument=paired, direction=direction)
        kept = load_paired_folder("train", size, argument=paired, direction=direction,
                                  uint8=True)
        assert kept.x.dtype == kept.target.dtype == torch.uint8
        assert kept.x.shape == (5, 3, 12, 12) and kept.image_size == size
        converted = kept.to_float()
        assert torch.equal(converted.x, floats.x) and torch.equal(converted.target, floats.target)
        assert kept.example_shape == tuple(floats.x.shape[1:]) and kept.meta == floats.meta
    # ... and the float load is what reading each image on its own gives.
    files = sorted((paired / "train").iterdir())
    for i, file in enumerate(files):
        a, b = float_halves(file, size)
        assert torch.equal(floats.target[i], a) and torch.equal(floats.x[i], b)  # BtoA
    floats = load_unpaired_folder("train", size, argument=unpaired)
    kept = load_unpaired_folder("train", size, argument=unpaired, uint8=True)
    assert kept.x.shape == (4, 1, 12, 12) and kept.target.shape == (3, 3, 12, 12)
    assert torch.equal(kept.to_float().x, floats.x)
    assert torch.equal(kept.to_float().target, floats.target)


def test_folders_of_mixed_sizes_stay_float(tmp_path):
    paired, unpaired = make_noisy(tmp_path)
    odd = noise_image(paired / "train" / "9.png", 16, 8, seed=99)
    noise_image(unpaired / "trainB" / "9.png", 7, 7, seed=98)
    kept = load_paired_folder("train", 6, argument=paired, uint8=True)
    assert kept.x.dtype == torch.float32 and kept.x.shape == (6, 3, 6, 6)
    assert kept.image_size is None
    a, b = float_halves(odd, 6)
    assert torch.equal(kept.x[5], a) and torch.equal(kept.target[5], b)
    assert torch.equal(kept.x, load_paired_folder("train", 6, argument=paired).x)
    # unpaired: B varies in size, so both domains come back as float
    kept = load_unpaired_folder("train", 6, argument=unpaired, uint8=True)
    assert kept.x.dtype == kept.target.dtype == torch.float32
    floats = load_unpaired_folder("train", 6, argument=unpaired)
    assert torch.equal(kept.x, floats.x) and torch.equal(kept.target, floats.target)


def test_folders_are_decoded_once(tmp_path, monkeypatch):
    from genbench.data import translation

    monkeypatch.setenv("GENBENCH_CACHE_DIR", str(tmp_path / "cache"))
    decoded, original = [], translation._pixels

    def counting(name, path, channels):
        decoded.append(path.name)
        return original(name, path, channels)

    monkeypatch.setattr(translation, "_pixels", counting)
    paired, unpaired = make_noisy(tmp_path)
    first = load_paired_folder("train", argument=paired, uint8=True)
    assert len(decoded) == 5
    again = load_paired_folder("train", 5, argument=paired, direction="BtoA")
    assert len(decoded) == 5  # other size and direction: the same decoded pixels
    assert torch.equal(again.target, resize_images(first.to_float().x, 5))
    load_unpaired_folder("train", argument=unpaired, uint8=True)
    load_unpaired_folder("train", argument=unpaired)
    assert len(decoded) == 5 + 4 + 3
    # A rewritten image is decoded again (its split's folder only) and its new pixels load.
    noise_image(paired / "train" / "2.png", 24, 12, seed=50)
    changed = load_paired_folder("train", argument=paired, uint8=True)
    assert len(decoded) == 12 + 5
    assert not torch.equal(changed.x[2], first.x[2]) and torch.equal(changed.x[3], first.x[3])
    # Mixed sizes: the per-image resized floats are cached too, keyed by the size.
    noise_image(paired / "train" / "9.png", 16, 8, seed=99)
    load_paired_folder("train", 6, argument=paired)
    load_paired_folder("train", 6, argument=paired)
    assert len(decoded) == 17 + 6
    load_paired_folder("train", 4, argument=paired)
    assert len(decoded) == 23 + 6


# --- errors -------------------------------------------------------------------------------

def paired_case(tmp_path, case):
    """Build a broken pix2pix folder; return (argument, what the message must say)."""
    base = tmp_path / "data"
    if case == "no-argument":
        return None, "needs a folder: name it paired-folder:PATH"
    if case == "missing":
        return base, "does not exist"
    if case == "a-file":
        base.write_text("x")
        return base, "is not a folder"
    make_paired(base)
    if case == "no-train":
        for file in (base / "train").iterdir():
            file.unlink()
        (base / "train").rmdir()
        return base, "has no train/ folder"
    if case == "loose-images":
        (base / "train").rename(tmp_path / "elsewhere")
        save(base / "1.png", RED, BLUE)
        return base, "has no train/ folder (it holds images directly"
    if case == "no-test":
        for file in (base / "test").iterdir():
            file.unlink()
        (base / "test").rmdir()
        return base, "has no test/ (or val/) folder"
    if case == "empty":
        for file in (base / "test").iterdir():
            file.unlink()
        (base / "test" / "notes.txt").write_text("no images")
        return base, f"no images in {base / 'test'}"
    if case == "not-2to1":
        save(base / "train" / "square.png", RED, height=16, width=16)
        return base, "square.png is 16x16, not two images side by side"
    if case == "unreadable":
        (base / "test" / "broken.jpg").write_bytes(b"not a jpeg")
        return base, f"cannot read image {base / 'test' / 'broken.jpg'}"
    if case == "16-bit":
        Image.fromarray(np.zeros((16, 32), np.uint16)).save(base / "train" / "deep.png")
        return base, "deep.png has 16/32-bit pixels"
    if case == "truncated":
        path = base / "train" / "4.png"
        noise = np.random.default_rng(0).integers(0, 256, (16, 32, 3), dtype=np.uint8)
        Image.fromarray(noise).save(path)
        path.write_bytes(path.read_bytes()[:-300])
        return base, "cannot read image"
    raise AssertionError(case)


@pytest.mark.parametrize("case", ["no-argument", "missing", "a-file", "no-train",
                                  "loose-images", "no-test", "empty", "not-2to1", "unreadable",
                                  "truncated", "16-bit"])
def test_paired_folder_errors(tmp_path, case):
    argument, expected = paired_case(tmp_path, case)
    with pytest.raises(GenbenchError) as excinfo:
        load_paired_folder("train", argument=argument)
    assert expected in one_line(excinfo)


@pytest.mark.parametrize("case", ["missing-subfolder", "empty", "unreadable", "no-argument"])
def test_unpaired_folder_errors(tmp_path, case):
    base = make_unpaired(tmp_path / "data")
    if case == "missing-subfolder":
        for file in (base / "testB").iterdir():
            file.unlink()
        (base / "testB").rmdir()
        expected = "has no testB/ folder; the CycleGAN layout is PATH/trainA/"
    elif case == "empty":
        for file in (base / "trainB").iterdir():
            file.unlink()
        expected = f"no images in {base / 'trainB'}"
    elif case == "unreadable":
        (base / "testA" / "x.png").write_bytes(b"\x89PNG garbage")
        expected = f"cannot read image {base / 'testA' / 'x.png'}"
    else:
        base, expected = None, "needs a folder: name it unpaired-folder:PATH"
    with pytest.raises(GenbenchError) as excinfo:
        load_unpaired_folder("train", argument=base)
    assert expected in one_line(excinfo)


def test_bad_split_direction_and_argument(tmp_path):
    base = make_paired(tmp_path / "p")
    with pytest.raises(GenbenchError, match="no split 'val'"):
        load_paired_folder("val", argument=base)
    with pytest.raises(GenbenchError, match="direction must be 'AtoB' or 'BtoA'"):
        load_paired_folder("train", argument=base, direction="AB")
    with pytest.raises(GenbenchError, match="takes no argument"):
        load_edges2digits("train", argument="x")


# --- offline tasks ------------------------------------------------------------------------

def digits32(split: str) -> torch.Tensor:
    return load_digits(split, image_size=32).x


def test_edges2digits_shapes_labels_and_determinism():
    train = load_edges2digits("train")
    test = load_edges2digits("test")
    assert train.x.shape == train.target.shape == (1437, 1, 32, 32)
    assert test.x.shape == (360, 1, 32, 32) and test.y.shape == (360,)
    assert torch.equal(test.y, load_digits("test").y)
    assert torch.equal(test.target, digits32("test"))  # B is the digit itself
    assert torch.equal(test.x, edge_map(test.target))
    for data in (train, test):
        assert data.x.min() == -1 and data.x.max() <= 1 and data.target.min() >= -1
    again = load_edges2digits("test")
    assert torch.equal(again.x, test.x) and torch.equal(again.target, test.target)
    swapped = load_edges2digits("test", direction="BtoA")
    assert torch.equal(swapped.x, test.target) and torch.equal(swapped.target, test.x)
    assert torch.equal(swapped.y, test.y)
    small = load_edges2digits("test", image_size=8)
    assert torch.equal(small.target, load_digits("test").x)  # area averaging undoes x4


def test_edges_are_zero_where_the_digit_is_flat():
    digits = digits32("test")[:40]
    edges = edge_map(digits)
    padded = torch.nn.functional.pad(digits, (1, 1, 1, 1), mode="replicate")
    windows = padded.unfold(2, 3, 1).unfold(3, 3, 1)  # (N, 1, 32, 32, 3, 3)
    flat = (windows.amax(dim=(-1, -2)) == windows.amin(dim=(-1, -2)))
    assert flat.any() and (~flat).any()
    assert (edges[flat] == -1).all()
    # (Sobel ignores the centre pixel, so a few non-flat windows have no gradient)
    assert (edges[~flat] > -1).float().mean() > 0.9
    step = torch.full((1, 1, 6, 6), -1.0)
    step[..., 3:] = 1.0  # a sharp step from 0 to 1: magnitude 4, the full edge value
    assert torch.equal(edge_map(step)[0, 0, :, 2:4], torch.ones(6, 2))
    assert torch.equal(edge_map(step)[0, 0, :, [0, 1, 4, 5]], -torch.ones(6, 4))


def test_ink_style_formula():
    x = torch.tensor([-1.0, 1.0]).view(2, 1, 1, 1).expand(2, 1, 8, 8)
    styled = ink_style(x)
    assert styled.shape == (2, 3, 8, 8)
    paper = torch.tensor([0.95, 0.90, 0.70])
    assert torch.allclose(styled[0, :, 0, 0], paper * 2 - 1)  # (0 + 0) // 4 even: plain paper
    assert torch.allclose(styled[0, :, 0, 4], (paper - 0.15) * 2 - 1)  # a stripe
    assert torch.allclose(styled[1, :, 3, 5], torch.tensor([0.10, 0.20, 0.60]) * 2 - 1)


def test_digits2ink_train_domains_come_from_disjoint_digits():
    digits = load_digits("train", image_size=32)
    train = load_digits2ink("train")
    assert train.x.shape == (719, 1, 32, 32) and train.target.shape == (718, 3, 32, 32)
    assert torch.equal(train.x, digits.x[0::2]) and torch.equal(train.y, digits.y[0::2])
    assert torch.equal(train.target, ink_style(digits.x[1::2]))
    assert torch.equal(train.meta["target_labels"], digits.y[1::2])
    # no B image is the style of any A image: the training data is really unpaired
    a_styles = ink_style(train.x).flatten(1)
    assert torch.cdist(train.target.flatten(1)[:100], a_styles).min() > 0
    again = load_digits2ink("train")
    assert torch.equal(again.x, train.x) and torch.equal(again.target, train.target)
    assert train.x.min() >= -1 and train.x.max() <= 1
    assert train.target.min() >= -1 and train.target.max() <= 1


def test_digits2ink_test_target_is_the_true_translation():
    test = load_digits2ink("test")
    assert test.x.shape == (360, 1, 32, 32) and test.target.shape == (360, 3, 32, 32)
    assert torch.equal(test.x, digits32("test"))
    assert torch.equal(test.target, ink_style(test.x))
    assert torch.equal(test.y, load_digits("test").y)
    swapped = load_digits2ink("test", direction="BtoA", image_size=16)
    assert swapped.x.shape == (360, 3, 16, 16) and swapped.target.shape == (360, 1, 16, 16)
    assert torch.equal(swapped.x, resize_images(test.target, 16))


# --- specs --------------------------------------------------------------------------------

def test_translation_specs_are_valid():
    specs = translation_datasets()
    assert [s.name for s in specs] == ["paired-folder", "unpaired-folder", "edges2digits",
                                       "digits2ink"]
    registry = Registry("dataset")
    for spec in specs:
        assert isinstance(spec, DatasetSpec)
        registry.add(spec, "test")
        assert spec.kind in DATA_KINDS and spec.kind in ("paired", "unpaired")
        assert callable(load_object(spec.loader))
        assert len(spec.shape) == len(spec.target_shape) == 3
        assert spec.splits == ("train", "test") and spec.eval_split == "test"
        assert spec.argument == ("PATH" if spec.name.endswith("-folder") else "")
    for spec in specs[2:]:  # the offline tasks load at their registered shapes
        data = load_object(spec.loader)(split="test")
        assert tuple(data.x.shape[1:]) == spec.shape
        assert tuple(data.target.shape[1:]) == spec.target_shape
        assert spec.traits == ("aligned-target",) and spec.num_classes == 10


def test_spec_module_does_not_import_torch():
    code = ("import sys; import genbench.data.translation_specs as m; m.translation_datasets(); "
            "print('torch' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True)
    assert result.stdout.strip() == "False"


# --- the real sets, when present ----------------------------------------------------------

def link_some(source: Path, target: Path, names: list[str]) -> None:
    target.mkdir(parents=True)
    for name in names:
        (target / name).symlink_to(source / name)


@pytest.mark.skipif(not (SHARED / "facades").is_dir(), reason="no shared facades copy")
def test_real_facades(tmp_path):
    names = sorted(p.name for p in (SHARED / "facades").iterdir())
    link_some(SHARED / "facades", tmp_path / "facades" / "train", names[:2])
    link_some(SHARED / "facades", tmp_path / "facades" / "val", names[-1:])
    data = load_paired_folder("test", argument=tmp_path / "facades")
    assert data.x.shape == data.target.shape == (1, 3, 256, 256)
    kept = load_paired_folder("test", argument=tmp_path / "facades", uint8=True)
    assert kept.x.dtype == torch.uint8 and torch.equal(kept.to_float().x, data.x)
    saturation = (data.target.amax(1) - data.target.amin(1)).mean()
    assert saturation > (data.x.amax(1) - data.x.amin(1)).mean()  # B: the colour label map


@pytest.mark.skipif(not (SHARED / "horse2zebra").is_dir(), reason="no shared horse2zebra copy")
def test_real_horse2zebra(tmp_path):
    base = tmp_path / "h2z"
    for folder in ("trainA", "trainB", "testA", "testB"):
        names = sorted(p.name for p in (SHARED / "horse2zebra" / folder).iterdir())
        link_some(SHARED / "horse2zebra" / folder, base / folder, names[:2])
    data = load_unpaired_folder("test", image_size=32, argument=base)
    assert data.x.shape == data.target.shape == (2, 3, 32, 32)
    assert data.meta["native_size"] == 256
