"""What the commands share on the way out: the consoles, one-line errors and exit codes
(:func:`friendly`), JSON, tables, and the terminal view of a leaderboard (``run``, ``evaluate``
and ``leaderboard show`` print it)."""

from __future__ import annotations

import functools
import json
import os
import sys
from pathlib import Path

import typer
from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from genbench.errors import GenbenchError, PluginError
from genbench.results.record import board_stem

out = Console(highlight=False)
err = Console(stderr=True, highlight=False)


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
            if isinstance(exc, PluginError) and os.environ.get("GENBENCH_DEBUG"):
                raise
            err.print(f"[bold red]error:[/] {escape(str(exc))}", soft_wrap=True)
            raise typer.Exit(2) from None
        except KeyboardInterrupt:
            why = INTERRUPTED.get(fn.__name__)
            err.print("[yellow]interrupted[/]" + (f": {why}" if why else ""))
            raise typer.Exit(130) from None
        except Exception as exc:
            full = _full_disk(exc)
            if full and not os.environ.get("GENBENCH_DEBUG"):
                # The machine's state, not a bug: say so, and what is safe.
                err.print(f"[bold red]error:[/] {escape(full)}; free some space and rerun "
                          f"(with --resume for a run). Files written before are as they were: "
                          f"genbench replaces files only once their new version is complete",
                          soft_wrap=True)
                raise typer.Exit(2) from None
            if os.environ.get("GENBENCH_DEBUG"):
                raise
            from genbench.plugins import plugin_error

            blamed = plugin_error(exc)  # a plugin's code raised it: the plugin's failure
            if blamed is not None:
                err.print(f"[bold red]error:[/] {escape(str(blamed))}", soft_wrap=True)
                raise typer.Exit(2) from None
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            err.print(f"[bold red]internal error:[/] {type(exc).__name__}: {escape(first)} "
                      f"(set GENBENCH_DEBUG=1 for the traceback and please report it)",
                      soft_wrap=True)
            raise typer.Exit(1) from None

    return wrapper


def _full_disk(exc: BaseException) -> str:
    """"no space left on device (PATH)" where ``exc`` (or what caused it) is a full disk or
    quota, from a file write or from SQLite; else ""."""
    import errno
    import sqlite3

    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
            where = f" ({exc.filename})" if exc.filename else ""
            return f"no space left on device{where}"
        if isinstance(exc, sqlite3.OperationalError) and "disk is full" in str(exc):
            return "no space left on device (the store's database is full)"
        exc = exc.__cause__ or exc.__context__
    return ""


def _print_json(data) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


# Columns of run ids and paths: never folded, so they can be copied whole (other columns
# give way).
# Columns whose cells are never broken: ids, paths, statuses. A long cell with spaces (a
# message) may still wrap between its words.
WHOLE = {"run", "path", "file", "status", "action"}


def _table(title: str, columns: list[str], rows: list[list[str]]) -> Table:
    cells = [[str(row[i]) for row in rows] for i in range(len(columns))]
    # Kept whole only when every cell is an id or a short word: a width the console cannot
    # give would crop cells, and a long message may wrap.
    whole = [col in WHOLE and all(" " not in c or len(c) <= 16 for c in column)
             for col, column in zip(columns, cells, strict=True)]
    widest = [max(map(len, column), default=0) for column in cells]

    def least(i: int, headers_whole: bool) -> int:
        """Column i's narrowest: its cells if kept whole, and its header unbroken or not."""
        word = max(map(len, columns[i].split()), default=0)  # a header wraps between words
        header = len(columns[i]) if headers_whole else min(word, max(widest[i], 1))
        return max(widest[i], header) if whole[i] else header

    def fits(headers_whole: bool) -> bool:
        return sum(least(i, headers_whole) + 2 for i in range(len(columns))) <= out.width

    # In order: everything whole; ids whole and headers wrapped ("datas/et" beats a broken
    # id); else the longest whole column (a run id) folds, longest first, headers whole, so
    # no column is squeezed out of the table.
    headers_whole = fits(True) or not fits(False)
    while not fits(headers_whole) and any(whole):
        whole[max((i for i in range(len(columns)) if whole[i]), key=widest.__getitem__)] = False
    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False,
                  collapse_padding=True)
    for i, col in enumerate(columns):
        table.add_column(col, overflow="fold", no_wrap=whole[i], min_width=least(i, headers_whole))
    for row in rows:
        # Text, not markup: metric names such as "FD[raw]" must print as they are.
        table.add_row(*(cell if isinstance(cell, Text) else Text(str(cell)) for cell in row))
    return table


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


def _print_not_computed(skipped: dict[str, str]) -> None:
    """One line per reason: the metrics a feature space could not give, and why."""
    by_reason: dict[str, list[str]] = {}
    for name, why in skipped.items():
        by_reason.setdefault(why, []).append(name)
    for why, names in by_reason.items():
        out.print(Text(f"  not computed: {', '.join(names)}: {why}", style="yellow"),
                  soft_wrap=True)


SHORT_NAMES = {"precision": "prec", "recall": "rec", "density": "dens", "coverage": "cov",
               "kid_mean": "KID", "is_mean": "IS", "modes_covered": "modes",
               "high_quality": "HQ%", "reverse_kl": "rKL"}


def _split_column(column: str) -> tuple[str, str, str]:
    """``precision[evaluator] ↑`` -> ("prec", "evaluator", "↑")."""
    name, _, arrow = column.rpartition(" ")
    base, _, space = name.partition("[")
    return SHORT_NAMES.get(base, base), space.rstrip("]"), arrow


# The task's own measures (super-resolution, inpainting, anomaly AUROC, bits/dim) right after
# FD: on those boards they are what a reader looks for first.
PRIORITY = ("modes", "HQ%", "rKL", "FID", "FD", "psnr_y", "psnr_hole", "ssim_y", "ssim_hole",
            "auroc", "bpd", "IS", "prec", "rec", "cov", "dens", "KID", "NDB/K")


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
        # A metric the model does not have (pixelcnn has no MSE) is missing, not NaN.
        cells = [Text(("–" if v != v else f"{v:.3g}") if isinstance(v, float) else str(v))
                 for v in row]
        table.add_row(*cells, style="bold cyan" if runs[i] == highlight else None)
    out.print(table)
    board = Path(workdir) / "leaderboards" / f"{board_stem(dataset)}.md"
    more = f"{hidden} more columns and " if hidden else ""
    out.print(Text(f"  rows best first; {more}every run's details in {board}", style="dim"),
              soft_wrap=True)
