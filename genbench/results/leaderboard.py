"""Leaderboards: views over the store, rendered with pandas, never edited by hand."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pandas as pd

from genbench.atomic import write_text
from genbench.results.record import RunRecord, board_stem

# Ranking keys in order of preference; the first one present in a leaderboard decides the order.
RANK_BY = ("modes_covered", "modes_covered[evaluator]", "high_quality", "FID", "FD[evaluator]",
           "FD[raw]", "bpd")
# Metric families that get a leaderboard of their own (``<dataset>-likelihood.md``), ranking
# only the models that have them.
OWN_BOARD = {"likelihood": "likelihood"}


def _arrow(higher: bool) -> str:
    return "↑" if higher else "↓"


def leaderboard_frame(records: list[RunRecord]) -> pd.DataFrame:
    """One row per completed run: identity, metric columns (with ↑/↓), cost, run id."""
    done = [r for r in records if r.status == "completed"]
    directions: dict[str, bool] = {}
    rows = []
    for r in done:
        row = {"model": r.model, "profile": r.profile, "settings": " ".join(r.overrides),
               "seed": r.seed, "steps": r.steps}
        for m in r.metrics:
            directions.setdefault(m.name, m.higher_is_better)
            row[m.name] = m.value
        row.update({"wall time (s)": round(r.wall_time, 1), "device": r.device,
                    "run": r.run_id})
        rows.append(row)
    frame = pd.DataFrame(rows)
    if frame.empty:
        return frame
    keys = [k for k in RANK_BY if k in frame.columns] or list(directions)[:1]
    if keys:
        frame = frame.sort_values(keys, ascending=[not directions[k] for k in keys],
                                  kind="stable", na_position="last")
    frame = frame.rename(columns={k: f"{k} {_arrow(v)}" for k, v in directions.items()})
    frame.insert(0, "rank", range(1, len(frame) + 1))
    return frame.reset_index(drop=True)


def summary_frame(records: list[RunRecord]) -> tuple[pd.DataFrame, dict[str, bool]]:
    """Completed runs grouped by (model, profile, settings): each metric's mean and the
    half-width of its 95% confidence interval over seeds (Student's t; blank for one seed)."""
    from scipy.stats import t as student_t

    done = [r for r in records if r.status == "completed"]
    directions: dict[str, bool] = {}
    groups: dict[tuple, list[RunRecord]] = {}
    for r in done:
        groups.setdefault((r.model, r.profile, " ".join(r.overrides)), []).append(r)
        for m in r.metrics:
            directions.setdefault(m.name, m.higher_is_better)
    rows = []
    for (model, profile, settings), runs in groups.items():
        row = {"model": model, "profile": profile, "settings": settings, "seeds": len(runs)}
        for name in directions:
            values = pd.Series([r.metric_map().get(name) for r in runs], dtype=float).dropna()
            row[name] = values.mean() if len(values) else float("nan")
            if len(values) > 1:
                half = student_t.ppf(0.975, len(values) - 1) * values.std(ddof=1)
                row[f"{name} ±"] = half / len(values) ** 0.5
            else:
                row[f"{name} ±"] = float("nan")
        rows.append(row)
    frame = pd.DataFrame(rows)
    if frame.empty:
        return frame, directions
    keys = [k for k in RANK_BY if k in frame.columns] or list(directions)[:1]
    if keys:
        frame = frame.sort_values(keys, ascending=[not directions[k] for k in keys],
                                  kind="stable", na_position="last")
    return frame.reset_index(drop=True), directions


def _summary_markdown(records: list[RunRecord]) -> list[str]:
    frame, directions = summary_frame(records)
    if frame.empty or frame["seeds"].max() < 2:
        return []
    table = frame[["model", "profile", "settings", "seeds"]].copy()
    for name, higher in directions.items():
        table[f"{name} {_arrow(higher)}"] = [
            "" if pd.isna(m) else f"{m:.4g}" + ("" if pd.isna(h) else f" ± {h:.2g}")
            for m, h in zip(frame[name], frame[f"{name} ±"], strict=True)]
    return ["## Across seeds", "",
            "Mean ± half-width of the 95% confidence interval over seeds (Student's t), per "
            "model, profile and settings.", "", table.to_markdown(index=False), "",
            "## Every run", ""]


def _feature_spaces(records: list[RunRecord]) -> dict[str, str]:
    """One line per extractor used by the ranked runs, with what makes it trustworthy."""
    described: dict[str, str] = {}
    for r in records:
        if r.status != "completed":
            continue
        for name, info in r.extractors.items():
            if name in described:
                continue
            if "accuracy" in info:
                described[name] = (f"a classifier trained on {info.get('trained_on', '?')}, "
                                   f"held-out accuracy {info['accuracy']:.1%} on "
                                   f"{info.get('tested_on', '?')} (key `{info.get('key', '')}`)")
            elif name == "raw":
                described[name] = "the data vectors themselves, at the dataset's native size"
            else:
                described[name] = f"key `{info.get('key', '')}`"
    return described


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
        elif scored:
            m = next((m for m in scored.metrics if m.n_fake), scored.metrics[0])
            lines += ["", f"Scored on the `{scored.split}` split: {m.n_real} real and "
                          f"{m.n_fake} generated samples per run."]
        spaces = _feature_spaces(records) if board != "likelihood" else {}
        if spaces:
            lines += ["", "Feature spaces (`metric[extractor]`; `FID` is Inception-v3):"]
            lines += [f"- `{name}`: {text}" for name, text in spaces.items()]
    others = [r for r in records if r.status not in ("completed", "running")]
    if others:
        lines += ["", "Not ranked: " + "; ".join(
            f"{r.model} seed {r.seed} ({r.status}{': ' + r.message if r.message else ''})"
            for r in others)]
    return "\n".join(lines) + "\n"


def render(records: list[RunRecord], out_dir: str | Path,
           datasets: list[str] | None = None) -> list[Path]:
    """Write ``<dataset>.md`` and ``<dataset>.csv`` for each dataset with runs."""
    out_dir = Path(out_dir)
    by_dataset: dict[str, list[RunRecord]] = {}
    for r in records:
        by_dataset.setdefault(r.dataset, []).append(r)
    written = []
    for dataset in sorted(datasets or by_dataset):
        recs = by_dataset.get(dataset, [])
        boards = {"": _only(recs, lambda m: m.metric not in OWN_BOARD)}
        for family, board in OWN_BOARD.items():
            mine = _only(recs, lambda m, f=family: m.metric == f)
            if any(r.metrics for r in mine):
                boards[board] = [r for r in mine if r.metrics or r.status != "completed"]
        for board, board_recs in boards.items():
            frame = leaderboard_frame(board_recs)
            stem = board_stem(dataset) + (f"-{board}" if board else "")
            md, csv = out_dir / f"{stem}.md", out_dir / f"{stem}.csv"
            write_text(md, to_markdown(dataset, frame, board_recs, board))
            write_text(csv, frame.to_csv(index=False))
            written += [md, csv]
    return written


def _only(records: list[RunRecord], keep) -> list[RunRecord]:
    """Copies of the records holding only the metrics ``keep`` accepts."""
    return [dataclasses.replace(r, metrics=[m for m in r.metrics if keep(m)]) for r in records]
