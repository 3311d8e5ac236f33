"""Shared fixtures: an isolated workdir, a CLI runner, and throwaway plugins installed through
real entry-point metadata (a ``.dist-info`` folder on ``sys.path``)."""

from __future__ import annotations

import json
import os
import sys
import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

from genbench.plugins import get_registries

REPO = Path(__file__).resolve().parents[1]


def pytest_collection_modifyitems(config, items):
    """The tests marked slow run first (the order is otherwise kept): on `pytest -n 2` a
    two-minute test that starts near the end leaves the other worker idle meanwhile."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


@pytest.fixture(autouse=True, scope="session")
def shared_cache(tmp_path_factory):
    """One evaluator/feature cache for the whole session, so the digits evaluator is trained
    once, not once per test (the cache is keyed by content, so sharing it is safe)."""
    mp = pytest.MonkeyPatch()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        # `pytest -n N`: one cache for every worker (an evaluator is trained by the first worker
        # that needs it while the others wait, see genbench.atomic.one_at_a_time), and one CPU
        # thread per worker and per process it starts: N workers must not oversubscribe the
        # cores (two 2-thread torch processes on 2 cores ran 10-25x slower than 1 thread).
        import torch

        cache = tmp_path_factory.getbasetemp().parent / "genbench-cache"
        cache.mkdir(exist_ok=True)
        mp.setenv("OMP_NUM_THREADS", "1")
        torch.set_num_threads(1)
    else:
        cache = tmp_path_factory.mktemp("genbench-cache")
    mp.setenv("GENBENCH_CACHE_DIR", str(cache))
    mp.setenv("GENBENCH_OFFLINE", "1")  # never try to download Inception weights in tests
    yield
    mp.undo()


@pytest.fixture(autouse=True)
def fresh_registries():
    """Plugin discovery is cached per process; every test starts from a clean discovery."""
    get_registries.cache_clear()
    yield
    get_registries.cache_clear()


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    return tmp_path / "work"


@pytest.fixture
def cli():
    """Invoke the CLI in-process; returns (exit_code, stdout, stderr)."""
    from genbench.cli import app

    runner = CliRunner()

    def invoke(*args: str):
        result = runner.invoke(app, [str(a) for a in args])
        return result.exit_code, result.stdout, result.stderr

    return invoke


def numbers(losses: dict) -> dict[str, float]:
    """A ``train_step``'s losses (0-d tensors or floats) as floats, as the training loop reads
    them."""
    return {key: float(value) for key, value in losses.items()}


def cli_json(cli, *args: str):
    code, stdout, stderr = cli(*args, "--format", "json")
    assert code == 0, stderr
    return json.loads(stdout)


@pytest.fixture
def fake_plugin(tmp_path: Path, monkeypatch):
    """Install a plugin module under an entry point, as pip would (dist-info + entry_points.txt).

    ``fake_plugin(name, source)`` writes ``source`` as module ``genbench_test_<name>``.
    """
    site = tmp_path / "site"
    site.mkdir()
    monkeypatch.syspath_prepend(str(site))

    def install(name: str, source: str, version: str = "1.0") -> str:
        module = f"genbench_test_{name}"
        (site / f"{module}.py").write_text(textwrap.dedent(source))
        dist = site / f"genbench_test_{name}-{version}.dist-info"
        dist.mkdir()
        (dist / "METADATA").write_text(
            f"Metadata-Version: 2.1\nName: genbench-test-{name}\nVersion: {version}\n")
        (dist / "entry_points.txt").write_text(f"[genbench]\n{name} = {module}\n")
        sys.modules.pop(module, None)
        get_registries.cache_clear()
        return module

    yield install
    for mod in [m for m in sys.modules if m.startswith("genbench_test_")]:
        sys.modules.pop(mod)


@pytest.fixture
def accept_fake_cifar(monkeypatch):
    """Make torchvision's CIFAR10 expect the MD5s of the files now in ``folder`` (a fake copy
    the test wrote in the real format)."""
    import hashlib

    from torchvision.datasets import CIFAR10

    def md5(path: Path) -> str:
        return hashlib.md5(path.read_bytes()).hexdigest()

    def accept(folder: Path):
        monkeypatch.setattr(CIFAR10, "train_list", [[name, md5(folder / name)]
                                                    for name, _ in CIFAR10.train_list])
        monkeypatch.setattr(CIFAR10, "test_list", [["test_batch", md5(folder / "test_batch")]])
        monkeypatch.setattr(CIFAR10, "meta", {**CIFAR10.meta,
                                              "md5": md5(folder / "batches.meta")})
    return accept


@pytest.fixture
def accept_fake_svhn(monkeypatch):
    """Make torchvision's SVHN expect the MD5s of the .mat files now in ``root``."""
    import hashlib

    from torchvision.datasets import SVHN

    def accept(root: Path):
        split_list = {split: [url, name, hashlib.md5((root / name).read_bytes()).hexdigest()
                              if (root / name).exists() else md5]
                      for split, (url, name, md5) in SVHN.split_list.items()}
        monkeypatch.setattr(SVHN, "split_list", split_list)
    return accept


# --- writers of the real on-disk formats (torchvision's layout), for fake copies -------------

def write_idx(path: Path, array, magic: int, gz: bool = True) -> Path:
    """An IDX file of unsigned bytes (MNIST, Fashion-MNIST); ``gz`` adds ``.gz`` and gzips."""
    import gzip
    import struct

    import numpy as np

    array = np.asarray(array)
    payload = struct.pack(">I", magic) + struct.pack(f">{array.ndim}I", *array.shape)
    payload += array.astype(np.uint8).tobytes()
    if gz:
        path = path.with_name(path.name + ".gz")
        path.write_bytes(gzip.compress(payload))
    else:
        path.write_bytes(payload)
    return path


def write_idx_dataset(root: Path, folder: str, train, test, gz: bool = True) -> None:
    """``root/folder/raw/{train,t10k}-{images,labels}``: ``train``/``test`` are (uint8 images
    (N, 28, 28), labels (N,))."""
    raw = root / folder / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    for prefix, (images, labels) in (("train", train), ("t10k", test)):
        write_idx(raw / f"{prefix}-images-idx3-ubyte", images, 2051, gz)
        write_idx(raw / f"{prefix}-labels-idx1-ubyte", labels, 2049, gz)


def write_cifar10(root: Path, train, test) -> Path:
    """``root/cifar-10-batches-py/``: the train images (uint8 (N, 3, 32, 32), labels) spread
    over the five data batches, the test ones in test_batch; returns the folder (pass it to
    ``accept_fake_cifar``)."""
    import pickle

    import numpy as np

    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True, exist_ok=True)
    parts = [(f"data_batch_{i + 1}", images, labels) for i, (images, labels) in enumerate(
        zip(np.array_split(np.asarray(train[0]), 5), np.array_split(np.asarray(train[1]), 5),
            strict=True))]
    for name, images, labels in parts + [("test_batch", *map(np.asarray, test))]:
        batch = {"batch_label": name, "labels": [int(v) for v in labels],
                 "data": images.reshape(len(images), -1).astype(np.uint8),
                 "filenames": [f"{name}_{i}.png" for i in range(len(images))]}
        (folder / name).write_bytes(pickle.dumps(batch, protocol=2))
    meta = {"label_names": ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog",
                            "horse", "ship", "truck"], "num_cases_per_batch": len(parts[0][1]),
            "num_vis": 3072}
    (folder / "batches.meta").write_bytes(pickle.dumps(meta, protocol=2))
    return folder


def write_svhn(root: Path, split: str, images, labels) -> Path:
    """``root/{split}_32x32.mat`` as the SVHN distribution has it: X (32, 32, 3, N) and y
    (N, 1) with digit 0 labelled 10. ``images`` uint8 (N, 3, 32, 32), ``labels`` 0-9."""
    import numpy as np
    import scipy.io

    root.mkdir(parents=True, exist_ok=True)
    labels = np.asarray(labels)
    y = np.where(labels == 0, 10, labels).astype(np.uint8).reshape(-1, 1)
    path = root / f"{split}_32x32.mat"
    scipy.io.savemat(str(path), {"X": np.asarray(images).transpose(2, 3, 1, 0), "y": y})
    return path
