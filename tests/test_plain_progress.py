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
        # One line, or more where the heartbeat found the bar still for its period.
        shown = [x for x in lines if x.startswith(f"training {step}/30 ")]
        assert shown and all("elapsed" in x and "loss_d" in x and "loss_g" in x for x in shown)
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


def test_a_long_phase_without_steps_still_prints_lines(monkeypatch):
    """A metric that runs minutes without reporting (CycleGAN's cycle errors at 256x256: 6.5
    silent minutes) gets a line each period anyway, with its elapsed time."""
    import io
    import time

    from rich.console import Console

    monkeypatch.setattr(progress, "PLAIN_PROGRESS_SECONDS", 1.0)
    out = io.StringIO()
    bar, _, evaluating = progress._progress_bar(Console(file=out, force_terminal=False))
    with bar:
        evaluating("scoring the model's own metrics", 3, 4)
        time.sleep(2.6)  # nothing reports meanwhile
    lines = [x for x in out.getvalue().splitlines() if x.startswith("evaluating 3/4")]
    assert len(lines) >= 2, lines
    after = out.getvalue()
    time.sleep(1.2)
    assert out.getvalue() == after  # the heartbeat stops with the bar


def test_slow_steps_move_the_bar_every_second(monkeypatch):
    """Steps of ~10 s (a 256x256 CycleGAN on a CPU) moved the bar every tenth step only."""
    import io

    from rich.console import Console

    monkeypatch.setattr(progress, "PLAIN_PROGRESS_SECONDS", 0.0)
    clock = iter([0.0, 0.5, 2.0, 2.2, 4.0])
    monkeypatch.setattr(progress, "_now", lambda: next(clock))
    out = io.StringIO()
    bar, update, _ = progress._progress_bar(Console(file=out, force_terminal=False))
    for step in (1, 2, 3, 4, 5):
        update(step, 100, {"loss": 1.0})
    shown = [x.split()[1] for x in out.getvalue().splitlines() if x.startswith("training")]
    assert shown == ["1/100", "3/100", "5/100"]
