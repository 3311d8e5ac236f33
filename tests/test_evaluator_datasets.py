"""The evaluator on every labelled image dataset genbench knows, from small fake copies written
in each dataset's real on-disk format (IDX, CIFAR-10 pickles, SVHN .mat): it trains with early
stopping, is cached once per workdir, records its accuracy and training time, applies each
dataset's own bar, and the anomaly variants reuse their base dataset's evaluator.

The fake images are made of ten easily separable classes (a bright band in one of five rows,
across the middle or at both sides: mirror-symmetric, so the flips used for Fashion-MNIST and
CIFAR-10 keep the class); one training label in ten is wrong, which gives the validation loss
a floor to level off at. Training is shortened (epochs of 512 examples, a narrower net). The
optional test at the end trains the real thing on real MNIST digits when ../shared/data/mnist
is there.
"""

from __future__ import annotations

import gzip
import json
import struct
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import cli_json, write_cifar10, write_idx_dataset, write_svhn

from genbench import api
from genbench.errors import GenbenchError
from genbench.features import evaluator as evaluator_module
from genbench.features.base import ExtractorContext
from genbench.features.cache import cache_dir
from genbench.features.evaluator import MIN_ACCURACY, make_evaluator, min_accuracy
from genbench.plugins import get_registries

REAL_MNIST = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist"
SHAPES = {"mnist": (1, 28), "fashion-mnist": (1, 28), "svhn": (3, 32), "cifar10": (3, 32)}
VARIANTS = {"mnist": ["mnist-oneclass:3", "mnist-leaveout:3"], "cifar10": ["cifar10-oneclass:0"],
            "fashion-mnist": [], "svhn": []}


def separable(n: int, channels: int, size: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """uint8 (n, channels, size, size) images of ten classes, and their labels."""
    rng = np.random.default_rng(seed)
    labels = rng.permutation(np.arange(n) % 10)
    images = rng.integers(0, 60, size=(n, channels, size, size))
    band, quarter = size // 5, size // 4
    for i, k in enumerate(labels):
        rows = slice(k % 5 * band, (k % 5 + 1) * band)
        if k < 5:
            images[i, :, rows, quarter:size - quarter] += 180
        else:
            images[i, :, rows, :quarter] += 180
            images[i, :, rows, size - quarter:] += 180
    return images.astype(np.uint8), labels.astype(np.uint8)


def write_fake(name: str, root: Path, accept_fake_cifar=None, accept_fake_svhn=None,
               n_train: int = 300, n_test: int = 100, wrong: int = 0) -> None:
    """A fake copy of dataset ``name`` under ``root``; ``wrong`` test labels are wrong."""
    channels, size = SHAPES[name]
    train = separable(n_train, channels, size, seed=1)
    train[1][::10] = (train[1][::10] + 3) % 10
    test_images, test_labels = separable(n_test, channels, size, seed=2)
    test_labels[:wrong] = (test_labels[:wrong] + 1) % 10
    test = (test_images, test_labels)
    if name in ("mnist", "fashion-mnist"):
        folder = "MNIST" if name == "mnist" else "FashionMNIST"
        write_idx_dataset(root, folder, (train[0][:, 0], train[1]),
                          (test[0][:, 0], test[1]), gz=name == "mnist")
    elif name == "cifar10":
        accept_fake_cifar(write_cifar10(root, train, test))
    else:
        write_svhn(root, "train", *train)
        write_svhn(root, "test", *test)
        accept_fake_svhn(root)


@pytest.fixture
def quick(monkeypatch, tmp_path):
    """Short epochs, a narrower net, and a cache of this test's own, so its evaluators train
    here."""
    monkeypatch.setattr(evaluator_module, "EPOCH_EXAMPLES", 512)
    monkeypatch.setattr(evaluator_module, "WIDTH", 8)
    monkeypatch.setenv("GENBENCH_CACHE_DIR", str(tmp_path / "cache"))
    for name in ("GENBENCH_DATA_ROOT", "GENBENCH_DOWNLOAD"):
        monkeypatch.delenv(name, raising=False)


def build(name: str, workdir: Path, root: Path, reports: list | None = None):
    ctx = ExtractorContext(get_registries().datasets.get(name), torch.device("cpu"), workdir,
                           options={"data_root": str(root)},
                           progress=None if reports is None else
                           lambda what, done, total: reports.append((what, done, total)))
    return make_evaluator(ctx)


def evaluator_files(workdir: Path) -> list[Path]:
    return sorted((cache_dir(workdir) / "evaluators").glob("*.pt"))


@pytest.mark.parametrize("name", ["mnist", "fashion-mnist", "svhn", "cifar10"])
def test_evaluator_trains_stops_early_and_is_cached(name, quick, tmp_path, workdir,
                                                    accept_fake_cifar, accept_fake_svhn,
                                                    monkeypatch):
    root = tmp_path / "data"
    write_fake(name, root, accept_fake_cifar, accept_fake_svhn)
    reports: list = []
    ex = build(name, workdir, root, reports)
    info = ex.info
    assert info["accuracy"] >= info["min_accuracy"] == MIN_ACCURACY[name][0]
    assert info["trained_on"] == f"{name}/train" and info["tested_on"] == f"{name}/test"
    held_out = int(info["validation"].split(" of 300 ")[0])
    assert 27 <= held_out <= 33  # 10% of each class (about 30 images each)
    # The validation loss levels off at its floor, and training stops there.
    assert info["stopped"] == "plateau" and info["epochs"] < info["max_epochs"]
    assert info["epochs"] == info["best_epoch"] + evaluator_module.PATIENCE
    assert info["train_seconds"] > 0 and info["arch"] == "cnn-v2"
    epochs = [r for r in reports if ": epoch " in r[0]]
    assert epochs[0][0].startswith(f"training the {name} evaluator (once per workdir): "
                                   f"epoch 1/{info['max_epochs']}, val ")
    assert [r[1] for r in epochs] == list(range(1, info["epochs"] + 1))
    x = torch.rand(5, *get_registries().datasets.get(name).shape) * 2 - 1
    out = ex(x)
    assert out.features.shape == (5, 128) and out.logits.shape == (5, 10)
    (path,) = evaluator_files(workdir)

    # Once per workdir: the second build, and every anomaly variant, load the same file.
    def no_training(*args, **kwargs):
        raise AssertionError("trained again")

    monkeypatch.setattr(evaluator_module, "train_classifier", no_training)
    again = build(name, workdir, root, reports := [])
    assert again.key == ex.key and not reports
    assert again.info["train_seconds"] == info["train_seconds"]
    assert torch.allclose(again(x).features, out.features, atol=1e-5)
    for variant in VARIANTS[name]:
        reused = build(variant, workdir, root)
        assert reused.key == ex.key and reused.info["dataset"] == name
    assert evaluator_files(workdir) == [path]


def test_each_dataset_has_its_own_bar(quick, tmp_path, workdir):
    # The same images as MNIST and as Fashion-MNIST, 6 of 100 test labels wrong: at most 94%,
    # enough for Fashion-MNIST's 90% bar, not for MNIST's 98.5%.
    root = tmp_path / "data"
    for name in ("mnist", "fashion-mnist"):
        write_fake(name, root, wrong=6)
    fashion = build("fashion-mnist", workdir, root)
    assert 0.90 <= fashion.info["accuracy"] <= 0.94
    with pytest.raises(GenbenchError) as excinfo:
        build("mnist", workdir, root)
    message = str(excinfo.value)
    assert "\n" not in message
    assert "below the 98.5% bar for mnist" in message and "--extractor raw" in message
    # The refused evaluator stays cached: asking again refuses at once, without training.
    started = time.perf_counter()
    with pytest.raises(GenbenchError, match="bar for mnist"):
        build("mnist-oneclass:1", workdir, root)
    assert time.perf_counter() - started < 5


def test_other_data_trains_its_own_evaluator(quick, tmp_path, workdir, monkeypatch):
    first, second = tmp_path / "first", tmp_path / "second"
    write_fake("mnist", first)
    write_fake("mnist", second, n_train=200)
    a, b = build("mnist", workdir, first), build("mnist", workdir, second)
    assert a.info["data"] != b.info["data"] and len(evaluator_files(workdir)) == 2
    # Seeded: the same data in another workdir gives the very same weights (same key).
    monkeypatch.setenv("GENBENCH_CACHE_DIR", str(tmp_path / "other-cache"))
    assert build("mnist", tmp_path / "other", first).key == a.key


def test_epoch_cap(quick, tmp_path, workdir, monkeypatch):
    monkeypatch.setattr(evaluator_module, "MAX_EPOCHS", 2)
    write_fake("mnist", tmp_path / "data", n_train=200)
    try:
        build("mnist", workdir, tmp_path / "data")
    except GenbenchError as exc:  # two short epochs may not reach the bar: still recorded
        assert "bar for mnist" in str(exc)
    (path,) = evaluator_files(workdir)
    info = json.loads(torch.load(path, weights_only=True)["info"])
    assert info["stopped"] == "cap" and info["epochs"] == info["max_epochs"] == 2


def test_bars_are_justified_and_third_party_datasets_get_the_default():
    builtin = [spec.name for spec in get_registries().datasets
               if spec.kind == "images" and spec.num_classes > 1 and not spec.evaluator_from]
    assert set(builtin) <= set(MIN_ACCURACY)
    assert all(0.5 < bar < 1 and len(why) > 20 for bar, why in MIN_ACCURACY.values())
    assert min_accuracy("someone-elses-dataset") == evaluator_module.DEFAULT_MIN_ACCURACY


def test_variants_reuse_their_base_evaluator_per_channel_only_when_stacked():
    datasets = get_registries().datasets
    for variant, base in (("digits-oneclass:2", "digits"), ("digits-leaveout:2", "digits"),
                          ("mnist-oneclass:2", "mnist"), ("mnist-leaveout:2", "mnist"),
                          ("cifar10-oneclass:2", "cifar10"), ("stacked-digits", "digits")):
        spec, per_channel = evaluator_module.base_dataset(datasets.get(variant))
        assert spec.name == base and per_channel == (variant == "stacked-digits")


def test_run_shows_the_training_and_records_it(quick, tmp_path, cli):
    root, work = tmp_path / "data", tmp_path / "work"
    write_fake("mnist", root)
    code, stdout, stderr = cli("run", "gmm", "--dataset", "mnist", "--data-root", root,
                               "--workdir", work, "--metrics", "fd", "--num-samples", "100",
                               "--format", "json")
    assert code == 0, stderr
    record = json.loads(stdout)  # stdout holds the record and nothing else
    assert "evaluator" in stderr and "mnist evaluator" in stderr
    info = record["extractors"]["evaluator"]
    assert info["accuracy"] >= 0.985 and info["train_seconds"] > 0
    assert {"epochs", "best_epoch", "stopped", "min_accuracy"} <= set(info)
    # The second run on the workdir reuses the evaluator: nothing about training it.
    again = cli_json(cli, "run", "gmm", "--dataset", "mnist-oneclass:4", "--data-root", root,
                     "--workdir", work, "--metrics", "fd", "--num-samples", "100")
    assert again["extractors"]["evaluator"]["key"] == info["key"]


def test_a_run_trains_the_same_whatever_building_its_feature_space_draws(
        quick, tmp_path, cli, monkeypatch):
    """The feature spaces are built after the seed is set and the data loaded; what building
    one draws from torch's random state (training the evaluator, or Inception's layers
    initialised before its weights are loaded) must not change the model's training."""
    root = tmp_path / "data"
    write_fake("mnist", root)

    def run(work: str) -> dict:
        return cli_json(cli, "run", "dcgan", "--dataset", "mnist", "--data-root", root,
                        "--workdir", tmp_path / work, "--steps", "2", "--metrics", "fd",
                        "--num-samples", "100")

    first = run("trains-the-evaluator")
    prepare = api.prepare_scoring
    monkeypatch.setattr(api, "prepare_scoring",
                        lambda *a, **k: (torch.rand(1000), prepare(*a, **k))[1])
    second = run("finds-it-cached-and-draws")
    assert first["extractors"]["evaluator"]["key"] == second["extractors"]["evaluator"]["key"]
    values = [{m["name"]: m["value"] for m in record["metrics"]} for record in (first, second)]
    assert values[0] == values[1] and values[0]


def test_prepare_scoring_passes_progress(quick, tmp_path):
    write_fake("mnist", tmp_path / "data")
    reports: list = []
    spec = get_registries().datasets.get("mnist")
    api.prepare_scoring(spec, ["fd"], None, torch.device("cpu"), tmp_path / "work",
                        {"data_root": str(tmp_path / "data")},
                        progress=lambda *report: reports.append(report))
    assert any("training the mnist evaluator (once per workdir): epoch 1/" in what
               for what, _, _ in reports)


def _idx(path: Path) -> np.ndarray:
    raw = gzip.decompress(path.read_bytes())
    ndim = raw[3]
    dims = struct.unpack(f">{ndim}I", raw[4:4 + 4 * ndim])
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


@pytest.mark.slow
@pytest.mark.long
@pytest.mark.skipif(not REAL_MNIST.is_dir(), reason=f"no real MNIST copy at {REAL_MNIST}")
def test_real_mnist_evaluator_passes_its_bar(tmp_path, monkeypatch):
    """Real digits, few of them: only the 10,000 MNIST test images are here. Train = test
    images 0-7,999 (with their t10k labels), test = test images 8,000-9,999, written as
    MNIST/raw/ in torchvision's layout. The full schedule, no shortcuts."""
    monkeypatch.setenv("GENBENCH_CACHE_DIR", str(tmp_path / "cache"))
    images = _idx(REAL_MNIST / "t10k-images-idx3-ubyte.gz")
    labels = _idx(REAL_MNIST / "t10k-labels-idx1-ubyte.gz")
    root = tmp_path / "R"
    write_idx_dataset(root, "MNIST", (images[:8000], labels[:8000]),
                      (images[8000:], labels[8000:]))
    ex = build("mnist", tmp_path / "work", root)
    assert ex.info["accuracy"] >= MIN_ACCURACY["mnist"][0] == 0.985
    assert ex.info["validation"].startswith("799 of 8000 ")
    print(f"real MNIST evaluator: {ex.info}")


def test_writers_match_the_readers(tmp_path, accept_fake_cifar, accept_fake_svhn):
    from genbench.data.vision import load_cifar10, load_mnist, load_svhn

    images, labels = separable(12, 3, 32, seed=0)
    write_cifar10(tmp_path, (images, labels), (images[:5], labels[:5]))
    accept_fake_cifar(tmp_path / "cifar-10-batches-py")
    write_svhn(tmp_path, "train", images, labels)
    accept_fake_svhn(tmp_path)
    grey, _ = separable(7, 1, 28, seed=0)
    write_idx_dataset(tmp_path, "MNIST", (grey[:, 0], labels[:7]), (grey[:3, 0], labels[:3]))
    expected = torch.from_numpy(images).float() / 127.5 - 1
    for data in (load_cifar10("train", root=tmp_path), load_svhn("train", root=tmp_path)):
        assert torch.equal(data.x, expected) and data.y.tolist() == labels.tolist()
    mnist = load_mnist("test", root=tmp_path)
    assert torch.equal(mnist.x, torch.from_numpy(grey[:3]).float() / 127.5 - 1)
