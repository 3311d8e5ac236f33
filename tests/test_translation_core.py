"""The core's side of image-to-image translation: dataset names with arguments and directions,
paired and unpaired batches, and scoring a model by its translations of the test split."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from conftest import cli_json

from genbench.errors import GenbenchError
from genbench.plugins import get_registries
from genbench.training import InMemoryBatches

PLUGIN = """
import torch
from dataclasses import dataclass
from genbench import hookimpl
from genbench.config import TrainConfig
from genbench.data.base import TensorData
from genbench.model import GenerativeModel
from genbench.registry import DatasetSpec, ModelSpec


def load_negatives(split="train", image_size=None, root=None, argument=None,
                   direction="AtoB"):
    # Domain A: random 1x8x8 images; domain B: their negatives, in 3 channels. Aligned.
    gen = torch.Generator().manual_seed(0 if split == "train" else 1)
    a = torch.rand(40, 1, 8, 8, generator=gen) * 2 - 1
    b = (-a).expand(-1, 3, -1, -1).contiguous()
    if argument == "shifted":
        b = (b + 0.5).clamp(-1, 1)
    if direction == "BtoA":
        a, b = b, a
    return TensorData("negatives", split, a, target=b)


@dataclass
class Config(TrainConfig):
    steps: int = 3
    batch_size: int = 8
    flip: bool = True


class Negate(GenerativeModel):
    def __init__(self, config, data):
        super().__init__()
        self.config, self.data = config, data
        self.w = torch.nn.Parameter(torch.zeros(()))
        self.optimizers = {"opt": torch.optim.SGD([self.w], lr=0.0)}
        self.seen = []

    def train_step(self, x, y):
        assert x.shape[1:] == self.data.shape and y.shape[1:] == self.data.target_shape
        return {"loss": float((y[:, :1] + x).abs().mean())}

    def translate(self, x, direction="AtoB"):
        out = -x if self.config.flip else x
        c = self.data.target_shape[0]
        out = out[:, :c] if out.shape[1] >= c else out.expand(-1, c, -1, -1)
        return out + self.w


@hookimpl
def register_datasets(register):
    register(DatasetSpec(name="negatives", kind="paired", shape=(1, 8, 8),
                         target_shape=(3, 8, 8), summary="s", source="s",
                         loader="genbench_test_negate:load_negatives", argument="VARIANT"))


@hookimpl
def register_models(register):
    register(ModelSpec(name="negate", family="test", summary="s", paper="p",
                       factory="genbench_test_negate:Negate", config=Config,
                       accepts=("paired",), capabilities=("translate",)))
"""


def test_dataset_names_carry_an_argument_and_a_direction(fake_plugin):
    fake_plugin("negate", PLUGIN)
    datasets = get_registries().datasets
    spec = datasets.get("negatives:plain")
    assert spec.value == "plain" and spec.direction == "AtoB" and spec.name == "negatives:plain"
    swapped = datasets.get("negatives:/some/path:BtoA")
    assert swapped.value == "/some/path" and swapped.direction == "BtoA"
    data = swapped.load("test")
    assert data.x.shape == (40, 3, 8, 8) and data.target.shape == (40, 1, 8, 8)
    with pytest.raises(GenbenchError, match="needs an argument: --dataset negatives:VARIANT"):
        datasets.get("negatives")
    with pytest.raises(GenbenchError, match="takes no argument"):
        datasets.get("digits:foo")
    with pytest.raises(GenbenchError, match="unknown dataset 'nope'"):
        datasets.get("nope:x")


def test_paired_batches_keep_pairs_and_unpaired_ones_shuffle_b_apart():
    a = torch.arange(20.0).view(20, 1)
    b = a * 100
    paired = InMemoryBatches(a, None, 4, 0, torch.device("cpu"), target=b, paired=True)
    for step in range(12):
        x, y = paired.batch(step)
        assert torch.equal(y, x * 100)
    unpaired = InMemoryBatches(a, None, 4, 0, torch.device("cpu"), target=b[:13], paired=False)
    mismatched, seen = 0, set()
    for step in range(9):
        x, y = unpaired.batch(step)
        assert y.shape == (4, 1)
        mismatched += int(not torch.equal(y, x * 100))
        seen.update((y / 100).long().flatten().tolist())
    assert mismatched > 0 and seen <= set(range(13))
    again = InMemoryBatches(a, None, 4, 0, torch.device("cpu"), target=b[:13], paired=False)
    assert torch.equal(again.batch(5)[1], unpaired.batch(5)[1])  # depends only on (seed, step)
    with pytest.raises(GenbenchError, match="as many B as A"):
        InMemoryBatches(a, None, 4, 0, torch.device("cpu"), target=b[:13], paired=True)


def test_a_translation_model_is_scored_on_its_translations(fake_plugin, cli, workdir):
    fake_plugin("negate", PLUGIN)
    record = cli_json(cli, "run", "negate", "--dataset", "negatives:plain", "--workdir",
                      workdir)
    assert record["status"] == "completed" and record["dataset"] == "negatives:plain"
    values = {m["name"]: m for m in record["metrics"]}
    # The model's translations are the true ones: perfect scores against the aligned truth.
    assert values["l1"]["value"] == 0 and values["ssim"]["value"] == pytest.approx(1.0)
    assert values["psnr"]["value"] == 100.0 and values["l1"]["n_fake"] == 40
    assert values["FD[raw]"]["value"] == pytest.approx(0, abs=1e-6)
    assert (Path(record["run_dir"]) / "translations.png").stat().st_size > 0
    assert not (Path(record["run_dir"]) / "samples.png").exists()
    code, stdout, stderr = cli("samples", record["run_id"], "--workdir", workdir, "-n", "4")
    assert code == 0 and "translations.png" in stdout, stderr

    worse = cli_json(cli, "run", "negate", "--dataset", "negatives:plain", "--workdir", workdir,
                     "--set", "flip=false")
    copy = {m["name"]: m["value"] for m in worse["metrics"]}
    assert copy["l1"] > 0.3 and copy["FD[raw]"] > 1
    board = (workdir / "leaderboards" / "negatives_plain.md").read_text()
    assert board.index("flip=false") > board.index("| negate")  # the perfect run ranks first


def test_samples_of_a_translation_model_say_what_does_not_apply(fake_plugin, cli, workdir):
    """`samples -n 1024 --interpolate` of pix2pix wrote a 100-row grid (24 MB at 256x256) and
    no interpolations, silently."""
    from PIL import Image

    fake_plugin("negate", PLUGIN)
    record = cli_json(cli, "run", "negate", "--dataset", "negatives:plain", "--workdir",
                      workdir)
    code, stdout, stderr = cli("samples", record["run_id"], "--workdir", workdir, "-n", "1024",
                               "--interpolate", "--out", workdir / "pictures")
    assert code == 2 and len(stderr.strip().splitlines()) == 1, stderr
    assert "--interpolate does not apply to a model that translates" in stderr
    assert not (workdir / "pictures").exists() or not any((workdir / "pictures").iterdir())

    def rows() -> int:  # cells of 64 pixels (8x8 images enlarged) and 2 pixels of padding
        with Image.open(workdir / "pictures" / "translations.png") as grid:
            return (grid.height - 2) // 66

    code, stdout, stderr = cli("samples", record["run_id"], "--workdir", workdir, "-n", "1024",
                               "--out", workdir / "pictures")
    assert code == 0 and "translations.png" in stdout, stderr
    assert rows() == 16 and "16 test images translated, not 1,024" in stderr
    code, stdout, stderr = cli("samples", record["run_id"], "--workdir", workdir, "--out",
                               workdir / "pictures")
    assert code == 0 and rows() == 16 and stderr == "", stderr  # the default: no notice
    code, stdout, stderr = cli("samples", record["run_id"], "--workdir", workdir, "-n", "5",
                               "--out", workdir / "pictures")
    assert code == 0 and rows() == 5 and stderr == "", stderr


def test_num_samples_of_a_translation_model_is_said_not_to_apply(fake_plugin, cli, workdir):
    """A model that translates is scored on its translations of the whole test split:
    --num-samples 10 scored all 40 silently."""
    fake_plugin("negate", PLUGIN)
    code, stdout, stderr = cli("run", "negate", "--dataset", "negatives:plain", "--workdir",
                               workdir, "--num-samples", "10", "--format", "json")
    assert code == 0, stderr
    notice = ("--num-samples does not apply to negate: a model that translates is scored on "
              "its translations of every image of the test split of negatives:plain")
    assert notice in " ".join(stderr.split())
    run_id = json.loads(stdout)["run_id"]
    code, stdout, stderr = cli("evaluate", run_id, "--num-samples", "10", "--workdir", workdir,
                               "--format", "json")
    assert code == 0 and notice in " ".join(stderr.split()), stderr
    values = {m["name"]: m for m in json.loads(stdout)["metrics"]}
    assert values["l1"]["n_fake"] == 40 and values["FD[raw]"]["n_fake"] == 40
    code, _, stderr = cli("evaluate", run_id, "--workdir", workdir, "--format", "json")
    assert code == 0 and "--num-samples" not in stderr, stderr


def test_translation_models_refuse_other_data(fake_plugin, cli, workdir):
    fake_plugin("negate", PLUGIN)
    code, _, stderr = cli("run", "negate", "--dataset", "digits", "--workdir", workdir)
    assert code == 2 and "takes paired, but dataset 'digits' holds images" in stderr
    code, _, stderr = cli("run", "dcgan", "--dataset", "negatives:plain", "--workdir", workdir)
    assert code == 2 and "holds paired" in stderr


def test_direction_option_swaps_the_domains(fake_plugin, cli, workdir):
    fake_plugin("negate", PLUGIN)
    code, _, stderr = cli("run", "negate", "--dataset", "negatives:plain", "--direction", "BtoA",
                          "--workdir", workdir)
    # B (3 channels) becomes the input: the model's train_step sees (3, 8, 8) inputs.
    assert code == 0, stderr
    record = cli_json(cli, "runs", "--workdir", workdir)[0]
    assert record["dataset"] == "negatives:plain:BtoA"
    code, _, stderr = cli("run", "dcgan", "--dataset", "digits", "--direction", "BtoA",
                          "--workdir", workdir)
    assert code == 2 and "not translation pairs" in stderr


@pytest.mark.parametrize(("model", "dataset", "expected"), [
    ("pix2pix", "edges2digits", {"l1", "psnr", "ssim", "FD[raw]"}),
    ("cyclegan", "digits2ink", {"l1", "ssim", "cycle_l1_A", "cycle_l1_B"}),
    ("cyclegan", "edges2digits:BtoA", {"l1", "cycle_l1_A"}),
])
def test_builtin_translation_models_on_the_offline_tasks(model, dataset, expected, cli,
                                                         workdir):
    record = cli_json(cli, "run", model, "--dataset", dataset, "--steps", "2", "--workdir",
                      workdir, "--set", "image_size=32", "--set", "ngf=8", "--set", "ndf=8")
    assert record["status"] == "completed" and record["dataset"] == dataset
    names = {m["name"] for m in record["metrics"]}
    assert expected <= names
    assert (Path(record["run_dir"]) / "translations.png").stat().st_size > 0


def test_the_copy_baseline_scores_the_input_against_the_truth(cli, workdir):
    from genbench.plugins import get_registries

    record = cli_json(cli, "run", "copy", "--dataset", "edges2digits", "--workdir", workdir)
    values = {m["name"]: m["value"] for m in record["metrics"]}
    test = get_registries().datasets.get("edges2digits").load("test")
    assert values["l1"] == pytest.approx(float((test.x - test.target).abs().mean() / 2),
                                         rel=1e-5)


def _folder_images(folder: Path, count: int, width: int, height: int, seed: int) -> None:
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        pixels = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(folder / f"{i:03d}.png")


def test_pix2pix_and_cyclegan_train_from_folders_in_the_real_formats(cli, workdir, tmp_path):
    paired, unpaired = tmp_path / "facades", tmp_path / "horse2zebra"
    _folder_images(paired / "train", 6, 32, 16, 0)  # A | B side by side
    _folder_images(paired / "val", 8, 32, 16, 1)  # no test/: val/ is the evaluation split
    for i, name in enumerate(("trainA", "trainB", "testA", "testB")):
        _folder_images(unpaired / name, 5 + i, 16, 16, 10 + i)
    narrow = ("--steps", "2", "--set", "ngf=8", "--set", "ndf=8", "--workdir", workdir)
    record = cli_json(cli, "run", "pix2pix", "--dataset", f"paired-folder:{paired}",
                      "--set", "image_size=16", "--metrics", "translation", *narrow)
    assert record["status"] == "completed" and {m["name"] for m in record["metrics"]} == {
        "l1", "psnr", "ssim"}
    assert record["metrics"][0]["n_real"] == 8
    record = cli_json(cli, "run", "cyclegan", "--dataset", f"unpaired-folder:{unpaired}",
                      "--set", "image_size=16", "--metrics", "kid", *narrow)
    names = {m["name"] for m in record["metrics"]}
    assert {"kid_mean[raw]", "cycle_l1_A", "cycle_l1_B"} <= names
    # no ground truth for unpaired folders: asking for it is a clear error
    code, _, stderr = cli("run", "cyclegan", "--dataset", f"unpaired-folder:{unpaired}",
                          "--metrics", "translation", *narrow)
    assert code == 2 and "does not apply" in stderr
    code, _, stderr = cli("run", "pix2pix", "--dataset", f"paired-folder:{tmp_path / 'nope'}",
                          *narrow)
    assert code == 2 and "does not exist" in stderr and len(stderr.strip().splitlines()) == 1
