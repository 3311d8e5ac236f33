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
WorkdirOpt = Annotated[str, typer.Option(
    "--workdir", envvar="GENBENCH_WORKDIR",
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

DEFAULT_WORKDIR = "genbench-work"


def _extractor_options(inception_weights: str | None, iwae_k: int = 64) -> dict:
    options = {"inception_weights": inception_weights} if inception_weights else {}
    if iwae_k != 64:
        options["iwae_k"] = iwae_k
    return options


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
            err.print("[yellow]interrupted[/]: rerun the same command with --resume to continue")
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
                     [[key, f"{result[key]:.6g}"] for key in keys]))


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


def _progress_bar(console: Console):
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    progress = Progress(TextColumn("[bold]{task.description:<10}"), BarColumn(bar_width=24),
                        MofNCompleteColumn(), TimeElapsedColumn(), TimeRemainingColumn(),
                        TextColumn("{task.fields[losses]}", markup=False), console=console,
                        transient=False)
    task = progress.add_task("training", total=None, losses="")
    scoring: list = []

    def evaluating(what: str, done: int, total: int) -> None:
        if not scoring:
            scoring.append(progress.add_task("evaluating", total=total, losses=""))
        progress.update(scoring[0], completed=done, total=total, losses=what)

    def update(step: int, total: int, losses: dict[str, float]) -> None:
        if step == 1 or step % 10 == 0 or step == total:
            text = "  ".join(f"{k} {v:.3g}" for k, v in losses.items())
            room = max(0, console.width - 62)  # the losses give way before the bar and counts
            text = text if len(text) <= room else text[:max(0, room - 1)] + "…"
            progress.update(task, completed=step, total=total, losses=text)

    return progress, update, evaluating


def _show_record(record, workdir: str) -> None:
    from pathlib import Path

    colour = {"completed": "green", "diverged": "yellow"}.get(record.status, "red")
    out.print(f"\n[bold]{record.run_id}[/]: [{colour}]{record.status}[/] after {record.steps} "
              f"steps in {record.wall_time:.1f} s on {record.device}"
              + (f" — {escape(record.message)}" if record.message else ""))
    if record.metrics:
        out.print(_table("Metrics", ["metric", "value", "better", "real / generated"], [
            [m.name, f"{m.value:.4g}", "↑" if m.higher_is_better else "↓",
             f"{m.n_real} / {m.n_fake}"] for m in record.metrics]))
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
                      limit: int | None = None) -> None:
    """The terminal view: identity and as many metrics as fit, under short names, the feature
    space in the title; the Markdown and CSV files hold every column."""
    from collections import Counter

    from genbench.results.leaderboard import leaderboard_frame
    from genbench.results.store import open_store

    frame = leaderboard_frame(open_store(workdir).runs(dataset=dataset))
    if frame.empty:
        out.print(f"no completed runs on {dataset} yet")
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
    identity = {"model", "profile", "settings", "seed"}
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
        "--resume", help="Continue the latest interrupted run with the same model, dataset, "
                         "seed and settings from its last checkpoint.")] = False,
    metrics_: MetricsOpt = None,
    num_samples: NumSamplesOpt = None,
    extractor: ExtractorOpt = None,
    inception_weights: InceptionOpt = None,
    data_root: DataRootOpt = None,
    iwae_k: IwaeOpt = 64,
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
    progress, update, evaluating = _progress_bar(console)
    with progress:
        record = api.run(model, dataset, profile=profile, seed=seed, steps=steps, device=device,
                         overrides=tuple(set_ or ()), workdir=workdir, resume=resume,
                         metrics=_split(metrics_), num_samples=num_samples, progress=update,
                         eval_progress=evaluating, extractor=extractor,
                         extractor_options=_extractor_options(inception_weights, iwae_k),
                         data_root=data_root)
    if fmt == Format.json:
        _print_json(record.to_dict())
    else:
        _show_record(record, workdir)
    if record.status == "interrupted":
        err.print("checkpoint saved: rerun the same command with --resume to continue")
        raise typer.Exit(130)
    if record.status != "completed":
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
                              extractor_options=_extractor_options(inception_weights, iwae_k),
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
) -> None:
    """Write pictures of a trained model: a sample grid (a scatter plot for 2-D data), latent
    interpolations, a class-by-row grid for conditional models, a code traversal for InfoGAN."""
    from genbench import api

    for path in api.samples(target, workdir=workdir, n=n, seed=seed, interpolate=interpolate,
                            out_dir=out_dir, device=device):
        out.print(f"wrote {escape(str(path))}", soft_wrap=True)


@app.command()
@friendly
def runs(
    dataset: Annotated[str | None, typer.Option("--dataset", "-d")] = None,
    workdir: WorkdirOpt = DEFAULT_WORKDIR,
    fmt: FormatOpt = Format.table,
) -> None:
    """List stored runs, newest last, whatever their status."""
    from genbench.results.store import open_store

    records = open_store(workdir).runs(dataset=dataset)
    if fmt == Format.json:
        return _print_json([r.to_dict() for r in records])
    out.print(_table("Runs", ["run", "model", "dataset", "profile", "seed", "status", "steps"], [
        [r.run_id, r.model, r.dataset, r.profile, str(r.seed), r.status, str(r.steps)]
        for r in records]))


@leaderboard_app.command("show")
@friendly
def leaderboard_show(
    dataset: Annotated[str | None, typer.Option("--dataset", "-d", help="Only this dataset.")]
    = None,
    workdir: WorkdirOpt = DEFAULT_WORKDIR,
    fmt: FormatOpt = Format.table,
) -> None:
    """Show leaderboards (completed runs, best first) from the store."""
    from genbench.results.leaderboard import leaderboard_frame
    from genbench.results.store import open_store

    store = open_store(workdir)
    names = [dataset] if dataset else sorted({r.dataset for r in store.runs()})
    if fmt == Format.json:
        return _print_json({d: leaderboard_frame(store.runs(dataset=d)).to_dict("records")
                            for d in names})
    for name in names:
        _show_leaderboard(workdir, name)


@leaderboard_app.command("render")
@friendly
def leaderboard_render(
    workdir: WorkdirOpt = DEFAULT_WORKDIR,
    out_dir: Annotated[str, typer.Option("--out", help="Folder for <dataset>.md and .csv.")]
    = "leaderboards",
    dataset: Annotated[str | None, typer.Option("--dataset", "-d")] = None,
) -> None:
    """Write leaderboards/<dataset>.md and .csv from the store (atomically)."""
    from genbench.results.leaderboard import render
    from genbench.results.store import open_store

    written = render(open_store(workdir).runs(), out_dir, [dataset] if dataset else None)
    for path in written:
        out.print(f"wrote {path}")


def main() -> None:
    app()
