"""The ``genbench`` command line: each command is a thin shell over :mod:`genbench.api`.

This module only composes the app. Each command group has its own module, and what they share
lives beside them:

- ``options.py``: the option aliases (``WorkdirOpt``, ``DeviceOpt``, ``FormatOpt``...), each
  declared once, and the help tidying (``_Command``, ``_Group``);
- ``output.py``: the consoles, :func:`~genbench.cli.output.friendly` (one-line errors, exit
  codes), JSON, tables and the terminal view of a leaderboard;
- ``progress.py``: bars on a terminal, plain lines in a log;
- ``catalog.py`` (models, datasets, metrics, extractors, plugins), ``score.py``, ``train.py``
  (run, evaluate, samples), ``sweep.py``: plain functions, registered below with
  ``app.command(cls=_Command)`` in the order ``--help`` lists them;
- ``runs.py`` and ``leaderboard.py``: each builds its own sub-app (``app``) with its
  subcommands, added below with ``app.add_typer``.

A new command is a function in its group's module and one line here.

Start-up stays light (no torch, no pandas) so ``--help``, ``models`` and ``plugins`` are instant;
heavy modules are imported inside the commands that need them.
"""

from __future__ import annotations

import typer

from genbench.cli import catalog, leaderboard, runs, score, sweep, train
from genbench.cli.options import _Command, _Group

app = typer.Typer(
    cls=_Group,
    name="genbench",
    help="Train, score and compare generative models with validated metrics.\n\n"
         "Example: genbench run dcgan --dataset digits",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
    context_settings={"help_option_names": ["-h", "--help"]},
)

for command in (catalog.models, catalog.datasets, catalog.metrics, catalog.extractors,
                score.score, catalog.plugins, train.run, train.evaluate, train.samples,
                sweep.sweep):
    app.command(cls=_Command)(command)
app.add_typer(leaderboard.app, name="leaderboard")
app.add_typer(runs.app, name="runs")


def main() -> None:
    # Ctrl-C stops every command, however it was started: a shell starts background jobs with
    # SIGINT ignored, and Python then leaves it ignored (training sets its own handler, so
    # `run` stopped while `evaluate` went on to the end and stored its results).
    import signal

    signal.signal(signal.SIGINT, signal.default_int_handler)
    # SIGTERM (kill, a scheduler's pre-emption, `timeout`) is Ctrl-C too: the run stops after
    # its step with a checkpoint and is recorded as interrupted, not left "running".
    signal.signal(signal.SIGTERM, _terminated)
    app()


def _terminated(signum, frame) -> None:
    raise KeyboardInterrupt
