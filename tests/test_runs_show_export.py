"""`genbench runs` (listing), `runs show RUN` (a record in full) and `runs export` (CSV and
Parquet for pandas)."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from conftest import cli_json
from test_cli import assert_one_line_error

from genbench.results import export as export_module
from genbench.results.export import long_frame
from genbench.results.record import MetricValue, RunRecord
from genbench.results.store import Store


def make_record(run_id: str, model: str, dataset: str = "ring8", seed: int = 0,
                status: str = "completed", metrics: bool = True) -> RunRecord:
    values = [
        MetricValue("modes_covered", 7.0 + seed, True, "modes", None, 2500, 2500, 6.0, 8.0),
        MetricValue("FD[raw]", 0.25 * (seed + 1), False, "fd", "raw", 2500, 2500),
    ] if metrics else []
    return RunRecord(
        run_id=run_id, model=model, dataset=dataset, split="test", profile="quick", seed=seed,
        config={"steps": 30, "hidden": 8, "lr_g": 0.001}, overrides=["steps=30", "hidden=8"],
        status=status, message="" if status == "completed" else "boom", steps=30,
        wall_time=1.5, created=f"2025-01-0{seed + 1}T00:00:00+00:00", updated="later",
        device="cpu", hardware={"platform": "TestOS", "cpu_count": 2},
        versions={"torch": "9.9", "genbench": "0.1.0"}, git_revision="abc123-dirty",
        run_dir=f"/runs/{run_id}", config_hash=f"hash-{model}",
        extractors={"raw": {"key": "raw-asis"}, "evaluator": {"key": "ev-1", "accuracy": 0.98}},
        metrics=values,
        trajectory=[{"step": 10, "seconds": 0.5, "metrics": {"modes_covered": 3.0}},
                    {"step": 30, "seconds": 1.4, "metrics": {"modes_covered": 7.0}}])


@pytest.fixture
def store(workdir) -> Store:
    workdir.mkdir()
    store = Store(workdir)
    store.save(make_record("gan-1", "gan", seed=0))
    store.save(make_record("gan-2", "gan", seed=1))
    store.save(make_record("vae-1", "vae", dataset="grid25"))
    store.save(make_record("bad-1", "wgan", status="failed", metrics=False))
    return store


def test_runs_without_a_subcommand_still_lists(cli, workdir, store):
    rows = cli_json(cli, "runs", "--workdir", workdir)
    assert sorted(r["run_id"] for r in rows) == ["bad-1", "gan-1", "gan-2", "vae-1"]
    assert rows[-1]["run_id"] == "gan-2"  # newest last
    assert {r["run_id"] for r in cli_json(cli, "runs", "--workdir", workdir, "--dataset",
                                          "grid25")} == {"vae-1"}
    code, stdout, _ = cli("runs", "--workdir", workdir)
    assert code == 0 and "gan-1" in stdout and "failed" in stdout
    code, stdout, _ = cli("runs", "--help")
    assert code == 0 and "show" in stdout and "export" in stdout


def test_show_prints_the_record_in_full(cli, workdir, store):
    code, stdout, stderr = cli("runs", "show", "gan-2", "--workdir", workdir)
    assert code == 0, stderr
    for text in ("Run gan-2", "ring8", "abc123-dirty", "hash-gan", "steps=30 hidden=8",
                 "hidden *", "lr_g", "TestOS", "torch", "9.9", "raw-asis", "accuracy=0.98",
                 "modes_covered", "FD[raw]", "↑", "↓", "[6, 8]", "Trajectory", "2500"):
        assert text in stdout, text
    as_json = cli_json(cli, "runs", "show", "gan-2", "--workdir", workdir)
    assert as_json == store.get("gan-2").to_dict()
    # Options given to `runs` carry over to its subcommands.
    assert cli_json(cli, "runs", "--workdir", workdir, "show", "vae-1")["model"] == "vae"


def test_show_unknown_run_or_store_is_one_line(cli, workdir, store, tmp_path):
    assert_one_line_error(cli("runs", "show", "nope", "--workdir", workdir), "no run 'nope'")
    assert_one_line_error(cli("runs", "show", "x", "--workdir", tmp_path / "none"),
                          "no genbench store")


def test_show_a_real_run(cli, workdir):
    record = cli_json(cli, "run", "gan", "--dataset", "ring8", "--steps", "3", "--workdir",
                      workdir)
    code, stdout, _ = cli("runs", "show", record["run_id"], "--workdir", workdir)
    assert code == 0
    for text in ("completed", "Hardware", "Versions", "Feature extractors", "FD[raw]",
                 record["config_hash"], record["versions"]["torch"]):
        assert text in stdout, text


def test_export_csv_long_matches_the_store(cli, workdir, store, tmp_path):
    path = tmp_path / "out" / "runs.csv"
    code, stdout, stderr = cli("runs", "export", "--out", path, "--workdir", workdir)
    assert code == 0, stderr
    assert "wrote 7 rows (4 runs)" in stdout
    frame = pd.read_csv(path)
    records = store.runs()
    assert len(frame) == sum(max(1, len(r.metrics)) for r in records)
    for record in records:
        mine = frame[frame["run_id"] == record.run_id]
        row = mine.iloc[0]
        assert (row["model"], row["dataset"], row["seed"], row["status"]) == (
            record.model, record.dataset, record.seed, record.status)
        assert json.loads(row["config"]) == record.config
        assert row["overrides"] == " ".join(record.overrides)
        assert row["git_revision"] == record.git_revision
        got = {r["metric"]: r for _, r in mine.iterrows() if isinstance(r["metric"], str)}
        assert set(got) == {m.name for m in record.metrics}
        for m in record.metrics:
            assert got[m.name]["value"] == pytest.approx(m.value)
            assert bool(got[m.name]["higher_is_better"]) == m.higher_is_better
            assert got[m.name]["family"] == m.metric
            assert got[m.name]["n_fake"] == m.n_fake
    failed = frame[frame["run_id"] == "bad-1"]
    assert len(failed) == 1 and failed["metric"].isna().all()
    modes = frame[(frame["run_id"] == "gan-1") & (frame["metric"] == "modes_covered")].iloc[0]
    assert (modes["ci_low"], modes["ci_high"]) == (6.0, 8.0)
    assert not [p for p in path.parent.iterdir() if p.name != "runs.csv"]  # no temp files


def test_export_parquet_round_trip_and_filters(cli, workdir, store, tmp_path):
    path = tmp_path / "runs.parquet"
    code, _, stderr = cli("runs", "export", "--out", path, "--workdir", workdir, "--status",
                          "completed", "--dataset", "ring8")
    assert code == 0, stderr
    back = pd.read_parquet(path)
    expected = long_frame(store.runs(dataset="ring8", status="completed"))
    pd.testing.assert_frame_equal(back, expected)
    assert set(back["run_id"]) == {"gan-1", "gan-2"} and back["seed"].dtype == "Int64"
    # --format wins over the extension; `runs --dataset D export` filters too.
    other = tmp_path / "runs.data"
    code, _, _ = cli("runs", "--dataset", "grid25", "export", "--out", other, "--format",
                     "parquet", "--workdir", workdir)
    assert code == 0 and set(pd.read_parquet(other)["run_id"]) == {"vae-1"}


def test_export_wide(cli, workdir, store, tmp_path):
    path = tmp_path / "wide.csv"
    code, _, _ = cli("runs", "export", "--out", path, "--wide", "--workdir", workdir)
    assert code == 0
    frame = pd.read_csv(path).set_index("run_id")
    assert len(frame) == 4 and frame.loc["gan-2", "modes_covered"] == 8.0
    assert frame.loc["gan-2", "FD[raw]"] == 0.5 and pd.isna(frame.loc["bad-1", "FD[raw]"])


def test_export_errors_are_one_line(cli, workdir, store, tmp_path, monkeypatch):
    assert_one_line_error(cli("runs", "export", "--out", tmp_path / "runs.txt", "--workdir",
                              workdir), "cannot tell the format", "--format csv|parquet")
    real_find_spec = export_module.importlib.util.find_spec
    monkeypatch.setattr(export_module.importlib.util, "find_spec",
                        lambda name, *a: None if name == "pyarrow" else real_find_spec(name, *a))
    assert_one_line_error(cli("runs", "export", "--out", tmp_path / "runs.parquet",
                              "--workdir", workdir), "pip install pyarrow")


def test_a_failed_export_leaves_the_old_file(cli, workdir, store, tmp_path, monkeypatch):
    path = tmp_path / "runs.csv"
    path.write_text("old\n")

    def half_written(self, target, **kwargs):
        with open(target, "w") as f:
            f.write("run_id,mod")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(pd.DataFrame, "to_csv", half_written)
    assert_one_line_error(cli("runs", "export", "--out", path, "--workdir", workdir),
                          "No space left on device")
    assert path.read_text() == "old\n" and [p.name for p in tmp_path.iterdir()
                                            if p.suffix == ".csv"] == ["runs.csv"]
