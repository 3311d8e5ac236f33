"""A plugin whose model or dataset breaks genbench's interface fails where it breaks it, in
one line naming the model or dataset and its plugin: not as "internal error ... please report
it" deep inside genbench, and never by being scored and ranked (images x100 had an FD of
3.7e5 and a place on the board; half the samples asked for were scored as "360 / 180")."""

from __future__ import annotations

import pytest

from genbench.results.store import Store

FAULTY = """
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch

from genbench import hookimpl
from genbench.config import TrainConfig
from genbench.model import GenerativeModel
from genbench.registry import ModelSpec


@dataclass
class Config(TrainConfig):
    fault: Literal["none", "numpy", "int", "too_few", "wrong_shape", "out_of_range", "none_losses",
                   "str_loss", "not_model", "count_step", "config"] = "none"

    def __post_init__(self):
        if self.fault == "config":
            raise ValueError("config exploded")


class Model(GenerativeModel):
    def __init__(self, config, data):
        super().__init__()
        self.fault = config.fault
        self.shape = data.shape
        self.w = torch.nn.Parameter(torch.zeros(()))

    def train_step(self, x, y):
        if self.fault == "none_losses":
            return None
        if self.fault == "str_loss":
            return {"loss": "low"}
        if self.fault == "count_step":
            self.count_step()
        return {"loss": self.w.detach()}

    def sample(self, n, generator=None):
        x = torch.rand(n, *self.shape, generator=generator) * 2 - 1
        if self.fault == "numpy":
            return x.numpy()
        if self.fault == "int":
            return x.long()
        if self.fault == "too_few":
            return x[: n // 2]
        if self.fault == "wrong_shape":
            return x.reshape(n, -1)[:, :32].reshape(n, 1, 4, 8)
        if self.fault == "out_of_range":
            return x * 100
        return x


def build(config, data):
    return object() if config.fault == "not_model" else Model(config, data)


@hookimpl
def register_models(register):
    register(ModelSpec(name="faulty", family="test", summary="s", paper="p",
                       factory="genbench_test_faulty:build", config=Config))
"""

RUN = ("run", "faulty", "--dataset", "digits", "--steps", "2", "--device", "cpu",
       "--metrics", "fd", "--extractor", "raw", "--num-samples", "40")
WHO = "model 'faulty' (plugin faulty, genbench-test-faulty 1.0)"


@pytest.mark.parametrize("fault, expected", [
    ("numpy", "sample() returned a numpy.ndarray; return a torch.Tensor"),
    ("int", "sample() returned a torch.int64 tensor; return floats (images in [-1, 1])"),
    ("too_few", "sample() was asked for 40 examples and returned 20"),
    ("wrong_shape", "sample() returned examples of shape (1, 4, 8); the model was built for "
                    "(1, 8, 8)"),
    ("out_of_range", "sample() returned images in [-99.9"),
    ("none_losses", "train_step() returned None; return the losses by name, e.g. "
                    "{'loss': loss.detach()}"),
    ("str_loss", "train_step() returned a str for 'loss'; return a number or a 0-d tensor"),
    ("count_step", "Model.count_step() needs a steps_done buffer: register it in __init__"),
])
def test_a_model_breaking_the_interface_fails_in_one_line_naming_it(cli, fake_plugin, workdir,
                                                                     fault, expected):
    fake_plugin("faulty", FAULTY)
    code, _, stderr = cli(*RUN, "--workdir", workdir, "--set", f"fault={fault}")
    assert code == 2, stderr
    assert stderr.startswith(f"error: {WHO}: {expected}")
    assert len(stderr.strip().splitlines()) == 1 and "internal error" not in stderr
    (record,) = Store(workdir).runs()
    assert record.status == "failed" and record.message.startswith(f"{WHO}: {expected}")
    assert not record.metrics  # nothing scored, nothing ranked


def test_a_factory_returning_something_else_than_a_model_is_named(cli, fake_plugin, workdir):
    fake_plugin("faulty", FAULTY)
    code, _, stderr = cli(*RUN, "--workdir", workdir, "--set", "fault=not_model")
    assert code == 2
    assert stderr.strip() == (f"error: {WHO}: its factory returned a object, not a "
                              f"genbench.model.GenerativeModel; return an instance of a "
                              f"GenerativeModel subclass")


def test_a_model_keeping_to_the_interface_is_scored(cli, fake_plugin, workdir):
    fake_plugin("faulty", FAULTY)
    code, _, stderr = cli(*RUN, "--workdir", workdir)
    assert code == 0, stderr
    (record,) = Store(workdir).runs()
    assert record.status == "completed" and record.metrics


def test_samples_of_a_stored_run_are_checked_too(cli, fake_plugin, workdir, monkeypatch):
    """`genbench samples` draws from a rebuilt model: the same checks, the same message."""
    fake_plugin("faulty", FAULTY)
    assert cli(*RUN, "--workdir", workdir)[0] == 0
    (record,) = Store(workdir).runs()
    import genbench_test_faulty

    monkeypatch.setattr(genbench_test_faulty.Model, "sample",
                        lambda self, n, generator=None: torch_zeros(n))
    code, _, stderr = cli("samples", record.run_id, "--workdir", workdir, "--device", "cpu")
    assert code == 2
    assert stderr.strip() == (f"error: {WHO}: sample() returned examples of shape (3,); the "
                              f"model was built for (1, 8, 8); fix the model")


def torch_zeros(n):
    import torch

    return torch.zeros(n, 3)


# --- datasets ----------------------------------------------------------------------------------

BAD_DATA = """
import numpy as np
import torch

from genbench import hookimpl
from genbench.data.base import TensorData
from genbench.registry import DatasetSpec


def _images(split, fault):
    n = 60 if split == "train" else 30
    g = torch.Generator().manual_seed(0)
    x = torch.rand(n, 1, 8, 8, generator=g) * 2 - 1
    y = torch.randint(0, 2, (n,), generator=g)
    if fault == "range":
        x = (x + 1) * 127.5
    if fault == "labels":
        y[3] = 7
    if fault == "nan":
        x[5, 0, 0, 0] = float("nan")
    if fault == "length":
        y = y[:-1]
    return TensorData("bad-" + fault, split, x, y)


def load(split, image_size=None, root=None, argument=""):
    if argument == "tuple":
        return _images(split, "none").x, _images(split, "none").y
    if argument == "points":
        return TensorData("bad", split, torch.randn(50, 3 if split == "train" else 2))
    return _images(split, argument)


def bad_signature(split):
    return _images(split, "none")


@hookimpl
def register_datasets(register):
    register(DatasetSpec(name="bad", kind="images", summary="s", source="s",
                         loader="genbench_test_bad:load", shape=(1, 8, 8), num_classes=2,
                         argument="FAULT"))
    register(DatasetSpec(name="bad-points", kind="points", summary="s", source="s",
                         loader="genbench_test_bad:load", shape=(3,), argument="FAULT"))
    register(DatasetSpec(name="bad-signature", kind="images", summary="s", source="s",
                         loader="genbench_test_bad:bad_signature", shape=(1, 8, 8)))
"""

DATA_WHO = "dataset 'bad:{fault}' (plugin bad, genbench-test-bad 1.0)"


@pytest.mark.parametrize("fault, expected", [
    ("range", ", split 'train': x holds images in [0.0"),
    ("labels", ", split 'train': labels run from 0 to 7, but the dataset declares "
               "num_classes=2 (labels 0 to 1)"),
    ("nan", ", split 'train': x holds NaN or inf"),
    ("length", ", split 'train': y has shape (59,) for 60 examples; give one integer label per "
               "example, or y=None"),
    ("tuple", ": its loader returned a tuple; return a genbench.data.base.TensorData"),
])
def test_a_dataset_breaking_the_interface_fails_before_training(cli, fake_plugin, workdir,
                                                                 fault, expected):
    fake_plugin("bad", BAD_DATA)
    code, _, stderr = cli("run", "gan", "--dataset", f"bad:{fault}", "--steps", "2",
                          "--device", "cpu", "--workdir", workdir, "--metrics", "fd",
                          "--extractor", "raw")
    assert code == 2, stderr
    assert stderr.startswith("error: " + DATA_WHO.format(fault=fault) + expected), stderr
    assert len(stderr.strip().splitlines()) == 1
    assert Store(workdir).runs() == []  # refused before a run was recorded


def test_a_loader_that_does_not_take_the_loader_arguments_is_named(cli, fake_plugin, workdir):
    fake_plugin("bad", BAD_DATA)
    code, _, stderr = cli("run", "gan", "--dataset", "bad-signature", "--steps", "2",
                          "--device", "cpu", "--workdir", workdir)
    assert code == 2
    assert stderr.strip() == (
        "error: dataset 'bad-signature' (plugin bad, genbench-test-bad 1.0): its loader "
        "genbench_test_bad:bad_signature takes no image_size, root parameter; a loader is "
        "called as loader(split=..., image_size=..., root=...)")


def test_points_of_another_dimension_in_the_test_split_blame_the_dataset(cli, fake_plugin,
                                                                        workdir):
    fake_plugin("bad", BAD_DATA)
    code, _, stderr = cli("run", "gan", "--dataset", "bad-points:points", "--steps", "2",
                          "--device", "cpu", "--workdir", workdir, "--metrics", "fd",
                          "--extractor", "raw")
    assert code == 2
    assert stderr.strip() == (
        "error: dataset 'bad-points:points' (plugin bad, genbench-test-bad 1.0): its test split "
        "holds points of shape (2,) and the training split (3,); every split must have the "
        "same dimension")


def test_a_plugins_config_check_failing_names_the_model(cli, fake_plugin, workdir):
    fake_plugin("faulty", FAULTY)
    code, _, stderr = cli(*RUN, "--workdir", workdir, "--set", "fault=config")
    assert code == 2
    assert stderr.strip() == ("error: plugin faulty (genbench-test-faulty 1.0) failed in model "
                              "faulty: ValueError: config exploded")


ROOTED = """
import torch

from genbench import hookimpl
from genbench.data.base import TensorData
from genbench.errors import GenbenchError
from genbench.registry import DatasetSpec


def load(split, image_size=None, root=None):
    from pathlib import Path

    if root is None or not (Path(root) / "rooted.txt").exists():
        raise GenbenchError(f"rooted: no rooted.txt under --data-root {root}")
    g = torch.Generator().manual_seed(0 if split == "train" else 1)
    return TensorData("rooted", split, torch.randn(80, 2, generator=g))


@hookimpl
def register_datasets(register):
    register(DatasetSpec(name="rooted", kind="points", summary="s", source="s",
                         loader="genbench_test_rooted:load", shape=(2,), needs_data_root=True))
"""


def test_evaluate_and_samples_read_the_data_where_the_run_did(cli, fake_plugin, workdir,
                                                              tmp_path):
    """`evaluate RUN` failed until --data-root was given again."""
    fake_plugin("rooted", ROOTED)
    root = tmp_path / "data"
    root.mkdir()
    (root / "rooted.txt").write_text("here")
    code, _, err = cli("run", "gan", "--dataset", "rooted", "--steps", "2", "--set", "hidden=8",
                       "--device", "cpu", "--metrics", "fd", "--workdir", workdir,
                       "--data-root", root)
    assert code == 0, err
    (record,) = Store(workdir).runs()
    code, _, err = cli("evaluate", record.run_id, "--workdir", workdir, "--device", "cpu",
                       "--metrics", "fd")
    assert code == 0, err
    code, _, err = cli("samples", record.run_id, "--workdir", workdir, "--device", "cpu")
    assert code == 0, err
    (root / "rooted.txt").unlink()
    root.rmdir()  # gone (another machine): asked for again, in the loader's words
    code, _, err = cli("evaluate", record.run_id, "--workdir", workdir, "--device", "cpu",
                       "--metrics", "fd")
    assert code == 2 and "no rooted.txt under --data-root None" in err
