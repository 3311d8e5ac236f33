"""A full disk is the machine's state, not a bug in genbench: one line that says so and what
is safe, not "internal error ... please report it"; what was stored stays as it was."""

from __future__ import annotations

import errno
import json
import sqlite3

from genbench.results.store import Store

RUN = ("run", "gan", "--dataset", "ring8", "--steps", "3", "--set", "hidden=8", "--device",
       "cpu", "--metrics", "modes")


def test_a_full_disk_mid_run_is_one_line_and_keeps_what_was_stored(cli, workdir, monkeypatch):
    code, _, err = cli(*RUN, "--workdir", workdir)
    assert code == 0, err
    (first,) = Store(workdir).runs()
    stored = (workdir / "runs" / first.run_id / "record.json").read_text()

    import genbench.training

    def full(obj, path):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(genbench.training, "atomic_torch_save", full)
    code, _, err = cli(*RUN, "--seed", "1", "--workdir", workdir)
    assert code == 2
    (line,) = err.strip().splitlines()
    assert line.startswith("error: no space left on device (") and "checkpoint.pt)" in line
    assert "free some space and rerun (with --resume for a run)" in line
    assert "internal error" not in line
    # The first run's record is untouched, in the store and on disk.
    assert (workdir / "runs" / first.run_id / "record.json").read_text() == stored
    assert json.loads(stored)["status"] == "completed"
    assert Store(workdir).get(first.run_id).metric_map() == first.metric_map()


def test_a_full_database_is_said_so(cli, workdir, monkeypatch):
    import genbench.api

    def full(*args, **kwargs):
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(genbench.api, "run", full)
    code, _, err = cli(*RUN, "--workdir", workdir)
    assert code == 2
    assert err.startswith("error: no space left on device (the store's database is full); "
                          "free some space")
