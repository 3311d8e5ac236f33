"""Leaderboards are views over the store: ranking, direction arrows, atomic files."""

from __future__ import annotations

import pytest

from genbench.results.leaderboard import leaderboard_frame
from genbench.results.publish import render
from genbench.results.record import MetricValue, RunRecord
from genbench.results.store import Store


def record(run_id, model, fd, status="completed", dataset="digits"):
    metrics = [MetricValue("FD[raw]", fd, False, "fd", "raw", 10, 10),
               MetricValue("precision[raw]", 0.5, True, "prdc", "raw", 10, 10)]
    return RunRecord(run_id=run_id, model=model, dataset=dataset, split="test", profile="quick",
                     seed=0, config={"steps": 1}, status=status, created=run_id,
                     metrics=metrics if status == "completed" else [])


def test_store_round_trip_and_ranking(tmp_path):
    store = Store(tmp_path)
    for r in (record("r1", "a", 3.0), record("r2", "b", 1.0), record("r3", "c", 2.0),
              record("r4", "d", 0.0, status="diverged"), record("r5", "e", 9, dataset="ring8")):
        store.save(r)
    assert store.get("r2").metric_map() == {"FD[raw]": 1.0, "precision[raw]": 0.5}
    frame = leaderboard_frame(store.runs(dataset="digits"))
    assert list(frame["model"]) == ["b", "c", "a"]  # FD: lower is better; diverged not ranked
    assert "FD[raw] ↓" in frame.columns and "precision[raw] ↑" in frame.columns
    written = render(store.runs(), tmp_path / "boards")
    assert sorted(p.name for p in written) == ["digits-summary.csv", "digits.csv", "digits.md",
                                                "ring8-summary.csv", "ring8.csv", "ring8.md"]
    md = (tmp_path / "boards" / "digits.md").read_text()
    assert "do not edit by hand" in md and "Not ranked: d seed 0 (diverged)" in md
    # Nothing but the rendered files: no temporary file is left behind.
    # (and the list of what the render wrote, so that it only ever removes its own files).
    assert sorted(p.name for p in (tmp_path / "boards").iterdir()) == sorted(
        [p.name for p in written] + [".genbench-written.json"])


def test_saving_again_replaces_metrics(tmp_path):
    store = Store(tmp_path)
    store.save(record("r1", "a", 3.0))
    updated = record("r1", "a", 2.0)
    updated.metrics = updated.metrics[:1]
    store.save(updated)
    assert store.get("r1").metric_map() == {"FD[raw]": 2.0}


def test_summary_across_seeds_matches_a_t_interval(tmp_path):
    from scipy import stats

    from genbench.results.leaderboard import summary_frame

    values = [3.0, 1.0, 2.5]
    records = []
    for seed, fd in enumerate(values):
        r = record(f"r{seed}", "a", fd)
        r.seed = seed
        records.append(r)
    records.append(record("single", "b", 0.5))
    frame, directions = summary_frame(records)
    assert list(frame["model"]) == ["b", "a"] and directions["FD[raw]"] is False
    a = frame.set_index("model").loc["a"]
    sem = stats.sem(values)
    assert a["seeds"] == 3 and a["FD[raw]"] == pytest.approx(sum(values) / 3)
    assert a["FD[raw] ±"] == pytest.approx(stats.t.ppf(0.975, 2) * sem, rel=1e-12)
    assert frame.set_index("model").loc["b"]["FD[raw] ±"] != frame.set_index("model").loc[
        "b"]["FD[raw] ±"]  # NaN: no interval from one seed
    render(records, tmp_path)
    md = (tmp_path / "digits.md").read_text()
    assert "## Models" in md and f"{sum(values) / 3:.4g} ± " in md


def test_runs_scored_on_different_sample_sizes_are_kept_apart(tmp_path):
    """Issue 15, item 3: after `evaluate RUN --num-samples 20000` a board ranked runs scored on
    360 and 20,000 samples together and claimed one sample size for all."""
    from genbench.results.leaderboard import best_rows, summary_frame, to_markdown

    def run(run_id, model, seed, coverage, n_fake):
        return RunRecord(run_id=run_id, model=model, dataset="digits", split="test",
                         profile="quick", seed=seed, config={}, status="completed",
                         created=run_id, metrics=[MetricValue(
                             "coverage[raw]", coverage, True, "prdc", "raw", 360, n_fake)])

    records = [run("a0", "a", 0, 0.74, 360), run("a1", "a", 1, 0.75, 360),
               run("b0", "b", 0, 0.60, 360), run("b1", "b", 1, 0.61, 360),
               run("a2", "a", 2, 0.99, 20000)]
    frame, directions = summary_frame(records)
    assert list(zip(frame["model"], frame["samples"], frame["seeds"], strict=True)) == [
        ("a", "360 / 20,000", 1), ("a", "360 / 360", 2), ("b", "360 / 360", 2)]
    # The 20,000-sample row is best in its own size only; among the 360s, a beats b.
    marked = best_rows(frame, directions)["coverage[raw]"]
    assert marked == {1}
    rows = leaderboard_frame(records)
    assert list(rows["run"]) == ["a2", "a1", "a0", "b1", "b0"]
    assert list(rows["samples"]) == ["360 / 20,000"] + ["360 / 360"] * 4
    md = to_markdown("digits", rows, records)
    assert "different numbers of examples (real / generated): 360 / 20,000, 360 / 360" in md
    assert "samples per run" not in md
    # One size: no column, the usual footer.
    same = leaderboard_frame(records[:4])
    assert "samples" not in same.columns and "samples" not in summary_frame(records[:4])[0]


def test_tables_do_not_import_the_report():
    """Issue 15, item 10: results/leaderboard.py and results/report.py imported each other."""
    import subprocess
    import sys

    code = ("import sys, genbench.results.leaderboard; "
            "print('genbench.results.report' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "False"
    import inspect

    import genbench.results.leaderboard as tables
    assert "results.report" not in inspect.getsource(tables)
