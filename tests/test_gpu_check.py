"""The device check (benchmarks/gpu_check.py) on its CPU subset, as CI can run it."""

import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _gpu_check():
    spec = importlib.util.spec_from_file_location("gpu_check", ROOT / "benchmarks" /
                                                  "gpu_check.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["gpu_check"] = module  # its dataclass looks its module up
    spec.loader.exec_module(module)
    return module


def test_device_check_runs_its_cpu_subset_and_reports_failures(tmp_path):
    check = _gpu_check()
    code = check.main(["--device", "cpu", "--models", "gan,ae", "--dataset", "gan=ring8",
                       "--dataset", "ae=no-such-set", "--steps", "3", "--no-tests",
                       "--no-benchmarks", "--out", str(tmp_path), "--workdir",
                       str(tmp_path.parent / "models-work")])
    report = (tmp_path / "report.md").read_text()
    rows = {line.split("|")[1].strip(): line for line in report.splitlines()
            if line.startswith("| ") and not line.startswith("| model")}
    assert "| ring8 |" in rows["gan"] and "| completed |" in rows["gan"]
    # A failing run is a row with its one-line error, and the check's exit status says so.
    assert "exit 2" in rows["ae"] or "exit 1" in rows["ae"]
    assert "no-such-set" in rows["ae"]
    assert "1 of 2 completed" in report
    assert code == 1
    assert (tmp_path / "run-gan.log").read_text().startswith("$ ")
    # The models' workdir (checkpoints) is kept apart from the report folder when asked.
    assert (tmp_path.parent / "models-work" / "genbench.sqlite").is_file()
    assert not (tmp_path / "work").exists()


def test_device_check_parts_can_be_left_out(tmp_path):
    """A check split over two short calls: each part can be left out."""
    code = _gpu_check().main(["--device", "cpu", "--no-tests", "--no-models", "--no-benchmarks",
                              "--out", str(tmp_path)])
    report = (tmp_path / "report.md").read_text()
    assert code == 0 and "## every model" not in report and "## benchmarks" not in report


def test_device_check_picks_a_dataset_that_fits_each_model():
    check = _gpu_check()
    assert check.default_dataset("pix2pix") == "edges2digits"
    assert check.default_dataset("cyclegan") == "digits2ink"
    assert check.default_dataset("ganomaly") == "digits-oneclass:0"
    assert check.default_dataset("dcgan") == "digits"
    assert check.default_dataset("srgan") == "sr-digits"
    assert check.default_dataset("context-encoder") == "inpaint-digits"
