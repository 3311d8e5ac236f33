"""Help and output a new user reads (issue 15, item 8): no `<bool>` beside flags, one
placeholder per option in every command, summaries that name every subcommand, run ids that are
never folded, tables that fit 80 columns, spreads that are not ranked as quality, and a resume
that says where it continues."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from genbench import api
from genbench.cli import app
from genbench.results.leaderboard import best_rows, summary_frame, to_markdown
from genbench.results.record import MetricValue, RunRecord
from genbench.results.store import Store

COMMANDS = [[], ["models"], ["datasets"], ["metrics"], ["extractors"], ["plugins"], ["score"],
            ["run"], ["evaluate"], ["samples"], ["sweep"], ["runs"], ["runs", "show"],
            ["runs", "export"], ["runs", "import"], ["leaderboard"], ["leaderboard", "show"],
            ["leaderboard", "render"], ["leaderboard", "compare"]]


def invoke(*args, width: int = 80):
    result = CliRunner().invoke(app, [str(a) for a in args], env={"COLUMNS": str(width)})
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "genbench")
def test_help_shows_placeholders_not_types(command):
    code, out, _ = invoke(*command, "--help", width=100)
    assert code == 0
    assert "<bool>" not in out and "<str>" not in out and "<int>" not in out
    usage = next(line for line in out.splitlines() if "Usage:" in line)
    # Arguments in capitals, as the options' placeholders are.
    for argument in re.findall(r"[{\[]([^}\]]+)[}\]]", usage):
        assert argument == "OPTIONS" or argument.upper() == argument or "." in argument, usage


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "genbench")
def test_help_at_80_columns_cuts_no_word_short(command):
    """A word wider than the help column ended in "…": GENBENCH_EXTRACTOR_PRECISIO…,
    weights-inception-2015-12-…, WORKDIR/leaderboar…; now it folds."""
    code, out, _ = invoke(*command, "--help", width=80)
    assert code == 0 and "…" not in out


def test_the_same_option_has_the_same_placeholder_everywhere():
    seen: dict[str, set[str]] = {}
    for command in COMMANDS:
        _, out, _ = invoke(*command, "--help", width=120)
        for name, placeholder in re.findall(r"│ [ *]*(--[a-z-]+)(?: +-[a-z])? +([A-Z][A-Z=,.]*)\b",
                                            out):
            seen.setdefault(name, set()).add(placeholder)
    assert seen["--workdir"] == {"DIR"} and seen["--dataset"] == {"NAME"}
    # --out is a folder (samples, sweep, leaderboard render) or, for runs export, a file.
    assert seen.pop("--out") == {"DIR", "FILE"}
    assert {k: v for k, v in seen.items() if len(v) > 1} == {}


def test_every_subcommand_is_in_its_group_summary():
    _, out, _ = invoke("--help", width=120)
    line = next(x for x in out.splitlines() if "│ runs" in x)
    assert all(word in line for word in ("List", "show", "export", "import"))


def _runs(store: Store) -> None:
    for model, base in (("dcgan", 5.6), ("sngan", 5.7)):
        for seed in range(3):
            run_id = f"{model}-digits-s{seed}-20261201-000000-ab{seed}{len(model)}"
            metrics = [MetricValue("FD[evaluator]", base + seed / 3, False, "fd", "evaluator",
                                   360, 360),
                       MetricValue("coverage[evaluator]", 0.6 + seed / 50, True, "prdc",
                                   "evaluator", 360, 360),
                       MetricValue("kid_std[evaluator]", 0.01 * (seed + 1), False, "kid",
                                   "evaluator", 360, 360)]
            store.save(RunRecord(run_id=run_id, model=model, dataset="digits", split="test",
                                 profile="quick", seed=seed, config={}, status="completed",
                                 created=run_id, metrics=metrics))


def test_compare_and_runs_fit_80_columns_and_keep_run_ids_whole(tmp_path):
    _runs(Store(tmp_path))
    code, out, err = invoke("leaderboard", "compare", "dcgan@digits", "sngan@digits",
                            "--workdir", tmp_path)
    assert code == 0, err
    assert max(map(len, out.splitlines())) <= 80
    assert re.search(r"FD ↓ +5\.933 ± ", out) and "cov ↑" in out  # names never folded
    assert "kid_std" not in out, "a spread is no quality to compare"
    code, out, err = invoke("runs", "--workdir", tmp_path)
    assert code == 0, err
    assert "dcgan-digits-s0-20261201-000000-ab05" in out  # whole, on one line


def test_spreads_have_no_direction_and_are_never_bold(tmp_path):
    _runs(Store(tmp_path))
    records = Store(tmp_path).runs()
    frame, directions = summary_frame(records)
    assert "kid_std[evaluator]" not in best_rows(frame, directions)
    md = to_markdown("digits", __import__("genbench.results.leaderboard", fromlist=["x"])
                     .leaderboard_frame(records), records)
    assert "kid_std[evaluator] ↓" not in md and "kid_std[evaluator]" in md


def test_resume_says_which_run_and_step(tmp_path):
    def stop_at_3(step, total, losses):
        if step == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        api.run("gan", "ring8", steps=4, overrides=("hidden=8", "checkpoint_every=2"),
                workdir=tmp_path, num_samples=200, extractor_options={"bootstrap": 0},
                progress=stop_at_3)
    (stopped,) = [r.run_id for r in Store(tmp_path).runs() if r.status == "interrupted"]
    code, out, err = invoke("run", "gan", "--dataset", "ring8", "--steps", "4", "--set",
                            "hidden=8", "--set", "checkpoint_every=2", "--num-samples", "200",
                            "--bootstrap", "0", "--resume", "--workdir", tmp_path, width=200)
    assert code == 0, err
    assert f"resuming {stopped} from step 2 of 4" in out


def test_sweep_summary_keeps_statuses_and_run_ids_whole_and_prints_messages_whole(capsys):
    """A long failure message once took the whole 80 columns: the summary lost its entry and
    status columns and cropped the message."""
    from genbench.cli.sweep import _show_sweep
    from genbench.sweep import Entry, Outcome, SweepResult

    message = ("worker killed by signal 9 (2 attempts); rerun the sweep to resume from its "
               "last checkpoint")
    entries = [Entry(model, dataset, 0, "quick", None, (), "0" * 12)
               for model, dataset in [("cyclegan", "digits2ink"), ("gan", "ring8")]]
    result = SweepResult([
        Outcome(entries[0], "completed", run_id="cyclegan-digits2ink-s0-20261201-000000-ab05",
                wall_time=12.5, metric=("FD", 12.3)),
        Outcome(entries[1], "failed", wall_time=3.0, message=message)])
    _show_sweep(result, [], Path("unused"))
    text = capsys.readouterr().out
    assert "completed" in text and "failed" in text  # never "complete" / "d"
    assert "cyclegan-digits2ink-s0-20261201-000000-ab05" in text  # the run id on one line
    assert f"2. gan on ring8, seed 0: failed: {message}" in text  # the whole message
    table = text[:text.index("2. gan on ring8")]
    assert max(map(len, table.splitlines())) <= 80


@pytest.mark.parametrize("width", [80, 60])
def test_runs_table_keeps_every_column_at_any_width(monkeypatch, width):
    """At 60 columns long run ids squeezed the model, dataset and seed columns out of the table
    and "profile" printed a letter per line; now an id folds before anything goes."""
    from rich.console import Console

    from genbench.cli import output

    console = Console(width=width, record=True, color_system=None)
    monkeypatch.setattr(output, "out", console)
    columns = ["run", "model", "dataset", "profile", "seed", "status", "steps"]
    rows = [["pix2pix-paired-folder:_tmp_fac:BtoA-s0-20261201-181651-e03c", "pix2pix",
             "paired-folder:/tmp/fac:BtoA", "quick", "0", "completed", "20"],
            ["gan-ring8-s0-20261201-185900-0f45", "gan", "ring8", "quick", "1", "completed",
             "2"]]
    console.print(output._table("Runs", columns, rows))
    text = console.export_text()
    header = next(line for line in text.splitlines() if line.strip().startswith("run"))
    assert header.split() == columns  # every header, each in one piece
    assert "completed" in text and max(map(len, text.splitlines())) <= width
    joined = "".join(line.split()[0] for line in text.splitlines()[4:] if line.strip())
    assert "pix2pix-paired-folder:_tmp_fac:BtoA-s0-20261201-181651-e03c" in joined


def test_scoring_says_how_far_sampling_and_features_are(tmp_path):
    """Sampling 26,000 stacked digits and their features took minutes on a CPU with nothing
    said between "sampling 26000" and the next metric."""
    from genbench import api

    heard: list[str] = []
    api.run("gan", "ring8", steps=2, workdir=tmp_path, num_samples=1200, metrics=["fd"],
            eval_progress=lambda what, done, total: heard.append(what))
    assert [w for w in heard if w.startswith("sampling")] == [
        "sampling 1,200", "sampling 500 of 1,200", "sampling 1,000 of 1,200",
        "sampling 1,200 of 1,200"]
    assert "scoring fd: raw features of 1,200/1,200" in heard


@pytest.mark.parametrize("args, says", [
    (["run", "gan", "--dataset", "ring8", "--steps", "abc"], "Invalid value for '--steps'"),
    (["run", "gan", "--bogus"], "No such option: --bogus"),
    (["leaderboard", "compare", "a"], "Missing argument 'B'"),
])
def test_a_malformed_command_line_is_one_line_too(args, says):
    """Click's boxed panel became one line like every other error (same exit status, 2)."""
    result = subprocess.run([sys.executable, "-c", "from genbench.cli import main; main()",
                             *args], capture_output=True, text=True, timeout=120,
                            env={**os.environ, "COLUMNS": "80"})
    assert result.returncode == 2 and result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and says in lines[0], lines
    assert "-h` lists the options" in lines[0] and "Traceback" not in result.stderr


def test_a_bare_group_still_shows_its_help():
    result = subprocess.run([sys.executable, "-c", "from genbench.cli import main; main()",
                             "leaderboard"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and "leaderboard [OPTIONS] COMMAND" in result.stdout + \
        result.stderr and "error:" not in result.stderr
