"""Plugin discovery: builtins through entry points, broken plugins reported and skipped."""

from __future__ import annotations

import subprocess
import sys

from conftest import cli_json

from genbench.plugins import get_registries

GOOD_PLUGIN = """
from dataclasses import dataclass
from genbench import hookimpl
from genbench.config import TrainConfig
from genbench.registry import ModelSpec

@dataclass
class Config(TrainConfig):
    width: int = 4

@hookimpl
def register_models(register):
    register(ModelSpec(name="tiny-good", family="test", summary="s", paper="p",
                       factory="genbench_test_good:build", config=Config))
"""


def test_builtin_models_come_from_the_gans_entry_point():
    reg = get_registries()
    assert {"gan", "dcgan"} <= set(reg.models.names())
    assert reg.models.owners["dcgan"] == "gans"
    gans = next(p for p in reg.plugins if p.name == "gans")
    assert gans.status == "loaded" and gans.distribution == "genbench"
    assert sorted(gans.provides["models"]) == ["acgan", "bigan", "cgan", "cogan", "dcgan", "gan",
                                              "infogan", "lsgan", "sgan", "sngan", "wgan",
                                              "wgan-gp"]


def test_core_registers_datasets_metrics_extractors():
    reg = get_registries()
    assert {"ring8", "grid25", "digits"} <= set(reg.datasets.names())
    assert {"modes", "fd", "prdc"} <= set(reg.metrics.names())
    assert "raw" in reg.extractors


def test_plugin_failing_on_import_is_reported_and_skipped(cli, fake_plugin):
    fake_plugin("good", GOOD_PLUGIN)
    fake_plugin("broken", "raise ImportError('needs libfoo >= 2')\n")
    plugins = {p["name"]: p for p in cli_json(cli, "plugins")}
    assert plugins["broken"]["status"] == "failed"
    assert plugins["broken"]["error"] == "ImportError: needs libfoo >= 2"
    assert plugins["broken"]["distribution"] == "genbench-test-broken"
    assert plugins["good"]["status"] == "loaded"
    names = [m["name"] for m in cli_json(cli, "models")]
    assert "tiny-good" in names and "dcgan" in names


def test_plugin_failing_inside_a_hook_keeps_nothing(cli, fake_plugin):
    fake_plugin("halfway", GOOD_PLUGIN.replace("genbench_test_good", "genbench_test_halfway")
                + "\n@hookimpl\ndef register_datasets(register):\n    raise RuntimeError('boom')\n")
    plugins = {p["name"]: p for p in cli_json(cli, "plugins")}
    assert plugins["halfway"]["status"] == "failed"
    assert "boom" in plugins["halfway"]["error"]
    assert "tiny-good" not in [m["name"] for m in cli_json(cli, "models")]


def test_duplicate_model_name_fails_only_the_newcomer(cli, fake_plugin):
    fake_plugin("dup", GOOD_PLUGIN.replace('"tiny-good"', '"dcgan"'))
    plugins = {p["name"]: p for p in cli_json(cli, "plugins")}
    assert plugins["dup"]["status"] == "failed"
    assert "already registered by plugin gans" in plugins["dup"]["error"]
    assert get_registries().models.owners["dcgan"] == "gans"


def test_hookimpl_with_unknown_hook_name_is_reported(cli, fake_plugin):
    fake_plugin("typo", "from genbench import hookimpl\n\n@hookimpl\n"
                        "def register_model(register):\n    pass\n")
    plugins = {p["name"]: p for p in cli_json(cli, "plugins")}
    assert plugins["typo"]["status"] == "failed"
    assert "register_model" in plugins["typo"]["error"]


def test_disabled_plugin_is_skipped(cli, fake_plugin, monkeypatch):
    fake_plugin("good", GOOD_PLUGIN)
    monkeypatch.setenv("GENBENCH_DISABLE_PLUGINS", "good")
    plugins = {p["name"]: p for p in cli_json(cli, "plugins")}
    assert plugins["good"]["status"] == "disabled"
    assert "tiny-good" not in [m["name"] for m in cli_json(cli, "models")]


def test_light_commands_do_not_import_torch_and_start_fast():
    """`genbench --help`, `models` and `plugins` answer without importing torch or pandas
    (benchmarks/startup.py times them)."""
    code = ("import sys; from genbench.cli import app; from typer.testing import CliRunner; "
            "r = CliRunner()\n"
            "for args in (['--help'], ['models'], ['plugins']):\n"
            "    assert r.invoke(app, args).exit_code == 0, args\n"
            "heavy = [m for m in ('torch', 'pandas', 'matplotlib') if m in sys.modules]\n"
            "assert not heavy, heavy")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_profile_with_unknown_setting_fails_the_plugin_at_registration(cli, fake_plugin):
    fake_plugin("typoprof", GOOD_PLUGIN.replace('config=Config)',
                                                'config=Config, profiles={"quick": {"widht": 2}})'))
    plugins = {p["name"]: p for p in cli_json(cli, "plugins")}
    assert plugins["typoprof"]["status"] == "failed"
    assert "profile 'quick' sets unknown settings widht" in plugins["typoprof"]["error"]
