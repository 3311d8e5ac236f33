"""Writing a plugin (issue 15, item 7): a misspelt capability is refused at registration, a
plugin's own exception is reported as the plugin's, a taken name is a visible conflict, failed
plugins show up where models are looked for, the model protocol's hooks for models fitted in
one go, and `genbench models NAME`."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import torch
from conftest import cli_json

from genbench.errors import GenbenchError
from genbench.plugins import get_registries

REPO = Path(__file__).resolve().parents[1]

SPEC = """
from dataclasses import dataclass
from genbench import hookimpl
from genbench.config import TrainConfig
from genbench.registry import ModelSpec

@dataclass
class Config(TrainConfig):
    width: int = 4

@hookimpl{options}
def register_models(register):
    register(ModelSpec(name={model!r}, family="test", summary="s", paper="p",
                       factory="{module}:build", config=Config, capabilities={caps!r}))
"""


def spec_plugin(fake_plugin, name: str, model: str, caps=("sample",), options: str = ""):
    return fake_plugin(name, SPEC.format(model=model, module=f"genbench_test_{name}", caps=caps,
                                         options=options))


def plugins_by_name(cli) -> dict:
    return {p["name"]: p for p in cli_json(cli, "plugins")}


# --- a. a misspelt capability is refused when the plugin registers ---------------------------


def test_misspelt_capability_fails_the_plugin_with_a_did_you_mean(cli, fake_plugin):
    spec_plugin(fake_plugin, "kde", "kde", caps=("sample", "reconstuct"))
    spec_plugin(fake_plugin, "good", "tiny-good")
    plugins = plugins_by_name(cli)
    assert plugins["kde"]["status"] == "failed"
    assert plugins["kde"]["error"] == (
        "register_models: GenbenchError: model 'kde': unknown capability 'reconstuct' (did "
        "you mean 'reconstruct'?); known capabilities: sample, latent, conditional, "
        "reconstruct, encode, translate, anomaly_score, log_prob, pairs")
    assert plugins["kde"]["provides"] == {}
    assert plugins["good"]["status"] == "loaded"  # isolated: the others keep working
    names = [m["name"] for m in cli_json(cli, "models")]
    assert "tiny-good" in names and "kde" not in names


def test_capabilities_given_as_a_string_are_refused(fake_plugin):
    spec_plugin(fake_plugin, "str", "m", caps="sample")  # ("sample") is not a tuple
    info = next(p for p in get_registries().plugins if p.name == "str")
    assert info.status == "failed"
    assert "capabilities must be a tuple of strings, got 'sample'; write ('sample',)" in info.error


# --- b. a plugin's own exception is the plugin's ----------------------------------------------

FAILING = """
from dataclasses import dataclass
from typing import Literal

import torch

from genbench import hookimpl
from genbench.config import TrainConfig
from genbench.errors import GenbenchError
from genbench.model import GenerativeModel
from genbench.registry import ModelSpec


@dataclass
class Config(TrainConfig):
    fail: Literal["none", "factory", "user", "step", "sample", "likelihood"] = "none"


class Model(GenerativeModel):
    def __init__(self, config, data):
        super().__init__()
        self.config = config
        self.w = torch.nn.Parameter(torch.zeros(data.shape))

    def train_step(self, x, y):
        if self.config.fail == "step":
            raise ValueError("bandwidth must be positive")
        return {}

    def sample(self, n, generator=None):
        if self.config.fail == "sample":
            raise RuntimeError("no samples today")
        return torch.randn(n, *self.w.shape, generator=generator)

    def log_likelihood(self, x, y=None, *, k=64, generator=None):
        if self.config.fail == "likelihood":
            raise ValueError("the kernel matrix is singular")
        return {"exact": -x.square().sum(1)}


def build(config, data):
    if config.fail == "factory":
        raise ValueError("cannot build")
    if config.fail == "user":
        raise GenbenchError("kde: this dataset is too small, try --dataset grid25")
    return Model(config, data)


@hookimpl
def register_models(register):
    register(ModelSpec(name="kde", family="test", summary="s", paper="p",
                       factory="genbench_test_kde:build", config=Config, accepts=("points",),
                       capabilities=("sample", "log_prob")))
"""


@pytest.mark.parametrize("fail, expected", [
    ("factory", "ValueError: cannot build"),
    ("step", "ValueError: bandwidth must be positive"),
    ("sample", "RuntimeError: no samples today"),
    ("likelihood", "ValueError: the kernel matrix is singular"),
])
def test_exception_from_plugin_code_is_reported_as_the_plugins(cli, fake_plugin, workdir, fail,
                                                                expected):
    fake_plugin("kde", FAILING)
    code, stdout, stderr = cli("run", "kde", "--dataset", "ring8", "--steps", "1", "--device",
                               "cpu", "--workdir", workdir, "--metrics", "likelihood",
                               "--set", f"fail={fail}")
    message = f"plugin kde (genbench-test-kde 1.0) failed in model kde: {expected}"
    assert code == 2
    assert stderr.strip() == f"error: {message}"  # one line, no "internal error", no traceback
    if fail != "factory":  # the run had started: its record says why it failed
        from genbench.results.store import Store

        (record,) = Store(workdir).runs()
        assert (record.status, record.message) == ("failed", message)


def test_genbench_debug_shows_the_plugins_traceback(fake_plugin, workdir, monkeypatch):
    from typer.testing import CliRunner

    from genbench.cli import app
    from genbench.errors import PluginError

    fake_plugin("kde", FAILING)
    monkeypatch.setenv("GENBENCH_DEBUG", "1")
    result = CliRunner().invoke(app, ["run", "kde", "--dataset", "ring8", "--steps", "1",
                                      "--device", "cpu", "--workdir", str(workdir), "--set",
                                      "fail=step"])
    assert isinstance(result.exception, PluginError)
    assert isinstance(result.exception.__cause__, ValueError)


def test_genbench_error_from_a_plugin_is_the_users_one_line_error(cli, fake_plugin, workdir):
    fake_plugin("kde", FAILING)
    code, _, stderr = cli("run", "kde", "--dataset", "ring8", "--steps", "1", "--device", "cpu",
                          "--workdir", workdir, "--set", "fail=user")
    assert code == 2
    assert stderr.strip() == "error: kde: this dataset is too small, try --dataset grid25"


def test_genbench_own_errors_still_say_internal_error(cli, monkeypatch):
    """Only code from a third-party plugin is blamed on a plugin."""
    import genbench.api

    def broken(*args, **kwargs):
        raise KeyError("oops")

    monkeypatch.setattr(genbench.api, "run", broken)
    code, _, stderr = cli("run", "gan", "--dataset", "ring8")
    assert code == 1 and stderr.startswith("internal error: KeyError")


# --- c. one name, two plugins: the first keeps it, the other is a visible conflict -----------


def test_a_third_party_cannot_take_a_builtin_name_with_trylast(cli, fake_plugin):
    # pluggy calls trylast hooks first: the name used to go to the newcomer, and the builtin
    # gans plugin failed as a whole.
    spec_plugin(fake_plugin, "hijack", "dcgan", options="(trylast=True)")
    plugins = plugins_by_name(cli)
    assert plugins["gans"]["status"] == "loaded"
    assert get_registries().models.owners["dcgan"] == "gans"
    assert plugins["hijack"]["status"] == "failed"
    assert plugins["hijack"]["error"] == (
        "conflict: model 'dcgan' is already registered by plugin gans (genbench 0.1.0), which "
        "loaded first; hijack is skipped")


def test_two_plugins_with_one_model_name_the_first_in_load_order_keeps_it(cli, fake_plugin):
    spec_plugin(fake_plugin, "zeta", "kde")
    spec_plugin(fake_plugin, "alpha", "kde")
    plugins = plugins_by_name(cli)
    assert get_registries().models.owners["kde"] == "alpha"  # entry points load by name
    assert plugins["alpha"]["provides"] == {"models": ["kde"]}
    assert plugins["zeta"]["status"] == "failed"
    assert plugins["zeta"]["error"] == (
        "conflict: model 'kde' is already registered by plugin alpha (genbench-test-alpha 1.0), "
        "which loaded first; zeta is skipped")


def _install(site: Path, dist: str, entry: str, module: str, source: str) -> None:
    site.mkdir(parents=True)
    (site / f"{module}.py").write_text(source)
    info = site / f"{dist.replace('-', '_')}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[genbench]\n{entry} = {module}\n")


def test_one_plugin_name_in_two_distributions_is_decided_by_distribution_name(
        tmp_path, monkeypatch):
    for dist in ("genbench-test-a", "genbench-test-b"):
        module = dist.replace("-", "_")
        _install(tmp_path / dist, dist, "same", module,
                 SPEC.format(model=f"m-{dist[-1]}", module=module, caps=("sample",), options=""))
    # b first on sys.path: discovery order alone would load b.
    monkeypatch.syspath_prepend(str(tmp_path / "genbench-test-a"))
    monkeypatch.syspath_prepend(str(tmp_path / "genbench-test-b"))
    get_registries.cache_clear()
    try:
        same = [p for p in get_registries().plugins if p.name == "same"]
        assert [(p.distribution, p.status) for p in same] == [("genbench-test-a", "loaded"),
                                                              ("genbench-test-b", "failed")]
        assert same[1].error == ("conflict: the plugin name 'same' is already taken by same "
                                 "(genbench-test-a 1.0), which loaded first; rename the entry "
                                 "point")
    finally:
        for module in ("genbench_test_a", "genbench_test_b"):
            sys.modules.pop(module, None)


# --- d. failed plugins are mentioned where models are looked for -----------------------------


def test_models_lists_failed_plugins_with_their_reason(cli, fake_plugin):
    fake_plugin("broken", "raise ImportError('needs libfoo >= 2')\n")
    line = "plugin broken (genbench-test-broken 1.0) failed to load: ImportError: needs libfoo >= 2"
    code, stdout, _ = cli("models")
    assert code == 0 and line in stdout.replace("\n", " ")
    code, stdout, stderr = cli("models", "--format", "json")
    assert code == 0 and "dcgan" in [m["name"] for m in json.loads(stdout)]  # stdout stays JSON
    assert line in stderr.replace("\n", " ")


def test_unknown_model_mentions_plugins_that_failed_to_load(cli, fake_plugin, workdir):
    fake_plugin("kde", "raise ImportError('No module named sklearn')\n")
    code, _, stderr = cli("run", "kde", "--dataset", "ring8", "--workdir", workdir)
    assert code == 2 and len(stderr.strip().splitlines()) == 1
    assert stderr.startswith(
        "error: unknown model 'kde'. A plugin that failed to load may provide it: kde "
        "(genbench-test-kde 1.0) [ImportError: No module named sklearn] (see `genbench "
        "plugins`).")
    code, _, stderr = cli("models", "kde")
    assert code == 2 and "A plugin that failed to load may provide it: kde" in stderr


# --- e. the model protocol: fitted in one go, data-shaped state, fitted quantities -----------


class Recorder(torch.nn.Module):
    """A model that remembers what genbench gave it."""

    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(()))
        self.optimizers = {}
        self.fits, self.steps = [], 0

    def fit_training_set(self, x, y):
        self.fits.append((x.clone(), None if y is None else y.clone()))

    def train_step(self, x, y):
        self.steps += 1
        return {}

    def training_state(self):
        return {"module": self.state_dict(), "optimizers": {}}

    def load_training_state(self, state):
        self.load_state_dict(state["module"])


def test_fit_training_set_gets_the_whole_split_once_before_training(tmp_path):
    from genbench.config import TrainConfig
    from genbench.training import InMemoryBatches, load_checkpoint, train

    x = torch.arange(40, dtype=torch.float32).view(20, 2)
    y = torch.arange(20)
    batches = InMemoryBatches(x, y, batch_size=4, seed=0, device=torch.device("cpu"))
    model = Recorder()
    config = TrainConfig(steps=3, checkpoint_every=1)
    train(model, batches, config, checkpoint=tmp_path / "c.pt", meta={})
    ((fx, fy),) = model.fits
    assert torch.equal(fx, x) and torch.equal(fy, y) and model.steps == 3
    # A resumed run has its fit in the checkpoint: no second fit.
    resumed = Recorder()
    train(resumed, batches, TrainConfig(steps=5), checkpoint=tmp_path / "c.pt", meta={},
          resume_from=load_checkpoint(tmp_path / "c.pt"))
    assert resumed.fits == [] and resumed.steps == 2


def test_whole_split_of_uint8_images_is_converted_like_the_batches():
    from genbench.data.base import to_unit
    from genbench.training import InMemoryBatches

    pixels = torch.randint(0, 256, (6, 1, 8, 8), dtype=torch.uint8)
    batches = InMemoryBatches(pixels, None, 6, 0, torch.device("cpu"), image_size=4)
    x, y = batches.whole()
    assert y is None and x.dtype == torch.float32
    assert torch.equal(x, to_unit(pixels, 4))
    assert torch.equal(x, batches.batch(0)[0][torch.argsort(batches.order.indices(0))])


@pytest.fixture
def example(monkeypatch):
    monkeypatch.syspath_prepend(str(REPO / "plugins" / "example-plugin"))
    import genbench_example
    import genbench_example.kde
    import genbench_example.model

    yield genbench_example
    for name in [m for m in sys.modules if m.startswith("genbench_example")]:
        sys.modules.pop(name)


def test_data_shaped_state_survives_a_checkpoint(example):
    import io

    from genbench.model import DataInfo

    info = DataInfo("points", (2,))
    torch.manual_seed(0)
    model = example.kde.build(example.KdeConfig(max_points=50), info)
    model.fit_training_set(torch.randn(80, 2), None)
    assert model.centres.shape == (50, 2)
    buffer = io.BytesIO()
    torch.save(model.training_state(), buffer)
    buffer.seek(0)
    restored = example.kde.build(example.KdeConfig(max_points=50), info)
    assert restored.centres.shape == (0, 2)  # a new model has not seen the data
    restored.load_training_state(torch.load(buffer, weights_only=True))
    x = torch.randn(7, 2)
    torch.testing.assert_close(restored.log_likelihood(x)["exact"],
                               model.log_likelihood(x)["exact"])
    assert restored.fitted_quantities() == model.fitted_quantities()


def test_kde_log_likelihood_is_the_mixture_of_its_kernels(example):
    from genbench.model import DataInfo

    model = example.kde.build(example.KdeConfig(bandwidth=0.3), DataInfo("points", (2,)))
    centres = torch.randn(30, 2)
    model.fit_training_set(centres, None)
    x = torch.randn(5, 2)
    kernels = torch.distributions.Independent(torch.distributions.Normal(centres, 0.3), 1)
    expected = torch.logsumexp(kernels.log_prob(x[:, None]), 1) - torch.log(torch.tensor(30.))
    torch.testing.assert_close(model.log_likelihood(x)["exact"], expected)
    assert model.fitted_quantities() == {"bandwidth": 0.3, "centres": 30}


def test_kde_without_spread_asks_for_a_bandwidth(example):
    from genbench.model import DataInfo

    model = example.kde.build(example.KdeConfig(), DataInfo("points", (2,)))
    with pytest.raises(GenbenchError, match="--set bandwidth=0.1"):
        model.fit_training_set(torch.ones(10, 2), None)


def test_gaussian_latent_and_generate_make_its_samples(example):
    from genbench.model import DataInfo

    model = example.model.build(example.GaussianConfig(), DataInfo("images", (1, 4, 4)))
    z = model.latent(6, torch.Generator().manual_seed(1))
    assert z.shape == (6, 16)
    assert torch.equal(model.generate(z), model.sample(6, torch.Generator().manual_seed(1)))


def test_model_without_parameters_lives_where_its_buffers_are():
    from genbench.model import GenerativeModel

    model = GenerativeModel()
    model.register_buffer("centres", torch.zeros(3, 2))
    assert model.device == torch.device("cpu")


def test_fitted_quantities_must_be_numbers_or_text():
    from genbench.api import fitted_quantities

    class Model:
        def fitted_quantities(self):
            return {"bandwidth": torch.tensor(0.5), "rule": "scott", "bad": [1, 2]}

    with pytest.raises(GenbenchError, match="got list for 'bad'"):
        fitted_quantities(Model(), "m")
    Model.fitted_quantities = lambda self: {"bandwidth": torch.tensor(0.5), "rule": "scott"}
    assert fitted_quantities(Model(), "m") == {"bandwidth": 0.5, "rule": "scott"}


def test_the_guide_documents_each_authoring_point():
    guide = (REPO / "docs" / "plugins.md").read_text()
    for needle in ("fit_training_set", "fitted_quantities", "load_training_state",
                   '"latent"', "D log(2/256)", "GenbenchError", "failed in model",
                   "conflict:", "genbench models NAME", "may provide it"):
        assert needle in guide, needle


# --- f. `genbench models NAME` ----------------------------------------------------------------

SETTINGS = """
from dataclasses import dataclass
from typing import Annotated, Literal
from genbench import hookimpl
from genbench.config import Check, Count, Odd, Range, Rate, TrainConfig
from genbench.registry import ModelSpec

@dataclass
class Config(TrainConfig):
    checks = (Check(("warmup", "steps"), lambda warmup, steps: warmup < steps,
                    "the warmup must end before the run does"),)
    lr: Rate = 1e-3
    kernel: Annotated[int, Range(ge=1), Odd()] = 3
    norm: Literal["batch", "none"] = "batch"
    channels: tuple[Annotated[int, Range(ge=1)], ...] = (64, 128)
    warmup: Annotated[int, Range(ge=0, note="steps; 0 = none")] = 0
    clip: float | None = None

@hookimpl
def register_models(register):
    register(ModelSpec(name="described", family="test", summary="a model to describe",
                       paper="Someone 2024", factory="genbench_test_desc:build", config=Config,
                       accepts=("images",), capabilities=("sample", "reconstruct"),
                       profiles={"quick": {"steps": 50, "lr": 0.01},
                                 "quick:images": {"channels": (8, 16)},
                                 "standard": {"steps": 5000}}))
"""


def test_models_name_describes_the_model_and_its_settings_as_json(cli, fake_plugin):
    fake_plugin("desc", SETTINGS)
    data = cli_json(cli, "models", "described")
    assert {k: data[k] for k in ("name", "summary", "paper", "plugin", "distribution",
                                 "version", "capabilities", "data")} == {
        "name": "described", "summary": "a model to describe", "paper": "Someone 2024",
        "plugin": "desc", "distribution": "genbench-test-desc", "version": "1.0",
        "capabilities": ["sample", "reconstruct"], "data": ["images"]}
    settings = {s["name"]: s for s in data["settings"]}
    assert list(settings)[:4] == ["steps", "batch_size", "checkpoint_every", "num_samples"]
    assert settings["steps"] == {"name": "steps", "type": "int", "default": 1000,
                                 "profiles": {"quick": 50, "standard": 5000},
                                 "allowed": ">= 1"}
    assert settings["lr"]["type"] == "float" and settings["lr"]["allowed"] == "> 0"
    assert settings["lr"]["profiles"] == {"quick": 0.01}
    assert settings["kernel"]["allowed"] == ">= 1; odd"
    assert (settings["norm"]["type"], settings["norm"]["allowed"]) == ("str",
                                                                       "one of batch, none")
    assert settings["channels"]["type"] == "tuple of int"
    assert settings["channels"]["allowed"] == "each >= 1"
    assert settings["channels"]["default"] == [64, 128]
    assert settings["channels"]["profiles"] == {"quick:images": [8, 16]}
    assert settings["warmup"]["allowed"] == ">= 0 (steps; 0 = none)"
    assert (settings["clip"]["type"], settings["clip"]["default"]) == ("float | None", None)
    assert settings["num_samples"]["allowed"] == "0 or >= 2 (0 = as many as the reference split)"
    assert data["checks"] == [{"settings": ["warmup", "steps"],
                               "rule": "the warmup must end before the run does"}]


def test_models_name_prints_a_settings_table(cli, fake_plugin, monkeypatch):
    from genbench.cli.output import out

    monkeypatch.setattr(out, "_width", 200)  # one row a line
    fake_plugin("desc", SETTINGS)
    code, stdout, _ = cli("models", "described")
    assert code == 0
    assert "plugin         desc (genbench-test-desc 1.0)" in stdout
    assert "capabilities   sample, reconstruct" in stdout
    lines = {line.split()[0]: line.split() for line in stdout.splitlines() if line.strip()}
    assert lines["steps"] == ["steps", "int", "1000", "quick", "50", ">=", "1"]
    assert lines["channels"] == ["channels", "tuple", "of", "int", "64,128", "quick:images",
                                 "8,16", "each", ">=", "1"]
    assert lines["clip"] == ["clip", "float", "|", "None", "none"]
    assert "warmup and steps together: the warmup must end before the run does" in stdout


def test_models_name_of_a_builtin_and_an_unknown_name(cli):
    data = cli_json(cli, "models", "gmm")
    assert data["plugin"] == "vaes" and data["distribution"] == "genbench"
    covariance = next(s for s in data["settings"] if s["name"] == "covariance")
    assert covariance["allowed"] == "one of full, diag, tied, spherical"
    code, _, stderr = cli("models", "gnm")
    assert code == 2 and stderr.startswith("error: unknown model 'gnm'. Did you mean 'gmm'?")
