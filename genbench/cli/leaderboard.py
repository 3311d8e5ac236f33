"""``genbench leaderboard``: ``show`` the boards in the terminal, ``render`` their files,
``compare`` two sets of runs with a test."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich import box
from rich.table import Table
from rich.text import Text

from genbench.cli.options import (
    DEFAULT_WORKDIR,
    DatasetFilterOpt,
    Format,
    FormatOpt,
    WorkdirOpt,
    _Command,
    _Group,
)
from genbench.cli.output import _print_json, _show_leaderboard, _split_column, friendly, out
from genbench.errors import GenbenchError

app = typer.Typer(cls=_Group, no_args_is_help=True,
                              help="Show or render leaderboards from the run store.")


@app.command("show", cls=_Command)
@friendly
def leaderboard_show(
    dataset: DatasetFilterOpt = None,
    at_budget_: Annotated[float | None, typer.Option(
        "--at-budget", min=0, metavar="SECONDS",
        help="Compare at equal compute: each run's scores from its last evaluation within "
             "SECONDS of training (runs trained with --eval-every; a run without evaluations "
             "counts if its whole run fits).")] = None,
    workdir: WorkdirOpt = DEFAULT_WORKDIR,
    fmt: FormatOpt = Format.table,
) -> None:
    """Show leaderboards (completed runs, best first) from the store."""
    from genbench.results.leaderboard import at_budget, leaderboard_frame
    from genbench.results.store import open_store

    store = open_store(workdir)
    stored = sorted({r.dataset for r in store.runs()})
    if dataset and dataset not in stored:
        _check_dataset_name(dataset, stored, workdir)
    names = [dataset] if dataset else stored
    if fmt == Format.json:
        def view(d):
            records = store.runs(dataset=d)
            return records if at_budget_ is None else at_budget(records, at_budget_)

        return _print_json({d: leaderboard_frame(view(d)).to_dict("records") for d in names})
    for name in names:
        _show_leaderboard(workdir, name, budget=at_budget_)


def _check_dataset_name(dataset: str, stored: list[str], workdir: str) -> None:
    """A name that is neither a dataset genbench knows nor one with runs here is a typo."""
    import difflib

    from genbench.errors import GenbenchError
    from genbench.plugins import get_registries

    try:
        get_registries().datasets.get(dataset)
        return  # a real dataset without runs yet: the board says so
    except GenbenchError:
        pass
    known = sorted(set(stored) | set(get_registries().datasets.names()))
    close = difflib.get_close_matches(dataset, known, n=1, cutoff=0.6)
    raise GenbenchError(f"no dataset {dataset!r} and no runs on it in {workdir}. "
                        + (f"Did you mean {close[0]!r}? " if close else "")
                        + (f"Datasets with runs: {', '.join(stored)}" if stored else
                           "No runs are stored yet"))


@app.command("render", cls=_Command)
@friendly
def leaderboard_render(
    workdir: WorkdirOpt = DEFAULT_WORKDIR,
    out_dir: Annotated[str | None, typer.Option(
        "--out", help="Folder for <dataset>.md and .csv (default: WORKDIR/leaderboards, where "
                      "run and sweep write theirs).", show_default=False)] = None,
    dataset: Annotated[str | None, typer.Option("--dataset", "-d")] = None,
    records: Annotated[bool, typer.Option(
        "--records", help="Also write OUT/records/<run id>.json for every completed run shown "
                          "(and remove records of runs no longer in the store).")] = False,
) -> None:
    """Write, per dataset, <dataset>.md, .csv and -summary.csv, the per-class tables of the
    anomaly protocols, and the HTML report OUT/index.html, from the store (atomically).

    Files in OUT are replaced; none is removed unless an earlier render wrote it and nobody
    changed it since (OUT/.genbench-written.json lists them).

    The committed leaderboards/ come from: genbench runs import leaderboards/records
    --workdir W, then genbench leaderboard render --workdir W --out leaderboards --records.
    """
    from genbench.atomic import output_folder
    from genbench.results.publish import render, write_records
    from genbench.results.store import open_store

    runs = open_store(workdir).runs()
    out_dir = out_dir if out_dir is not None else str(Path(workdir) / "leaderboards")
    output_folder(out_dir)
    written = render(runs, out_dir, [dataset] if dataset else None, report=dataset is None)
    if records:
        written += write_records(runs, out_dir)
    for path in written:
        out.print(f"wrote {path}")


@app.command("compare", cls=_Command)
@friendly
def leaderboard_compare(
    a: Annotated[str, typer.Argument(help="Runs A: a run id, run ids joined by commas, or "
                                          "model@dataset.", metavar="A")],
    b: Annotated[str, typer.Argument(help="Runs B, in the same forms.", metavar="B")],
    profile: Annotated[str | None, typer.Option(
        help="Only runs of this profile (for model@dataset selections).")] = None,
    alpha: Annotated[float, typer.Option(min=1e-6, max=0.5, help="Significance level; the "
                                                                  "intervals are 1 - alpha.")]
    = 0.05,
    workdir: WorkdirOpt = DEFAULT_WORKDIR,
    fmt: FormatOpt = Format.table,
) -> None:
    """Is B better than A? Per metric: both means with their 95% intervals, the difference
    B - A with its interval, a two-sided p-value and a verdict.

    With two or more seeds on both sides: Welch's t-test over the seeds. With a single run on
    a side: a z-test using that run's bootstrap standard error over its generated samples (the
    reference set is shared and held fixed). Example:

        genbench leaderboard compare dcgan@digits sngan@digits
    """
    from genbench.results.compare import compare, select
    from genbench.results.provenance import version_differences
    from genbench.results.store import open_store

    store = open_store(workdir)
    runs_a, runs_b = select(store, a, profile), select(store, b, profile)
    results = compare(runs_a, runs_b, alpha)
    if not results:
        raise GenbenchError("A and B have no metric in common")
    # Numbers from different versions of a plugin's code may differ for that reason alone.
    versions = version_differences(runs_a, runs_b)
    if fmt == Format.json:
        return _print_json({"a": [r.run_id for r in runs_a], "b": [r.run_id for r in runs_b],
                            "alpha": alpha, "metrics": [c.to_dict() for c in results],
                            "plugin_versions_differ": versions})

    # Narrow enough for 80 columns: the feature space most metrics share goes to the title,
    # run counts and the test too when they are the same for every metric.
    from collections import Counter

    spaces = Counter(_split_column(f"{c.metric} x")[1] for c in results)
    main_space = spaces.most_common(1)[0][0]
    short = {"no significant difference": "n.s.", "no test (no interval or no spread)": "–"}

    def name(c) -> str:
        base, space, _ = _split_column(f"{c.metric} x")
        return (base if space in (main_space, "") else f"{base}[{space}]") + \
            (" ↑" if c.higher_is_better else " ↓")

    def cell(mean, half):
        return f"{mean:.4g}" + ("" if half != half else f" ± {half:.2g}")

    rows = []
    for c in results:
        style = {"B better": "green", "A better": "red"}.get(c.verdict, "")
        interval = "" if c.diff_low != c.diff_low else f" [{c.diff_low:.3g}, {c.diff_high:.3g}]"
        rows.append([name(c), cell(c.a_mean, c.a_half), cell(c.b_mean, c.b_half),
                     f"{c.diff:+.3g}{interval}",
                     "" if c.p_value != c.p_value else f"{c.p_value:.2g}",
                     *([c.test] if len({x.test for x in results}) > 1 else []),
                     Text(short.get(c.verdict, c.verdict), style=style)])
    counts = {(x.a_n, x.b_n) for x in results}
    tests = {x.test for x in results}
    def runs(n: int) -> str:
        return f" ({n} run{'' if n == 1 else 's'})" if len(counts) == 1 else ""

    title = f"A: {a}{runs(results[0].a_n)}   B: {b}{runs(results[0].b_n)}"
    detail = (f"{main_space} features, " if main_space else "") + \
        f"mean ± {1 - alpha:.0%} interval" + (f", {tests.pop()}" if len(tests) == 1 else "")
    table = Table(title=f"{title}\n{detail}", title_justify="left", box=box.SIMPLE_HEAD,
                  padding=(0, 1))
    columns = ["metric", "A", "B", "B - A [interval]", "p"] + \
        (["test"] if len({x.test for x in results}) > 1 else []) + ["verdict"]
    for col in columns:
        table.add_column(col, no_wrap=col in ("metric", "verdict"), overflow="fold")
    for row in rows:
        table.add_row(*(cell if isinstance(cell, Text) else Text(str(cell)) for cell in row))
    out.print(table)
    if len(counts) > 1:
        out.print("runs per metric (A / B): " + ", ".join(
            f"{name(c)} {c.a_n}/{c.b_n}" for c in results), soft_wrap=True)
    if any(c.verdict == "no significant difference" for c in results):
        out.print(f"n.s.: no significant difference at alpha = {alpha:g}")
    if versions:
        out.print(Text("made with different plugin versions: " + "; ".join(versions),
                       style="yellow"), soft_wrap=True)
