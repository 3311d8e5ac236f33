"""Leaderboard intervals: Student's t over seeds, the single-run bootstrap, and when a best entry
may be marked."""

from __future__ import annotations

import math

import pytest
import torch
from conftest import cli_json

from genbench.evaluation import MetricContext, bootstrap_se, compute_fd
from genbench.features.base import Features
from genbench.results.leaderboard import best_rows, summary_frame, t_half_width
from genbench.results.publish import render
from genbench.results.record import MetricValue, RunRecord


def run(model, seed, fd, ci=None, profile="quick"):
    low, high = ci if ci else (None, None)
    return RunRecord(run_id=f"{model}-{profile}-{seed}", model=model, dataset="digits",
                     split="test", profile=profile, seed=seed, config={}, status="completed",
                     metrics=[MetricValue("FD[raw]", fd, False, "fd", "raw", 10, 10,
                                          ci_low=low, ci_high=high)])


def test_t_interval_matches_hand_computation():
    # mean 13/6; sample variance (25/36 + 49/36 + 4/36) / 2 = 13/12; t(0.975, 2) = 4.302653.
    sem = math.sqrt(13 / 12 / 3)
    assert t_half_width([3.0, 1.0, 2.5]) == pytest.approx(4.302653 * sem, rel=1e-6)
    assert t_half_width([3.0, 1.0, 2.5]) == pytest.approx(2.585573, rel=1e-6)
    # Two seeds: t(0.975, 1) = 12.7062; sd of (1, 2) is sqrt(0.5), sem 0.5.
    assert t_half_width([1.0, 2.0]) == pytest.approx(12.7062 * 0.5, rel=1e-5)
    assert math.isnan(t_half_width([1.0]))
    # Equal values (a deterministic baseline over seeds): exactly 0, although the float mean of
    # three 0.1838 is not 0.1838 (the board once showed "0.1838 ± 8.4e-17").
    assert sum([0.18378] * 3) / 3 != 0.18378
    assert t_half_width([0.18378] * 3) == 0.0


def test_single_seed_cells_use_the_runs_bootstrap_interval():
    frame, _ = summary_frame([run("a", 0, 2.0, ci=(1.5, 2.5)), run("b", 0, 3.0)])
    rows = frame.set_index("model")
    assert rows.loc["a", "FD[raw] ±"] == pytest.approx(0.5)
    assert math.isnan(rows.loc["b", "FD[raw] ±"])  # no interval recorded: none shown
    assert list(rows["seeds"]) == [1, 1]


def test_a_seed_run_twice_counts_once_with_its_newest_run():
    older, newer = run("a", 1, 9.0), run("a", 1, 3.0)
    older.created, newer.created = "2026-11-01T00:00:00", "2026-11-02T00:00:00"
    older.run_id += "-old"
    frame, _ = summary_frame([newer, run("a", 0, 1.0), older])
    assert frame.loc[0, "seeds"] == 2
    assert frame.loc[0, "FD[raw]"] == pytest.approx(2.0)  # seeds 0 and 1: 1.0 and 3.0
    assert frame.loc[0, "FD[raw] ±"] == pytest.approx(t_half_width([1.0, 3.0]))


def test_best_is_marked_only_when_intervals_do_not_overlap(tmp_path):
    apart = [run("a", s, v) for s, v in enumerate([1.0, 1.1, 0.9])] + \
            [run("b", s, v) for s, v in enumerate([2.0, 2.1, 1.9])]
    frame, directions = summary_frame(apart)
    assert best_rows(frame, directions) == {"FD[raw]": {0}}  # a: 1.0 ± 0.25 vs 2.0 ± 0.25
    overlapping = [run("a", s, v) for s, v in enumerate([1.0, 1.5, 0.5])] + \
                  [run("b", s, v) for s, v in enumerate([1.6, 1.7, 1.5])]
    frame, directions = summary_frame(overlapping)
    assert frame.loc[0, "model"] == "a" and best_rows(frame, directions) == {}
    # One entry alone, or a runner-up without an interval, is never marked.
    frame, directions = summary_frame([run("a", 0, 1.0, ci=(0.9, 1.1)), run("b", 0, 5.0)])
    assert best_rows(frame, directions) == {}
    frame, directions = summary_frame([run("a", 0, 1.0, ci=(0.9, 1.1)),
                                       run("b", 0, 5.0, ci=(4.0, 6.0))])
    assert best_rows(frame, directions) == {"FD[raw]": {0}}
    # Marked per profile: the best quick and the best standard entry are judged separately.
    mixed = apart + [run("c", 0, 0.1, ci=(0.0, 0.2), profile="standard")]
    frame, directions = summary_frame(mixed)
    marked = {frame.loc[i, "model"] for i in best_rows(frame, directions)["FD[raw]"]}
    assert marked == {"a"}
    render(apart, tmp_path)
    md = (tmp_path / "digits.md").read_text()
    assert "**1 ± 0.25**" in md and "| 2 ± 0.25" in md and "FD[raw] ↓" in md


def test_bootstrap_se_tracks_the_spread_of_fresh_sample_sets():
    """The single-run interval claims to show the spread from drawing a finite set of samples;
    check it against that spread, measured by drawing 200 fresh sets."""
    gen = torch.Generator().manual_seed(0)
    real = Features(torch.randn(2000, 4, generator=gen))

    def fresh():
        return Features(torch.randn(500, 4, generator=gen) * 1.2 + 0.3)

    values = torch.tensor([compute_fd(MetricContext(None, None, None, real, fresh()))["FD"]
                           for _ in range(200)], dtype=torch.float64)
    se = bootstrap_se(compute_fd, MetricContext(None, None, None, real, fresh()), 100, 0)["FD"]
    assert 0.7 < se / values.std().item() < 1.4


def test_a_run_records_bootstrap_intervals_where_they_apply(cli, workdir):
    record = cli_json(cli, "run", "gan", "--dataset", "ring8", "--steps", "3", "--bootstrap",
                      "20", "--workdir", workdir)
    metrics = {m["name"]: m for m in record["metrics"]}
    fd = metrics["FD[raw]"]
    assert fd["ci_low"] < fd["value"] < fd["ci_high"]
    assert metrics["modes_covered"]["ci_low"] is not None
    assert metrics["precision[raw]"]["ci_low"] is None  # k-NN metrics are not bootstrapped
    record = cli_json(cli, "run", "gan", "--dataset", "ring8", "--steps", "3", "--bootstrap",
                      "0", "--workdir", workdir)
    assert all(m["ci_low"] is None for m in record["metrics"])
