"""Progress where the output is no terminal (CI logs, nohup, | tee): plain lines while the work
goes on, not a bar drawn once at the end (issue 15, item 6: 23 minutes of silence)."""

from __future__ import annotations

import re

from genbench.cli import progress


def test_a_run_prints_progress_lines_while_it_trains_and_scores(cli, workdir, monkeypatch):
    monkeypatch.setattr(progress, "PLAIN_PROGRESS_SECONDS", 0.0)  # every update a line
    code, out, err = cli("run", "gan", "--dataset", "ring8", "--steps", "30", "--set",
                         "hidden=8", "--workdir", workdir)
    assert code == 0, err
    lines = out.splitlines()
    # Every tenth step while training, with the losses in full (nothing redraws the line).
    for step in (1, 10, 20):
        (line,) = [x for x in lines if x.startswith(f"training {step}/30 ")]
        assert "elapsed" in line and "loss_d" in line and "loss_g" in line
    assert any(re.match(r"training 30/30 100% \(\d:\d\d:\d\d elapsed\)", x) for x in lines)
    scoring = [x for x in lines if x.startswith("evaluating ")]
    assert len(scoring) >= 3 and scoring[-1].startswith("evaluating 6/6 100%")
    assert not any("━" in x for x in lines), "no bar drawn into a log"


def test_lines_are_throttled(cli, workdir, monkeypatch):
    monkeypatch.setattr(progress, "PLAIN_PROGRESS_SECONDS", 3600.0)
    code, out, err = cli("run", "gan", "--dataset", "ring8", "--steps", "30", "--set",
                         "hidden=8", "--workdir", workdir)
    assert code == 0, err
    training = [x for x in out.splitlines() if x.startswith("training ")]
    # The first and the last only: within the hour nothing else is due.
    assert [x.split()[1] for x in training] == ["1/30", "30/30"]


def test_a_sweep_says_which_entry_runs(cli, workdir, monkeypatch):
    monkeypatch.setattr(progress, "PLAIN_PROGRESS_SECONDS", 0.0)
    code, out, err = cli("sweep", "--model", "gan", "--dataset", "ring8", "--seeds", "0,1",
                         "--steps", "10", "--set", "hidden=8", "--workdir", workdir)
    assert code == 0, err
    text = out.splitlines()
    assert any(x.startswith("sweep 0/2 ") and "gan on ring8, seed 0" in x for x in text)
    assert any(x.startswith("training 10/10 100%") for x in text)
    assert any(x.startswith("1/2 gan on ring8, seed 0: completed") for x in text)
