"""Several processes writing one store at once lose nothing: every record and metric row is
there, the schema is created (and an old store migrated) once, the file stays sound."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from genbench.results.store import Store

# Each child waits for the go file, so all of them hit the store at the same moment.
CHILD = r"""
import sys, time
from pathlib import Path
from genbench.results.record import MetricValue, RunRecord
from genbench.results.store import Store

workdir, name, count, go = sys.argv[1], sys.argv[2], int(sys.argv[3]), Path(sys.argv[4])
(go.parent / f"ready-{name}").touch()
while not go.exists():
    time.sleep(0.002)
if count == 0:  # a reader: opens the store again and again while the others write
    for _ in range(40):
        Store(workdir).runs()
for i in range(count):
    record = RunRecord(run_id=f"{name}-{i}", model=name, dataset="ring8", split="test",
                       profile="quick", seed=i, config={"i": i}, created=f"{i:04d}",
                       config_hash=name)
    store = Store(workdir)
    store.save(record)  # as api.run does: a "running" row first, the finished record after
    record.status = "completed"
    record.metrics = [MetricValue(f"m{k}", i + k / 10, True, "fake", n_real=i, n_fake=k,
                                  ci_low=i - 1.0, ci_high=i + 1.0) for k in range(3)]
    record.trajectory = [{"step": i, "seconds": 0.1, "metrics": {"m0": i}}]
    store.save(record)
"""


def run_together(workdir: Path, tmp_path: Path, jobs: dict[str, int]) -> None:
    """Start one child per job (name -> records to write; 0 = a reader), release them at once,
    and check every child succeeded."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    go = tmp_path / "go"
    procs = {name: subprocess.Popen([sys.executable, "-c", CHILD, str(workdir), name,
                                     str(count), str(go)], env=env, stdout=subprocess.PIPE,
                                    stderr=subprocess.STDOUT, text=True)
             for name, count in jobs.items()}
    deadline = time.monotonic() + 60
    while not all((tmp_path / f"ready-{name}").exists() for name in jobs):
        assert time.monotonic() < deadline, "children did not start"
        assert all(p.poll() is None for p in procs.values()), [p.communicate()
                                                                for p in procs.values()]
        time.sleep(0.01)
    go.touch()
    for name, proc in procs.items():
        output, _ = proc.communicate(timeout=120)
        assert proc.returncode == 0, f"{name}: {output}"


def check_store(workdir: Path, jobs: dict[str, int], metrics_before: int = 0) -> dict:
    """Every child's records complete and intact; returns the records no child wrote."""
    path = workdir / "genbench.sqlite"
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        assert conn.execute("SELECT count(*) FROM metrics").fetchone()[0] == (
            metrics_before + 3 * sum(jobs.values()))
    records = {r.run_id: r for r in Store(workdir).runs()}
    for name, count in jobs.items():
        for i in range(count):
            record = records.pop(f"{name}-{i}")
            assert record.status == "completed" and record.config == {"i": i}
            assert [(m.name, m.value, m.n_fake, m.ci_high) for m in record.metrics] == [
                (f"m{k}", i + k / 10, k, i + 1.0) for k in range(3)]
            assert record.trajectory == [{"step": i, "seconds": 0.1, "metrics": {"m0": i}}]
    return records


def test_concurrent_writers_creating_the_store_lose_nothing(tmp_path):
    workdir = tmp_path / "work"
    workdir.mkdir()
    jobs = {"w1": 50, "w2": 50, "w3": 50, "w4": 50, "reader": 0}
    run_together(workdir, tmp_path, jobs)  # every child creates the schema at once
    assert check_store(workdir, jobs) == {}


# The schema before trajectories and intervals were stored.
OLD_SCHEMA = """
CREATE TABLE runs (
    run_id TEXT PRIMARY KEY,
    model TEXT NOT NULL, dataset TEXT NOT NULL, split TEXT NOT NULL, profile TEXT NOT NULL,
    seed INTEGER NOT NULL, config TEXT NOT NULL, overrides TEXT NOT NULL,
    config_hash TEXT NOT NULL,
    status TEXT NOT NULL, message TEXT, steps INTEGER, wall_time REAL,
    created TEXT, updated TEXT, device TEXT, hardware TEXT, versions TEXT, git_revision TEXT,
    run_dir TEXT, extractors TEXT NOT NULL
);
CREATE TABLE metrics (
    run_id TEXT NOT NULL REFERENCES runs(run_id) ON DELETE CASCADE,
    name TEXT NOT NULL, value REAL, higher_is_better INTEGER NOT NULL, metric TEXT NOT NULL,
    extractor TEXT, n_real INTEGER, n_fake INTEGER,
    PRIMARY KEY (run_id, name)
);
INSERT INTO runs VALUES ('old-0', 'gan', 'ring8', 'test', 'quick', 0, '{}', '[]', 'h',
    'completed', '', 10, 1.0, '0000', '0000', 'cpu', '{}', '{}', NULL, '', '{}');
INSERT INTO metrics VALUES ('old-0', 'm0', 1.5, 1, 'fake', NULL, 5, 5);
"""


def test_concurrent_writers_migrating_an_old_store_lose_nothing(tmp_path):
    workdir = tmp_path / "work"
    workdir.mkdir()
    with sqlite3.connect(workdir / "genbench.sqlite") as conn:
        conn.executescript(OLD_SCHEMA)
    jobs = {"w1": 20, "w2": 20, "w3": 20, "reader": 0}
    run_together(workdir, tmp_path, jobs)  # every child adds the new columns at once
    with sqlite3.connect(workdir / "genbench.sqlite") as conn:
        columns = [row[1] for row in conn.execute("PRAGMA table_info(metrics)")]
    assert columns.count("ci_low") == 1 and columns.count("ci_high") == 1
    left = check_store(workdir, jobs, metrics_before=1)
    assert list(left) == ["old-0"] and left["old-0"].trajectory == []
    [old] = left["old-0"].metrics
    assert (old.name, old.value, old.ci_low) == ("m0", 1.5, None)


@pytest.mark.slow
def test_two_real_runs_at_once_share_a_workdir(tmp_path):
    workdir = tmp_path / "work"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "GENBENCH_OFFLINE": "1"}
    assert env.get("GENBENCH_CACHE_DIR")  # the session's cache (tests/conftest.py)
    procs = [subprocess.Popen([sys.executable, "-m", "genbench", "run", "gan", "--dataset",
                               "ring8", "--steps", "5", "--seed", str(seed), "--workdir",
                               str(workdir), "--format", "json"], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for seed in (0, 1)]
    outputs = [p.communicate(timeout=300) for p in procs]
    for proc, (_, stderr) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, stderr
    ids = {json.loads(stdout)["run_id"] for stdout, _ in outputs}
    records = Store(workdir).runs()
    assert {r.run_id for r in records} == ids and len(ids) == 2
    assert all(r.status == "completed" and len(r.metrics) == 10 for r in records)
    assert (workdir / "leaderboards" / "ring8.md").is_file()


def test_one_at_a_time_makes_the_second_process_wait(tmp_path):
    """What keeps sweep workers from training the same evaluator at once: the second waits
    for the first to finish, then finds its work done."""
    import subprocess
    import sys
    import time

    from genbench.atomic import one_at_a_time

    target = tmp_path / "evaluator.pt"
    script = (f"import time, pathlib\nfrom genbench.atomic import one_at_a_time\n"
              f"with one_at_a_time({str(target)!r}):\n"
              f"    pathlib.Path({str(tmp_path / 'started')!r}).touch()\n"
              f"    time.sleep(1.0)\n"
              f"    pathlib.Path({str(target)!r}).write_text('trained')\n")
    first = subprocess.Popen([sys.executable, "-c", script])
    deadline = time.monotonic() + 60
    while not (tmp_path / "started").exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert (tmp_path / "started").exists()
    with one_at_a_time(target):
        assert target.read_text() == "trained"  # waited for the first to finish
    assert first.wait(60) == 0
