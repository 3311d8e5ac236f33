"""`genbench leaderboard compare`: significance on synthetic records with known answers."""

from __future__ import annotations

import json
import math

import pytest

from genbench.results.compare import compare, select
from genbench.results.record import MetricValue, RunRecord
from genbench.results.store import Store


def run(model, seed, fd, acc=0.5, ci=None, profile="quick", status="completed"):
    low, high = ci if ci else (None, None)
    return RunRecord(run_id=f"{model}-{profile}-{seed}", model=model, dataset="digits",
                     split="test", profile=profile, seed=seed, config={}, status=status,
                     created=f"{seed}", metrics=[
                         MetricValue("FD[raw]", fd, False, "fd", "raw", 10, 10, ci_low=low,
                                     ci_high=high),
                         MetricValue("acc", acc, True, "model", None, 10, 0)])


def test_welch_over_seeds_matches_the_hand_computed_test():
    a = [run("a", s, v) for s, v in enumerate([1.0, 1.1, 0.9])]
    b = [run("b", s, v) for s, v in enumerate([2.0, 2.1, 1.9])]
    fd = compare(a, b)[0]
    # Difference 1.0; SE sqrt(0.01/3 + 0.01/3) = 0.081650; t = 12.2474 on 4 degrees of freedom
    # (Welch-Satterthwaite with equal variances and sizes); t(0.975, 4) = 2.776445.
    assert fd.test == "Welch t" and fd.diff == pytest.approx(1.0)
    assert fd.diff_low == pytest.approx(1 - 2.776445 * 0.0816497, rel=1e-5)
    assert fd.diff_high == pytest.approx(1 + 2.776445 * 0.0816497, rel=1e-5)
    assert fd.p_value == pytest.approx(2.552167e-4, rel=1e-4)
    assert fd.verdict == "A better"  # lower FD is better and B is higher
    acc = compare(a, b)[1]  # identical on both sides: no spread, no test
    assert math.isnan(acc.p_value) and acc.verdict.startswith("no test")


def test_the_same_distribution_is_not_called_different():
    a = [run("a", s, v) for s, v in enumerate([1.0, 2.0, 3.0])]
    b = [run("b", s, v) for s, v in enumerate([3.0, 1.0, 2.0])]
    fd = compare(a, b)[0]
    assert fd.diff == pytest.approx(0) and fd.p_value == pytest.approx(1.0)
    assert fd.verdict == "no significant difference" and fd.diff_low < 0 < fd.diff_high


def test_single_runs_use_their_bootstrap_standard_errors():
    # Each interval is ±0.1, so SE = 0.1 / 1.96 per side; the difference's SE is sqrt(2) times
    # that, 0.072153, and z = 0.5 / 0.072153 = 6.930.
    a, b = [run("a", 0, 1.0, ci=(0.9, 1.1))], [run("b", 0, 1.5, ci=(1.4, 1.6))]
    fd = compare(a, b)[0]
    se = math.sqrt(2) * 0.1 / 1.959964
    assert fd.test.startswith("z") and fd.diff_low == pytest.approx(0.5 - 1.959964 * se)
    assert fd.p_value == pytest.approx(math.erfc(0.5 / se / math.sqrt(2)), rel=1e-6)
    assert fd.verdict == "A better"
    close = compare(a, [run("b", 0, 1.05, ci=(0.95, 1.15))])[0]
    assert close.verdict == "no significant difference"
    untestable = compare([run("a", 0, 1.0)], b)[0]
    assert math.isnan(untestable.p_value) and untestable.verdict.startswith("no test")


def test_selections_and_the_command(tmp_path, cli):
    store = Store(tmp_path)
    for s, v in enumerate([1.0, 1.1, 0.9]):
        store.save(run("a", s, v))
    for s, v in enumerate([2.0, 2.1, 1.9]):
        store.save(run("b", s, v))
    store.save(run("b", 0, 0.1, profile="standard"))
    store.save(run("c", 0, 0.1, status="failed"))
    assert len(select(store, "a@digits")) == 3
    assert [r.run_id for r in select(store, "a-quick-0,a-quick-1")] == ["a-quick-0", "a-quick-1"]
    code, stdout, stderr = cli("leaderboard", "compare", "a@digits", "b@digits", "--workdir",
                               tmp_path)
    assert code == 2 and "different profiles" in stderr and "--profile" in stderr
    code, stdout, stderr = cli("leaderboard", "compare", "a@digits", "b@digits", "--profile",
                               "quick", "--workdir", tmp_path, "--format", "json")
    assert code == 0, stderr
    data = json.loads(stdout)
    assert len(data["b"]) == 3 and data["metrics"][0]["verdict"] == "A better"
    code, stdout, _ = cli("leaderboard", "compare", "a@digits", "b@digits", "--profile",
                          "quick", "--workdir", tmp_path)
    assert code == 0 and "Welch t" in stdout and "A better" in stdout
    for bad, message in (("nope@digits", "no completed runs"), ("c-quick-0", "not completed"),
                         ("missing-run", "no run 'missing-run'")):
        code, _, stderr = cli("leaderboard", "compare", bad, "a@digits", "--workdir", tmp_path)
        assert code == 2 and message in stderr and "Traceback" not in stderr
    # What to do next, said right (found by a new user's session).
    code, _, stderr = cli("leaderboard", "compare", "aa@digits", "b@digits", "--workdir",
                          tmp_path)
    assert code == 2 and "(did you mean 'a@digits'?)" in stderr
    code, _, stderr = cli("leaderboard", "compare", "@", "a@digits", "--workdir", tmp_path)
    assert code == 2 and "give MODEL@DATASET" in stderr
    store.save(RunRecord(**{**run("a", 5, 1.0).__dict__, "run_id": "a-other",
                            "overrides": ["steps=5"]}))
    code, _, stderr = cli("leaderboard", "compare", "a@digits", "b@digits", "--profile", "quick",
                          "--workdir", tmp_path)
    assert code == 2 and "they differ in settings" in stderr and "--profile" not in stderr
    # A metric with no feature space ("acc") is labelled without empty brackets.
    code, stdout, _ = cli("leaderboard", "compare", "a-quick-0,a-quick-1", "b-quick-0,b-quick-1",
                          "--workdir", tmp_path)
    assert code == 0 and "acc ↑" in stdout and "[]" not in stdout and "(2 runs)" in stdout
    code, stdout, _ = cli("leaderboard", "compare", "a-quick-0", "b-quick-0", "--workdir",
                          tmp_path)
    assert code == 0 and "(1 run)" in stdout
