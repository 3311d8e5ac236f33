"""The mistakes plugin authors make, each reported as that plugin's one-line failure or warning
instead of a silent exit, corrupted JSON, a dropped hook or a run-time TypeError: sys.exit() and
print() at import, two implementations of one hook, a missing @hookimpl, a misnamed argument,
misspelt profile keys, config classes and dataset fields, and misspelt "module:attribute"
references; plus `genbench plugins --check` and the guide's examples."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import pytest
from conftest import cli_json

from genbench.config import TrainConfig
from genbench.errors import GenbenchError
from genbench.plugins import get_registries
from genbench.registry import DatasetSpec, ModelSpec, load_object

REPO = Path(__file__).resolve().parents[1]

MODEL = """
from dataclasses import dataclass
from genbench import hookimpl
from genbench.config import TrainConfig
from genbench.registry import ModelSpec

@dataclass
class Config(TrainConfig):
    width: int = 4

def spec(name, factory="genbench_test_x:build"):
    return ModelSpec(name=name, family="test", summary="s", paper="p", factory=factory,
                     config=Config)
"""


def plugins_by_name(cli) -> dict:
    return {p["name"]: p for p in cli_json(cli, "plugins")}


# --- 1. sys.exit() in a plugin fails the plugin, not the command ------------------------------


@pytest.mark.parametrize("source, reason", [
    ("import sys\nsys.exit(0)\n", "called sys.exit(0) while loading"),
    ("import argparse\nargparse.ArgumentParser().parse_args(['--bogus'])\n",
     "called sys.exit(2) while loading"),
    (MODEL + "\n@hookimpl\ndef register_models(register):\n    raise SystemExit(3)\n",
     "register_models: called sys.exit(3) while loading"),
])
def test_sys_exit_in_a_plugin_fails_that_plugin(cli, fake_plugin, source, reason):
    fake_plugin("exits", source)
    plugins = plugins_by_name(cli)  # used to print nothing and exit 0
    assert (plugins["exits"]["status"], plugins["exits"]["error"]) == ("failed", reason)
    assert "dcgan" in [m["name"] for m in cli_json(cli, "models")]


# --- 2. what a plugin prints does not corrupt --format json -----------------------------------


def test_a_plugins_prints_go_to_stderr(cli, fake_plugin):
    fake_plugin("chatty", MODEL + "print('chatty imported')\n\n@hookimpl\n"
                                  "def register_models(register):\n"
                                  "    print('registering')\n"
                                  "    register(spec('chatty-model'))\n")
    code, stdout, stderr = cli("models", "--format", "json")
    assert code == 0
    assert "chatty-model" in [m["name"] for m in json.loads(stdout)]  # stdout is JSON only
    assert "chatty imported" in stderr and "registering" in stderr


# --- 3. every implementation of a hook is called ----------------------------------------------


def test_two_implementations_of_one_hook_are_both_called_in_definition_order(fake_plugin):
    fake_plugin("two", MODEL + "\n@hookimpl\ndef register_models(register):\n"
                               "    register(spec('zz-first'))\n"
                               "\n@hookimpl(specname='register_models')\n"
                               "def aa_more_models(register):\n"
                               "    register(spec('aa-second'))\n")
    info = next(p for p in get_registries().plugins if p.name == "two")
    assert info.status == "loaded"
    assert info.provides == {"models": ["zz-first", "aa-second"]}


# --- 4. a plugin that provides nothing says so ------------------------------------------------


@pytest.mark.parametrize("source, warning", [
    (MODEL + "\ndef register_models(register):\n    register(spec('undecorated'))\n",
     "provides nothing: register_models is not decorated with @genbench.hookimpl"),
    ("X = 1\n", "provides nothing: are its hook functions decorated with @genbench.hookimpl?"),
    (MODEL + "\n@hookimpl\ndef register_models(register):\n    pass\n",
     "provides nothing: its hooks ran but never called register(...)"),
])
def test_a_plugin_that_provides_nothing_is_loaded_with_a_warning(cli, fake_plugin, workdir,
                                                                 source, warning):
    fake_plugin("idle", source)
    idle = plugins_by_name(cli)["idle"]
    assert (idle["status"], idle["warning"], idle["provides"]) == ("loaded", warning, {})
    code, stdout, _ = cli("plugins")
    assert code == 0 and warning in " ".join(stdout.split())
    # A run of the model it was meant to provide names it among the reasons.
    code, _, stderr = cli("run", "undecorated", "--dataset", "ring8", "--workdir", workdir)
    assert code == 2
    assert (f"A plugin that loaded but registered nothing may be meant to provide it: idle "
            f"(genbench-test-idle 1.0) [{warning}]") in " ".join(stderr.split())


def test_genbenchs_own_plugins_load_without_errors_or_warnings():
    for info in get_registries().plugins:
        assert (info.name, info.status, info.error, info.warning) == (info.name, "loaded", "",
                                                                     "")


# --- 5. a misnamed hook argument or hook, in one line -----------------------------------------


@pytest.mark.parametrize("source, reason", [
    ("from genbench import hookimpl\n\n@hookimpl\ndef register_models(reg):\n    pass\n",
     "register_models(reg): argument 'reg' is not in the hookspec register_models(register); "
     "write def register_models(register)"),
    ("from genbench import hookimpl\n\n@hookimpl\ndef register_model(register):\n    pass\n",
     "register_model: unknown hook 'register_model' (did you mean 'register_models'?); the hooks "
     "are register_models, register_datasets, register_metrics, register_extractors"),
    ("from genbench import hookimpl\n\n@hookimpl\ndef register_models():\n    pass\n",
     "register_models(): takes no 'register' argument; write def register_models(register)"),
])
def test_a_misnamed_hook_or_argument_is_explained_in_one_line(cli, fake_plugin, source, reason):
    fake_plugin("misnamed", source)
    plugin = plugins_by_name(cli)["misnamed"]
    assert (plugin["status"], plugin["error"]) == ("failed", reason)


# --- 6. genbench plugins --check -------------------------------------------------------------


def test_plugins_check_exits_1_naming_the_failed_plugins(cli, fake_plugin):
    code, _, stderr = cli("plugins", "--check")
    assert (code, stderr) == (0, "")
    fake_plugin("broken", "raise ImportError('needs libfoo >= 2')\n")
    code, stdout, stderr = cli("plugins", "--check")
    assert code == 1 and "broken" in stdout  # the table is still printed
    assert " ".join(stderr.split()) == ("error: 1 plugin failed to load: broken "
                                        "(genbench-test-broken 1.0) [ImportError: needs libfoo "
                                        ">= 2]")
    code, stdout, _ = cli("plugins", "--check", "--format", "json")
    assert code == 1 and json.loads(stdout)
    code, stdout, _ = cli("plugins", "--help")
    assert code == 0 and "--check" in stdout


# --- 7. ModelSpec: profile keys and config classes --------------------------------------------


@dataclasses.dataclass
class Config(TrainConfig):
    width: int = 4


def model(config=Config, **kwargs) -> ModelSpec:
    return ModelSpec(name="m", family="f", summary="s", paper="p", factory="x:y", config=config,
                     **kwargs)


@pytest.mark.parametrize("profiles, message", [
    ({"quik": {"steps": 5}},
     "model 'm': unknown profile 'quik' (did you mean 'quick'?); known profiles (keys are "
     "PROFILE or PROFILE:KIND): quick, standard"),
    ({"standard:imges": {"width": 4}},
     "model 'm', profile 'standard:imges': unknown data kind 'imges' (did you mean 'images'?); "
     "known data kinds: points, images, paired, unpaired, superres, inpaint"),
])
def test_misspelt_profile_keys_are_refused(profiles, message):
    with pytest.raises(GenbenchError) as info:
        model(profiles=profiles)
    assert str(info.value) == message


def test_valid_profile_keys_are_accepted():
    model(profiles={"quick": {"steps": 5}, "quick:points": {"width": 2},
                    "standard:inpaint": {"width": 3}})


def test_a_config_that_is_not_a_trainconfig_is_refused_at_registration():
    @dataclasses.dataclass
    class Plain:
        width: int = 3

    with pytest.raises(GenbenchError, match=r"^model 'm': config Plain must be a dataclass that "
                                            r"subclasses genbench.config.TrainConfig"):
        model(config=Plain)


def test_a_config_subclass_without_its_own_dataclass_decorator_is_refused():
    class NotDC(TrainConfig):
        width: int = 3

    @dataclasses.dataclass
    class Below(NotDC):  # decorated itself, but a class it inherits from is not
        depth: int = 2

    for config in (NotDC, Below):
        with pytest.raises(GenbenchError) as info:
            model(config=config)
        assert str(info.value).endswith("; decorate NotDC with @dataclass")


def test_a_plain_mixin_in_a_configs_bases_is_accepted():
    class Mixin:
        pass

    @dataclasses.dataclass
    class Mixed(Mixin, TrainConfig):
        width: int = 3

    model(config=Mixed)


# --- 8. DatasetSpec is checked when constructed -----------------------------------------------


def dataset(**kwargs) -> DatasetSpec:
    return DatasetSpec(**{"name": "d", "kind": "points", "summary": "s", "source": "s",
                          "loader": "x:y", "shape": (2,), **kwargs})


@pytest.mark.parametrize("kwargs, message", [
    ({"kind": "image"}, "dataset 'd': unknown data kind 'image' (did you mean 'images'?); known "
                        "data kinds: points, images, paired, unpaired, superres, inpaint"),
    ({"shape": [2]}, "dataset 'd': shape must be a tuple of positive whole numbers, (D,) for "
                     "points or (C, H, W) for images; got [2]"),
    ({"shape": ()}, "shape must be a tuple of positive whole numbers"),
    ({"shape": (1, 0, 8)}, "shape must be a tuple of positive whole numbers"),
    ({"shape": (2.0,)}, "shape must be a tuple of positive whole numbers"),
    ({"target_shape": (3, -1, 8)}, "dataset 'd': target_shape must be a tuple of positive"),
    ({"num_classes": -1}, "dataset 'd': num_classes must be a whole number >= 0 (0 for "
                          "unlabelled data), got -1"),
    ({"num_classes": 2.5}, "num_classes must be a whole number >= 0"),
    ({"eval_split": "tset"}, "dataset 'd': unknown eval_split 'tset' (did you mean 'test'?); "
                             "known splits: train, test"),
    ({"splits": "train"}, "dataset 'd': splits must be a tuple of strings, got 'train'"),
])
def test_a_dataset_spec_with_a_mistake_is_refused(kwargs, message):
    with pytest.raises(GenbenchError) as info:
        dataset(**kwargs)
    assert message in str(info.value)


def test_a_plugins_dataset_with_a_misspelt_kind_fails_the_plugin(cli, fake_plugin):
    fake_plugin("data", "from genbench import hookimpl\nfrom genbench.registry import "
                        "DatasetSpec\n\n@hookimpl\ndef register_datasets(register):\n"
                        "    register(DatasetSpec(name='mine', kind='image', summary='s', "
                        "source='s', loader='x:y', shape=(1, 8, 8)))\n")
    plugin = plugins_by_name(cli)["data"]
    assert plugin["status"] == "failed"
    assert plugin["error"].startswith("register_datasets: GenbenchError: dataset 'mine': "
                                      "unknown data kind 'image' (did you mean 'images'?)")


# --- 9. a "module:attribute" reference that names nothing -------------------------------------


def test_load_object_says_which_reference_names_nothing():
    with pytest.raises(GenbenchError) as info:
        load_object("genbench.registry:load_objekt", owner="model 'm'")
    assert str(info.value) == (
        "model 'm': cannot import 'genbench.registry:load_objekt': module genbench.registry has "
        "no attribute 'load_objekt' (did you mean 'load_object'?); fix the attribute in this "
        "\"module:attribute\" reference")
    for ref, missing in (("genbench.nowhere:build", "genbench.nowhere"),
                         ("genbench_nowhere.model:build", "genbench_nowhere")):
        with pytest.raises(GenbenchError, match=f"^cannot import '{ref}': there is no module "
                                                f"'{missing}'; fix the module"):
            load_object(ref)


def test_load_object_keeps_a_modules_own_import_error(tmp_path, monkeypatch):
    (tmp_path / "genbench_test_needs.py").write_text("import genbench_test_no_such_dep\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ModuleNotFoundError, match="genbench_test_no_such_dep"):
        load_object("genbench_test_needs:build")


FACTORY_TYPO = MODEL + """
def build(config, data):
    raise AssertionError("not reached")

@hookimpl
def register_models(register):
    register(spec("typo", factory="genbench_test_typo:buidl"))
"""


def test_a_misspelt_factory_is_a_one_line_error_not_an_internal_one(cli, fake_plugin, workdir):
    fake_plugin("typo", FACTORY_TYPO)
    code, _, stderr = cli("run", "typo", "--dataset", "ring8", "--steps", "1", "--device", "cpu",
                          "--workdir", workdir)
    assert code == 2
    assert " ".join(stderr.split()) == (
        "error: model 'typo': cannot import 'genbench_test_typo:buidl': module genbench_test_typo "
        "has no attribute 'buidl' (did you mean 'build'?); fix the attribute in this "
        "\"module:attribute\" reference")


def test_a_misspelt_dataset_loader_is_a_one_line_error(cli, fake_plugin, workdir):
    fake_plugin("loader", "from genbench import hookimpl\nfrom genbench.registry import "
                          "DatasetSpec\n\n@hookimpl\ndef register_datasets(register):\n"
                          "    register(DatasetSpec(name='mine', kind='points', summary='s', "
                          "source='s', loader='genbench_test_nowhere:load', shape=(2,)))\n")
    code, _, stderr = cli("run", "gan", "--dataset", "mine", "--steps", "1", "--device", "cpu",
                          "--workdir", workdir)
    assert code == 2
    assert stderr.startswith("error: dataset 'mine': cannot import 'genbench_test_nowhere:load': "
                             "there is no module 'genbench_test_nowhere'")


# --- 10. the guide ---------------------------------------------------------------------------


def test_the_guides_colorization_example_registers_as_written():
    guide = (REPO / "docs" / "plugins.md").read_text()
    (snippet,) = re.findall(r"```python\n(# genbench_colorize/__init__.py.*?)```", guide,
                            flags=re.DOTALL)
    namespace: dict = {}
    exec(compile(snippet, "docs/plugins.md", "exec"), namespace)  # no NameError
    specs: list = []
    for hook in ("register_datasets", "register_metrics", "register_models"):
        namespace[hook](specs.append)
    assert [spec.name for spec in specs] == ["colorize-folder", "colorfulness", "colorize-unet"]


def test_the_guide_documents_these_checks():
    guide = " ".join((REPO / "docs" / "plugins.md").read_text().split())
    for needle in ("genbench plugins --check", "called sys.exit(0) while loading",
                   'specname="register_models"', "provides nothing",
                   'self.register_buffer("steps_done"', "decorate KdeConfig with @dataclass",
                   "unknown profile 'quik'"):
        assert needle in guide, needle
    assert 'requires = ["setuptools>=61"]' not in guide  # editable installs need >= 64
