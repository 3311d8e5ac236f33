"""``genbench leaderboard compare A B``: is the difference between two sets of runs real?

A and B each select runs from the store: a run id, several run ids joined by commas (a group),
or ``model@dataset`` (every completed run of that model on that dataset, narrowed with a
profile when needed; runs of different versions of the model's plugin are refused, as
different models). The command says when a plugin both sides used differs in version
between them. Per metric both sides share, the difference B - A comes with a 95%
interval and a two-sided p-value:

- both sides with two or more seeds: Welch's t-test over the seeds (unequal variances);
- otherwise (a side with a single run): a z-test whose standard errors are, per side, the
  spread over seeds (s / sqrt(n)) or, for a single run, the run's bootstrap standard error over
  its generated samples with the shared reference set held fixed (``MetricValue.ci_low`` and
  ``ci_high``). A single run without a recorded interval cannot be tested.
"""

from __future__ import annotations

import difflib
import math
from dataclasses import asdict, dataclass

from genbench.errors import GenbenchError
from genbench.results.leaderboard import one_per_seed, t_half_width
from genbench.results.provenance import model_plugin
from genbench.results.record import RunRecord
from genbench.results.store import Store

Z95 = 1.959963984540054


@dataclass
class Comparison:
    metric: str
    higher_is_better: bool
    a_mean: float
    a_half: float  # half-width of A's own 95% interval (NaN where there is none)
    a_n: int
    b_mean: float
    b_half: float
    b_n: int
    diff: float  # B - A
    diff_low: float
    diff_high: float
    p_value: float
    test: str
    verdict: str

    def to_dict(self) -> dict:
        return {k: (None if isinstance(v, float) and math.isnan(v) else v)
                for k, v in asdict(self).items()}


def select(store: Store, spec: str, profile: str | None = None) -> list[RunRecord]:
    """The completed runs ``spec`` names (see the module docstring)."""
    spec = spec.strip()
    if "@" in spec and "," not in spec:
        model, dataset = (part.strip() for part in spec.split("@", 1))
        if not model or not dataset:
            raise GenbenchError(f"{spec!r}: give MODEL@DATASET (e.g. dcgan@digits), a run id, "
                                f"or run ids joined by commas")
        runs = [r for r in store.runs(dataset=dataset, status="completed") if r.model == model
                and (profile is None or r.profile == profile)]
        if not runs:
            stored = sorted({(r.model, r.dataset) for r in store.runs(status="completed")})
            close = difflib.get_close_matches(f"{model}@{dataset}",
                                              [f"{m}@{d}" for m, d in stored], n=1)
            raise GenbenchError(f"no completed runs of {model!r} on {dataset!r}"
                                + (f" with profile {profile!r}" if profile else "")
                                + " in the store"
                                + (f" (did you mean {close[0]!r}?)" if close else "")
                                + "; `genbench runs` lists them")
        kinds = sorted({(r.profile, " ".join(r.overrides)) for r in runs})
        if len(kinds) > 1:
            listed = "; ".join(f"{p}{' ' + s if s else ''}" for p, s in kinds)
            profiles = {p for p, _ in kinds}
            fix = ("pass --profile, or the run ids joined by commas" if len(profiles) > 1
                   else "they differ in settings, so pass the run ids joined by commas "
                        "(`genbench runs` lists them)")
            raise GenbenchError(f"{spec} matches runs of different profiles or settings "
                                f"({listed}); {fix}")
        made = sorted({model_plugin(r) or ("plugin", "not recorded") for r in runs})
        if len(made) > 1:  # the leaderboard keeps them apart too
            listed = "; ".join(" ".join(m) for m in made)
            raise GenbenchError(f"{spec} matches runs made with different versions of its "
                                f"plugin ({listed}); pass the run ids of one version joined "
                                f"by commas (`genbench runs export` lists model_plugin_version)")
        return one_per_seed(runs)  # as the leaderboard counts them
    runs = [store.get(run_id.strip()) for run_id in spec.split(",") if run_id.strip()]
    unfinished = [r.run_id for r in runs if r.status != "completed"]
    if unfinished:
        raise GenbenchError(f"run {unfinished[0]} is not completed, so it has no scores")
    if not runs:
        raise GenbenchError("empty selection: give a run id, ids joined by commas, or "
                            "model@dataset")
    return runs


def _values(runs: list[RunRecord], name: str):
    return [m for r in runs for m in r.metrics
            if m.name == name and m.value is not None and math.isfinite(m.value)]


def _side(found) -> tuple[float, float, float]:
    """Mean, half-width of its 95% interval, and its standard error (NaN where unknown)."""
    values = [m.value for m in found]
    mean = sum(values) / len(values)
    if len(values) > 1:
        sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))
        return mean, t_half_width(values), sd / math.sqrt(len(values))
    m = found[0]
    if m.ci_low is None or m.ci_high is None:
        return mean, float("nan"), float("nan")
    half = (m.ci_high - m.ci_low) / 2
    return mean, half, half / Z95


def compare(a: list[RunRecord], b: list[RunRecord], alpha: float = 0.05) -> list[Comparison]:
    """One :class:`Comparison` per metric both selections have, in A's metric order; an
    estimate's spread (``kid_std``, ``is_std``) is no quality and is left out."""
    from scipy import stats

    from genbench.results.leaderboard import is_spread

    names = list(dict.fromkeys(m.name for r in a for m in r.metrics if not is_spread(m.name)))
    results = []
    for name in names:
        fa, fb = _values(a, name), _values(b, name)
        if not fa or not fb:
            continue
        higher = fa[0].higher_is_better
        (ma, ha, sa), (mb, hb, sb) = _side(fa), _side(fb)
        diff = mb - ma
        if len(fa) > 1 and len(fb) > 1 and sa == 0 and sb == 0:
            test, p = "Welch t", float("nan")  # no spread on either side: nothing to test
            low = high = float("nan")
        elif len(fa) > 1 and len(fb) > 1:
            test = "Welch t"
            res = stats.ttest_ind([m.value for m in fb], [m.value for m in fa], equal_var=False)
            p = float(res.pvalue)
            low, high = (float(x) for x in res.confidence_interval(1 - alpha))
        else:
            test = "z, bootstrap SE"
            se = math.sqrt(sa ** 2 + sb ** 2)
            if math.isnan(se) or se == 0:
                p = low = high = float("nan")
            else:
                p = float(2 * stats.norm.sf(abs(diff) / se))
                z = float(stats.norm.ppf(1 - alpha / 2))
                low, high = diff - z * se, diff + z * se
        if math.isnan(p):
            verdict = "no test (no interval or no spread)"
        elif p < alpha:
            verdict = "B better" if (diff > 0) == higher else "A better"
        else:
            verdict = "no significant difference"
        results.append(Comparison(name, higher, ma, ha, len(fa), mb, hb, len(fb), diff, low,
                                  high, p, test, verdict))
    return results
