"""The torchvision-format datasets (genbench.data.vision), on tiny copies written in the real
on-disk formats: IDX (gzipped and not), CIFAR-10's python pickles, SVHN's .mat files, CelebA's
JPEGs and text lists. Nothing is downloaded.

torchvision checks the MD5 of every CIFAR-10, SVHN and CelebA metadata file against the official
files', which a fake copy cannot match. The fixtures below therefore replace only the expected
checksums in torchvision's class attributes by those of the fake files; torchvision's real
integrity check and loading code then run on them unchanged. Tests that leave the official
checksums in place show that a file differing from the official one is reported as corrupt.
"""

from __future__ import annotations

import gzip
import hashlib
import pickle
import shutil
import struct
from pathlib import Path

import numpy as np
import pytest
import torch

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

def write_idx(path: Path, array: np.ndarray, magic: int, gz: bool = True) -> Path:
    payload = struct.pack(">I", magic) + struct.pack(f">{array.ndim}I", *array.shape)
    payload += array.astype(np.uint8).tobytes()
    if gz:
        path = path.with_name(path.name + ".gz")
        path.write_bytes(gzip.compress(payload))
    else:
        path.write_bytes(payload)
    return path


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
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(1)
    batches = {}
    names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    for k, name in enumerate(names):
        n = CIFAR_TEST if name == "test_batch" else CIFAR_PER_BATCH
        data = rng.integers(0, 256, size=(n, 3072)).astype(np.uint8)
        data[0, :2] = (0, 255)
        batch = {"batch_label": name, "labels": [(k + i) % 10 for i in range(n)],
                 "data": data, "filenames": [f"img_{k}_{i}.png" for i in range(n)]}
        (folder / name).write_bytes(pickle.dumps(batch, protocol=2))
        batches[name] = batch
    meta = {"label_names": ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog",
                            "horse", "ship", "truck"], "num_cases_per_batch": 4, "num_vis": 3072}
    (folder / "batches.meta").write_bytes(pickle.dumps(meta, protocol=2))
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
    import scipy.io

    rng = np.random.default_rng(2)
    X = rng.integers(0, 256, size=(32, 32, 3, n)).astype(np.uint8)
    X[0, 0, 0, 0], X[0, 1, 0, 0] = 0, 255
    y = (np.arange(n) % 10 + 1).astype(np.uint8).reshape(n, 1)  # digit 0 is labelled 10
    root.mkdir(parents=True, exist_ok=True)
    scipy.io.savemat(str(root / f"{split}_32x32.mat"), {"X": X, "y": y})
    return X, y


@pytest.fixture
def accept_fake_svhn(monkeypatch):
    from torchvision.datasets import SVHN

    def accept(root: Path):
        split_list = {split: [url, name, md5(root / name) if (root / name).exists() else sum_]
                      for split, (url, name, sum_) in SVHN.split_list.items()}
        monkeypatch.setattr(SVHN, "split_list", split_list)
    return accept


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
    n = len(names)
    lines = {
        "list_eval_partition.txt": [f"{name} {part}" for name, part
                                    in zip(names, CELEBA_PARTITION, strict=True)],
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
