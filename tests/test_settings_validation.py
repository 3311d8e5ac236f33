"""Settings are checked before anything is trained or stored (issue 15, item 4): every field of
every model's config against its declared type and range, the relations between fields, the
seed, the --out folders, and a store with a damaged page. Each refusal is one line, exits
non-zero and leaves the workdir exactly as it was."""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

import pytest
from typer.testing import CliRunner

from genbench.config import PROFILES, Check, Count, Range, TrainConfig, check_config, resolve_config
from genbench.errors import GenbenchError
from genbench.plugins import get_registries
from genbench.registry import ModelSpec
from genbench.results.store import Store

REPO = Path(__file__).resolve().parents[1]
RING = ("--dataset", "ring8")
DIGITS = ("--dataset", "digits")
TINY = ("--steps", "3", "--set", "hidden=8", "--set", "latent_dim=2", "--metrics", "modes")
CORRUPT = ("corrupt", "genbench.sqlite", "left untouched")


@pytest.fixture(scope="module")
def stored(tmp_path_factory) -> tuple[Path, str]:
    """A workdir holding one tiny completed run, and that run's id (built once: copy it)."""
    from genbench.cli import app

    workdir = tmp_path_factory.mktemp("stored") / "work"
    get_registries.cache_clear()
    result = CliRunner().invoke(app, ["run", "gan", *RING, *TINY, "--workdir", str(workdir),
                                      "--format", "json"])
    assert result.exit_code == 0, result.stderr
    (run_id,) = [p.name for p in (workdir / "runs").iterdir()]
    return workdir, run_id


def snapshot(folder: Path) -> dict[str, str]:
    """Every path under ``folder``: a file's MD5, or "dir"."""
    return {str(p.relative_to(folder)): "dir" if p.is_dir() else
            hashlib.md5(p.read_bytes()).hexdigest() for p in sorted(folder.rglob("*"))}


def corrupt_a_page(store: Path) -> None:
    """Overwrite the second page (the runs table's b-tree) with junk: the header and schema
    still read, so sqlite opens the file and fails only when the table is used."""
    data = bytearray(store.read_bytes())
    page = int.from_bytes(data[16:18], "big")
    data[page:2 * page] = b"\xa5" * page
    store.write_bytes(bytes(data))


CASES = [
    # (args, exit code, words in the one-line message)
    (("run", "gan", *RING, "--set", "steps=0"), 2, ["gan:", "--set steps=0", "must be >= 1"]),
    (("run", "gan", *RING, "--set", "hidden=0"), 2, ["gan:", "--set hidden=0", ">= 1"]),
    (("run", "gan", *RING, "--set", "batch_size=-4"), 2, ["--set batch_size=-4", ">= 1"]),
    (("run", "dcgan", *DIGITS, "--set", "batch_size=0"), 2,
     ["dcgan: --set batch_size=0: must be >= 1"]),
    (("run", "gan", *RING, "--set", "checkpoint_every=0"), 2,
     ["--set checkpoint_every=0", ">= 1"]),
    (("run", "vae", *RING, "--set", "latent_dim=-3"), 2, ["vae:", "--set latent_dim=-3", ">= 1"]),
    (("run", "gan", *RING, "--set", "num_samples=-5"), 2,
     ["--set num_samples=-5", "must be 0 or >= 2"]),
    (("run", "gan", *RING, "--set", "lr_g=0"), 2, ["--set lr_g=0", "must be > 0"]),
    (("run", "gan", *RING, "--set", "lr_g=inf"), 2, ["--set lr_g=inf", "finite"]),
    (("run", "gan", *RING, "--set", "label_flip=1.5"), 2, ["label_flip=1.5", "in [0, 1]"]),
    (("run", "gan", *RING, "--set", "dropout=1"), 2, ["--set dropout=1", "in [0, 1)"]),
    (("run", "gan", *RING, "--set", "label_smoothing=0.1"), 2,
     ["must be 0 or in [0.5, 1)", "the real examples' target"]),
    (("run", "gan", *RING, "--set", "hidden=2.5"), 2, ["gan:", "hidden=2.5", "expected int"]),
    (("run", "gan", *RING, "--set", "g_norm=group"), 2, ["gan:", "g_norm=group", "choose one of"]),
    (("run", "gan", *RING, "--set", "spectral_norm=maybe"), 2, ["spectral_norm", "expected bool"]),
    # Relations between settings, and several problems in one line.
    (("run", "gan", *RING, "--set", "label_smoothing=0.9", "--set", "noisy_labels=yes"), 2,
     ["--set label_smoothing=0.9 --set noisy_labels=yes", "choose one"]),
    (("run", "wgan-gp", *RING, "--set", "d_norm=batch"), 2, ["wgan-gp:", "BatchNorm"]),
    (("run", "dcgan", *DIGITS, "--set", "ngf=0", "--set", "beta1=1"), 2,
     ["--set ngf=0: must be >= 1", "--set beta1=1: must be in [0, 1)"]),
    # Every plugin's config, the ranges moved out of the factories included.
    (("run", "acgan", *DIGITS, "--set", "aux_weight=-1"), 2, ["acgan:", "aux_weight=-1", ">= 0"]),
    (("run", "infogan", *DIGITS, "--set", "categorical=1"), 2, ["categorical=1", ">= 2"]),
    (("run", "pixelcnn", *DIGITS, "--set", "kernel=4"), 2, ["pixelcnn:", "kernel=4", "odd"]),
    (("run", "vq-vae", *DIGITS, "--set", "prior_kernel=0"), 2, ["prior_kernel=0", ">= 1"]),
    (("run", "gmm", *RING, "--set", "components=0"), 2, ["gmm:", "components=0", ">= 1"]),
    (("run", "dae", *RING, "--set", "mask_prob=2"), 2, ["dae:", "mask_prob=2", "in [0, 1]"]),
    (("run", "pix2pix", "--dataset", "edges2digits", "--set", "dropout=1.5"), 2,
     ["pix2pix:", "dropout=1.5", "in [0, 1)"]),
    (("run", "cyclegan", "--dataset", "digits2ink", "--set", "pool_size=-1"), 2,
     ["cyclegan:", "pool_size=-1", ">= 0"]),
    (("run", "anogan", "--dataset", "digits-oneclass:0", "--set", "search_lambda=2"), 2,
     ["anogan:", "search_lambda=2", "in [0, 1]"]),
    (("run", "ganomaly", "--dataset", "digits-oneclass:0", "--set", "w_con=-1"), 2,
     ["ganomaly:", "w_con=-1", ">= 0"]),
    (("run", "gan", *RING, "--steps", "0"), 2, ["--steps", "at least 1"]),
    # The seed, the output folders.
    (("run", "gan", *RING, "--seed", "99999999999999999999"), 2,
     ["--seed 99999999999999999999", "2**63 - 1", "torch.manual_seed"]),
    (("samples", "{run}", "--seed", "-99999999999999999999"), 2, ["--seed", "2**63"]),
    (("samples", "{run}", "--out", "{file}"), 2, ["--out", "is a file", "folder"]),
    (("samples", "{run}", "--out", "{file}/sub"), 2, ["--out", "is a file", "folder"]),
    (("leaderboard", "render", "--out", "{file}"), 2, ["--out", "is a file", "folder"]),
    (("leaderboard", "render", "--out", "{file}", "--records"), 2, ["--out", "folder"]),
    # A store with one damaged page: refused by every command that reads or writes it.
    (("runs", "{corrupt}"), 2, CORRUPT),
    (("runs", "show", "{run}", "{corrupt}"), 2, CORRUPT),
    (("leaderboard", "show", "{corrupt}"), 2, CORRUPT),
    (("leaderboard", "render", "--out", "{outside}", "{corrupt}"), 2, CORRUPT),
    (("samples", "{run}", "{corrupt}"), 2, CORRUPT),
    (("evaluate", "{run}", "{corrupt}"), 2, CORRUPT),
    (("run", "gan", *RING, *TINY, "{corrupt}"), 2, CORRUPT),
]


@pytest.mark.parametrize("args, code, words", CASES,
                         ids=[" ".join(a).replace("/", "_") for a, _, _ in CASES])
def test_refused_in_one_line_with_the_workdir_untouched(args, code, words, stored, tmp_path, cli):
    workdir = tmp_path / "work"
    shutil.copytree(stored[0], workdir)
    a_file = tmp_path / "a-file"
    a_file.write_text("not a folder\n")
    args = list(args)
    if "{corrupt}" in args:
        args.remove("{corrupt}")
        corrupt_a_page(workdir / "genbench.sqlite")
    subs = {"{run}": stored[1], "{file}": str(a_file), "{outside}": str(tmp_path / "boards")}
    args = [subs.get(a, a.replace("{file}", str(a_file))) for a in args]
    if "runs" not in args[:1]:
        args += ["--workdir", str(workdir)]
    else:  # `runs` takes --workdir before its subcommand
        args = ["runs", "--workdir", str(workdir), *args[1:]]
    before = snapshot(tmp_path)

    exit_code, stdout, stderr = cli(*args)

    lines = [line for line in stderr.splitlines() if line.strip()]
    assert exit_code == code != 0, (stdout, stderr)
    assert len(lines) == 1, stderr
    assert lines[0].startswith("error:"), lines[0]
    assert "internal error" not in stderr and "Traceback" not in stdout + stderr
    for word in words:
        assert word in lines[0], lines[0]
    assert snapshot(tmp_path) == before, "the command changed files"


@pytest.mark.parametrize("seed", [2 ** 63 - 1, -2 ** 63])
def test_the_extreme_seeds_train_and_are_stored(seed, cli, workdir):
    """The whole range the --seed error names works: torch, the batch order, the store."""
    code, stdout, stderr = cli("run", "gan", *RING, *TINY, "--seed", str(seed), "--workdir",
                               workdir, "--format", "json")
    assert code == 0, stderr
    assert json.loads(stdout)["seed"] == seed
    assert Store(workdir).runs()[0].seed == seed


# -- the declaration, from a third party's side ----------------------------------------------

THIRD_PARTY = '''
from dataclasses import dataclass
from typing import Annotated, Literal

from genbench import hookimpl
from genbench.config import Check, Range, TrainConfig
from genbench.registry import ModelSpec


@dataclass
class ThirdConfig(TrainConfig):
    checks = (Check(("warmup", "steps"), lambda warmup, steps: warmup < steps,
                    "the warmup must end before the run does"),)

    temperature: Annotated[float, Range(gt=0, le=10)] = 1.0
    mode: Literal["fast", "slow"] = "fast"
    warmup: Annotated[int, Range(ge=0)] = 0


@hookimpl
def register_models(register):
    register(ModelSpec(name="third", family="test", summary="s", paper="p",
                       factory="genbench_test_third:build", config=ThirdConfig))


def build(config, data):
    raise AssertionError("a refused setting must stop before the model is built")
'''


@pytest.mark.parametrize("sets, words", [
    (("temperature=0",), ["third: --set temperature=0: must be in (0, 10]"]),
    (("temperature=11",), ["--set temperature=11", "in (0, 10]"]),
    (("mode=medium",), ["third:", "mode=medium", "choose one of fast, slow"]),
    (("warmup=5", "steps=5"), ["--set warmup=5 --set steps=5",
                               "the warmup must end before the run does"]),
])
def test_a_third_party_config_gets_its_declared_checks(sets, words, fake_plugin, cli, workdir):
    fake_plugin("third", THIRD_PARTY)
    args = [item for s in sets for item in ("--set", s)]
    exit_code, stdout, stderr = cli("run", "third", *RING, *args, "--workdir", workdir)
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert exit_code == 2 and len(lines) == 1, stderr
    assert "internal error" not in stderr and "Traceback" not in stdout + stderr
    for word in words:
        assert word in lines[0], lines[0]
    assert not workdir.exists()


@dataclass
class Base(TrainConfig):
    checks = (Check(("low", "high"), lambda low, high: low <= high, "low must not exceed high"),)

    width: Count = 4
    low: Annotated[float, Range(ge=0)] = 0.0
    high: float = 1.0
    kind: Literal["a", "b"] = "a"
    sizes: tuple[Annotated[int, Range(ge=1)], ...] = (1, 2)
    clip: Annotated[float, Range(gt=0)] | None = None


@dataclass
class Derived(Base):
    """Restates fields to change their defaults: the base's constraints and checks stay."""

    checks = (Check(("width",), lambda width: width % 2 == 0, "width must be even"),)

    steps: int = 10
    width: int = 8


def _spec(config: type, **profiles) -> ModelSpec:
    return ModelSpec(name="m", family="f", summary="s", paper="p", factory="x:y",
                     config=config, profiles=profiles)


@pytest.mark.parametrize("overrides, message", [
    (("steps=0",), "m: --set steps=0: must be >= 1"),
    (("width=0",), "m: --set width=0: must be >= 1"),
    (("width=3",), "m: --set width=3: width must be even"),
    (("low=2", "high=1"), "m: --set low=2 --set high=1: low must not exceed high"),
    (("low=-1",), "m: --set low=-1: must be >= 0"),
    (("clip=0",), "m: --set clip=0: must be > 0"),
    (("sizes=1,0",), "m: --set sizes=1,0: must be >= 1"),
])
def test_constraints_are_inherited_and_checks_accumulate(overrides, message):
    with pytest.raises(GenbenchError) as info:
        resolve_config(_spec(Derived), "quick", "points", overrides=overrides)
    assert str(info.value) == message
    assert resolve_config(_spec(Derived), "quick", "points", overrides=("clip=none",)).clip is None


@pytest.mark.parametrize("values, message", [
    ({"kind": "c"}, "m: kind=c: must be one of a, b"),
    ({"width": 2.0}, "m: width=2.0: must be an integer"),
    ({"width": True}, "m: width=true: must be an integer"),
    ({"low": "0"}, "m: low=0: must be a number"),
    ({"high": float("nan")}, "m: high=nan: must be a finite number"),
    ({"sizes": [1, 2]}, "m: sizes=[1, 2]: must be a tuple (comma-separated values)"),
])
def test_profile_values_are_checked_too(values, message):
    """A plugin's own profile is checked like the user's --set (no "--set" in the message)."""
    with pytest.raises(GenbenchError) as info:
        resolve_config(_spec(Base, quick=values), "quick", "points")
    assert str(info.value) == message


def test_every_problem_is_named_in_one_line():
    with pytest.raises(GenbenchError) as info:
        check_config(Base(batch_size=0, width=0, kind="z"), "m")
    assert str(info.value) == ("m: batch_size=0: must be >= 1; width=0: must be >= 1; "
                               "kind=z: must be one of a, b")


def test_the_example_plugin_declares_its_range(monkeypatch):
    """docs/plugins.md's example (installed for real in test_example_plugin.py)."""
    monkeypatch.syspath_prepend(str(REPO / "plugins" / "example-plugin"))
    import genbench_example

    specs: list[ModelSpec] = []
    genbench_example.register_models(specs.append)
    with pytest.raises(GenbenchError) as info:
        resolve_config(specs[0], "quick", "points", overrides=("lr=0",))
    assert str(info.value) == "example-gaussian: --set lr=0: must be > 0"
    for profile in PROFILES:
        check_config(resolve_config(specs[0], profile, "images"))


def test_every_model_default_config_passes_in_every_profile():
    """The declared ranges accept what every registered model ships with."""
    models = list(get_registries().models)
    assert len(models) >= 20
    for spec in models:
        for profile in PROFILES:
            for kind in spec.accepts:
                check_config(resolve_config(spec, profile, kind), spec.name)
