"""`genbench sweep`: the plan (options and TOML), checks before anything runs, resume of a
partly done sweep, keep-going/fail-fast, Ctrl-C and the summary."""

from __future__ import annotations

import json
import sqlite3
import textwrap

import pytest
from conftest import cli_json
from test_cli import assert_one_line_error

from genbench import api
from genbench.errors import GenbenchError
from genbench.results.record import MetricValue, RunRecord
from genbench.results.store import Store
from genbench.sweep import make_blocks, read_spec

TINY = ("--steps", "3")


def write_spec(tmp_path, text: str):
    path = tmp_path / "sweep.toml"
    path.write_text(textwrap.dedent(text))
    return path


def plan_of(cli, *args):
    return [(e["model"], e["dataset"], e["seed"], e["action"])
            for e in cli_json(cli, "sweep", *args, "--dry-run")["entries"]]


def test_dry_run_plans_the_matrix_and_writes_nothing(cli, workdir):
    entries = cli_json(cli, "sweep", "--model", "gan,wgan-gp", "--dataset", "ring8", "--seeds",
                       "0", "--seeds", "1", *TINY, "--set", "hidden=8", "--workdir", workdir,
                       "--dry-run")["entries"]
    assert [(e["model"], e["seed"], e["action"]) for e in entries] == [
        ("gan", 0, "run"), ("gan", 1, "run"), ("wgan-gp", 0, "run"), ("wgan-gp", 1, "run")]
    assert entries[0]["settings"] == ["steps=3", "hidden=8"]
    assert entries[0]["config_hash"] == entries[1]["config_hash"] != entries[2]["config_hash"]
    assert not workdir.exists()
    code, stdout, _ = cli("sweep", "-m", "gan", "-d", "ring8,grid25", "--workdir", workdir,
                          "--dry-run")
    assert code == 0 and "Sweep: 2 entries, 2 to run, 0 done already" in stdout


def test_sweep_runs_then_resumes_only_what_is_missing(cli, workdir, tmp_path, monkeypatch):
    boards = tmp_path / "boards"
    args = ("--model", "gan,wgan-gp", "--dataset", "ring8", "--seeds", "0,1", *TINY,
            "--workdir", workdir)
    first = cli_json(cli, "sweep", *args, "--out", boards)
    assert first["counts"] == {"completed": 4} and not first["interrupted"]
    assert all(e["metric"]["name"] == "modes_covered" for e in first["entries"])
    assert [str(boards / "ring8.md")] == [p for p in first["leaderboards"] if p.endswith(".md")]
    board = (boards / "ring8.md").read_text()
    assert all(e["run_id"] in board for e in first["entries"])
    ids = {(e["model"], e["seed"]): e["run_id"] for e in first["entries"]}

    # One entry lost from the store, one left interrupted (with its final checkpoint).
    with sqlite3.connect(workdir / "genbench.sqlite") as conn:
        conn.execute("DELETE FROM metrics WHERE run_id = ?", (ids["gan", 1],))
        conn.execute("DELETE FROM runs WHERE run_id = ?", (ids["gan", 1],))
        conn.execute("UPDATE runs SET status = 'interrupted' WHERE run_id = ?",
                     (ids["wgan-gp", 0],))
    assert plan_of(cli, *args) == [("gan", "ring8", 0, "skip"), ("gan", "ring8", 1, "run"),
                                   ("wgan-gp", "ring8", 0, "resume"),
                                   ("wgan-gp", "ring8", 1, "skip")]

    calls = []
    real_run = api.run

    def spy(model, dataset, **kwargs):
        calls.append((model, kwargs["seed"], kwargs["resume"]))
        return real_run(model, dataset, **kwargs)

    monkeypatch.setattr(api, "run", spy)
    second = cli_json(cli, "sweep", *args)
    assert calls == [("gan", 1, False), ("wgan-gp", 0, True)]
    assert [e["status"] for e in second["entries"]] == ["skipped", "completed", "completed",
                                                        "skipped"]
    assert second["entries"][2]["run_id"] == ids["wgan-gp", 0]  # resumed, not a new run
    records = Store(workdir).runs()
    assert len(records) == 4 and {r.status for r in records} == {"completed"}
    # Everything is done now: a third sweep runs nothing.
    calls.clear()
    assert cli_json(cli, "sweep", *args)["counts"] == {"skipped": 4} and calls == []


def test_an_entry_another_sweep_completed_meanwhile_is_skipped(workdir, monkeypatch):
    from genbench.sweep import execute, expand, plan

    entries = expand(make_blocks(models=["gan"], datasets=["ring8"], seeds=[0, 1], steps=3))
    planned = plan(entries, workdir)
    assert [p.action for p in planned] == ["run", "run"]
    # A second sweep on the same workdir finishes seed 1 while this one is on seed 0.
    other = api.run("gan", "ring8", seed=1, steps=3, workdir=workdir)
    calls = []
    real_run = api.run

    def spy(model, dataset, **kwargs):
        calls.append(kwargs["seed"])
        return real_run(model, dataset, **kwargs)

    monkeypatch.setattr(api, "run", spy)
    result = execute(planned, workdir=workdir)
    assert calls == [0]
    assert [o.status for o in result.outcomes] == ["completed", "skipped"]
    assert result.outcomes[1].run_id == other.run_id
    assert len(Store(workdir).runs()) == 2


def test_table_output_shows_each_entry_and_a_summary(cli, workdir):
    code, stdout, _ = cli("sweep", "-m", "gan", "-d", "ring8", *TINY, "--workdir", workdir)
    assert code == 0, stdout
    assert "1/1 gan on ring8, seed 0: completed" in stdout
    assert "Sweep summary" in stdout and "1 completed" in stdout
    code, stdout, _ = cli("sweep", "-m", "gan", "-d", "ring8", *TINY, "--workdir", workdir)
    assert "skipped (completed as gan-ring8-s0-" in stdout and "1 skipped" in stdout


def fake_api_run(monkeypatch, fail=(), diverge=(), interrupt=()):
    """api.run replaced by an instant stand-in that stores a record; entries named in
    ``fail`` raise, ``diverge`` diverge, ``interrupt`` get Ctrl-C."""
    calls = []

    def run(model, dataset, *, seed, workdir, **kwargs):
        calls.append((model, seed))
        if (model, seed) in interrupt:
            raise KeyboardInterrupt
        if (model, seed) in fail:
            raise GenbenchError(f"{model} refused")
        status = "diverged" if (model, seed) in diverge else "completed"
        record = RunRecord(run_id=f"{model}-{dataset}-{seed}", model=model, dataset=dataset,
                           split="test", profile="quick", seed=seed, config={}, status=status,
                           wall_time=0.5, metrics=[MetricValue("modes_covered", 7.0, True,
                                                               "modes")])
        Store(workdir).save(record)
        return record

    monkeypatch.setattr(api, "run", run)
    return calls


def test_keep_going_reports_failures_and_exits_nonzero(cli, workdir, monkeypatch):
    calls = fake_api_run(monkeypatch, fail={("gan", 1)}, diverge={("wgan", 0)})
    code, stdout, stderr = cli("sweep", "-m", "gan,wgan", "-d", "ring8", "--seeds", "0,1",
                               "--workdir", workdir, "--format", "json")
    assert code == 1, stderr
    result = json.loads(stdout)
    assert len(calls) == 4
    assert [e["status"] for e in result["entries"]] == ["completed", "failed", "diverged",
                                                        "completed"]
    assert result["entries"][1]["message"] == "gan refused"
    assert result["counts"] == {"completed": 2, "failed": 1, "diverged": 1}


def test_fail_fast_stops_at_the_first_failure(cli, workdir, monkeypatch):
    calls = fake_api_run(monkeypatch, fail={("gan", 1)})
    code, stdout, _ = cli("sweep", "-m", "gan,wgan", "-d", "ring8", "--seeds", "0,1",
                          "--fail-fast", "--workdir", workdir, "--format", "json")
    assert code == 1 and calls == [("gan", 0), ("gan", 1)]
    assert json.loads(stdout)["counts"] == {"completed": 1, "failed": 1, "not run": 2}


def test_ctrl_c_stops_the_sweep_cleanly(cli, workdir, monkeypatch):
    calls = fake_api_run(monkeypatch, interrupt={("gan", 1)})
    code, stdout, stderr = cli("sweep", "-m", "gan", "-d", "ring8", "--seeds", "0,1,2",
                               "--workdir", workdir, "--format", "json")
    assert code == 130 and calls == [("gan", 0), ("gan", 1)]
    result = json.loads(stdout)
    assert result["interrupted"] and result["counts"] == {"completed": 1, "interrupted": 1,
                                                          "not run": 1}
    assert "rerun the same command to continue" in stderr
    assert (workdir / "leaderboards" / "ring8.md").is_file()


def test_sweep_file(cli, workdir, tmp_path):
    spec = write_spec(tmp_path, """
        profile = "quick"
        seeds = [0, 1]
        steps = 3

        [[run]]
        models = ["gan", "wgan-gp"]
        datasets = ["ring8", "grid25"]

        [[run]]
        models = "vae"
        datasets = ["ring8"]
        seeds = [5]          # replaces the top-level seeds
        set = {width = 16}
    """)
    entries = cli_json(cli, "sweep", spec, "--workdir", workdir, "--dry-run")["entries"]
    assert [(e["model"], e["dataset"], e["seed"]) for e in entries] == [
        ("gan", "ring8", 0), ("gan", "ring8", 1), ("gan", "grid25", 0), ("gan", "grid25", 1),
        ("wgan-gp", "ring8", 0), ("wgan-gp", "ring8", 1), ("wgan-gp", "grid25", 0),
        ("wgan-gp", "grid25", 1), ("vae", "ring8", 5)]
    assert entries[-1]["settings"] == ["steps=3", "width=16"]
    # Options restrict the file's entries (--model, --dataset) or replace its values.
    assert plan_of(cli, spec, "--model", "wgan-gp", "--dataset", "grid25", "--seeds", "7",
                   "--workdir", workdir) == [("wgan-gp", "grid25", 7, "run")]
    restricted = cli_json(cli, "sweep", spec, "-m", "vae", "--steps", "9", "--set", "width=32",
                          "--workdir", workdir, "--dry-run")["entries"]
    assert [e["settings"] for e in restricted] == [["steps=9", "width=16", "width=32"]]


def test_blocks_from_options_and_from_a_file(tmp_path):
    [block] = make_blocks(models=["gan", "gan"], datasets=["ring8"], seeds=[2, 0])
    assert block.models == ("gan",) and block.seeds == (2, 0) and block.profile == "quick"
    spec = write_spec(tmp_path, """
        set = ["lr_g=1e-4"]
        [[run]]
        models = ["gan"]
        datasets = ["ring8"]
        profile = "standard"
        set = ["hidden=8"]
    """)
    [block] = read_spec(spec)
    assert block.seeds == (0,) and block.profile == "standard"
    assert block.overrides == ("lr_g=1e-4", "hidden=8")
    assert block.origin.endswith("sweep.toml, [[run]] 1")


@pytest.mark.parametrize("spec, fragments", [
    ('seed = [0]\n[[run]]\nmodels = ["gan"]\ndatasets = ["ring8"]\n',
     ["unknown key 'seed'", "Did you mean 'seeds'?"]),
    ('[[run]]\nmodel = ["gan"]\ndatasets = ["ring8"]\n',
     ["[[run]] 1: unknown key 'model'", "Did you mean 'models'?"]),
    ('profile = "quick"\n', ["has no [[run]] tables"]),
    ('[[run]]\nmodels = []\ndatasets = ["ring8"]\n', ["models must be a non-empty list"]),
    ('[[run]]\nmodels = ["gan"]\ndatasets = ["ring8"]\nseeds = ["a"]\n',
     ["seeds must be a list of integers"]),
    ('[[run]]\nmodels = ["gan"]\ndatasets = ["ring8"]\nsteps = 0\n',
     ["steps must be a positive integer"]),
    ('[[run]]\nmodels = ["gan"\n', ["is not valid TOML"]),
    ('[[run]]\nmodels = ["gan"]\ndatasets = ["ring8"]\n[[run]]\nmodels = ["dcgan"]\n'
     'datasets = ["ring8"]\n', ["[[run]] 2: model 'dcgan' takes images", "holds points"]),
    ('[[run]]\nmodels = ["gan"]\ndatasets = ["ring8"]\nset = ["hiden=3"]\n',
     ["unknown setting 'hiden'"]),
], ids=["top-key", "run-key", "no-runs", "no-models", "seeds", "steps", "syntax", "pair",
        "setting"])
def test_bad_sweep_files_are_one_line_errors(cli, workdir, tmp_path, spec, fragments):
    path = tmp_path / "sweep.toml"
    path.write_text(spec)
    assert_one_line_error(cli("sweep", path, "--workdir", workdir), *fragments)
    assert not workdir.exists()  # nothing ran


@pytest.mark.parametrize("args, fragments", [
    (["-m", "gan,dcgn", "-d", "ring8"], ["unknown model 'dcgn'", "Did you mean 'dcgan'"]),
    (["-m", "gan", "-d", "ring8,rings8"], ["unknown dataset 'rings8'"]),
    (["-m", "gan,dcgan", "-d", "ring8"], ["'dcgan' takes images", "holds points"]),
    (["-m", "gan", "-d", "ring8", "--profile", "fast"], ["unknown profile 'fast'"]),
    (["-m", "gan", "-d", "ring8", "--seeds", "0,x"], ["--seeds takes integers"]),
    (["-m", "gan"], ["give --model and --dataset"]),
    (["-m", "gan", "-d", "ring8", "--device", "tpu"], ["unknown device 'tpu'"]),
    (["/nonexistent/sweep.toml"], ["sweep file /nonexistent/sweep.toml does not exist"]),
])
def test_bad_sweeps_fail_before_anything_runs(cli, workdir, monkeypatch, args, fragments):
    calls = fake_api_run(monkeypatch)
    assert_one_line_error(cli("sweep", *args, "--workdir", workdir), *fragments)
    assert calls == []


def test_file_filters_must_name_entries_of_the_file(cli, workdir, tmp_path):
    spec = write_spec(tmp_path, '[[run]]\nmodels = ["gan"]\ndatasets = ["ring8"]\n')
    assert_one_line_error(cli("sweep", spec, "-m", "wgan", "--workdir", workdir),
                          "--model wgan is not in", "it has gan")


def test_all_classes_expand_to_one_entry_per_class(cli, workdir):
    entries = plan_of(cli, "-m", "ae", "-d", "digits-oneclass:all", "--workdir", workdir)
    assert [e[1] for e in entries] == [f"digits-oneclass:{k}" for k in range(10)]


def test_a_run_left_running_by_a_killed_process_is_resumed_unless_still_held(cli, workdir):
    """kill -9 of a sequential sweep leaves its run 'running' with a checkpoint: the rerun
    resumes it under its id. A run whose folder a live process still holds is not touched."""
    from genbench.atomic import hold_folder

    args = ("--model", "gan", "--dataset", "ring8", *TINY, "--workdir", workdir)
    (entry,) = cli_json(cli, "sweep", *args)["entries"]
    with sqlite3.connect(workdir / "genbench.sqlite") as conn:
        conn.execute("UPDATE runs SET status = 'running' WHERE run_id = ?", (entry["run_id"],))
    run_dir = Store(workdir).get(entry["run_id"]).run_dir
    hold = hold_folder(run_dir)  # as the live process would
    try:
        assert plan_of(cli, *args) == [("gan", "ring8", 0, "run")]
    finally:
        hold.release()
    assert plan_of(cli, *args) == [("gan", "ring8", 0, "resume")]
    (again,) = cli_json(cli, "sweep", *args)["entries"]
    assert (again["status"], again["run_id"]) == ("completed", entry["run_id"])
    assert [r.status for r in Store(workdir).runs()] == ["completed"]
