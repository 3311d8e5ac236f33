"""A workdir is self-contained: copied or moved, it is used in place, and nothing is read from
or written to the original's folders (issue 15, item 1).

Each test trains in place, relocates the workdir (``shutil.copytree`` or a rename), uses the
new one, and hashes every file outside it before and after: the original (or, after a move, its
old path) must be byte-for-byte unchanged, and every output must land in the workdir in use.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
from pathlib import Path

import pytest
from conftest import cli_json

from genbench import api
from genbench.results.store import Store
from genbench.training import load_checkpoint

SETTINGS = ("--set", "hidden=8", "--set", "checkpoint_every=2")
SCORING = ("--num-samples", "200", "--bootstrap", "0")
TINY = ("--steps", "4", *SETTINGS, *SCORING)
HOW = ["copy", "move"]


@pytest.fixture(autouse=True)
def cache_inside_the_workdir(monkeypatch):
    """The feature cache under the workdir too (ring8 needs no evaluator), so it is checked."""
    monkeypatch.delenv("GENBENCH_CACHE_DIR", raising=False)


def completed_run(cli, work: Path) -> str:
    record = cli_json(cli, "run", "gan", "--dataset", "ring8", *TINY, "--workdir", work)
    assert record["status"] == "completed"
    return record["run_id"]


def interrupted_run(work: Path) -> str:
    """Seed 1, stopped at step 3 of 4: its checkpoint holds step 2."""
    def stop_at_3(step, total, losses):
        if step == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        api.run("gan", "ring8", steps=4, seed=1, overrides=("hidden=8", "checkpoint_every=2"),
                workdir=work, num_samples=200, extractor_options={"bootstrap": 0},
                progress=stop_at_3)
    (stopped,) = [r for r in Store(work).runs() if r.status == "interrupted"]
    return stopped.run_id


def relocate(work: Path, how: str) -> Path:
    target = work.parent / f"{work.name}-{how}"
    if how == "copy":
        shutil.copytree(work, target)
    else:
        work.rename(target)
    return target


def hashes(root: Path, skip: Path) -> dict[str, str]:
    """sha256 of every file under ``root`` except those under ``skip``."""
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file() and skip not in p.parents}


def run_folder(work: Path, run_id: str) -> Path:
    return work.resolve() / "runs" / run_id


def stored_run_dirs(work: Path) -> dict[str, str]:
    with sqlite3.connect(work / "genbench.sqlite") as conn:
        return dict(conn.execute("SELECT run_id, run_dir FROM runs"))


def make_old_style(work: Path) -> None:
    """What genbench wrote before workdirs were portable: absolute run folders in the store
    and in every record.json."""
    with sqlite3.connect(work / "genbench.sqlite") as conn:
        for run_id in stored_run_dirs(work):
            conn.execute("UPDATE runs SET run_dir = ? WHERE run_id = ?",
                         (str(run_folder(work, run_id)), run_id))
    for path in work.glob("runs/*/record.json"):
        data = json.loads(path.read_text())
        data["run_dir"] = str(path.parent.resolve())
        path.write_text(json.dumps(data, indent=2) + "\n")


# --- each command in a copied or moved workdir ------------------------------------------------

@pytest.mark.parametrize("how", HOW)
def test_samples_land_in_the_workdir_in_use(cli, tmp_path, how):
    done = completed_run(cli, tmp_path / "work")
    work = relocate(tmp_path / "work", how)
    before = hashes(tmp_path, skip=work)
    (run_folder(work, done) / "samples.png").unlink()
    code, stdout, stderr = cli("samples", done, "--workdir", work, "-n", "16")
    assert code == 0, stderr
    assert (run_folder(work, done) / "samples.png").is_file()
    assert str(run_folder(work, done) / "samples.png") in stdout.replace("\n", "")
    assert hashes(tmp_path, skip=work) == before


@pytest.mark.parametrize("how", HOW)
def test_evaluate_by_run_id_uses_the_workdir_in_use(cli, tmp_path, how):
    done = completed_run(cli, tmp_path / "work")
    work = relocate(tmp_path / "work", how)
    before = hashes(tmp_path, skip=work)
    (run_folder(work, done) / "samples.png").unlink()
    record = cli_json(cli, "evaluate", done, "--workdir", work, *SCORING)
    assert record["run_dir"] == str(run_folder(work, done))
    assert (run_folder(work, done) / "samples.png").is_file()
    assert hashes(tmp_path, skip=work) == before


@pytest.mark.parametrize("how", HOW)
def test_evaluate_by_checkpoint_path_uses_the_workdir_in_use(cli, tmp_path, how):
    done = completed_run(cli, tmp_path / "work")
    work = relocate(tmp_path / "work", how)
    before = hashes(tmp_path, skip=work)
    (run_folder(work, done) / "samples.png").unlink()
    checkpoint = run_folder(work, done) / "checkpoint.pt"
    record = cli_json(cli, "evaluate", checkpoint, "--workdir", work, *SCORING)
    assert record["run_id"] == done and record["run_dir"] == str(run_folder(work, done))
    assert (run_folder(work, done) / "samples.png").is_file()
    assert hashes(tmp_path, skip=work) == before
    if how == "move":
        assert not (tmp_path / "work").exists()  # the old folder is not re-created


@pytest.mark.parametrize("how", HOW)
def test_resume_continues_the_run_in_the_workdir_in_use(cli, tmp_path, how):
    stopped = interrupted_run(tmp_path / "work")
    work = relocate(tmp_path / "work", how)
    before = hashes(tmp_path, skip=work)
    record = cli_json(cli, "run", "gan", "--dataset", "ring8", "--seed", "1", *TINY,
                      "--resume", "--workdir", work)
    assert record["run_id"] == stopped and record["status"] == "completed"
    assert record["run_dir"] == str(run_folder(work, stopped))
    assert load_checkpoint(run_folder(work, stopped) / "checkpoint.pt")["step"] == 4
    saved = json.loads((run_folder(work, stopped) / "record.json").read_text())
    assert saved["status"] == "completed" and saved["run_dir"] == f"runs/{stopped}"
    assert Store(work).get(stopped).status == "completed"
    assert hashes(tmp_path, skip=work) == before


@pytest.mark.parametrize("how", HOW)
def test_listing_and_reports_read_the_workdir_in_use(cli, tmp_path, how):
    done = completed_run(cli, tmp_path / "work")
    work = relocate(tmp_path / "work", how)
    before = hashes(tmp_path, skip=work)
    shown = cli_json(cli, "runs", "show", done, "--workdir", work)
    assert shown["run_dir"] == str(run_folder(work, done))
    listed = cli_json(cli, "runs", "--workdir", work)
    assert [r["run_dir"] for r in listed] == [str(run_folder(work, done))]
    assert cli_json(cli, "leaderboard", "show", "--workdir", work)["ring8"][0]["run"] == done
    code, _, stderr = cli("leaderboard", "render", "--workdir", work,
                          "--out", work / "leaderboards")
    assert code == 0, stderr
    # The report's thumbnail is made from the run's samples.png, found in the workdir in use.
    assert list((work / "leaderboards" / "report" / "thumbs").glob("*.png"))
    assert hashes(tmp_path, skip=work) == before


def test_paths_inside_a_workdir_are_relative_to_it(cli, tmp_path):
    work = tmp_path / "work"
    done = completed_run(cli, work)
    stopped = interrupted_run(work)
    assert stored_run_dirs(work) == {done: f"runs/{done}", stopped: f"runs/{stopped}"}
    for run_id in (done, stopped):
        saved = json.loads((work / "runs" / run_id / "record.json").read_text())
        assert saved["run_dir"] == f"runs/{run_id}"
    # In memory (the API, --format json) a record's folder is an absolute path.
    assert Store(work).get(done).run_dir == str(run_folder(work, done))


# --- a store written before workdirs were portable --------------------------------------------

@pytest.mark.parametrize("how", HOW)
def test_an_old_store_with_absolute_paths_works_after_a_copy_or_move(cli, tmp_path, how):
    done = completed_run(cli, tmp_path / "work")
    stopped = interrupted_run(tmp_path / "work")
    make_old_style(tmp_path / "work")
    work = relocate(tmp_path / "work", how)
    before = hashes(tmp_path, skip=work)

    assert cli_json(cli, "runs", "show", done, "--workdir", work)["run_dir"] == str(
        run_folder(work, done))
    (run_folder(work, done) / "samples.png").unlink()
    code, _, stderr = cli("samples", done, "--workdir", work, "-n", "16")
    assert code == 0, stderr
    assert (run_folder(work, done) / "samples.png").is_file()
    record = cli_json(cli, "evaluate", run_folder(work, done) / "checkpoint.pt",
                      "--workdir", work, *SCORING)
    assert record["run_dir"] == str(run_folder(work, done))
    resumed = cli_json(cli, "run", "gan", "--dataset", "ring8", "--seed", "1", *TINY,
                       "--resume", "--workdir", work)
    assert resumed["run_id"] == stopped and resumed["status"] == "completed"
    assert load_checkpoint(run_folder(work, stopped) / "checkpoint.pt")["step"] == 4
    # Rows saved again are stored relative from now on.
    assert stored_run_dirs(work) == {done: f"runs/{done}", stopped: f"runs/{stopped}"}
    assert hashes(tmp_path, skip=work) == before
    # An old record.json names the old folder; imported, the run is the folder it is in.
    code, _, stderr = cli("runs", "import", work / "runs", "--workdir", tmp_path / "third")
    assert code == 0, stderr
    assert cli_json(cli, "runs", "show", done, "--workdir", tmp_path / "third")["run_dir"] == (
        str(run_folder(work, done)))


# --- runs from elsewhere: read, never written to ----------------------------------------------

def test_a_checkpoint_from_another_workdir_is_evaluated_into_this_one(cli, tmp_path):
    other = tmp_path / "other"
    done = completed_run(cli, other)
    work = tmp_path / "work"
    before = hashes(tmp_path, skip=work)
    record = cli_json(cli, "evaluate", run_folder(other, done) / "checkpoint.pt",
                      "--workdir", work, *SCORING)
    assert record["run_id"] == done and record["run_dir"] == str(run_folder(work, done))
    # It says how the run differed from its profile and how long it trained (it said
    # neither, so a 4-step run ranked as a full quick-profile one).
    original = Store(other).get(done)
    assert record["overrides"] == original.overrides and "steps=4" in record["overrides"]
    assert 0 < record["wall_time"] <= original.wall_time
    assert (run_folder(work, done) / "samples.png").is_file()
    assert stored_run_dirs(work) == {done: f"runs/{done}"}
    code, stdout, stderr = cli("samples", run_folder(other, done) / "checkpoint.pt",
                               "--workdir", work, "-n", "16")
    assert code == 0, stderr
    assert hashes(tmp_path, skip=work) == before


def test_imported_runs_are_read_where_they_are_but_not_written_to(cli, tmp_path):
    other = tmp_path / "other"
    done = completed_run(cli, other)
    work = tmp_path / "work"
    code, _, stderr = cli("runs", "import", other / "runs", "--workdir", work)
    assert code == 0, stderr
    # record.json holds runs/<id>; the import finds the folder the record came from.
    assert cli_json(cli, "runs", "show", done, "--workdir", work)["run_dir"] == str(
        run_folder(other, done))
    before = hashes(tmp_path, skip=work)
    for args in (["samples", done], ["evaluate", done, *SCORING]):
        code, stdout, stderr = cli(*args, "--workdir", work)
        assert code == 2, (stdout, stderr)
        lines = [line for line in stderr.splitlines() if line.strip()]
        assert len(lines) == 1 and "outside the workdir" in lines[0], stderr
        assert "Traceback" not in stdout + stderr
    assert hashes(tmp_path, skip=work) == before
    code, _, stderr = cli("samples", done, "--workdir", work, "--out", tmp_path / "pictures",
                          "-n", "16")
    assert code == 0, stderr
    assert (tmp_path / "pictures" / "samples.png").is_file()


@pytest.mark.parametrize("change, says", [
    ({"seed": "abc"}, "'seed' must be a whole number, not a string"),
    ({"wall_time": "slow"}, "'wall_time' must be a number, not a string"),
    ({"model": None}, "'model' must be a string, not null"),
    ({"steps": True}, "'steps' must be a whole number, not true or false"),
    ({"status": "great"}, "status 'great' is none of"),
    ({"colour": "red"}, "unknown field(s) 'colour'"),
    ({"metrics": [{"name": "FD", "value": "high", "higher_is_better": False,
                   "metric": "fd"}]}, "metrics[0]: 'value' must be a number"),
    ({"metrics": ["FD"]}, "metrics[0] is a string, not an object"),
])
def test_a_bad_record_is_refused_by_import_and_the_store_keeps_working(cli, tmp_path, change,
                                                                       says):
    """A record whose seed was "abc" was imported, and then every leaderboard, export and
    run on its dataset failed with an internal error."""
    work = tmp_path / "work"
    done = completed_run(cli, work)
    record = json.loads((run_folder(work, done) / "record.json").read_text())
    record.update(change, run_id="imported-run")
    (tmp_path / "bad.json").write_text(json.dumps(record))
    code, _, stderr = cli("runs", "import", tmp_path / "bad.json", "--workdir", work)
    assert code == 2 and len(stderr.strip().splitlines()) == 1, stderr
    assert "is not a genbench run record" in stderr and says in stderr, stderr
    assert [r.run_id for r in Store(work).runs()] == [done]
    for args in (["leaderboard", "show"], ["runs", "export", "--out", tmp_path / "x.csv"]):
        code, _, stderr = cli(*args, "--workdir", work)
        assert code == 0, stderr


def test_import_of_a_folder_without_records_says_so(cli, tmp_path):
    (tmp_path / "empty").mkdir()
    code, _, stderr = cli("runs", "import", tmp_path / "empty", "--workdir", tmp_path / "w")
    assert code == 2 and "no run records (.json files) in" in stderr


def test_what_a_run_writes_is_readable_as_the_umask_allows(cli, tmp_path):
    """Atomic writes went through mkstemp's 0600, so a shared workdir or a leaderboard folder
    served on the web was readable by its owner alone."""
    import os
    import stat

    from genbench import atomic

    work = tmp_path / "work"
    done = completed_run(cli, work)
    expected = 0o666 & ~atomic._UMASK
    for path in (run_folder(work, done) / "record.json", run_folder(work, done) / "checkpoint.pt",
                 work / "leaderboards" / "ring8.md", work / "genbench.sqlite"):
        assert stat.S_IMODE(os.stat(path).st_mode) == expected, path
