"""The example plugin in plugins/example-plugin, installed for real (pip, entry-point metadata)
into a throwaway folder, then driven through the CLI in subprocesses; plus unit tests of its
model against values computed independently."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

REPO = Path(__file__).resolve().parents[1]
PLUGIN_SRC = REPO / "plugins" / "example-plugin"
CLI = [sys.executable, "-c", "from genbench.cli import main; main()"]


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    """pip-install the example plugin into its own folder; the venv is left untouched."""
    tmp = tmp_path_factory.mktemp("example-plugin")
    # Build from a copy so setuptools' build/ and *.egg-info never land in the repository.
    src = tmp / "src"
    shutil.copytree(PLUGIN_SRC, src,
                    ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    target = tmp / "site"
    done = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--no-build-isolation",
         "--no-index", "--quiet", "--target", str(target), str(src)],
        capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert (target / "genbench_example" / "model.py").is_file()
    return target


def genbench(site: Path, *args: str, disable: str = "") -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(site), "COLUMNS": "200"}
    env.pop("GENBENCH_DISABLE_PLUGINS", None)
    if disable:
        env["GENBENCH_DISABLE_PLUGINS"] = disable
    return subprocess.run([*CLI, *map(str, args)], capture_output=True, text=True, env=env,
                          timeout=300)


def genbench_json(site: Path, *args: str, disable: str = ""):
    done = genbench(site, *args, "--format", "json", disable=disable)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_models_lists_the_example_model(site):
    models = {m["name"]: m for m in genbench_json(site, "models")}
    model = models["example-gaussian"]
    assert model["plugin"] == "example"
    assert model["family"] == "baseline"
    assert model["capabilities"] == ["sample", "latent", "log_prob"]
    assert model["data"] == ["points", "images"]
    assert models["example-kde"]["capabilities"] == ["sample", "log_prob"]
    assert "gan" in models  # the builtin plugin still loads beside it


def test_plugins_shows_the_example_distribution(site):
    plugins = {p["name"]: p for p in genbench_json(site, "plugins")}
    example = plugins["example"]
    assert example["status"] == "loaded", example["error"]
    assert example["distribution"] == "genbench-example"
    assert example["version"] == "0.1.0"
    assert example["module"] == "genbench_example"
    assert example["provides"] == {"models": ["example-gaussian", "example-kde"]}


def test_run_trains_and_scores_on_ring8(site, tmp_path):
    record = genbench_json(site, "run", "example-gaussian", "--dataset", "ring8", "--steps", "30",
                           "--device", "cpu", "--workdir", tmp_path / "work")
    assert record["status"] == "completed", record["message"]
    assert record["model"] == "example-gaussian"
    assert record["dataset"] == "ring8"
    assert record["steps"] == 30
    assert record["config"]["lr"] == 0.05 and record["config"]["batch_size"] == 128
    assert record["versions"]["plugin:genbench-example"] == "0.1.0"
    names = {m["name"] for m in record["metrics"]}
    assert {"modes_covered", "FD[raw]"} <= names
    assert (Path(record["run_dir"]) / "checkpoint.pt").is_file()


def test_kde_is_fitted_once_records_its_bandwidth_and_reloads_from_its_checkpoint(site,
                                                                                  tmp_path):
    work = tmp_path / "work"
    record = genbench_json(site, "run", "example-kde", "--dataset", "ring8", "--set",
                           "bandwidth=0.05", "--metrics", "likelihood,modes", "--device", "cpu",
                           "--workdir", work)
    assert record["status"] == "completed", record["message"]
    assert record["evaluation"]["fitted"] == {"bandwidth": 0.05, "centres": 2000}
    values = {m["name"]: m["value"] for m in record["metrics"]}
    assert values["modes_covered"] == 8
    # evaluate rebuilds it from the checkpoint: the (2000, 2) centres must come back.
    again = genbench_json(site, "evaluate", record["run_id"], "--metrics", "likelihood",
                          "--device", "cpu", "--workdir", work)
    assert again["evaluation"]["fitted"] == record["evaluation"]["fitted"]
    assert {m["name"]: m["value"] for m in again["metrics"]}["nll"] == values["nll"]
    shown = genbench(site, "runs", "show", record["run_id"], "--workdir", work)
    assert "Fitted by the model" in shown.stdout and "bandwidth   0.05" in shown.stdout


def test_models_name_shows_the_example_settings(site):
    model = genbench_json(site, "models", "example-kde")
    assert (model["plugin"], model["distribution"]) == ("example", "genbench-example")
    settings = {s["name"]: s for s in model["settings"]}
    assert settings["rule"]["allowed"] == "one of scott, silverman"
    assert settings["max_points"]["profiles"] == {"standard": 20000}


def test_disabled_plugin_is_skipped(site):
    models = [m["name"] for m in genbench_json(site, "models", disable="example")]
    assert "example-gaussian" not in models and "gan" in models
    plugins = {p["name"]: p for p in genbench_json(site, "plugins", disable="example")}
    assert plugins["example"]["status"] == "disabled"
    assert plugins["example"]["provides"] == {}


# --- the model itself, imported from the plugin's source folder ---


@pytest.fixture
def example(monkeypatch):
    monkeypatch.syspath_prepend(str(PLUGIN_SRC))
    import genbench_example
    import genbench_example.model

    return genbench_example


def _points(mu, s, n=4000, seed=0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.normal(mu, s, size=(n, len(mu))).astype(np.float32)


def test_maximum_likelihood_recovers_sample_mean_and_std(example):
    from genbench.model import DataInfo

    x = _points(np.array([1.5, -2.0]), np.array([0.5, 2.0]))
    expected_mean = x.astype(np.float64).mean(axis=0)
    expected_std = x.astype(np.float64).std(axis=0)  # the MLE: ddof=0
    torch.manual_seed(0)
    model = example.model.build(example.GaussianConfig(), DataInfo("points", (2,)))
    batch = torch.from_numpy(x)
    first = model.train_step(batch, None)["nll"]
    for _ in range(400):
        last = model.train_step(batch, None)["nll"]
    assert last < first
    np.testing.assert_allclose(model.mean.detach().numpy(), expected_mean, atol=1e-3)
    np.testing.assert_allclose(model.log_std.exp().detach().numpy(), expected_std, rtol=1e-3)
    # The loss is the mean NLL per dimension of the fitted Gaussian.
    expected_nll = np.mean(np.log(expected_std) + 0.5 * np.log(2 * np.pi) + 0.5)
    assert last == pytest.approx(expected_nll, abs=1e-3)


def test_log_prob_matches_torch_distributions(example):
    from genbench.model import DataInfo

    torch.manual_seed(1)
    model = example.model.build(example.GaussianConfig(), DataInfo("points", (2,)))
    with torch.no_grad():
        model.mean.copy_(torch.tensor([0.3, -1.2]))
        model.log_std.copy_(torch.tensor([-0.5, 0.8]))
    x = torch.from_numpy(_points(np.zeros(2), np.ones(2), n=50, seed=2))
    expected = torch.distributions.Normal(torch.tensor([0.3, -1.2]),
                                          torch.tensor([-0.5, 0.8]).exp()).log_prob(x).sum(-1)
    got = model.log_prob(x)
    assert got.shape == (50,)
    torch.testing.assert_close(got.detach(), expected)


def test_sampling_is_seeded_and_images_are_clamped(example):
    from genbench.model import DataInfo

    model = example.model.build(example.GaussianConfig(), DataInfo("images", (1, 8, 8)))
    with torch.no_grad():
        model.log_std.fill_(1.0)  # std e: most samples fall outside [-1, 1] before clamping
    a = model.sample(16, torch.Generator().manual_seed(3))
    b = model.sample(16, torch.Generator().manual_seed(3))
    assert a.shape == (16, 1, 8, 8)
    assert torch.equal(a, b)
    assert a.min() >= -1 and a.max() <= 1 and (a.abs() == 1).any()


def test_training_state_round_trip_includes_the_optimizer(example):
    from genbench.model import DataInfo

    info = DataInfo("points", (2,))
    model = example.model.build(example.GaussianConfig(), info)
    x = torch.from_numpy(_points(np.array([1.0, 1.0]), np.array([0.5, 0.5]), n=256))
    for _ in range(5):
        model.train_step(x, None)
    assert set(model.training_state()["optimizers"]) == {"adam"}
    # Through bytes, as a checkpoint file would be (state_dicts hold live tensors).
    buffer = io.BytesIO()
    torch.save(model.training_state(), buffer)
    buffer.seek(0)
    state = torch.load(buffer, weights_only=True)
    restored = example.model.build(example.GaussianConfig(), info)
    restored.load_training_state(state)
    # Both continue identically only if Adam's moments were restored too.
    model.train_step(x, None)
    restored.train_step(x, None)
    torch.testing.assert_close(restored.mean, model.mean)
    torch.testing.assert_close(restored.log_std, model.log_std)


def test_plugin_guide_shows_the_example_files_verbatim():
    guide = (REPO / "docs" / "plugins.md").read_text()
    for name in ("pyproject.toml", "genbench_example/__init__.py", "genbench_example/model.py",
                 "genbench_example/kde.py"):
        text = (PLUGIN_SRC / name).read_text().rstrip("\n")
        assert f"\n{text}\n```" in guide, f"docs/plugins.md is out of date with {name}"
