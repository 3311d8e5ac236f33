"""The ``genbench`` command line: each command is a thin shell over :mod:`genbench.api`.

Start-up stays light (no torch, no pandas) so ``--help``, ``models`` and ``plugins`` are instant;
heavy modules are imported inside the commands that need them.
"""

from __future__ import annotations

import functools
import json
import os
import sys
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer
from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from genbench.errors import GenbenchError
from genbench.results.record import board_stem

app = typer.Typer(
    name="genbench",
    help="Train, score and compare generative models with validated metrics.\n\n"
         "Example: genbench run dcgan --dataset digits",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
    context_settings={"help_option_names": ["-h", "--help"]},
)
leaderboard_app = typer.Typer(help="Show or render leaderboards from the run store.",
                              no_args_is_help=True)
app.add_typer(leaderboard_app, name="leaderboard")

out = Console(highlight=False)
err = Console(stderr=True, highlight=False)


class Format(str, Enum):
    table = "table"
    json = "json"


class Direction(str, Enum):
    AtoB = "AtoB"
    BtoA = "BtoA"


FormatOpt = Annotated[Format, typer.Option("--format", help="table for people, json for scripts.")]
def _named_workdir(value: str | None) -> str | None:
    """An empty --workdir would scatter the store, runs and caches over the current folder."""
    if value is not None and not value.strip():
        raise typer.BadParameter("must name a folder (empty would use the current one), e.g. "
                                 "--workdir genbench-work")
    return value


WorkdirOpt = Annotated[str, typer.Option(
    "--workdir", envvar="GENBENCH_WORKDIR", callback=_named_workdir,
    help="Where runs, checkpoints, the SQLite store and leaderboards are kept.")]
DeviceOpt = Annotated[str, typer.Option("--device", help="auto (CUDA if present), cpu or cuda.")]
MetricsOpt = Annotated[list[str] | None, typer.Option(
    "--metrics", help="Metric families to compute (repeat or comma-separate); default: all that "
                      "apply to the dataset. See `genbench metrics`.")]
NumSamplesOpt = Annotated[int | None, typer.Option(
    "--num-samples", min=2, help="Samples to generate for scoring (default: the size of the "
                                 "reference split).")]

ExtractorOpt = Annotated[str | None, typer.Option(
    "--extractor", help="Feature space for FD/KID/IS/PRDC: evaluator (default for labelled "
                        "images), raw (default otherwise), inception-v3. See `genbench "
                        "extractors`.")]
InceptionOpt = Annotated[str | None, typer.Option(
    "--inception-weights", envvar="GENBENCH_INCEPTION_WEIGHTS",
    help="Local file of torch-fidelity's Inception-v3 weights "
         "(weights-inception-2015-12-05-6726825d.pth), for offline use.")]

DataRootOpt = Annotated[str | None, typer.Option(
    "--data-root", envvar="GENBENCH_DATA_ROOT",
    help="Folder holding downloaded datasets (torchvision layouts) for mnist, cifar10, ...")]

IwaeOpt = Annotated[int, typer.Option(
    "--iwae-k", min=1,
    help="Importance samples per test example for the IWAE likelihood bound of latent-variable "
         "models (VAEs). Values other than 64 are recorded under their own names (bpd@k16).")]

BootstrapOpt = Annotated[int | None, typer.Option(
    "--bootstrap", min=0,
    help="Resamples of the generated set behind each run's own 95% interval for FD and the "
         "mode metrics (value ± 1.96 bootstrap SE). Default: 100, or 10 in feature spaces of "
         "more than 512 dimensions (Inception); 0 turns it off.")]

DEFAULT_WORKDIR = "genbench-work"


def _extractor_options(inception_weights: str | None, iwae_k: int = 64,
                       bootstrap: int | None = None) -> dict:
    options = {"inception_weights": inception_weights} if inception_weights else {}
    if iwae_k != 64:
        options["iwae_k"] = iwae_k
    if bootstrap is not None:
        options["bootstrap"] = bootstrap
    return options


# What Ctrl-C leaves behind, where a command can say.
INTERRUPTED = {
    "run": "rerun the same command with --resume to continue",
    "sweep": "rerun the same command to continue; completed entries are skipped",
    "evaluate": "nothing was stored: the run's metrics and record are as they were",
    "score": "nothing was stored",
}


def friendly(fn):
    """User errors become one line on stderr and exit code 2; Ctrl-C exits 130."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except typer.Exit:
            raise
        except GenbenchError as exc:
            err.print(f"[bold red]error:[/] {escape(str(exc))}", soft_wrap=True)
            raise typer.Exit(2) from None
        except KeyboardInterrupt:
            why = INTERRUPTED.get(fn.__name__)
            err.print("[yellow]interrupted[/]" + (f": {why}" if why else ""))
            raise typer.Exit(130) from None
        except Exception as exc:
            if os.environ.get("GENBENCH_DEBUG"):
                raise
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            err.print(f"[bold red]internal error:[/] {type(exc).__name__}: {escape(first)} "
                      f"(set GENBENCH_DEBUG=1 for the traceback and please report it)",
                      soft_wrap=True)
            raise typer.Exit(1) from None

    return wrapper


def _split(values: list[str] | None) -> list[str] | None:
    if not values:
        return None
    return [v.strip() for item in values for v in item.split(",") if v.strip()]


def _print_json(data) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


def _table(title: str, columns: list[str], rows: list[list[str]]) -> Table:
    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD)
    for col in columns:
        table.add_column(col, overflow="fold")
    for row in rows:
        # Text, not markup: metric names such as "FD[raw]" must print as they are.
        table.add_row(*(cell if isinstance(cell, Text) else Text(str(cell)) for cell in row))
    return table


@app.command()
@friendly
def models(fmt: FormatOpt = Format.table) -> None:
    """List the generative models that installed plugins provide."""
    from genbench.plugins import get_registries

    reg = get_registries()
    rows = [{"name": m.name, "family": m.family, "data": list(m.accepts),
             "capabilities": list(m.capabilities), "plugin": reg.models.owners[m.name],
             "summary": m.summary, "paper": m.paper} for m in reg.models]
    if fmt == Format.json:
        return _print_json(rows)
    out.print(_table("Models", ["name", "family", "data", "plugin", "summary"],
                     [[r["name"], r["family"], ", ".join(r["data"]), r["plugin"], r["summary"]]
                      for r in rows]))


@app.command()
@friendly
def datasets(fmt: FormatOpt = Format.table) -> None:
    """List the datasets genbench can train and score on."""
    from genbench.plugins import get_registries

    reg = get_registries()
    rows = [{"name": d.name, "argument": d.argument, "kind": d.kind,
             "shape": list(d.shape), "target_shape": list(d.target_shape),
             "classes": d.num_classes, "plugin": reg.datasets.owners[d.name],
             "summary": d.summary, "source": d.source}
            for d in reg.datasets]
    if fmt == Format.json:
        return _print_json(rows)

    def shape(row) -> str:
        text = "x".join(map(str, row["shape"]))
        return text + (" → " + "x".join(map(str, row["target_shape"]))
                       if row["target_shape"] else "")

    out.print(_table("Datasets", ["name", "kind", "shape", "plugin", "summary"],
                     [[r["name"] + (f":{r['argument']}" if r["argument"] else ""), r["kind"],
                       shape(r), r["plugin"], r["summary"]] for r in rows]))


@app.command()
@friendly
def metrics(fmt: FormatOpt = Format.table) -> None:
    """List the metric families and what each one outputs (↑ higher is better)."""
    from genbench.plugins import get_registries

    reg = get_registries()
    rows = [{"name": m.name, "outputs": m.outputs, "uses_features": m.uses_features,
             "plugin": reg.metrics.owners[m.name], "summary": m.summary,
             "reference": m.reference} for m in reg.metrics]
    if fmt == Format.json:
        return _print_json(rows)
    out.print(_table("Metrics", ["name", "outputs", "plugin", "summary"], [
        [r["name"], ", ".join(f"{k} {'↑' if v else '↓'}" for k, v in r["outputs"].items()),
         r["plugin"], r["summary"]] for r in rows]))


@app.command()
@friendly
def extractors(fmt: FormatOpt = Format.table) -> None:
    """List the feature extractors (the spaces metrics are computed in)."""
    from genbench.plugins import get_registries

    reg = get_registries()
    rows = [{"name": e.name, "plugin": reg.extractors.owners[e.name], "summary": e.summary}
            for e in reg.extractors]
    if fmt == Format.json:
        return _print_json(rows)
    out.print(_table("Feature extractors", ["name", "plugin", "summary"],
                     [[r["name"], r["plugin"], r["summary"]] for r in rows]))


@app.command()
@friendly
def score(
    real: Annotated[str, typer.Argument(help="Real samples: an image folder, or a .npy/.npz "
                                             "array of images (or of N x D features with "
                                             "--extractor raw).")],
    fake: Annotated[str, typer.Argument(help="Generated samples, in the same form.")],
    metrics_: Annotated[list[str] | None, typer.Option(
        "--metrics", help="Any of fd, kid, prdc, is (repeat or comma-separate); default: all "
                          "that apply (is needs an extractor with logits).")] = None,
    extractor: Annotated[str, typer.Option(
        "--extractor", help="inception-v3 (needs its weights: --inception-weights) or raw "
                            "(pixels or given features).")] = "inception-v3",
    k: Annotated[int, typer.Option("--k", min=1, help="Neighbours for precision, recall, "
                                                      "density and coverage (all four).")] = 5,
    inception_weights: InceptionOpt = None,
    device: DeviceOpt = "auto",
    workdir: WorkdirOpt = DEFAULT_WORKDIR,
    fmt: FormatOpt = Format.table,
) -> None:
    """Score two sample sets made elsewhere: FD (FID on Inception), KID, precision, recall,
    density, coverage and IS.

    Precision/recall/density/coverage all use k=5 here (the prdc package's default) unless
    --k says otherwise; `genbench run` uses the papers' k=3 for precision/recall.
    JSON output is one object keyed fid, kid_mean, kid_std, precision, recall, density,
    coverage, is_mean, is_std.
    """
    from genbench import api

    progress, _, evaluating = _progress_bar(err if fmt == Format.json else out)
    with progress:
        progress.remove_task(progress.task_ids[0])
        result = api.score(real, fake, metrics=_split(metrics_), extractor=extractor, k=k,
                           device=device, workdir=workdir, report=evaluating,
                           extractor_options=_extractor_options(inception_weights))
    if fmt == Format.json:
        return _print_json(result)
    keys = [key for key in api.SCORE_KEYS.values() if key in result]
    out.print(_table(f"{result['n_real']} real vs {result['n_fake']} generated, "
                     f"{result['extractor']} features", ["metric", "value"],
                     [[key, f"{result[key]:.6g}"] for key in keys]
                     + [[name, "not computed"] for name in result.get("not_computed", {})]))
    _print_not_computed(result.get("not_computed", {}))


def _print_not_computed(skipped: dict[str, str]) -> None:
    """One line per reason: the metrics a feature space could not give, and why."""
    by_reason: dict[str, list[str]] = {}
    for name, why in skipped.items():
        by_reason.setdefault(why, []).append(name)
    for why, names in by_reason.items():
        out.print(Text(f"  not computed: {', '.join(names)}: {why}", style="yellow"),
                  soft_wrap=True)


@app.command()
@friendly
def plugins(fmt: FormatOpt = Format.table) -> None:
    """List discovered plugins, what each provides, and why any failed to load."""
    from genbench.plugins import get_registries

    infos = get_registries().plugins
    if fmt == Format.json:
        return _print_json([vars(p) for p in infos])
    rows = []
    for p in infos:
        provides = "; ".join(f"{k}: {', '.join(v)}" for k, v in p.provides.items())
        status = Text(p.status, style={"loaded": "green", "disabled": "yellow"}.get(
            p.status, "red"))
        rows.append([p.name, f"{p.distribution} {p.version}", status,
                     p.error or provides])
    out.print(_table("Plugins", ["name", "distribution", "status", "provides / error"], rows))


# Where the output is no terminal (a CI log, nohup, | tee) a bar cannot redraw: each task
# prints a plain line when it starts, at most every this many seconds, and when it ends.
PLAIN_PROGRESS_SECONDS = float(os.environ.get("GENBENCH_PROGRESS_SECONDS", 30))


def _line_progress(console: Console):
    """A rich Progress that draws nothing and prints plain, throttled lines instead."""
    import time

    from rich.progress import Progress

    def clock(seconds: float | None) -> str:
        if seconds is None:
            return "?"
        minutes, secs = divmod(int(seconds), 60)
        return f"{minutes // 60}:{minutes % 60:02d}:{secs:02d}"

    class LineProgress(Progress):
        def __init__(self) -> None:
            super().__init__(console=console, disable=True)
            self._printed: dict = {}  # task id -> (time printed, finished then)

        def _line(self, task_id) -> None:
            task = self._tasks.get(task_id)
            if task is None or not task.visible:
                return
            now = time.monotonic()
            last, was_done = self._printed.get(task_id, (None, False))
            done = task.total is not None and task.completed >= task.total
            if was_done or not (last is None or (done and not was_done)
                                or now - last >= PLAIN_PROGRESS_SECONDS):
                return
            self._printed[task_id] = (now, done)
            total = "?" if task.total is None else f"{task.total:g}"
            share = f" {100 * task.completed / task.total:3.0f}%" if task.total else ""
            left = "" if done or task.time_remaining is None else \
                f", ~{clock(task.time_remaining)} left"
            extra = task.fields.get("losses", "")
            console.print(f"{task.description} {task.completed:g}/{total}{share} "
                          f"({clock(task.elapsed or 0)} elapsed{left})"
                          + (f"  {extra}" if extra else ""), markup=False, highlight=False,
                          soft_wrap=True)

        def update(self, task_id, **kwargs) -> None:
            super().update(task_id, **kwargs)
            self._line(task_id)

        def advance(self, task_id, advance: float = 1) -> None:
            super().advance(task_id, advance)
            self._line(task_id)

        def reset(self, task_id, **kwargs) -> None:
            super().reset(task_id, **kwargs)
            self._printed.pop(task_id, None)  # its next update starts a new line series

    return LineProgress()


def _progress_bar(console: Console, progress=None):
    """A training bar and an evaluation bar (added when scoring starts) for one run, and the
    callbacks api.run drives them with; a sweep passes its own ``progress`` to hold them.
    Without a terminal the bars are plain periodic lines (:func:`_line_progress`)."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    if progress is None and not console.is_terminal:
        progress = _line_progress(console)
    elif progress is None:
        progress = Progress(TextColumn("[bold]{task.description:<10}"), BarColumn(bar_width=24),
                            MofNCompleteColumn(), TimeElapsedColumn(), TimeRemainingColumn(),
                            TextColumn("{task.fields[losses]}", markup=False), console=console,
                            transient=False)
    # Shown from the model's first step: the evaluator may train before it (its own row).
    task = progress.add_task("training", total=None, losses="", visible=False)
    rows: dict[str, object] = {}

    def fit(text: str) -> str:
        if not progress.live.console.is_terminal:
            return text  # a plain line may be long: nothing redraws it
        room = max(0, console.width - 62)  # the text gives way before the bar and counts
        return text if len(text) <= room else text[:max(0, room - 1)] + "…"

    def evaluating(what: str, done: int, total: int) -> None:
        if what.startswith("training the "):  # the evaluator, once per workdir
            row, what = "evaluator", what.removeprefix("training the ")
        else:
            row = "evaluating"
        if row not in rows:
            rows[row] = progress.add_task(row, total=total, losses="")
        progress.update(rows[row], completed=done, total=total, losses=fit(what))

    def update(step: int, total: int, losses: dict[str, float]) -> None:
        if step == 1 or step % 10 == 0 or step == total:
            text = "  ".join(f"{k} {v:.3g}" for k, v in losses.items())
            if not progress.tasks[progress.task_ids.index(task)].visible:
                progress.reset(task, visible=True)  # its clock starts with the model's steps
            progress.update(task, completed=step, total=total, losses=fit(text))

    return progress, update, evaluating


def _show_record(record, workdir: str) -> None:
    from pathlib import Path

    colour = {"completed": "green", "diverged": "yellow"}.get(record.status, "red")
    out.print(f"\n[bold]{record.run_id}[/]: [{colour}]{record.status}[/] after {record.steps} "
              f"steps in {record.wall_time:.1f} s on {record.device}"
              + (f" — {escape(record.message)}" if record.message else ""))
    skipped = record.evaluation.get("not_computed") or {}
    if record.metrics or skipped:
        out.print(_table("Metrics", ["metric", "value", "better", "real / generated"], [
            [m.name, f"{m.value:.4g}", "↑" if m.higher_is_better else "↓",
             f"{m.n_real} / {m.n_fake}"] for m in record.metrics]
            + [[name, "not computed", "", ""] for name in skipped]))
        _print_not_computed(skipped)
    run_dir = Path(record.run_dir)
    files = [("samples", run_dir / "samples.png"), ("losses", run_dir / "losses.png"),
             ("reconstructions", run_dir / "reconstructions.png"),
             ("translations", run_dir / "translations.png"),
             ("latent codes", run_dir / "latent.png"), ("record", run_dir / "record.json"),
             ("store", Path(workdir) / "genbench.sqlite"),
             ("leaderboard", Path(workdir) / "leaderboards" / f"{board_stem(record.dataset)}.md")]
    for label, path in files:
        if path.exists():
            out.print(f"  {label:<16} {escape(str(path))}", soft_wrap=True)
    if record.status == "completed":
        _show_leaderboard(workdir, record.dataset, highlight=record.run_id, limit=10)


SHORT_NAMES = {"precision": "prec", "recall": "rec", "density": "dens", "coverage": "cov",
               "kid_mean": "KID", "is_mean": "IS", "modes_covered": "modes",
               "high_quality": "HQ%", "reverse_kl": "rKL"}


def _split_column(column: str) -> tuple[str, str, str]:
    """``precision[evaluator] ↑`` -> ("prec", "evaluator", "↑")."""
    name, _, arrow = column.rpartition(" ")
    base, _, space = name.partition("[")
    return SHORT_NAMES.get(base, base), space.rstrip("]"), arrow


PRIORITY = ("modes", "HQ%", "rKL", "FID", "FD", "IS", "prec", "rec", "cov", "dens", "KID",
            "NDB/K")


def _fit_columns(frame, labels: dict[str, str], metric_base: dict[str, str], width: int):
    """Keep the identity columns, then metrics in PRIORITY order while the table fits."""
    def col_width(col) -> int:
        cells = [f"{v:.3g}" if isinstance(v, float) else str(v) for v in frame[col]]
        return max(len(labels[col]), *map(len, cells)) + 3

    keep = [c for c in frame.columns if c not in metric_base]
    used = sum(col_width(c) for c in keep) + 2
    rank = {name: i for i, name in enumerate(PRIORITY)}
    dropped = 0
    for col in sorted(metric_base, key=lambda c: rank.get(metric_base[c], len(PRIORITY))):
        if used + col_width(col) <= width:
            keep.append(col)
            used += col_width(col)
        else:
            dropped += 1
    return frame[[c for c in frame.columns if c in keep]], dropped


def _show_leaderboard(workdir: str, dataset: str, highlight: str | None = None,
                      limit: int | None = None, budget: float | None = None) -> None:
    """The terminal view: identity and as many metrics as fit, under short names, the feature
    space in the title; the Markdown and CSV files hold every column."""
    from collections import Counter

    from genbench.results.leaderboard import at_budget, leaderboard_frame
    from genbench.results.store import open_store

    records = open_store(workdir).runs(dataset=dataset)
    if budget is not None:
        records = at_budget(records, budget)
    frame = leaderboard_frame(records)
    if frame.empty:
        out.print(f"no completed runs on {dataset} yet" if budget is None else
                  f"no run on {dataset} was evaluated within {budget:g} s of training "
                  f"(train with --eval-every N to record quality along the way)")
        return
    runs = list(frame["run"])
    shown = frame.drop(columns=["rank", "steps", "wall time (s)", "device", "run"])
    shown = shown[[c for c in shown.columns if "_std" not in c]]
    title = f"Leaderboard: {dataset}"
    if shown["profile"].nunique() == 1:
        title += f", {shown['profile'].iloc[0]} profile"
        shown = shown.drop(columns=["profile"])
    if not shown["settings"].any():
        shown = shown.drop(columns=["settings"])
    if limit:
        shown = shown.head(limit)
    identity = {"model", "profile", "settings", "samples", "seed"}
    parts = {c: _split_column(c) for c in shown.columns if c not in identity}
    spaces = Counter(space for _, space, _ in parts.values() if space)
    main_space = spaces.most_common(1)[0][0] if spaces else ""
    labels = {c: c for c in shown.columns}
    for col, (name, space, arrow) in parts.items():
        tag = f"[{space}]" if space and space != main_space else ""
        labels[col] = f"{name}{tag} {arrow}"
    shown, hidden = _fit_columns(shown, labels, {c: p[0] for c, p in parts.items()}, out.width)
    if main_space:
        title += f", {main_space} features"
    if highlight:
        title += " (this run highlighted)"
    if budget is not None:
        title += f", at {budget:g} s of training"
    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, padding=(0, 1))
    for col in shown.columns:
        table.add_column(Text(labels[col]), no_wrap=True)
    for i, (_, row) in enumerate(shown.iterrows()):
        cells = [Text(f"{v:.3g}" if isinstance(v, float) else str(v)) for v in row]
        table.add_row(*cells, style="bold cyan" if runs[i] == highlight else None)
    out.print(table)
    board = Path(workdir) / "leaderboards" / f"{board_stem(dataset)}.md"
    more = f"{hidden} more columns and " if hidden else ""
    out.print(Text(f"  rows best first; {more}every run's details in {board}", style="dim"),
              soft_wrap=True)


@app.command()
@friendly
def run(
    model: Annotated[str, typer.Argument(help="Model name, see `genbench models`.")],
    dataset: Annotated[str, typer.Option("--dataset", "-d", help="Dataset name, see "
                                         "`genbench datasets`; folder datasets take their "
                                         "path: paired-folder:PATH.")],
    profile: Annotated[str, typer.Option(help="quick: minutes on a CPU; standard: a paper-like "
                                              "budget for a GPU.")] = "quick",
    seed: Annotated[int, typer.Option(help="Seeds weights, batches and sampling.")] = 0,
    steps: Annotated[int | None, typer.Option(help="Training steps (overrides the profile).")]
    = None,
    device: DeviceOpt = "auto",
    set_: Annotated[list[str] | None, typer.Option(
        "--set", help="Override a model setting, e.g. --set lr_g=1e-4 (repeatable).")] = None,
    workdir: WorkdirOpt = DEFAULT_WORKDIR,
    resume: Annotated[bool, typer.Option(
        "--resume", metavar="",
        help="Continue the latest interrupted or killed run with the same model, dataset, "
             "seed and settings from its last checkpoint.")] = False,
    metrics_: MetricsOpt = None,
    num_samples: NumSamplesOpt = None,
    extractor: ExtractorOpt = None,
    inception_weights: InceptionOpt = None,
    data_root: DataRootOpt = None,
    iwae_k: IwaeOpt = 64,
    bootstrap: BootstrapOpt = None,
    eval_every: Annotated[int, typer.Option(
        "--eval-every", min=0, metavar="N",
        help="Also score the model every N training steps and record quality against training "
             "seconds (the report's quality-vs-compute plot; `leaderboard show --at-budget`). "
             "0: only at the end.")] = 0,
    direction: Annotated[Direction, typer.Option(
        "--direction", help="Translation datasets: AtoB, or BtoA to swap the domains (the "
                            "same as adding :BtoA to the dataset's name).")] = Direction.AtoB,
    fmt: FormatOpt = Format.table,
) -> None:
    """Train MODEL on a dataset, score it, store the record and update the leaderboard.

    Writes a sample grid (or a scatter plot for 2-D data), the training curves, a checkpoint
    and a JSON record under WORKDIR/runs/RUN_ID/, and the leaderboard under
    WORKDIR/leaderboards/. Ctrl-C once stops after the current step with a checkpoint.
    """
    from genbench import api

    if direction == Direction.BtoA and not dataset.endswith(":BtoA"):
        dataset = f"{dataset}:BtoA"
    console = err if fmt == Format.json else out
    names = api.expand_classes(dataset)
    records = []
    for name in names:
        if len(names) > 1:
            console.print(f"[bold]{escape(model)} on {escape(name)}[/] "
                          f"({len(records) + 1} of {len(names)})")
        progress, update, evaluating = _progress_bar(console)
        with progress:
            record = api.run(model, name, profile=profile, seed=seed, steps=steps,
                             device=device, overrides=tuple(set_ or ()), workdir=workdir,
                             resume=resume, metrics=_split(metrics_), num_samples=num_samples,
                             progress=update, eval_progress=evaluating, extractor=extractor,
                             notify=lambda text: console.print(escape(text), soft_wrap=True),
                             extractor_options=_extractor_options(inception_weights, iwae_k,
                                                                  bootstrap),
                             data_root=data_root, eval_every=eval_every)
        records.append(record)
        if record.status == "interrupted":
            break
    if len(names) > 1:
        return _finish_classes(records, names, fmt)
    if fmt == Format.json:
        _print_json(record.to_dict())
    else:
        _show_record(record, workdir)
    if record.status == "interrupted":
        err.print("checkpoint saved: rerun the same command with --resume to continue")
        raise typer.Exit(130)
    if record.status != "completed":
        raise typer.Exit(1)


def _finish_classes(records, names: list[str], fmt: Format) -> None:
    """After ``--dataset NAME:all``: one row per class and the mean over classes."""
    if fmt == Format.json:
        _print_json([r.to_dict() for r in records])
    else:
        metrics = list(dict.fromkeys(m.name for r in records for m in r.metrics))
        rows, sums = [], {m: [] for m in metrics}
        for r in records:
            values = r.metric_map()
            for m in metrics:
                if m in values:
                    sums[m].append(values[m])
            rows.append([r.dataset, r.status] + [f"{values[m]:.4g}" if m in values else ""
                                                 for m in metrics] + [r.run_id])
        rows.append(["mean", f"{sum(r.status == 'completed' for r in records)}/{len(names)}"]
                    + [f"{sum(v) / len(v):.4g}" if v else "" for v in sums.values()] + [""])
        out.print(_table(f"{records[0].model}: every class", ["dataset", "status"] + metrics
                         + ["run"], rows))
    if any(r.status == "interrupted" for r in records):
        err.print("interrupted: rerun the same command to continue (finished classes are kept; "
                  "--resume continues the interrupted one)")
        raise typer.Exit(130)
    if any(r.status != "completed" for r in records):
        raise typer.Exit(1)


@app.command()
@friendly
def evaluate(
    target: Annotated[str, typer.Argument(help="A run id (see `genbench runs`) or a "
                                               "checkpoint file.", metavar="RUN|CHECKPOINT")],
    metrics_: MetricsOpt = None,
    num_samples: NumSamplesOpt = None,
    workdir: WorkdirOpt = DEFAULT_WORKDIR,
    device: DeviceOpt = "auto",
    extractor: ExtractorOpt = None,
    inception_weights: InceptionOpt = None,
    data_root: DataRootOpt = None,
    iwae_k: IwaeOpt = 64,
    bootstrap: BootstrapOpt = None,
    fmt: FormatOpt = Format.table,
) -> None:
    """Score a trained model again without training, and update its stored record."""
    from genbench import api

    progress, _, evaluating = _progress_bar(err if fmt == Format.json else out)
    with progress:
        progress.remove_task(progress.task_ids[0])
        record = api.evaluate(target, workdir=workdir, metrics=_split(metrics_),
                              num_samples=num_samples, device=device, eval_progress=evaluating,
                              extractor=extractor,
                              extractor_options=_extractor_options(inception_weights, iwae_k,
                                                                   bootstrap),
                              data_root=data_root)
    if fmt == Format.json:
        return _print_json(record.to_dict())
    _show_record(record, workdir)


@app.command()
@friendly
def samples(
    target: Annotated[str, typer.Argument(help="A run id (see `genbench runs`) or a "
                                               "checkpoint file.", metavar="RUN|CHECKPOINT")],
    n: Annotated[int, typer.Option("--n", "-n", min=1, max=1024,
                                   help="Samples (or translated test images) in the grid.")] = 64,
    seed: Annotated[int, typer.Option(help="Seeds the latent draws.")] = 0,
    interpolate: Annotated[bool, typer.Option(
        "--interpolate", help="Also write latent interpolations (8 rows of 10 steps).")] = False,
    out_dir: Annotated[str | None, typer.Option(
        "--out", help="Folder for the PNGs (default: the run's folder).")] = None,
    workdir: WorkdirOpt = DEFAULT_WORKDIR,
    device: DeviceOpt = "auto",
    data_root: DataRootOpt = None,
) -> None:
    """Write pictures of a trained model: a sample grid (a scatter plot for 2-D data), latent
    interpolations, a class-by-row grid for conditional models, a code traversal for InfoGAN."""
    from genbench import api

    for path in api.samples(target, workdir=workdir, n=n, seed=seed, interpolate=interpolate,
                            out_dir=out_dir, device=device, data_root=data_root):
        out.print(f"wrote {escape(str(path))}", soft_wrap=True)


runs_app = typer.Typer()
app.add_typer(runs_app, name="runs")


@runs_app.callback(invoke_without_command=True)
@friendly
def runs(
    ctx: typer.Context,
    dataset: Annotated[str | None, typer.Option("--dataset", "-d", help="Only this dataset.")]
    = None,
    workdir: WorkdirOpt = DEFAULT_WORKDIR,
    fmt: FormatOpt = Format.table,
) -> None:
    """List stored runs (newest last, any status), show one in full, or export them.

    Without a subcommand: the list. `genbench runs show RUN` prints one record in full;
    `genbench runs export --out FILE` writes the store as CSV or Parquet for pandas.
    """
    if ctx.invoked_subcommand is not None:
        return
    from genbench.results.store import open_store

    records = open_store(workdir).runs(dataset=dataset)
    if fmt == Format.json:
        return _print_json([r.to_dict() for r in records])
    out.print(_table("Runs", ["run", "model", "dataset", "profile", "seed", "status", "steps"], [
        [r.run_id, r.model, r.dataset, r.profile, str(r.seed), r.status, str(r.steps)]
        for r in records]))


def _from_runs(ctx: typer.Context, name: str, value):
    """A `runs` subcommand's option, or the one given before it (`genbench runs --workdir W
    show RUN`)."""
    return value if value is not None else ctx.parent.params.get(name)


SubWorkdirOpt = Annotated[str | None, typer.Option(
    "--workdir", envvar="GENBENCH_WORKDIR", callback=_named_workdir,
    help="Where runs, checkpoints, the SQLite store and leaderboards are kept "
         f"(default: {DEFAULT_WORKDIR}).", show_default=False)]


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, (dict, list, tuple)):
        return json.dumps(value, default=str)
    return str(value)


def _pairs(title: str, items: dict) -> Table:
    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, show_header=False,
                  min_width=len(title))
    table.add_column(style="bold", no_wrap=True)
    table.add_column(overflow="fold")
    for key, value in items.items():
        table.add_row(Text(str(key)), value if isinstance(value, Text) else Text(_cell(value)))
    return table


@runs_app.command("show")
@friendly
def runs_show(
    ctx: typer.Context,
    run_id: Annotated[str, typer.Argument(help="A run id, see `genbench runs`.",
                                          metavar="RUN")],
    workdir: SubWorkdirOpt = None,
    fmt: Annotated[Format | None, typer.Option(
        "--format", help="table for people, json for scripts (the record as stored).",
        show_default=False)] = None,
) -> None:
    """Print one stored run in full.

    Identity, status, git revision and configuration hash; the resolved configuration (*
    marks settings changed from the profile); hardware; library versions; the feature
    extractors with their keys and accuracy; every metric with its direction, family,
    extractor, sample counts and 95% interval; and the quality-against-compute trajectory.
    """
    from genbench.results.store import open_store

    record = open_store(_from_runs(ctx, "workdir", workdir)).get(run_id)
    if _from_runs(ctx, "fmt", fmt) == Format.json:
        return _print_json(record.to_dict())
    colour = {"completed": "green", "diverged": "yellow"}.get(record.status, "red")
    out.print(_pairs(f"Run {record.run_id}", {
        "model": record.model, "dataset": record.dataset, "split": record.split,
        "profile": record.profile, "seed": record.seed,
        "status": Text(record.status, style=colour), "message": record.message,
        "steps": record.steps, "wall time": f"{record.wall_time:.1f} s",
        "device": record.device, "created": record.created, "updated": record.updated,
        "run dir": record.run_dir, "git revision": record.git_revision or "unknown",
        "config hash": record.config_hash, "overrides": " ".join(record.overrides)}))
    changed = {item.partition("=")[0].strip().replace("-", "_") for item in record.overrides}
    out.print(_pairs("Configuration (* = overridden)", {
        f"{key}{' *' if key in changed else ''}": value
        for key, value in record.config.items()}))
    out.print(_pairs("Hardware", record.hardware))
    out.print(_pairs("Versions", record.versions))
    if record.extractors:
        out.print(_pairs("Feature extractors", {
            name: ", ".join(f"{k}={_cell(v)}" for k, v in info.items())
            for name, info in record.extractors.items()}))
    if record.metrics:
        out.print(_table("Metrics", ["metric", "value", "better", "family", "extractor",
                                     "real", "generated", "95% interval"], [
            [m.name, _cell(m.value), "↑" if m.higher_is_better else "↓", m.metric,
             m.extractor or "", str(m.n_real), str(m.n_fake),
             f"[{m.ci_low:.4g}, {m.ci_high:.4g}]"
             if m.ci_low is not None and m.ci_high is not None else ""]
            for m in record.metrics]))
    if record.trajectory:
        names = list(dict.fromkeys(n for p in record.trajectory for n in p.get("metrics", {})))
        out.print(_table("Trajectory (seconds: training time)", ["step", "seconds", *names], [
            [str(p.get("step", "")), _cell(p.get("seconds")),
             *(_cell(p.get("metrics", {}).get(n)) for n in names)]
            for p in record.trajectory]))


class ExportFormat(str, Enum):
    csv = "csv"
    parquet = "parquet"


@runs_app.command("export")
@friendly
def runs_export(
    ctx: typer.Context,
    out_file: Annotated[str, typer.Option(
        "--out", help="File to write (replaced atomically): runs.csv or runs.parquet.",
        metavar="FILE")],
    export_format: Annotated[ExportFormat | None, typer.Option(
        "--format", help="csv or parquet (needs pyarrow); default: from FILE's extension.",
        show_default=False)] = None,
    dataset: Annotated[str | None, typer.Option("--dataset", "-d", help="Only this dataset.")]
    = None,
    status: Annotated[str | None, typer.Option(
        "--status", help="Only runs with this status, e.g. completed.")] = None,
    wide: Annotated[bool, typer.Option(
        "--wide", help="One row per run with a column per metric, instead of one row per "
                       "run and metric.")] = False,
    workdir: SubWorkdirOpt = None,
) -> None:
    """Write the store as a CSV or Parquet table for pandas.

    By default one row per (run, metric): the run's identity (run_id, model, dataset, split,
    profile, seed, status, message, steps, wall_time, device, git_revision, created, updated,
    config_hash, overrides, config as JSON), then the metric's columns (metric, value,
    higher_is_better, family, extractor, n_real, n_fake, ci_low, ci_high); a run without
    metrics gets one row with those blank. --wide gives one row per run instead.

    Read it back with pandas.read_csv(FILE) or pandas.read_parquet(FILE).
    """
    from genbench.results.export import export
    from genbench.results.store import open_store

    records = open_store(_from_runs(ctx, "workdir", workdir)).runs(
        dataset=dataset or _from_runs(ctx, "dataset", None), status=status)
    path, rows = export(records, out_file, export_format.value if export_format else None,
                        wide=wide)
    out.print(f"wrote {rows} rows ({len(records)} runs) to {escape(str(path))}", soft_wrap=True)


@runs_app.command("import")
@friendly
def runs_import(
    ctx: typer.Context,
    sources: Annotated[list[str], typer.Argument(
        help="record.json files, or folders holding them (e.g. leaderboards/records, or "
             "another workdir's runs/).", metavar="RECORD.json|DIR...")],
    replace: Annotated[bool, typer.Option(
        "--replace", help="Overwrite runs the store already has (same run id).")] = False,
    workdir: SubWorkdirOpt = None,
) -> None:
    """Add run records made elsewhere (another machine, a GPU box, the committed
    leaderboards/records) to this workdir's store, e.g. to render them together."""
    from genbench.results.export import read_records
    from genbench.results.store import Store

    folder = Path(_from_runs(ctx, "workdir", workdir) or DEFAULT_WORKDIR)
    folder.mkdir(parents=True, exist_ok=True)
    store = Store(folder)
    have = {r.run_id for r in store.runs()}
    added = skipped = 0
    for record in read_records(sources):
        if record.run_id in have and not replace:
            skipped += 1
            continue
        store.save(record)
        added += 1
    out.print(f"imported {added} runs into {escape(str(store.path))}"
              + (f"; {skipped} already there (--replace overwrites them)" if skipped else ""),
              soft_wrap=True)


class _SweepDisplay:
    """One live display for a sweep: an overall bar over the current run's own bars, and a
    line for each entry as it finishes."""

    def __init__(self, console: Console, planned: list) -> None:
        self.console = console
        self.total = len(planned)
        self.progress, _, _ = _progress_bar(console)
        self.progress.remove_task(self.progress.task_ids[0])
        self.overall = self.progress.add_task("sweep", total=self.total, losses="")

    def watch(self, index: int, item):
        from contextlib import contextmanager

        @contextmanager
        def watching():
            resume = " (resuming)" if item.action == "resume" else ""
            self.progress.update(self.overall, losses=item.entry.label + resume)
            before = set(self.progress.task_ids)
            _, update, evaluating = _progress_bar(self.console, self.progress)
            try:
                yield update, evaluating
            finally:
                for task in set(self.progress.task_ids) - before:
                    self.progress.remove_task(task)
                self.progress.update(self.overall, losses="")

        return watching()

    def report(self, index: int, outcome) -> None:
        self.progress.advance(self.overall)
        colour = {"completed": "green", "skipped": "dim", "diverged": "yellow",
                  "not run": "dim"}.get(outcome.status, "red")
        line = Text(f"{index + 1:>{len(str(self.total))}}/{self.total} {outcome.entry.label}: ")
        line.append(outcome.status, style=colour)
        if outcome.status == "skipped":
            line.append(f" (completed as {outcome.run_id})", style="dim")
        elif outcome.status != "not run":
            line.append(f" in {outcome.wall_time:.1f} s")
            if outcome.metric:
                line.append(f", {outcome.metric[0]} {outcome.metric[1]:.4g}")
            if outcome.message and outcome.status != "completed":
                line.append(f": {outcome.message}")
        self.progress.console.print(line, soft_wrap=True)


def _show_plan(planned: list) -> None:
    todo = sum(p.action != "skip" for p in planned)
    out.print(_table(f"Sweep: {len(planned)} entr{'y' if len(planned) == 1 else 'ies'}, "
                     f"{todo} to run, "
                     f"{len(planned) - todo} done already",
                     ["#", "model", "dataset", "seed", "profile", "settings", "action", "run"],
                     [[str(i), p.entry.model, p.entry.dataset, str(p.entry.seed),
                       p.entry.profile, " ".join(p.entry.settings),
                       {"skip": "skip (done)", "resume": "resume"}.get(p.action, "run"),
                       p.record.run_id if p.record else ""]
                      for i, p in enumerate(planned, 1)]))


def _show_sweep(result, boards: list, out_dir: Path) -> None:
    colour = {"completed": "green", "skipped": "dim", "diverged": "yellow", "not run": "dim"}
    out.print(_table("Sweep summary", ["#", "entry", "status", "wall time (s)", "main metric",
                                       "run / message"], [
        [str(i), o.entry.label, Text(o.status, style=colour.get(o.status, "red")),
         f"{o.wall_time:.1f}" if o.status != "not run" else "",
         f"{o.metric[0]} {o.metric[1]:.4g}" if o.metric else "",
         o.run_id if o.status in ("completed", "skipped") else (o.message or o.run_id)]
        for i, o in enumerate(result.outcomes, 1)]))
    counts = result.counts()
    order = ("completed", "skipped", "diverged", "failed", "interrupted", "not run")
    out.print(", ".join(f"{counts[s]} {s}" for s in order if s in counts)
              + (f"; leaderboards in {escape(str(out_dir))}" if boards else ""), soft_wrap=True)


@app.command()
@friendly
def sweep(
    spec: Annotated[str | None, typer.Argument(
        help="A TOML sweep file: profile, seeds, steps and set at the top, then \\[\\[run]] "
             "tables of models and datasets (each may set its own seeds, profile, steps, "
             "set). See docs/sweeps.md.", metavar="SPEC.toml",
        show_default=False)] = None,
    model: Annotated[list[str] | None, typer.Option(
        "--model", "-m", help="Models to run (repeat or comma-separate). With a sweep file: "
                              "run only the file's entries of these models.")] = None,
    dataset: Annotated[list[str] | None, typer.Option(
        "--dataset", "-d", help="Datasets (repeat or comma-separate). With a sweep file: run "
                                "only the file's entries on these datasets.")] = None,
    seeds: Annotated[list[str] | None, typer.Option(
        "--seeds", help="The seeds themselves, not a count: --seeds 0,1,2 runs three seeds, "
                        "--seeds 3 runs seed 3 only. Default: 0, or the file's; replaces "
                        "the file's.")] = None,
    profile: Annotated[str | None, typer.Option(
        help="quick or standard; default quick, or the file's (which this replaces).",
        show_default=False)] = None,
    steps: Annotated[int | None, typer.Option(
        min=1, help="Training steps for every entry (overrides the profile and the file).")]
    = None,
    set_: Annotated[list[str] | None, typer.Option(
        "--set", help="A model setting for every entry, e.g. --set lr_g=1e-4 (repeatable; "
                      "applied after the file's).")] = None,
    device: DeviceOpt = "auto",
    workdir: WorkdirOpt = DEFAULT_WORKDIR,
    data_root: DataRootOpt = None,
    out_dir: Annotated[str | None, typer.Option(
        "--out", help="Folder for the leaderboards rendered at the end (default: "
                      "WORKDIR/leaderboards).", show_default=False)] = None,
    dry_run: Annotated[bool, typer.Option(
        "--dry-run", help="Print the plan (what runs, what is skipped) and exit.")] = False,
    fail_fast: Annotated[bool, typer.Option(
        "--fail-fast/--keep-going", help="Stop at the first failed or diverged entry, or go "
                                         "on and exit non-zero at the end.")] = False,
    fmt: FormatOpt = Format.table,
) -> None:
    """Run every model on every dataset with every seed, then render their leaderboards.

    Entries run one after another, in this process, each checked before anything runs
    (names, model/dataset pairs, settings). An entry is skipped when the store already holds
    a completed run with the same model, dataset, seed and configuration, so rerunning an
    interrupted sweep continues where it stopped (an entry interrupted with a checkpoint
    resumes from it). Exit code 1 if an entry failed or diverged, 130 after Ctrl-C.

    Example: genbench sweep --model gan,wgan-gp --dataset ring8,grid25 --seeds 0,1,2
    """
    from genbench import sweep as sweeps

    blocks = sweeps.make_blocks(spec, models=_split(model), datasets=_split(dataset),
                                seeds=sweeps.parse_seeds(seeds), profile=profile, steps=steps,
                                overrides=tuple(set_ or ()))
    planned = sweeps.plan(sweeps.expand(blocks), workdir)
    if dry_run:
        if fmt == Format.json:
            return _print_json({"entries": [p.to_dict() for p in planned]})
        return _show_plan(planned)
    display = _SweepDisplay(err if fmt == Format.json else out, planned)
    with display.progress:
        result = sweeps.execute(planned, workdir=workdir, device=device, data_root=data_root,
                                fail_fast=fail_fast, watch=display.watch, report=display.report)
    boards_dir = Path(out_dir) if out_dir else Path(workdir) / "leaderboards"
    boards = sweeps.render_leaderboards(planned, workdir, boards_dir)
    if fmt == Format.json:
        _print_json({**result.to_dict(), "leaderboards": [str(p) for p in boards]})
    else:
        _show_sweep(result, boards, boards_dir)
    if result.interrupted:
        err.print("[yellow]interrupted[/]: rerun the same command to continue; completed "
                  "entries are skipped")
        raise typer.Exit(130)
    if result.failed:
        raise typer.Exit(1)


@leaderboard_app.command("show")
@friendly
def leaderboard_show(
    dataset: Annotated[str | None, typer.Option("--dataset", "-d", help="Only this dataset.")]
    = None,
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
    names = [dataset] if dataset else sorted({r.dataset for r in store.runs()})
    if fmt == Format.json:
        def view(d):
            records = store.runs(dataset=d)
            return records if at_budget_ is None else at_budget(records, at_budget_)

        return _print_json({d: leaderboard_frame(view(d)).to_dict("records") for d in names})
    for name in names:
        _show_leaderboard(workdir, name, budget=at_budget_)


@leaderboard_app.command("render")
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
    from genbench.results.leaderboard import render, write_records
    from genbench.results.store import open_store

    output_folder(out_dir)
    runs = open_store(workdir).runs()
    out_dir = out_dir if out_dir is not None else str(Path(workdir) / "leaderboards")
    written = render(runs, out_dir, [dataset] if dataset else None, report=dataset is None)
    if records:
        written += write_records(runs, out_dir)
    for path in written:
        out.print(f"wrote {path}")


@leaderboard_app.command("compare")
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
    from genbench.results.store import open_store

    store = open_store(workdir)
    runs_a, runs_b = select(store, a, profile), select(store, b, profile)
    results = compare(runs_a, runs_b, alpha)
    if not results:
        raise GenbenchError("A and B have no metric in common")
    if fmt == Format.json:
        return _print_json({"a": [r.run_id for r in runs_a], "b": [r.run_id for r in runs_b],
                            "alpha": alpha, "metrics": [c.to_dict() for c in results]})

    # Narrow enough for 80 columns: the feature space most metrics share goes to the title,
    # run counts and the test too when they are the same for every metric.
    from collections import Counter

    spaces = Counter(_split_column(f"{c.metric} x")[1] for c in results)
    main_space = spaces.most_common(1)[0][0]
    short = {"no significant difference": "n.s.", "no test (no interval or no spread)": "–"}

    def name(c) -> str:
        base, space, _ = _split_column(f"{c.metric} x")
        return (base if space == main_space else f"{base}[{space}]") + \
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
    title = f"A: {a}" + (f" ({results[0].a_n} runs)" if len(counts) == 1 else "") + \
        f"   B: {b}" + (f" ({results[0].b_n} runs)" if len(counts) == 1 else "")
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


def main() -> None:
    # Ctrl-C stops every command, however it was started: a shell starts background jobs with
    # SIGINT ignored, and Python then leaves it ignored (training sets its own handler, so
    # `run` stopped while `evaluate` went on to the end and stored its results).
    import signal

    signal.signal(signal.SIGINT, signal.default_int_handler)
    app()
