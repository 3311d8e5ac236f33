"""Which plugins made a run (issue: a third-party plugin's provenance gaps): every plugin that
contributed is recorded; boards, compare and export keep a model's plugin versions apart;
`evaluate` says when it scores with another version, and names the plugin a run needs when it
is missing."""

from __future__ import annotations

import json
import shutil

import pandas as pd
import pytest
import torch
from conftest import cli_json
from test_cli import assert_one_line_error

from genbench.results.export import long_frame
from genbench.results.leaderboard import leaderboard_frame, summary_frame, to_markdown
from genbench.results.publish import render
from genbench.results.record import MetricValue, RunRecord
from genbench.results.store import Store

# A model, a dataset and a metric from one third-party distribution, as genbench-mymodel has.
SPIRAL = """
from dataclasses import dataclass

import torch

from genbench import hookimpl
from genbench.config import TrainConfig
from genbench.data.base import TensorData, check_split
from genbench.model import GenerativeModel
from genbench.registry import DatasetSpec, MetricSpec, ModelSpec


@dataclass
class Config(TrainConfig):
    width: int = 4


class Model(GenerativeModel):
    def __init__(self, config, data):
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(data.shape))

    def train_step(self, x, y):
        return {}

    def sample(self, n, generator=None):
        return torch.randn(n, *self.w.shape, generator=generator) + self.w


def build(config, data):
    return Model(config, data)


def load_spiral(split="train", image_size=None, root=None):
    check_split("spiral", split)
    g = torch.Generator().manual_seed(0 if split == "train" else 1)
    return TensorData("spiral", split, torch.randn(200, 2, generator=g))


def radius_gap(ctx):
    gap = ctx.real.x.norm(dim=1).mean() - ctx.fake.norm(dim=1).mean()
    return {"radius_gap": float(gap.abs())}


@hookimpl
def register_models(register):
    register(ModelSpec(name="tiny", family="test", summary="s", paper="p",
                       factory="genbench_test_spiral:build", config=Config,
                       accepts=("points",), capabilities=("sample",)))


@hookimpl
def register_datasets(register):
    register(DatasetSpec(name="spiral", kind="points", shape=(2,), traits=("spiral",),
                         summary="s", source="generated",
                         loader="genbench_test_spiral:load_spiral"))


@hookimpl
def register_metrics(register):
    register(MetricSpec(name="radius-gap", summary="s", compute="genbench_test_spiral:radius_gap",
                        outputs={"radius_gap": False}, uses_features=False, reference="test",
                        applies=lambda dataset: dataset is not None
                        and "spiral" in dataset.traits))
"""
DIST = "genbench-test-spiral"


@pytest.fixture
def spiral(fake_plugin, tmp_path):
    """Install the plugin as version 1.0; ``spiral(version)`` installs another version in its
    place, ``spiral(None)`` uninstalls it."""
    def install(version: str | None = "1.0") -> None:
        for old in (tmp_path / "site").glob("genbench_test_spiral-*.dist-info"):
            shutil.rmtree(old)
        if version:
            fake_plugin("spiral", SPIRAL, version=version)
        else:
            from genbench.plugins import get_registries
            get_registries.cache_clear()

    install()
    return install


def disable(monkeypatch, names: str) -> None:
    """GENBENCH_DISABLE_PLUGINS, as a new process would read it."""
    from genbench.plugins import get_registries

    monkeypatch.setenv("GENBENCH_DISABLE_PLUGINS", names)
    get_registries.cache_clear()


def train_tiny(cli, workdir) -> dict:
    return cli_json(cli, "run", "tiny", "--dataset", "spiral", "--steps", "2", "--metrics",
                    "radius-gap", "--device", "cpu", "--workdir", workdir)


# --- 1. every plugin that contributed is recorded -----------------------------------------


def test_a_builtin_model_on_a_plugins_dataset_records_both_plugins(cli, spiral, workdir):
    record = cli_json(cli, "run", "gan", "--dataset", "spiral", "--steps", "2", "--metrics",
                      "radius-gap,fd", "--device", "cpu", "--workdir", workdir)
    assert record["status"] == "completed", record["message"]
    versions = record["versions"]
    assert versions["plugin:genbench"] == "0.1.0"  # the key records always had
    assert versions[f"plugin:{DIST}"] == "1.0"
    plugins = versions["plugins"]
    assert plugins["model"] == {"name": "gan", "plugin": "gans", "distribution": "genbench",
                                "version": "0.1.0"}
    assert plugins["dataset"] == {"name": "spiral", "plugin": "spiral", "distribution": DIST,
                                  "version": "1.0"}
    assert {m["name"]: m["distribution"] for m in plugins["metrics"]} == {
        "radius-gap": DIST, "fd": "genbench"}
    assert [e["name"] for e in plugins["extractors"]] == ["raw"]
    code, stdout, _ = cli("runs", "show", record["run_id"], "--workdir", workdir)
    assert code == 0 and "Plugins (training)" in stdout and "radius-gap" in stdout


# --- 3. evaluate under another version of the plugin says so and records both -----------


def test_evaluate_under_a_new_plugin_version_says_so_and_keeps_the_old(cli, spiral, workdir):
    run_id = train_tiny(cli, workdir)["run_id"]
    spiral("2.0")
    code, stdout, stderr = cli("evaluate", run_id, "--metrics", "radius-gap", "--device", "cpu",
                               "--workdir", workdir, "--format", "json")
    assert code == 0, stderr
    assert (f"run {run_id} was made with {DIST} 1.0 and is scored with {DIST} 2.0"
            in " ".join(stderr.split()))
    record = json.loads(stdout)
    assert record["versions"][f"plugin:{DIST}"] == "1.0"  # the training's, not the new one
    assert record["versions"]["plugins"]["model"]["version"] == "1.0"
    assert record["evaluation"]["versions"][f"plugin:{DIST}"] == "2.0"
    # Back on the version that made it: nothing to say.
    spiral("1.0")
    code, _, stderr = cli("evaluate", run_id, "--metrics", "radius-gap", "--device", "cpu",
                          "--workdir", workdir)
    assert code == 0 and "is scored with" not in stderr


# --- 4. a run whose plugin is missing names it, and how to get it back -------------------


def test_evaluate_without_the_runs_plugin_names_it(cli, spiral, workdir, monkeypatch):
    run_id = train_tiny(cli, workdir)["run_id"]
    made_by = f"run {run_id} was made by plugin spiral ({DIST} 1.0), which provided its model"
    disable(monkeypatch, "spiral")
    result = cli("evaluate", run_id, "--workdir", workdir, "--device", "cpu")
    assert_one_line_error(result, made_by)
    assert "remove spiral from GENBENCH_DISABLE_PLUGINS" in result[2]
    assert "Did you mean" not in result[2]
    disable(monkeypatch, "")
    spiral(None)
    result = cli("evaluate", run_id, "--workdir", workdir, "--device", "cpu")
    assert_one_line_error(result, made_by)
    assert f"not installed: install it (pip install '{DIST}==1.0')" in result[2]


def test_a_run_recorded_before_plugin_names_still_names_its_distribution(cli, spiral, workdir,
                                                                         monkeypatch):
    """Records and checkpoints made before "plugins" was recorded list the model's plugin
    only, as ``plugin:<distribution>``."""
    run_id = train_tiny(cli, workdir)["run_id"]
    store = Store(workdir)
    record = store.get(run_id)
    record.versions = {"genbench": "0.1.0", f"plugin:{DIST}": "1.0"}
    store.save(record)
    path = f"{record.run_dir}/checkpoint.pt"
    ckpt = torch.load(path, weights_only=True)
    ckpt.pop("versions", None)
    torch.save(ckpt, path)
    disable(monkeypatch, "spiral")
    result = cli("evaluate", run_id, "--workdir", workdir, "--device", "cpu")
    assert_one_line_error(result, f"run {run_id} was made by plugin spiral ({DIST} 1.0)")
    assert "remove spiral from GENBENCH_DISABLE_PLUGINS" in result[2]


# --- 2 and 5. boards, compare and export keep a model's plugin versions apart ------------


def made(run_id: str, model: str, seed: int, fd: float, versions: dict) -> RunRecord:
    return RunRecord(run_id=run_id, model=model, dataset="spiral", split="test",
                     profile="quick", seed=seed, config={}, status="completed", created=run_id,
                     versions=versions, metrics=[
                         MetricValue("FD[raw]", fd, False, "fd", "raw", 10, 10, fd - .1,
                                     fd + .1)])


def mymodel(version: str) -> dict:
    entry = {"plugin": "mymodel", "distribution": "genbench-mymodel", "version": version}
    return {"plugin:genbench-mymodel": version, "plugin:genbench": "0.1.0",
            "plugins": {"model": {"name": "tinygan", **entry}}}


RECORDS = [made("t0", "tinygan", 0, 0.2, {"plugin:genbench-mymodel": "0.3.1"}),  # older record
           made("t1", "tinygan", 1, 0.9, mymodel("0.4.0")),
           made("g0", "gan", 0, 0.5, {"plugin:genbench": "0.1.0"}),
           made("g1", "gan", 1, 0.6, {"plugin:genbench": "0.1.0"})]


def test_boards_keep_a_models_plugin_versions_apart(tmp_path):
    frame, _ = summary_frame(RECORDS)
    assert sorted(zip(frame["model"], frame["seeds"], strict=True)) == [
        ("gan", 2), ("tinygan (genbench-mymodel 0.3.1)", 1),
        ("tinygan (genbench-mymodel 0.4.0)", 1)]
    assert set(leaderboard_frame(RECORDS)["model"]) == {
        "gan", "tinygan (genbench-mymodel 0.3.1)", "tinygan (genbench-mymodel 0.4.0)"}
    md = to_markdown("spiral", leaderboard_frame(RECORDS), RECORDS)
    assert "| tinygan (genbench-mymodel 0.4.0) |" in md and "kept apart" in md
    render(RECORDS, tmp_path)
    summary = pd.read_csv(tmp_path / "spiral-summary.csv")
    assert len(summary) == 3
    # One version per model: the board shows none, as it always did.
    one = [r for r in RECORDS if r.run_id != "t1"]
    assert set(summary_frame(one)[0]["model"]) == {"gan", "tinygan"}
    assert "kept apart" not in to_markdown("spiral", leaderboard_frame(one), one)


def test_leaderboard_show_compare_and_export_name_the_versions(cli, tmp_path):
    store = Store(tmp_path)
    for r in RECORDS:
        store.save(r)
    code, stdout, stderr = cli("leaderboard", "show", "--workdir", tmp_path)
    assert code == 0, stderr
    assert "0.3.1" in stdout and "0.4.0" in stdout
    assert_one_line_error(cli("leaderboard", "compare", "tinygan@spiral", "gan@spiral",
                              "--workdir", tmp_path),
                          "different versions of its plugin (genbench-mymodel 0.3.1; "
                          "genbench-mymodel 0.4.0)")
    code, stdout, stderr = cli("leaderboard", "compare", "t0", "t1", "--workdir", tmp_path)
    assert code == 0, stderr
    assert ("made with different plugin versions: genbench-mymodel 0.3.1 in A, 0.4.0 in B"
            in " ".join(stdout.split()))
    code, stdout, _ = cli("leaderboard", "compare", "g0", "g1", "--workdir", tmp_path)
    assert code == 0 and "different plugin versions" not in stdout
    data = cli_json(cli, "leaderboard", "compare", "t0", "t1", "--workdir", tmp_path)
    assert data["plugin_versions_differ"] == ["genbench-mymodel 0.3.1 in A, 0.4.0 in B"]
    frame = long_frame(store.runs())
    by_run = frame.set_index("run_id")
    assert tuple(by_run.loc["t0", ["model_plugin", "model_plugin_version"]]) == (
        "genbench-mymodel", "0.3.1")
    assert by_run.loc["g0", "model_plugin"] == "genbench"
    path = tmp_path / "runs.parquet"
    code, _, stderr = cli("runs", "export", "--out", path, "--workdir", tmp_path)
    assert code == 0, stderr
    assert set(pd.read_parquet(path)["model_plugin_version"]) == {"0.3.1", "0.4.0", "0.1.0"}
