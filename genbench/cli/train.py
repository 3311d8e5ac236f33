"""A model's own runs: ``run`` trains and scores it, ``evaluate`` scores it again,
``samples`` draws pictures of it."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape

from genbench.cli.options import (
    DEFAULT_WORKDIR,
    BootstrapOpt,
    ChannelsLastOpt,
    CompileModeOpt,
    CompileOpt,
    DataRootOpt,
    DeviceOpt,
    Direction,
    ExtractorBatchOpt,
    ExtractorOpt,
    ExtractorPrecisionOpt,
    Format,
    FormatOpt,
    InceptionOpt,
    IwaeOpt,
    LogEveryOpt,
    MetricsOpt,
    NumSamplesOpt,
    PrecisionOpt,
    RunOrCheckpointArg,
    WorkdirOpt,
    _compile_option,
    _extractor_options,
    _split,
)
from genbench.cli.output import (
    _print_json,
    _print_not_computed,
    _show_leaderboard,
    _table,
    err,
    friendly,
    out,
)
from genbench.cli.progress import _progress_bar
from genbench.results.record import board_stem


@friendly
def run(
    model: Annotated[str, typer.Argument(help="Model name, see `genbench models`; `genbench "
                                         "models MODEL` shows its paper, settings and "
                                         "profiles.")],
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
    extractor_precision: ExtractorPrecisionOpt = "fp32",
    extractor_batch: ExtractorBatchOpt = None,
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
    precision: PrecisionOpt = "fp32",
    channels_last: ChannelsLastOpt = False,
    compile_: CompileOpt = False,
    compile_mode: CompileModeOpt = None,
    log_every: LogEveryOpt = None,
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
                             extractor_options=_extractor_options(
                                 inception_weights, iwae_k, bootstrap, extractor_precision,
                                 extractor_batch),
                             data_root=data_root, eval_every=eval_every,
                             precision=precision, channels_last=channels_last,
                             compile=_compile_option(compile_, compile_mode),
                             log_every=log_every)
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


@friendly
def evaluate(
    target: RunOrCheckpointArg,
    metrics_: MetricsOpt = None,
    num_samples: NumSamplesOpt = None,
    workdir: WorkdirOpt = DEFAULT_WORKDIR,
    device: DeviceOpt = "auto",
    extractor: ExtractorOpt = None,
    inception_weights: InceptionOpt = None,
    extractor_precision: ExtractorPrecisionOpt = "fp32",
    extractor_batch: ExtractorBatchOpt = None,
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
                              extractor_options=_extractor_options(
                                  inception_weights, iwae_k, bootstrap, extractor_precision,
                                  extractor_batch),
                              data_root=data_root,
                              notify=lambda text: err.print(escape(text), soft_wrap=True))
    if fmt == Format.json:
        return _print_json(record.to_dict())
    _show_record(record, workdir)


@friendly
def samples(
    target: RunOrCheckpointArg,
    n: Annotated[int | None, typer.Option(
        "--n", "-n", min=1, max=1024,
        help="Samples in the grid (default 64); a model that translates shows one test "
             "image per row, one that draws pairs one pair: 16 rows at most.")] = None,
    seed: Annotated[int, typer.Option(help="Seeds the latent draws.")] = 0,
    interpolate: Annotated[bool, typer.Option(
        "--interpolate", help="Also write latent interpolations (8 rows of 10 steps): image "
                              "models with a latent space.")] = False,
    out_dir: Annotated[str | None, typer.Option(
        "--out", help="Folder for the PNGs (default: the run's folder).")] = None,
    workdir: WorkdirOpt = DEFAULT_WORKDIR,
    device: DeviceOpt = "auto",
    data_root: DataRootOpt = None,
) -> None:
    """Write pictures of a trained model: samples, interpolations, class rows, code traversals.

    A sample grid (a scatter plot for 2-D data); with --interpolate, latent interpolations; a
    class-by-row grid for conditional models and a code traversal for InfoGAN. A model that
    translates: its translations of test images, one per row (pairs models: one pair)."""
    from genbench import api

    for path in api.samples(target, workdir=workdir, n=n, seed=seed, interpolate=interpolate,
                            out_dir=out_dir, device=device, data_root=data_root,
                            notify=lambda text: err.print(escape(text), soft_wrap=True)):
        out.print(f"wrote {escape(str(path))}", soft_wrap=True)


def _show_record(record, workdir: str) -> None:
    from pathlib import Path

    colour = {"completed": "green", "diverged": "yellow"}.get(record.status, "red")
    out.print(f"\n[bold]{record.run_id}[/]: [{colour}]{record.status}[/] after {record.steps} "
              f"steps in {record.wall_time:.1f} s on {record.device}"
              + (f" — {escape(record.message)}" if record.message else ""), soft_wrap=True)
    skipped = record.evaluation.get("not_computed") or {}
    if record.metrics or skipped:
        from genbench.results.leaderboard import is_spread

        out.print(_table("Metrics", ["metric", "value", "better", "real / generated"], [
            [m.name, f"{m.value:.4g}",
             "" if is_spread(m.name) else "↑" if m.higher_is_better else "↓",
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
