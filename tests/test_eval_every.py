"""Quality against compute: `run --eval-every` and `leaderboard show --at-budget`."""

from __future__ import annotations

import json

import pytest
from conftest import cli_json

from genbench.results.leaderboard import at_budget
from genbench.results.record import MetricValue, RunRecord


def test_eval_every_records_a_trajectory_without_changing_training(cli, workdir):
    plain = cli_json(cli, "run", "gan", "--dataset", "ring8", "--steps", "6", "--bootstrap", "0",
                     "--workdir", workdir)
    traced = cli_json(cli, "run", "gan", "--dataset", "ring8", "--steps", "6", "--bootstrap",
                      "0", "--eval-every", "2", "--workdir", workdir)
    assert plain["trajectory"] == []
    steps = [p["step"] for p in traced["trajectory"]]
    seconds = [p["seconds"] for p in traced["trajectory"]]
    assert steps == [2, 4, 6] and seconds == sorted(seconds) and seconds[0] > 0
    final = {m["name"]: m["value"] for m in traced["metrics"]}
    assert traced["trajectory"][-1]["metrics"] == final
    # Evaluating along the way restores the random state and the training mode: the final
    # scores are those of the same run without evaluations.
    assert final == {m["name"]: m["value"] for m in plain["metrics"]}
    assert traced["trajectory"][0]["metrics"] != final  # two more steps of training changed it
    code, stdout, _ = cli("runs", "show", traced["run_id"], "--workdir", workdir, "--format",
                          "json")
    assert code == 0 and json.loads(stdout)["trajectory"] == traced["trajectory"]


def record(model, seed, trajectory, fd, wall_time=100.0):
    return RunRecord(run_id=f"{model}-{seed}", model=model, dataset="ring8", split="test",
                     profile="quick", seed=seed, config={}, status="completed", steps=1000,
                     wall_time=wall_time, trajectory=trajectory,
                     metrics=[MetricValue("FD[raw]", fd, False, "fd", "raw", 5, 5, 0.0, 9.0)])


def test_at_budget_takes_each_runs_last_evaluation_within_the_budget():
    fast = record("fast", 0, [{"step": 100, "seconds": 10.0, "metrics": {"FD[raw]": 3.0}},
                              {"step": 200, "seconds": 20.0, "metrics": {"FD[raw]": 2.0}},
                              {"step": 300, "seconds": 30.0, "metrics": {"FD[raw]": 1.0}}], 1.0)
    slow = record("slow", 0, [{"step": 100, "seconds": 25.0, "metrics": {"FD[raw]": 0.5}}], 0.1)
    untraced = record("untraced", 0, [], 0.2, wall_time=12.0)
    failed = record("failed", 0, [], 0.0)
    failed.status = "failed"
    view = {r.model: r for r in at_budget([fast, slow, untraced, failed], 21.0)}
    assert set(view) == {"fast", "untraced"}  # slow's first evaluation came at 25 s
    assert view["fast"].metric_map() == {"FD[raw]": 2.0} and view["fast"].steps == 200
    assert view["fast"].wall_time == 20.0 and view["fast"].metrics[0].ci_low is None
    assert view["fast"].metrics[0].higher_is_better is False  # direction kept from the record
    assert at_budget([slow], 24.9) == []
    assert [r.model for r in at_budget([untraced], 12.0)] == ["untraced"]
    assert fast.metric_map() == {"FD[raw]": 1.0}  # the stored record is left as it was


@pytest.mark.parametrize("budget, expected", [("15", {"fast": 3.0}),
                                              ("1000", {"fast": 1.0, "slow": 0.5})])
def test_leaderboard_show_at_budget(cli, tmp_path, budget, expected):
    from genbench.results.store import Store

    store = Store(tmp_path)
    store.save(record("fast", 0, [{"step": 1, "seconds": 10.0, "metrics": {"FD[raw]": 3.0}},
                                  {"step": 2, "seconds": 30.0, "metrics": {"FD[raw]": 1.0}}],
                      1.0))
    store.save(record("slow", 0, [{"step": 1, "seconds": 25.0, "metrics": {"FD[raw]": 0.5}}],
                      0.5))
    data = cli_json(cli, "leaderboard", "show", "--at-budget", budget, "--workdir", tmp_path)
    assert {row["model"]: row["FD[raw] ↓"] for row in data["ring8"]} == expected
    code, stdout, _ = cli("leaderboard", "show", "--at-budget", budget, "--workdir", tmp_path)
    assert code == 0 and f"at {budget} s of training" in " ".join(stdout.split())
