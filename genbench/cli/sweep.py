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
        self.progress.console.print(_outcome_line(index, self.total, outcome), soft_wrap=True)


COLOURS = {"completed": "green", "skipped": "dim", "diverged": "yellow", "not run": "dim",
           "queued": "dim", "starting": "cyan", "running": "cyan", "retrying": "yellow"}


def _outcome_line(index: int, total: int, outcome) -> Text:
    """``3/12 gan on ring8, seed 0: completed in 4.2 s, FD 0.31``."""
    line = Text(f"{index + 1:>{len(str(total))}}/{total} {outcome.entry.label}: ")
    line.append(outcome.status, style=COLOURS.get(outcome.status, "red"))
    if outcome.status == "skipped":
        line.append(f" (completed as {outcome.run_id})", style="dim")
    elif outcome.status != "not run":
        line.append(f" in {outcome.wall_time:.1f} s")
        if outcome.attempts > 1:
            line.append(f" ({outcome.attempts} attempts: a worker died)", style="yellow")
        if outcome.metric:
            line.append(f", {outcome.metric[0]} {outcome.metric[1]:.4g}")
        if outcome.message and outcome.status != "completed":
            line.append(f": {outcome.message}")
    return line


class _WorkerTable:
    """The live table of a sweep run by workers (``--jobs N`` or ``--executor ray``): every
    entry queued, running where and how far, retrying after its worker died, or done with its
    key metric. Without a terminal, a plain line as each entry starts and ends."""

    SHOWN = 30  # past this many entries, the table keeps the unfinished and the latest done

    def __init__(self, console: Console, planned: list, executor: str, jobs: int) -> None:
        from rich.live import Live

        self.console = console
        self.planned = planned
        self.total = len(planned)
        self.title = f"Sweep on {executor}" + (f", {jobs} at once" if jobs else "")
        self.rows: dict[int, list] = {i: ["queued", "", "", "", ""]
                                      for i in range(self.total)}
        self.order: list[int] = []  # entries in the order they finished
        self.started: set[int] = set()
        self.live = Live(self.render(), console=console, refresh_per_second=4,
                         transient=False) if console.is_terminal else None

    def __enter__(self):
        if self.live:
            self.live.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        if self.live:
            self.live.update(self.render())
            self.live.__exit__(*exc)

    def watch(self, tasks: list) -> None:
        import time

        for task in tasks:
            if task.state == "done":
                continue
            info = task.progress or {}
            step, total = info.get("step"), info.get("total")
            phase = info.get("phase", "")
            far = (f"{phase} {step:,}/{total:,}" if isinstance(step, int)
                   and isinstance(total, int) and total > 1 else phase)
            tries = f" (attempt {task.attempts})" if task.attempts > 1 else ""
            elapsed = f"{time.monotonic() - task.started:.0f} s" if task.started else ""
            state = "starting" if task.state == "running" and not info else task.state
            self.rows[task.index] = [state, info.get("where", "") + tries, far, elapsed, ""]
            if task.state == "running" and task.index not in self.started and info.get("where"):
                self.started.add(task.index)
                if not self.live:
                    self.console.print(f"{task.index + 1}/{self.total} {task.entry.label}: "
                                       f"running on {info['where']}{tries}", soft_wrap=True,
                                       markup=False, highlight=False)
        if self.live:
            self.live.update(self.render())

    def report(self, index: int, outcome) -> None:
        metric = f"{outcome.metric[0]} {outcome.metric[1]:.4g}" if outcome.metric else ""
        where = self.rows[index][1]
        detail = outcome.message if outcome.status not in ("completed", "skipped") else ""
        self.rows[index] = [outcome.status, where, detail,
                            f"{outcome.wall_time:.1f} s" if outcome.wall_time else "", metric]
        self.order.append(index)
        if self.live:
            self.live.update(self.render())
        else:
            self.console.print(_outcome_line(index, self.total, outcome), soft_wrap=True)

    def render(self):
        from rich.table import Table

        shown = list(range(self.total))
        if self.total > self.SHOWN:
            done = set(self.order)
            recent = set(self.order[-(self.SHOWN // 2):])
            shown = [i for i in shown if i not in done or i in recent][:self.SHOWN]
        counts: dict[str, int] = {}
        for row in self.rows.values():
            counts[row[0]] = counts.get(row[0], 0) + 1
        table = Table(title=self.title, caption=", ".join(f"{n} {s}" for s, n in
                                                          counts.items()), title_justify="left")
        for column in ("#", "entry", "status", "where", "progress / message", "time",
                       "metric"):
            table.add_column(column, overflow="fold")
        for i in shown:
            status, where, far, elapsed, metric = self.rows[i]
            table.add_row(str(i + 1), self.planned[i].entry.label,
                          Text(status, style=COLOURS.get(status, "red")), where, far, elapsed,
                          metric)
        return table


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
                                       "run"], [
        [str(i), o.entry.label, Text(o.status, style=colour.get(o.status, "red")),
         f"{o.wall_time:.1f}" if o.status != "not run" else "",
         f"{o.metric[0]} {o.metric[1]:.4g}" if o.metric else "", o.run_id]
        for i, o in enumerate(result.outcomes, 1)]))
    # What went wrong, under the table: a message in a column would squeeze the others.
    for i, o in enumerate(result.outcomes, 1):
        if o.message and o.status not in ("completed", "skipped"):
            out.print(f"{i}. {o.entry.label}: {o.status}: {o.message}", soft_wrap=True,
                      markup=False, highlight=False)
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
    executor: Annotated[str, typer.Option(
        "--executor", help="Where entries run. local: on this machine (in this process with "
                           "--jobs 1, else in --jobs worker processes). ray: as Ray tasks on a "
                           "local Ray instance; ray:ADDRESS (e.g. ray:10.0.0.1:6379, ray:auto): "
                           "on a running Ray cluster (pip install \"genbench\\[ray]\"). "
                           "Only this process writes the store. See docs/sweeps.md.")] = "local",
    jobs: Annotated[int | None, typer.Option(
        "--jobs", "-j", min=0, help="Runs at once. local: default 1; each worker gets one GPU "
                                    "(CUDA_VISIBLE_DEVICES) or cores/N CPU threads; 0 means one "
                                    "per GPU, or per core without GPUs. ray: default as many "
                                    "as the cluster's GPUs (or CPUs) hold.",
        show_default=False)] = None,
    fmt: FormatOpt = Format.table,
) -> None:
    """Run every model on every dataset with every seed, then render their leaderboards.

    Every entry is checked before anything runs (names, model/dataset pairs, settings). They
    run one after another in this process, or several at once with --jobs N (one per GPU, or
    a share of the cores each) or --executor ray (a Ray cluster); a worker that dies is
    retried from its run's last checkpoint. An entry is skipped when the store already holds
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
    from genbench.parallel import parse_executor

    kind, _ = parse_executor(executor)
    console = err if fmt == Format.json else out
    if kind == "local" and jobs in (None, 1):
        display = _SweepDisplay(console, planned)
        with display.progress:
            result = sweeps.execute(planned, workdir=workdir, device=device,
                                    data_root=data_root, fail_fast=fail_fast,
                                    watch=display.watch, report=display.report)
    else:
        table = _WorkerTable(console, planned, executor, jobs or 0)
        with table:
            result = sweeps.execute(planned, workdir=workdir, device=device,
                                    data_root=data_root, fail_fast=fail_fast,
                                    report=table.report, watch_tasks=table.watch,
                                    executor=executor, jobs=jobs, notify=console.print)
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
