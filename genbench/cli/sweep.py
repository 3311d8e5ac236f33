"""``genbench sweep``: many runs from the command line or a TOML file, then their
leaderboards; and the live display that follows them."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.text import Text

from genbench.cli.options import (
    DEFAULT_WORKDIR,
    ChannelsLastOpt,
    CompileModeOpt,
    CompileOpt,
    DataRootOpt,
    DeviceOpt,
    Format,
    FormatOpt,
    LogEveryOpt,
    PrecisionOpt,
    WorkdirOpt,
    _compile_option,
    _split,
)
from genbench.cli.output import _print_json, _table, err, friendly, out
from genbench.cli.progress import _progress_bar


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
    precision: PrecisionOpt = "fp32",
    channels_last: ChannelsLastOpt = False,
    compile_: CompileOpt = False,
    compile_mode: CompileModeOpt = None,
    log_every: LogEveryOpt = None,
    fmt: FormatOpt = Format.table,
) -> None:
    """Run every model on every dataset with every seed, then render their leaderboards.

    Entries run one after another, in this process, each checked before anything runs
    (names, model/dataset pairs, settings). An entry is skipped when the store already holds
    a completed run with the same model, dataset, seed and configuration (--precision,
    --channels-last and --compile included), so rerunning an
    interrupted sweep continues where it stopped (an entry interrupted with a checkpoint
    resumes from it). Exit code 1 if an entry failed or diverged, 130 after Ctrl-C.

    Example: genbench sweep --model gan,wgan-gp --dataset ring8,grid25 --seeds 0,1,2
    """
    from genbench import sweep as sweeps
    from genbench.speed import SpeedOptions

    speed = SpeedOptions.of(precision, channels_last, _compile_option(compile_, compile_mode),
                            log_every)
    blocks = sweeps.make_blocks(spec, models=_split(model), datasets=_split(dataset),
                                seeds=sweeps.parse_seeds(seeds), profile=profile, steps=steps,
                                overrides=tuple(set_ or ()))
    planned = sweeps.plan(sweeps.expand(blocks, speed), workdir)
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
