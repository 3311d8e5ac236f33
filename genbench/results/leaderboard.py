"""Leaderboards: views over the store, rendered with pandas, never edited by hand."""

from __future__ import annotations

import dataclasses
import math

import pandas as pd

from genbench.results.provenance import by_plugin_version
from genbench.results.record import MetricValue, RunRecord

# Ranking keys in order of preference; the first one present in a leaderboard decides the order.
RANK_BY = ("modes_covered", "modes_covered[evaluator]", "high_quality", "FID", "FD[evaluator]",
           "FD[raw]", "bpd")
# Metric families that get a leaderboard of their own (``<dataset>-likelihood.md``), ranking
# only the models that have them.
OWN_BOARD = {"likelihood": "likelihood"}


def _arrow(higher: bool) -> str:
    return "↑" if higher else "↓"


def is_spread(name: str) -> bool:
    """``kid_std``, ``is_std``: the spread of an estimate over its subsets or splits, reported
    beside it but no quality: never ranked, marked best or compared."""
    return name.partition("[")[0].endswith("_std")


def label(name: str, higher: bool) -> str:
    """A metric's column: its name and direction arrow (none for a spread)."""
    return name if is_spread(name) else f"{name} {_arrow(higher)}"


def scored_on(r: RunRecord) -> str:
    """How many examples a run was scored on, ``"<real> / <generated>"``: runs scored on
    different numbers are not comparable (coverage alone moved from 0.74 at 360 generated
    samples to 0.99 at 20,000), so the tables keep them apart."""
    counted = [m for m in r.metrics if m.n_real or m.n_fake]
    if not counted:
        return ""
    return f"{max(m.n_real for m in counted):,} / {max(m.n_fake for m in counted):,}"


def _sample_sizes(records: list[RunRecord]) -> list[str]:
    """The distinct :func:`scored_on` of the completed runs that have metrics, most samples
    first."""
    def most_first(key: str) -> tuple:
        real, generated = (int(v.replace(",", "")) for v in key.split(" / "))
        return -generated, -real

    return sorted({scored_on(r) for r in records if r.status == "completed"} - {""},
                  key=most_first)


def leaderboard_frame(records: list[RunRecord]) -> pd.DataFrame:
    """One row per completed run: identity, metric columns (with ↑/↓), cost, run id. Where runs
    were scored on different numbers of examples, a ``samples`` column says which, and the
    runs are ranked within each sample size (most samples first). A model with runs of
    several versions of its plugin gets a row label per version (:func:`by_plugin_version`)."""
    # In a fixed order, so that ties (a deterministic baseline's seeds) rank the same whichever
    # order the records came in (the store's, or the files').
    done = sorted((r for r in by_plugin_version(records) if r.status == "completed"),
                  key=lambda r: (r.model, r.profile, r.overrides, r.seed, r.run_id))
    sizes = _sample_sizes(done)
    directions: dict[str, bool] = {}
    rows = []
    for r in done:
        row = {"model": r.model, "profile": r.profile, "settings": " ".join(r.overrides),
               "seed": r.seed, "steps": r.steps}
        if len(sizes) > 1:
            row["samples"] = scored_on(r)
        for m in r.metrics:
            directions.setdefault(m.name, m.higher_is_better)
            row[m.name] = m.value
        row.update({"wall time (s)": round(r.wall_time, 1), "device": r.device,
                    "run": r.run_id})
        rows.append(row)
    frame = pd.DataFrame(rows)
    if frame.empty:
        return frame
    frame = _rank(frame, directions, sizes)
    frame = frame.rename(columns={k: label(k, v) for k, v in directions.items()})
    frame.insert(0, "rank", range(1, len(frame) + 1))
    return frame.reset_index(drop=True)


def _rank(frame: pd.DataFrame, directions: dict[str, bool], sizes: list[str]) -> pd.DataFrame:
    """Best first by the dataset's ranking metric, within each sample size if there are
    several."""
    keys = [k for k in RANK_BY if k in frame.columns] or list(directions)[:1]
    if keys:
        frame = frame.sort_values(keys, ascending=[not directions[k] for k in keys],
                                  kind="stable", na_position="last")
    if "samples" in frame.columns:
        order = {k: i for i, k in enumerate(sizes + [""])}  # runs without metrics last
        frame = frame.sort_values("samples", key=lambda col: col.map(order), kind="stable")
    return frame


def at_budget(records: list[RunRecord], seconds: float) -> list[RunRecord]:
    """The completed runs as they stood after ``seconds`` of training: each run's metrics from
    the last evaluation of its trajectory (``--eval-every``) within the budget, with ``steps``
    and ``wall_time`` set to that point. A run without a trajectory counts with its final
    metrics if its whole wall time (training and scoring) fits the budget. Runs not evaluated
    within the budget are left out."""
    kept = []
    for r in records:
        if r.status != "completed":
            continue
        points = [p for p in r.trajectory if p["seconds"] <= seconds and p.get("metrics")]
        if points:
            p = points[-1]
            by_name = {m.name: m for m in r.metrics}
            metrics = [dataclasses.replace(by_name[name], value=value, ci_low=None,
                                           ci_high=None) if name in by_name
                       else MetricValue(name, value, True, "trajectory")
                       for name, value in p["metrics"].items()]
            kept.append(dataclasses.replace(r, metrics=metrics, steps=p["step"],
                                            wall_time=p["seconds"]))
        elif not r.trajectory and r.wall_time <= seconds:
            kept.append(r)
    return kept


def t_half_width(values: list[float]) -> float:
    """Half-width of the 95% Student-t confidence interval of the mean of ``values``; NaN for
    fewer than two."""
    from scipy.stats import t as student_t

    n = len(values)
    if n < 2:
        return float("nan")
    if min(values) == max(values):
        return 0.0  # exactly; the float mean of equal values may differ from them in the last bit
    mean = sum(values) / n
    sd = (sum((v - mean) ** 2 for v in values) / (n - 1)) ** 0.5
    return float(student_t.ppf(0.975, n - 1) * sd / n ** 0.5)


def _cell(runs: list[RunRecord], name: str) -> tuple[float, float]:
    """Mean and 95% half-width of one metric over a group's runs: Student's t over seeds, or a
    single run's own bootstrap interval (``ci_low``/``ci_high``) when there is one seed."""
    found = [m for r in runs for m in r.metrics if m.name == name
             and m.value is not None and math.isfinite(m.value)]
    if not found:
        return float("nan"), float("nan")
    values = [m.value for m in found]
    mean = sum(values) / len(values)
    if len(found) > 1:
        return mean, t_half_width(values)
    m = found[0]
    if m.ci_low is None or m.ci_high is None:
        return mean, float("nan")
    return mean, (m.ci_high - m.ci_low) / 2


def _age(r: RunRecord) -> tuple[str, str]:
    """Sort key, oldest first."""
    return r.created, r.run_id


def one_per_seed(runs: list[RunRecord]) -> list[RunRecord]:
    """The newest run of each seed (by ``created``): a seed run twice is one sample of the
    seed-to-seed spread, not two."""
    newest: dict[int, RunRecord] = {}
    for r in sorted(runs, key=_age):
        newest[r.seed] = r
    return sorted(newest.values(), key=lambda r: r.seed)


def summary_frame(records: list[RunRecord]) -> tuple[pd.DataFrame, dict[str, bool]]:
    """Completed runs grouped by (model, profile, settings) and, where runs were scored on
    different numbers of examples, by that too (column ``samples``): each metric's mean and
    the half-width of its 95% interval (column ``"<metric> ±"``; see :func:`_cell`) over the
    newest run of each seed, and the number of seeds. Best first by the dataset's ranking
    metric, within each sample size. Runs of different versions of a model's plugin are
    different rows (:func:`by_plugin_version`); callers grouping with :func:`group_key`
    relabel their records the same way."""
    done = [r for r in by_plugin_version(records) if r.status == "completed"]
    sizes = _sample_sizes(done)
    directions: dict[str, bool] = {}
    groups: dict[tuple, list[RunRecord]] = {}
    for r in done:
        groups.setdefault(group_key(r, len(sizes) > 1), []).append(r)
        for m in r.metrics:
            directions.setdefault(m.name, m.higher_is_better)
    rows = []
    for (model, profile, settings, *samples), runs in groups.items():
        runs = one_per_seed(runs)
        row = {"model": model, "profile": profile, "settings": settings}
        if samples:
            row["samples"] = samples[0]
        row["seeds"] = len(runs)
        for name in directions:
            row[name], row[f"{name} ±"] = _cell(runs, name)
        rows.append(row)
    frame = pd.DataFrame(rows)
    if frame.empty:
        return frame, directions
    return _rank(frame, directions, sizes).reset_index(drop=True), directions


def group_key(r: RunRecord, by_samples: bool) -> tuple:
    """The summary row a run belongs to: (model, profile, settings[, samples])."""
    key = (r.model, r.profile, " ".join(r.overrides))
    return key + (scored_on(r),) if by_samples else key


def summary_key(row) -> tuple:
    """:func:`group_key` of a row of :func:`summary_frame`."""
    key = (row["model"], row["profile"], row["settings"])
    return key + (row["samples"],) if "samples" in row.index else key


def best_rows(frame: pd.DataFrame, directions: dict[str, bool]) -> dict[str, set[int]]:
    """Per metric, the rows (index labels of ``frame``) marked best: within each profile, the
    best mean, only where its 95% interval does not overlap the runner-up's. Entries without an
    interval are never marked, and neither is a column with a single entry."""
    marked: dict[str, set[int]] = {}
    if frame.empty:
        return marked
    # Rows are comparable only within a profile and, where it varies, a sample size.
    within = ["profile"] + (["samples"] if "samples" in frame.columns else [])
    for name, higher in directions.items():
        if is_spread(name):
            continue
        for _, group in frame.groupby(within, sort=False):
            have = group[group[name].notna()]
            if len(have) < 2:
                continue
            ranked = have.sort_values(name, ascending=not higher, kind="stable")
            (i, best), (_, runner) = list(ranked.iterrows())[:2]
            hb, hr = best[f"{name} ±"], runner[f"{name} ±"]
            if pd.isna(hb) or pd.isna(hr) or best[name] == runner[name]:
                continue
            apart = (best[name] - hb > runner[name] + hr) if higher else (
                best[name] + hb < runner[name] - hr)
            if apart:
                marked.setdefault(name, set()).add(i)
    return marked


def interval_text(mean: float, half: float) -> str:
    """``mean ± half`` as every table shows it (4 and 2 significant digits); empty for no
    mean, the mean alone for no interval."""
    if pd.isna(mean):
        return ""
    return f"{mean:.4g}" + ("" if pd.isna(half) else f" ± {half:.2g}")


def _format_cell(mean: float, half: float, bold: bool) -> str:
    text = interval_text(mean, half)
    return f"**{text}**" if bold and text else text


def _summary_markdown(records: list[RunRecord]) -> list[str]:
    frame, directions = summary_frame(records)
    if frame.empty:
        return []
    marked = best_rows(frame, directions)
    table = frame[[c for c in ("model", "profile", "settings", "samples", "seeds")
                   if c in frame.columns]].copy()
    for name, higher in directions.items():
        table[label(name, higher)] = [
            _format_cell(frame.at[i, name], frame.at[i, f"{name} ±"], i in marked.get(name, ()))
            for i in frame.index]
    if not table["settings"].astype(bool).any():
        table = table.drop(columns="settings")
    legend = SUMMARY_LEGEND if "samples" not in table.columns else SUMMARY_LEGEND.replace(
        "One row per model, profile and settings.", "One row per model, profile, settings and "
        "sample size (`samples`: real / generated examples scored; rows of different sizes are "
        "not comparable and are never marked against each other).")
    return ["## Models", "", legend, "", table.to_markdown(index=False), "",
            "## Every run", ""]


SUMMARY_LEGEND = (
    "One row per model, profile and settings. Each cell is the mean over seeds ± the half-width "
    "of its 95% interval: Student's t over the seeds when there are several; for a single seed, "
    "the run's own interval from the bootstrap over its generated samples (value ± 1.96 SE, "
    "reference fixed; FD and the mode metrics), and no interval where there is none. **Bold**: "
    "the best in its column within a profile, marked only where its interval does not overlap "
    "the runner-up's.")


def _feature_spaces(records: list[RunRecord]) -> dict[str, str]:
    """One line per extractor that a ranked run's metrics were computed in, with what makes it
    trustworthy (a space prepared but left unused, as raw for 256x256 images, is not listed)."""
    described: dict[str, str] = {}
    for r in records:
        if r.status != "completed":
            continue
        used = {m.extractor for m in r.metrics}
        for name, info in r.extractors.items():
            if name in described or name not in used:
                continue
            if "accuracy" in info:
                described[name] = (f"a classifier trained on {info.get('trained_on', '?')}, "
                                   f"held-out accuracy {info['accuracy']:.1%} on "
                                   f"{info.get('tested_on', '?')} (key `{info.get('key', '')}`)")
            elif name == "raw":
                described[name] = "the data vectors themselves, at the dataset's native size"
            elif "features" in info:  # inception-v3@bf16
                described[name] = f"{info['features']} (key `{info.get('key', '')}`)"
            else:
                described[name] = f"key `{info.get('key', '')}`"
    return described


def not_computed(records: list[RunRecord]) -> dict[str, list[str]]:
    """Metrics the ranked runs could not compute, grouped by the one-line reason recorded."""
    by_reason: dict[str, list[str]] = {}
    for r in records:
        if r.status != "completed":
            continue
        for name, why in (r.evaluation.get("not_computed") or {}).items():
            names = by_reason.setdefault(why, [])
            if name not in names:
                names.append(name)
    return by_reason


def to_markdown(dataset: str, frame: pd.DataFrame, records: list[RunRecord],
                board: str = "") -> str:
    lines = [f"# Leaderboard: {dataset}" + (f" ({board})" if board else ""), ""]
    lines.append("Rendered from the genbench store by `genbench leaderboard render`; do not edit "
                 "by hand. ↑ higher is better, ↓ lower is better. Compare rows only within a "
                 "profile: `quick` runs are CPU smoke budgets, `standard` runs paper-like ones.")
    lines.append("")
    if frame.empty:
        lines.append("No completed runs yet.")
    else:
        lines += _summary_markdown(records)
        shown = frame.astype(object).where(frame.notna(), None)  # blank, not "nan"
        lines.append(shown.to_markdown(index=False, floatfmt=".4g", missingval=""))
        scored = next((r for r in records if r.status == "completed" and r.metrics), None)
        if scored and board == "likelihood":
            m = scored.metrics[0]
            lines += ["", f"Evaluated on the `{scored.split}` split ({m.n_real} examples). "
                          "`nll` is in nats per example, `bpd` in bits per dimension, both from "
                          "the exact likelihood or, for latent-variable models, the "
                          "importance-weighted bound (an upper bound on the true NLL), with "
                          "the ELBO's beside it; images are 8-bit data, uniformly dequantised "
                          "for density models (docs/metrics.md). Models without a likelihood "
                          "(GANs) have no entry."]
        elif scored and len(_sample_sizes(records)) > 1:
            lines += ["", f"Scored on the `{scored.split}` split, on different numbers of "
                          "examples (real / generated): " + ", ".join(_sample_sizes(records))
                          + "; rows of one size are ranked and compared among themselves."]
        elif scored:
            m = next((m for m in scored.metrics if m.n_fake), scored.metrics[0])
            lines += ["", f"Scored on the `{scored.split}` split: {m.n_real} real and "
                          f"{m.n_fake} generated samples per run." if m.n_fake else
                          f"Scored on the `{scored.split}` split: {m.n_real} examples per run "
                          "(no generated samples)."]
        spaces = _feature_spaces(records) if board != "likelihood" else {}
        if spaces:
            lines += ["", "Feature spaces (`metric[extractor]`; `FID` is Inception-v3):"]
            lines += [f"- `{name}`: {text}" for name, text in spaces.items()]
        if any(r.model != v.model for r, v in zip(records, by_plugin_version(records),
                                                   strict=True)):
            lines += ["", "Runs made with different versions of a model's plugin are kept "
                          "apart: the model column names the plugin and version."]
        skipped = not_computed(records) if board != "likelihood" else {}
        if skipped:
            lines += ["", "Not computed:"]
            lines += [f"- {', '.join(f'`{n}`' for n in names)}: {why}"
                      for why, names in skipped.items()]
    others = [r for r in records if r.status not in ("completed", "running")]
    if others:
        lines += ["", "Not ranked: " + "; ".join(
            f"{r.model} seed {r.seed} ({r.status}{': ' + r.message if r.message else ''})"
            for r in others)]
    return "\n".join(lines) + "\n"


# --- anomaly protocols: one table per protocol, a column per class ---------------------------

# Published per-class AUROC (%) to set beside genbench's own: One-Class Deep SVDD on MNIST,
# Ruff et al. 2018, Deep One-Class Classification (ICML), Table 1.
PUBLISHED = {"oneclass": ("One-Class Deep SVDD, MNIST 28x28 (Ruff et al. 2018, Table 1)",
                          [98.0, 99.7, 91.7, 91.9, 94.9, 88.5, 98.3, 94.6, 93.9, 96.5])}
PUBLISHED_DATASET = "mnist"  # what the published row was measured on


def published_row(protocol: str, classes: list[int]) -> tuple[str, list[float]] | None:
    """The published (name, per-class AUROC %) to set beside a board, if there is one for this
    protocol and these classes."""
    return PUBLISHED.get(protocol) if classes == list(range(10)) else None


def published_caveat(base: str) -> str:
    """How far the published row is from a board on ``base`` (e.g. ``digits-oneclass``)."""
    same = base.partition("-")[0] == PUBLISHED_DATASET
    return "another budget" if same else "another dataset and budget"


def protocol_groups(records: list[RunRecord]) -> dict[str, list[RunRecord]]:
    """Completed runs on anomaly protocols (``BASE:K``), by BASE (e.g. ``digits-oneclass``)."""
    groups: dict[str, list[RunRecord]] = {}
    for r in records:
        base, _, k = r.dataset.partition(":")
        if r.status == "completed" and r.evaluation.get("protocol") and k.isdigit():
            groups.setdefault(base, []).append(r)
    return groups


def class_frame(records: list[RunRecord]) -> pd.DataFrame:
    """Long form: one row per model (profile, settings), metric and class, plus ``mean``: each
    seed's mean over the classes, then the mean and 95% t-interval of those over seeds (only
    seeds that have every class count)."""
    classes = sorted({int(r.dataset.partition(":")[2]) for r in records})
    groups: dict[tuple, list[RunRecord]] = {}
    for r in by_plugin_version(records):
        groups.setdefault((r.model, r.profile, " ".join(r.overrides)), []).append(r)
    rows = []
    for (model, profile, settings), runs in groups.items():
        for metric in ("auroc", "auprc"):
            per_seed: dict[int, dict[int, float]] = {}
            for r in sorted(runs, key=_age):  # the newest run of a seed wins
                value = r.metric_map().get(metric)
                if value is not None:
                    per_seed.setdefault(r.seed, {})[int(r.dataset.partition(":")[2])] = value
            base = {"model": model, "profile": profile, "settings": settings, "metric": metric}
            for k in classes:
                values = [v[k] for v in per_seed.values() if k in v]
                if values:
                    rows.append({**base, "class": str(k), "mean": sum(values) / len(values),
                                 "±": t_half_width(values), "seeds": len(values)})
            complete = [sum(v.values()) / len(v) for v in per_seed.values()
                        if set(v) == set(classes)]
            if complete:
                rows.append({**base, "class": "mean", "mean": sum(complete) / len(complete),
                             "±": t_half_width(complete), "seeds": len(complete)})
    return pd.DataFrame(rows, columns=["model", "profile", "settings", "metric", "class", "mean",
                                       "±", "seeds"])


def class_table(part: pd.DataFrame, classes: list[int]
                ) -> tuple[pd.DataFrame, list[str], dict[str, set[int]]]:
    """One metric's rows of :func:`class_frame` made wide, in percent: a row per model (profile,
    settings), columns ``"K"`` and ``"K ±"`` per class and ``"mean"``/``"mean ±"``, best mean
    first; with the column names and the cells marked best (:func:`best_rows`)."""
    columns = [str(k) for k in classes] + ["mean"]
    wide = []
    for (model, profile, settings), rows in part.groupby(
            ["model", "profile", "settings"], sort=False):
        row = {"model": model, "profile": profile, "settings": settings,
               "seeds": int(rows["seeds"].max())}
        for c in columns:
            hit = rows[rows["class"] == c]
            row[c] = 100 * hit["mean"].iloc[0] if len(hit) else float("nan")
            row[f"{c} ±"] = 100 * hit["±"].iloc[0] if len(hit) else float("nan")
        wide.append(row)
    wide = pd.DataFrame(wide).sort_values("mean", ascending=False, kind="stable",
                                          na_position="last").reset_index(drop=True)
    return wide, columns, best_rows(wide, dict.fromkeys(columns, True))


def protocol_markdown(base: str, records: list[RunRecord]) -> str:
    records = by_plugin_version(records)
    frame = class_frame(records)
    first = records[0].evaluation
    protocol = first.get("protocol", "")
    classes = sorted({int(r.dataset.partition(":")[2]) for r in records})
    lines = [f"# Leaderboard: {base} (anomaly detection, {protocol} protocol)", "",
             "Rendered from the genbench store by `genbench leaderboard render`; do not edit by "
             "hand. One row per model, a column per class K (the run on `"
             f"{base}:K`), in percent: the mean over seeds ± the half-width of the 95% "
             "Student-t interval. `mean` averages each seed's classes first, then takes the "
             "interval over seeds (only seeds with every class). Best mean first. **Bold**: "
             "the best in its column within a profile, only where its interval does not "
             "overlap the runner-up's. Compare rows only within a profile.", ""]
    for metric, title in (("auroc", "AUROC (%) ↑"), ("auprc", "AUPRC (%) ↑, anomalies "
                                                             "positive")):
        part = frame[frame["metric"] == metric]
        if part.empty:
            continue
        wide, columns, marked = class_table(part, classes)
        shown = wide[["model", "profile", "settings", "seeds"]].copy()
        for c in columns:
            shown[c] = [_format_cell(wide.at[i, c], wide.at[i, f"{c} ±"],
                                     i in marked.get(c, ())) for i in wide.index]
        if not shown["settings"].astype(bool).any():
            shown = shown.drop(columns="settings")
        lines += [f"## {title}", "", shown.to_markdown(index=False), ""]
        published = published_row(protocol, classes)
        if metric == "auroc" and published:
            name, values = published
            lines += [f"Published, for comparison ({published_caveat(base)}):", "",
                      "| reference | " + " | ".join(str(k) for k in classes) + " | mean |",
                      "| --- |" + " --- |" * (len(classes) + 1),
                      f"| {name} | " + " | ".join(f"{v:.1f}" for v in values)
                      + f" | {sum(values) / len(values):.1f} |", ""]
    counts = {}
    for r in records:
        counts[int(r.dataset.partition(":")[2])] = (r.evaluation.get("normal_classes"),
                                                    r.evaluation.get("test_normal"),
                                                    r.evaluation.get("test_anomalous"))
    lines += ["## Protocol", "", f"- `{protocol}`: the training split holds the normal classes "
              "only; the whole test split is scored, anomalies are the positive class.",
              f"- Evaluated on the `{records[0].split}` split. Per class K: normal classes, "
              "normal and anomalous test examples:"]
    lines += [f"  - {k}: normal {normal}, {n} normal / {a} anomalous"
              for k, (normal, n, a) in sorted(counts.items())]
    scores = sorted({(r.model, r.evaluation.get("score", "")) for r in records})
    lines += ["- Scores (higher = more anomalous):"]
    lines += [f"  - `{m}`: {s}" for m, s in scores]
    lines += [f"- Model selection: {first.get('selection', 'not recorded')}."]
    return "\n".join(lines) + "\n"


def _only(records: list[RunRecord], keep) -> list[RunRecord]:
    """Copies of the records holding only the metrics ``keep`` accepts."""
    return [dataclasses.replace(r, metrics=[m for m in r.metrics if keep(m)]) for r in records]
