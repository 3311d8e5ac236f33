"""The torchvision-format datasets (genbench.data.vision), on tiny copies written in the real
on-disk formats: IDX (gzipped and not), CIFAR-10's python pickles, SVHN's .mat files, CelebA's
JPEGs and text lists. Nothing is downloaded. Each loader's ``uint8=True`` form (the training
path) is checked against its float form, and CelebA's decode cache against changed and damaged
files.

torchvision checks the MD5 of every CIFAR-10, SVHN and CelebA metadata file against the official
files', which a fake copy cannot match. The fixtures below therefore replace only the expected
checksums in torchvision's class attributes by those of the fake files; torchvision's real
integrity check and loading code then run on them unchanged. Tests that leave the official
checksums in place show that a file differing from the official one is reported as corrupt.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import pickle
import shutil
import struct
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import write_cifar10, write_idx, write_svhn

from genbench.data.base import resize_images
from genbench.data.vision import (
    load_celeba,
    load_cifar10,
    load_fashion_mnist,
    load_mnist,
    load_svhn,
)
from genbench.errors import GenbenchError

REAL_MNIST = Path("/work/shared/data/mnist")


@pytest.fixture(autouse=True)
def no_environment(monkeypatch, tmp_path):
    for name in ("GENBENCH_DATA_ROOT", "GENBENCH_DOWNLOAD", "GENBENCH_CELEBA_LIMIT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))  # the default root must not be real


def md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def as_unit(values) -> torch.Tensor:
    """8-bit values as the loaders scale them."""
    return torch.as_tensor(np.asarray(values, dtype=np.float32)) / 127.5 - 1


def one_line_error(excinfo) -> str:
    message = str(excinfo.value)
    assert "\n" not in message
    return message


# --- MNIST / Fashion-MNIST -----------------------------------------------------------------

def make_idx_dataset(root: Path, folder: str, sizes=(12, 7), gz=True, splits=("train", "t10k")):
    raw = root / folder / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    arrays = {}
    for prefix, n in zip(("train", "t10k"), sizes, strict=True):
        if prefix not in splits:
            continue
        images = rng.integers(0, 256, size=(n, 28, 28)).astype(np.uint8)
        images[0, 0, 0], images[0, 0, 1] = 0, 255
        labels = (np.arange(n) % 10).astype(np.uint8)
        write_idx(raw / f"{prefix}-images-idx3-ubyte", images, 2051, gz)
        write_idx(raw / f"{prefix}-labels-idx1-ubyte", labels, 2049, gz)
        arrays[prefix] = images, labels
    return arrays


@pytest.mark.parametrize("loader, folder, gz", [
    (load_mnist, "MNIST", True), (load_fashion_mnist, "FashionMNIST", False)])
def test_idx_datasets_round_trip(tmp_path, loader, folder, gz):
    arrays = make_idx_dataset(tmp_path, folder, gz=gz)
    for split, prefix, n in (("train", "train", 12), ("test", "t10k", 7)):
        data = loader(split, root=tmp_path)
        images, labels = arrays[prefix]
        assert data.split == split and len(data) == n
        assert data.x.shape == (n, 1, 28, 28) and data.x.dtype == torch.float32
        assert data.x.is_contiguous() and data.meta["native_size"] == 28
        assert torch.equal(data.x[:, 0], as_unit(images))  # every pixel, exactly
        assert data.x.min() == -1.0 and data.x.max() == 1.0
        assert data.y.dtype == torch.int64 and data.y.tolist() == labels.tolist()
    resized = loader("test", image_size=14, root=tmp_path).x
    assert resized.shape == (7, 1, 14, 14)
    assert torch.equal(resized, resize_images(loader("test", root=tmp_path).x, 14))
    assert loader("test", image_size=32, root=tmp_path).x.shape == (7, 1, 32, 32)
    assert_uint8_form(lambda **kw: loader("test", root=tmp_path, **kw), arrays["t10k"][0][:, None])


def assert_uint8_form(load, pixels: np.ndarray, sizes=(None, 14, 32)) -> None:
    """``uint8=True`` keeps the 8-bit pixels at their own size and converts, at every image
    size, to exactly what the float load gives."""
    for size in sizes:
        kept, floats = load(image_size=size, uint8=True), load(image_size=size)
        assert kept.x.dtype == torch.uint8 and kept.x.is_contiguous()
        assert torch.equal(kept.x, torch.from_numpy(pixels)) and kept.image_size == size
        assert kept.example_shape == tuple(floats.x.shape[1:])
        converted = kept.to_float()
        assert torch.equal(converted.x, floats.x) and converted.meta == floats.meta
        assert (converted.y is None and floats.y is None) or torch.equal(converted.y, floats.y)


def test_mnist_one_split_is_enough_and_root_from_environment(tmp_path, monkeypatch):
    make_idx_dataset(tmp_path, "MNIST", splits=("t10k",))
    monkeypatch.setenv("GENBENCH_DATA_ROOT", str(tmp_path))
    assert len(load_mnist("test")) == 7
    with pytest.raises(GenbenchError) as excinfo:
        load_mnist("train")
    message = one_line_error(excinfo)
    assert str(tmp_path / "MNIST" / "raw") in message
    assert "train-images-idx3-ubyte" in message and "train-labels-idx1-ubyte" in message


def test_missing_dataset_says_where_and_how(tmp_path):
    with pytest.raises(GenbenchError) as excinfo:
        load_fashion_mnist("test", root=tmp_path / "nowhere")
    message = one_line_error(excinfo)
    assert "'fashion-mnist'" in message
    assert str(tmp_path / "nowhere" / "FashionMNIST" / "raw") in message
    assert "t10k-images-idx3-ubyte" in message
    assert "--data-root" in message and "GENBENCH_DOWNLOAD=1" in message
    # No root anywhere: the default cache folder under the home directory.
    with pytest.raises(GenbenchError) as excinfo:
        load_mnist()
    assert str(tmp_path / "home" / ".cache" / "genbench" / "data" / "MNIST" / "raw") in str(
        excinfo.value)


@pytest.mark.parametrize("dataset", ["celeba", "cifar10", "fashion-mnist"])
def test_a_run_without_its_data_says_so_before_asking_for_inception_weights(
        cli, tmp_path, monkeypatch, dataset):
    """These sets are scored in Inception's space; a user who has neither the data nor the
    weights hears about the data first (it was the weights, and a download attempt)."""
    monkeypatch.delenv("GENBENCH_INCEPTION_WEIGHTS", raising=False)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))  # no weights in the hub cache
    monkeypatch.setenv("GENBENCH_OFFLINE", "1")
    (tmp_path / "empty").mkdir()
    code, _, stderr = cli("run", "dcgan", "--dataset", dataset, "--data-root",
                          tmp_path / "empty", "--workdir", tmp_path / "work", "--steps", "1")
    assert code == 2  # a user error
    assert f"dataset {dataset!r} (train split) not found" in stderr
    assert "Inception" not in stderr and "Traceback" not in stderr
    assert not (tmp_path / "work" / "runs").exists() or not any(
        (tmp_path / "work" / "runs").iterdir())


def test_a_split_with_one_of_its_files_says_which_is_missing(tmp_path):
    make_idx_dataset(tmp_path, "MNIST", gz=True)
    (tmp_path / "MNIST" / "raw" / "train-images-idx3-ubyte.gz").unlink()
    with pytest.raises(GenbenchError) as excinfo:
        load_mnist("train", root=tmp_path)
    assert "; missing: train-images-idx3-ubyte;" in one_line_error(excinfo)


def test_unknown_split(tmp_path):
    for loader in (load_mnist, load_cifar10, load_svhn, load_celeba):
        with pytest.raises(GenbenchError, match="has no split 'extra'"):
            loader("extra", root=tmp_path)


@pytest.mark.parametrize("damage, reason", [
    (lambda raw: raw.write_bytes(raw.read_bytes()[:-40]), "end-of-stream"),  # truncated gzip
    (lambda raw: raw.write_bytes(b"not gzip at all"), "gzip"),
    (lambda raw: raw.write_bytes(gzip.compress(struct.pack(">IIII", 2051, 3, 28, 28) + b"\0")),
     "header promises"),
    (lambda raw: raw.write_bytes(gzip.compress(struct.pack(">II", 2049, 3) + b"\0\0\0")),
     "magic number 2051"),
])
def test_corrupt_idx_file_is_named(tmp_path, damage, reason):
    make_idx_dataset(tmp_path, "MNIST")
    images = tmp_path / "MNIST" / "raw" / "t10k-images-idx3-ubyte.gz"
    damage(images)
    with pytest.raises(GenbenchError) as excinfo:
        load_mnist("test", root=tmp_path)
    message = one_line_error(excinfo)
    assert str(images) in message and "corrupt" in message and reason in message


def test_labels_that_do_not_match_the_images(tmp_path):
    make_idx_dataset(tmp_path, "MNIST")
    labels = tmp_path / "MNIST" / "raw" / "t10k-labels-idx1-ubyte.gz"
    write_idx(labels.with_name("t10k-labels-idx1-ubyte"), np.zeros(5), 2049, gz=True)
    with pytest.raises(GenbenchError, match="5 labels for 7 images") as excinfo:
        load_mnist("test", root=tmp_path)
    assert str(labels) in one_line_error(excinfo)


@pytest.mark.skipif(not REAL_MNIST.is_dir(), reason=f"no real MNIST copy at {REAL_MNIST}")
def test_real_mnist_test_split(tmp_path):
    raw = tmp_path / "MNIST" / "raw"
    shutil.copytree(REAL_MNIST, raw)
    data = load_mnist("test", root=tmp_path)
    assert data.x.shape == (10_000, 1, 28, 28)
    assert data.x.min() == -1.0 and data.x.max() == 1.0
    assert torch.bincount(data.y).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028,
                                               974, 1009]


# --- CIFAR-10 ------------------------------------------------------------------------------

CIFAR_PER_BATCH, CIFAR_TEST = 4, 5


def make_cifar(root: Path) -> dict[str, dict]:
    """A fake CIFAR-10 copy in the real format; returns each batch's data rows and labels."""
    rng = np.random.default_rng(1)
    train = rng.integers(0, 256, size=(5 * CIFAR_PER_BATCH, 3, 32, 32)).astype(np.uint8)
    train[0, 0, 0, :2] = (0, 255)
    test = rng.integers(0, 256, size=(CIFAR_TEST, 3, 32, 32)).astype(np.uint8)
    # Batch k (0-4) holds classes k..k+3, the test batch 5..9 (test_anomaly_core relies on it).
    train_labels = np.array([(k + i) % 10 for k in range(5) for i in range(CIFAR_PER_BATCH)])
    test_labels = (np.arange(CIFAR_TEST) + 5) % 10
    write_cifar10(root, (train, train_labels), (test, test_labels))
    batches = {f"data_batch_{i + 1}": {
        "data": train[i * CIFAR_PER_BATCH:(i + 1) * CIFAR_PER_BATCH].reshape(CIFAR_PER_BATCH, -1),
        "labels": train_labels[i * CIFAR_PER_BATCH:(i + 1) * CIFAR_PER_BATCH].tolist()}
        for i in range(5)}
    batches["test_batch"] = {"data": test.reshape(CIFAR_TEST, -1), "labels": test_labels.tolist()}
    return batches


def test_cifar10_round_trip(tmp_path, accept_fake_cifar):
    batches = make_cifar(tmp_path)
    accept_fake_cifar(tmp_path / "cifar-10-batches-py")
    train, test = load_cifar10("train", root=tmp_path), load_cifar10("test", root=tmp_path)
    assert train.x.shape == (5 * CIFAR_PER_BATCH, 3, 32, 32) and test.x.shape == (5, 3, 32, 32)
    assert train.x.dtype == torch.float32 and train.x.is_contiguous()
    assert train.y.dtype == torch.int64
    # Rows are 1024 red, 1024 green, then 1024 blue values, each row-major.
    expected = np.concatenate([batches[f"data_batch_{i}"]["data"] for i in range(1, 6)])
    assert torch.equal(train.x, as_unit(expected.reshape(-1, 3, 32, 32)))
    assert train.x[0, 0, 0, 0] == -1.0 and train.x[0, 0, 0, 1] == 1.0
    assert test.y.tolist() == batches["test_batch"]["labels"]
    assert train.y.tolist() == sum((batches[f"data_batch_{i}"]["labels"]
                                    for i in range(1, 6)), [])
    assert load_cifar10("test", image_size=64, root=tmp_path).x.shape == (5, 3, 64, 64)
    assert_uint8_form(lambda **kw: load_cifar10("test", root=tmp_path, **kw),
                      batches["test_batch"]["data"].reshape(-1, 3, 32, 32), sizes=(None, 16, 64))


def test_cifar10_missing_file(tmp_path, accept_fake_cifar):
    make_cifar(tmp_path)
    accept_fake_cifar(tmp_path / "cifar-10-batches-py")
    (tmp_path / "cifar-10-batches-py" / "test_batch").unlink()
    with pytest.raises(GenbenchError) as excinfo:
        load_cifar10("train", root=tmp_path)  # torchvision needs every file for either split
    message = one_line_error(excinfo)
    assert str(tmp_path / "cifar-10-batches-py") in message
    assert "test_batch" in message and "data_batch_5" in message and "batches.meta" in message
    assert "--data-root" in message and "GENBENCH_DOWNLOAD=1" in message


def test_cifar10_file_that_is_not_the_official_one(tmp_path):
    make_cifar(tmp_path)  # official checksums left in place: every file fails them
    with pytest.raises(GenbenchError) as excinfo:
        load_cifar10("test", root=tmp_path)
    message = one_line_error(excinfo)
    assert str(tmp_path / "cifar-10-batches-py" / "data_batch_1") in message
    assert "MD5" in message


def test_cifar10_unreadable_pickle(tmp_path, accept_fake_cifar):
    make_cifar(tmp_path)
    bad = tmp_path / "cifar-10-batches-py" / "data_batch_3"
    bad.write_bytes(pickle.dumps({"batch_label": "x"})[:-5])
    accept_fake_cifar(tmp_path / "cifar-10-batches-py")
    with pytest.raises(GenbenchError) as excinfo:
        load_cifar10("train", root=tmp_path)
    message = one_line_error(excinfo)
    assert str(bad) in message and "corrupt" in message


# --- SVHN ----------------------------------------------------------------------------------

def make_svhn(root: Path, split: str, n: int) -> tuple[np.ndarray, np.ndarray]:
    """A fake ``{split}_32x32.mat``; returns X (32, 32, 3, n) and y (n, 1) as the file holds
    them (digit 0 labelled 10)."""
    rng = np.random.default_rng(2)
    images = rng.integers(0, 256, size=(n, 3, 32, 32)).astype(np.uint8)
    images[0, 0, 0, :2] = (0, 255)
    labels = np.arange(n) % 10
    write_svhn(root, split, images, labels)
    return images.transpose(2, 3, 1, 0), np.where(labels == 0, 10, labels).reshape(n, 1)


def test_svhn_round_trip(tmp_path, accept_fake_svhn):
    X, y = make_svhn(tmp_path, "train", 11)
    make_svhn(tmp_path, "test", 6)
    accept_fake_svhn(tmp_path)
    train = load_svhn("train", root=tmp_path)
    assert train.x.shape == (11, 3, 32, 32) and train.x.dtype == torch.float32
    assert train.x.is_contiguous()
    # .mat images are (height, width, channel, index).
    assert torch.equal(train.x, as_unit(X.transpose(3, 2, 0, 1)))
    assert train.x[0, 0, 0, 0] == -1.0 and train.x[0, 0, 0, 1] == 1.0  # X[row 0, column 1]
    assert train.y.dtype == torch.int64
    assert train.y.tolist() == [label % 10 for label in y[:, 0].tolist()]
    assert 0 in train.y.tolist() and 10 not in train.y.tolist()
    assert len(load_svhn("test", root=tmp_path)) == 6
    assert load_svhn("test", image_size=16, root=tmp_path).x.shape == (6, 3, 16, 16)
    assert_uint8_form(lambda **kw: load_svhn("train", root=tmp_path, **kw),
                      X.transpose(3, 2, 0, 1), sizes=(None, 16))


def test_svhn_missing_and_corrupt(tmp_path, accept_fake_svhn):
    make_svhn(tmp_path, "train", 3)
    with pytest.raises(GenbenchError) as excinfo:
        load_svhn("test", root=tmp_path)
    message = one_line_error(excinfo)
    assert "test_32x32.mat" in message and str(tmp_path) in message and "--data-root" in message
    # Not the official file (checksums untouched).
    with pytest.raises(GenbenchError, match="MD5") as excinfo:
        load_svhn("train", root=tmp_path)
    assert str(tmp_path / "train_32x32.mat") in one_line_error(excinfo)
    # Not a .mat file at all, even with a matching checksum.
    (tmp_path / "train_32x32.mat").write_bytes(b"MATLAB 5.0 MAT-file, but not really" * 10)
    accept_fake_svhn(tmp_path)
    with pytest.raises(GenbenchError) as excinfo:
        load_svhn("train", root=tmp_path)
    message = one_line_error(excinfo)
    assert str(tmp_path / "train_32x32.mat") in message and "corrupt" in message


# --- CelebA --------------------------------------------------------------------------------

ATTRS = [f"Attr_{i}" for i in range(40)]
CELEBA_PARTITION = [0, 0, 1, 0, 2, 2]  # train, train, valid, train, test, test
CELEBA_COLOURS = [(200, 30, 40), (10, 220, 90), (0, 0, 0), (250, 250, 250), (60, 60, 200),
                  (128, 64, 32)]
BORDER = (255, 0, 255)  # outside the central 140x140 crop


def make_celeba(root: Path) -> Path:
    from PIL import Image

    folder = root / "celeba"
    (folder / "img_align_celeba").mkdir(parents=True)
    names = [f"{i + 1:06d}.jpg" for i in range(len(CELEBA_PARTITION))]
    for name, colour in zip(names, CELEBA_COLOURS, strict=True):
        pixels = np.empty((218, 178, 3), dtype=np.uint8)  # the aligned images' size
        pixels[:] = BORDER
        pixels[39:179, 19:159] = colour  # exactly the centre crop
        Image.fromarray(pixels).save(folder / "img_align_celeba" / name, quality=100,
                                     subsampling=0)
    write_celeba_lists(folder, names, CELEBA_PARTITION)
    return folder


def write_celeba_lists(folder: Path, names: list[str], partition: list[int]) -> None:
    """The five metadata files torchvision's CelebA reads, in their real formats."""
    n = len(names)
    lines = {
        "list_eval_partition.txt": [f"{name} {part}" for name, part
                                    in zip(names, partition, strict=True)],
        "identity_CelebA.txt": [f"{name} {100 + i}" for i, name in enumerate(names)],
        "list_bbox_celeba.txt": [str(n), "image_id x_1 y_1 width height"]
        + [f"{name}    95  71 226 313" for name in names],
        "list_landmarks_align_celeba.txt": [
            str(n), "lefteye_x lefteye_y righteye_x righteye_y nose_x nose_y leftmouth_x "
                    "leftmouth_y rightmouth_x rightmouth_y"]
        + [f"{name} 69 109 106 113 77 142 73 152 108 154" for name in names],
        "list_attr_celeba.txt": [str(n), " ".join(ATTRS)]
        + [f"{name} " + " ".join("1" if (i + j) % 3 == 0 else "-1" for j in range(40))
           for i, name in enumerate(names)],
    }
    for filename, rows in lines.items():
        (folder / filename).write_text("\n".join(rows) + "\n")


def make_many_celeba(root: Path, n_train: int, n_test: int = 10) -> Path:
    """n_train + n_test real 178x218 JPEGs (16 distinct noisy images, written over and over:
    decoding is what is measured, and each file is decoded on its own)."""
    from io import BytesIO

    from PIL import Image

    folder = root / "celeba"
    (folder / "img_align_celeba").mkdir(parents=True)
    rng = np.random.default_rng(5)
    encoded = []
    for _ in range(16):
        buffer = BytesIO()
        Image.fromarray(rng.integers(0, 256, (218, 178, 3), dtype=np.uint8)).save(
            buffer, format="JPEG", quality=90)
        encoded.append(buffer.getvalue())
    names = [f"{i + 1:06d}.jpg" for i in range(n_train + n_test)]
    for i, name in enumerate(names):
        (folder / "img_align_celeba" / name).write_bytes(encoded[i % 16])
    write_celeba_lists(folder, names, [0] * n_train + [2] * n_test)
    return folder


@pytest.fixture
def accept_fake_celeba(monkeypatch):
    from torchvision.datasets import CelebA

    def accept(folder: Path):
        files = [(file_id, md5(folder / name) if (folder / name).exists() else sum_, name)
                 for file_id, sum_, name in CelebA.file_list]
        monkeypatch.setattr(CelebA, "file_list", files)
    return accept


def test_celeba_crop_resize_and_splits(tmp_path, accept_fake_celeba):
    accept_fake_celeba(make_celeba(tmp_path))
    train = load_celeba("train", root=tmp_path)
    assert train.x.shape == (3, 3, 64, 64) and train.x.dtype == torch.float32
    assert train.y is None and train.meta["native_size"] == 64
    assert train.x.min() >= -1.0 and train.x.max() <= 1.0
    # The official partition: images 1, 2 and 4 are train (3 is valid, 5 and 6 are test).
    # Every output pixel, corners included, comes from the central crop (JPEG: within 3 levels).
    for image, colour in zip(train.x, [CELEBA_COLOURS[i] for i in (0, 1, 3)], strict=True):
        expected = as_unit(colour).view(3, 1, 1).expand(3, 64, 64)
        assert (image - expected).abs().max() <= 3 / 127.5
    test = load_celeba("test", image_size=32, root=tmp_path)
    assert test.x.shape == (2, 3, 32, 32)
    assert (test.x[0, :, 16, 16] - as_unit(CELEBA_COLOURS[4])).abs().max() <= 3 / 127.5


def test_celeba_uint8_form(tmp_path, accept_fake_celeba):
    accept_fake_celeba(make_celeba(tmp_path))
    train = load_celeba("train", root=tmp_path)
    kept = load_celeba("train", root=tmp_path, uint8=True)
    assert kept.x.dtype == torch.uint8 and kept.x.shape == (3, 3, 64, 64)
    assert torch.equal(kept.to_float().x, train.x)
    small = load_celeba("test", image_size=32, root=tmp_path, uint8=True)
    assert small.x.shape == (2, 3, 64, 64) and small.example_shape == (3, 32, 32)
    assert torch.equal(small.to_float().x, load_celeba("test", image_size=32, root=tmp_path).x)


def count_decoded(monkeypatch) -> list[str]:
    """Record the name of every CelebA image decoded from its JPEG."""
    from genbench.data import vision

    decoded, original = [], vision._celeba_image

    def counting(path) -> np.ndarray:
        decoded.append(Path(path).name)
        return original(path)

    monkeypatch.setattr(vision, "_celeba_image", counting)
    return decoded


def test_celeba_decode_cache(tmp_path, accept_fake_celeba, monkeypatch):
    monkeypatch.setenv("GENBENCH_CACHE_DIR", str(tmp_path / "cache"))
    folder = make_celeba(tmp_path)
    accept_fake_celeba(folder)
    decoded = count_decoded(monkeypatch)
    first = load_celeba("train", root=tmp_path, uint8=True)
    assert sorted(decoded) == ["000001.jpg", "000002.jpg", "000004.jpg"]
    entries = sorted((Path(os.environ["GENBENCH_CACHE_DIR"]) / "decoded").glob("celeba-train-*"))
    assert [e.suffix for e in entries] == [".json", ".npy"]
    assert json.loads(entries[0].read_text())["source"] == str(folder.resolve())
    # A second load, as float or as uint8, at any image size, decodes nothing, and needs
    # neither torchvision's checks nor its parsing of the five lists, which have not changed.
    from torchvision.datasets import CelebA

    def untouchable(*args, **kwargs):
        raise AssertionError("torchvision's CelebA was used")

    with monkeypatch.context() as patch:
        patch.setattr(CelebA, "__init__", untouchable)
        assert torch.equal(load_celeba("train", root=tmp_path, uint8=True).x, first.x)
        assert torch.equal(load_celeba("train", image_size=32, root=tmp_path).x,
                           resize_images(first.to_float().x, 32))
    assert len(decoded) == 3
    # A changed list goes through torchvision again (and here fails its MD5 check).
    identity = folder / "identity_CelebA.txt"
    identity.write_text(identity.read_text().replace(" 100", " 999"))
    with pytest.raises(GenbenchError, match="MD5"):
        load_celeba("train", root=tmp_path, uint8=True)
    accept_fake_celeba(folder)
    assert torch.equal(load_celeba("train", root=tmp_path, uint8=True).x, first.x)
    assert len(decoded) == 6
    # Changing an image decodes the split again, and what is loaded is the new image.
    image = folder / "img_align_celeba" / "000002.jpg"
    shutil.copyfile(folder / "img_align_celeba" / "000005.jpg", image)
    changed = load_celeba("train", root=tmp_path, uint8=True)
    assert len(decoded) == 9
    assert torch.equal(changed.x[1], load_celeba("test", root=tmp_path, uint8=True).x[0])
    assert len(decoded) == 11  # the test split has an entry of its own
    # A damaged cache entry is decoded again, never trusted.
    (npy,) = (Path(os.environ["GENBENCH_CACHE_DIR"]) / "decoded").glob("celeba-train-*.npy")
    raw = bytearray(npy.read_bytes())
    raw[-100] ^= 0xFF
    npy.write_bytes(bytes(raw))
    assert torch.equal(load_celeba("train", root=tmp_path, uint8=True).x, changed.x)
    assert len(decoded) == 14
    # GENBENCH_CELEBA_LIMIT decodes into an entry of its own and leaves the full one.
    monkeypatch.setenv("GENBENCH_CELEBA_LIMIT", "2")
    assert torch.equal(load_celeba("train", root=tmp_path, uint8=True).x, changed.x[:2])
    monkeypatch.delenv("GENBENCH_CELEBA_LIMIT")
    load_celeba("train", root=tmp_path, uint8=True)
    assert len(decoded) == 16


# Peak memory of the load alone: the imports peak above the RSS they leave, so the peak (VmHWM)
# is reset to the current RSS first (Linux: "5" > /proc/self/clear_refs).
MEMORY_PROBE = """
import json, sys
import torch
from torchvision.datasets import CelebA
from genbench.data.vision import load_celeba
CelebA.file_list = json.loads(sys.argv[2])
def status(key):
    with open("/proc/self/status") as lines:
        return next(int(line.split()[1]) for line in lines if line.startswith(key))
with open("/proc/self/clear_refs", "w") as clear:
    clear.write("5")
before = status("VmRSS:")
data = load_celeba("train", root=sys.argv[1], uint8=True)
print(json.dumps({"n": len(data), "dtype": str(data.x.dtype), "bytes": data.x.nbytes,
                  "growth_kib": status("VmHWM:") - before}))
"""


@pytest.mark.slow
def test_large_celeba_is_decoded_once_held_as_uint8_and_reports_progress(
        tmp_path, accept_fake_celeba, monkeypatch, capfd):
    """6,000 training images: progress lines, the cache used on the next load, and (in a fresh
    process, first decode and cache hit) a peak memory growth far below the float32 size."""
    import subprocess
    import sys

    from torchvision.datasets import CelebA

    n = 6000
    monkeypatch.setenv("GENBENCH_CACHE_DIR", str(tmp_path / "cache"))
    folder = make_many_celeba(tmp_path, n)
    accept_fake_celeba(folder)
    decoded = count_decoded(monkeypatch)
    first = load_celeba("train", root=tmp_path, uint8=True)
    assert first.x.shape == (n, 3, 64, 64) and first.x.dtype == torch.uint8
    err = capfd.readouterr().err.splitlines()
    progress = [line for line in err if line.endswith(f"/{n:,} images")]
    assert 9 <= len(progress) <= 11 and progress[-1] == f"loading CelebA train: {n:,}/{n:,} images"
    assert "saved the decoded images (70 MiB)" in err[-1]
    assert len(decoded) == n
    again = load_celeba("train", root=tmp_path, uint8=True)
    assert len(decoded) == n and torch.equal(again.x, first.x)
    assert capfd.readouterr().err.startswith(f"loading CelebA train: {n:,} decoded images from "
                                             f"the cache")
    float_bytes = n * 3 * 64 * 64 * 4
    for case in ("first decode", "cache hit"):
        if case == "first decode":
            for entry in (tmp_path / "cache" / "decoded").iterdir():
                entry.unlink()
        done = subprocess.run([sys.executable, "-c", MEMORY_PROBE, str(tmp_path),
                               json.dumps(CelebA.file_list)], capture_output=True, text=True,
                              env={**os.environ, "GENBENCH_CACHE_DIR": str(tmp_path / "cache")},
                              check=True)
        probe = json.loads(done.stdout.splitlines()[-1])
        assert probe["n"] == n and probe["dtype"] == "torch.uint8"
        assert probe["bytes"] == float_bytes // 4
        assert probe["growth_kib"] * 1024 < 0.6 * float_bytes, (case, probe)


def test_celeba_limit(tmp_path, accept_fake_celeba, monkeypatch):
    accept_fake_celeba(make_celeba(tmp_path))
    monkeypatch.setenv("GENBENCH_CELEBA_LIMIT", "2")
    assert len(load_celeba("train", root=tmp_path)) == 2
    monkeypatch.setenv("GENBENCH_CELEBA_LIMIT", "lots")
    with pytest.raises(GenbenchError, match="GENBENCH_CELEBA_LIMIT must be a positive"):
        load_celeba("train", root=tmp_path)


def test_celeba_missing(tmp_path, accept_fake_celeba):
    with pytest.raises(GenbenchError) as excinfo:
        load_celeba("test", root=tmp_path)
    message = one_line_error(excinfo)
    assert str(tmp_path / "celeba") in message
    assert "img_align_celeba" in message and "list_eval_partition.txt" in message
    assert "--data-root" in message and "GENBENCH_DOWNLOAD=1" in message
    # An image listed in the partition but absent.
    folder = make_celeba(tmp_path)
    accept_fake_celeba(folder)
    (folder / "img_align_celeba" / "000005.jpg").unlink()
    with pytest.raises(GenbenchError) as excinfo:
        load_celeba("test", root=tmp_path)
    assert str(folder / "img_align_celeba" / "000005.jpg") in one_line_error(excinfo)


def test_celeba_corrupt_files(tmp_path, accept_fake_celeba):
    folder = make_celeba(tmp_path)
    accept_fake_celeba(folder)
    bad_image = folder / "img_align_celeba" / "000002.jpg"
    bad_image.write_bytes(b"\xff\xd8\xff\xe0 not really a JPEG")
    with pytest.raises(GenbenchError) as excinfo:
        load_celeba("train", root=tmp_path)
    message = one_line_error(excinfo)
    assert str(bad_image) in message and "corrupt" in message
    # A metadata file that differs from the official one.
    partition = folder / "list_eval_partition.txt"
    partition.write_text(partition.read_text().replace(" 2\n", " 0\n"))
    with pytest.raises(GenbenchError, match="MD5") as excinfo:
        load_celeba("train", root=tmp_path)
    assert str(partition) in one_line_error(excinfo)


# --- registration --------------------------------------------------------------------------

def test_registered():
    from genbench.plugins import get_registries

    datasets = get_registries().datasets
    expected = {"mnist": ((1, 28, 28), 10, ""), "fashion-mnist": ((1, 28, 28), 10, "inception-v3"),
                "cifar10": ((3, 32, 32), 10, "inception-v3"),
                "svhn": ((3, 32, 32), 10, "inception-v3"),
                "celeba": ((3, 64, 64), 0, "inception-v3")}
    for name, (shape, classes, extractor) in expected.items():
        spec = datasets.get(name)
        assert spec.kind == "images" and spec.shape == shape and spec.num_classes == classes
        assert spec.needs_data_root and spec.default_extractor == extractor
        assert spec.loader == f"genbench.data.vision:load_{name.replace('-', '_')}"
        assert spec.summary and spec.source
