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
from rich.markup import escape

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
    raise SystemExit(_run_app())


def _run_app() -> int:
    """The app, with a malformed command line (``--steps abc``) told in one line like every
    other error, instead of Click's boxed panel; the exit status is Click's."""
    import sys

    # Typer may bring its own copy of Click: its exceptions, found from one it exports.
    bases = {c.__name__: c for c in typer.BadParameter.__mro__}
    usage_error, click_exception = bases["UsageError"], bases["ClickException"]
    no_args = getattr(sys.modules[usage_error.__module__], "NoArgsIsHelpError", ())
    try:
        result = app(standalone_mode=False)
    except no_args as exc:  # a bare `genbench runs`: its help, as Click shows it
        exc.show()
        return exc.exit_code
    except usage_error as exc:
        from genbench.cli.output import err

        where = f"; `{exc.ctx.command_path} -h` lists the options" if exc.ctx else ""
        text = exc.format_message().rstrip(".") if where else exc.format_message()
        err.print(f"[bold red]error:[/] {escape(text)}{escape(where)}",
                  soft_wrap=True)
        return exc.exit_code
    except click_exception as exc:
        exc.show()
        return exc.exit_code
    except typer.Abort:
        return 130
    return result if isinstance(result, int) else 0


def _terminated(signum, frame) -> None:
    raise KeyboardInterrupt
