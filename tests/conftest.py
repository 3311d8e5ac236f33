"""Shared fixtures: an isolated workdir, a CLI runner, and throwaway plugins installed through
real entry-point metadata (a ``.dist-info`` folder on ``sys.path``)."""

from __future__ import annotations

import json
import sys
import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

from genbench.plugins import get_registries

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True, scope="session")
def shared_cache(tmp_path_factory):
    """One evaluator/feature cache for the whole session, so the digits evaluator is trained
    once, not once per test (the cache is keyed by content, so sharing it is safe)."""
    mp = pytest.MonkeyPatch()
    mp.setenv("GENBENCH_CACHE_DIR", str(tmp_path_factory.mktemp("genbench-cache")))
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
