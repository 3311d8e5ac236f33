"""What the commands share on the way in: the option aliases, each declared once, the help
tidying that gives every option the same placeholder everywhere, and the parsing of values.

A command's parameter is ``workdir: WorkdirOpt = DEFAULT_WORKDIR``; an option that only one
command has, or that reads differently in each (``--seed``, ``--steps``, ``--set``, ``--out``:
their help says what they do there), stays in its command.
"""

from __future__ import annotations

import inspect
import re
from enum import Enum
from typing import Annotated

import typer

from genbench.errors import GenbenchError

# One placeholder per option name, the same in every command's --help.
METAVARS = {
    "--dataset": "NAME", "--model": "NAMES", "--profile": "NAME", "--seed": "N",
    "--seeds": "N,N,...", "--steps": "N", "--set": "KEY=VALUE", "--device": "DEVICE",
    "--workdir": "DIR", "--data-root": "DIR", "--metrics": "NAMES", "--num-samples": "N",
    "--extractor": "NAME", "--inception-weights": "FILE", "--iwae-k": "K", "--bootstrap": "N",
    "--k": "K", "--n": "N", "--status": "STATUS", "--out": "DIR", "--alpha": "ALPHA",
    "--limit": "N", "--at-budget": "SECONDS", "--precision": "PRECISION",
    "--compile-mode": "MODE", "--log-every": "N", "--extractor-precision": "fp32|bf16",
    "--extractor-batch": "N", "--executor": "local|ray[:ADDRESS]", "--jobs": "N",
}


def _tidy_help(params) -> None:
    """Flags show no type, options their placeholder from METAVARS, arguments their name in
    capitals (typer's defaults were ``<bool>``, ``<str>`` and lower case)."""
    for p in params:
        if p.param_type_name == "argument":
            p.metavar = p.metavar or p.name.upper()
            p.display_type_rich = lambda ctx: None  # the name says it; no "<str>" beside it
        elif getattr(p, "is_flag", False):
            p.metavar = ""
        elif p.metavar is None and p.opts[0] in METAVARS:
            p.metavar = METAVARS[p.opts[0]]


def _fold_long_words() -> None:
    """typer ends a word wider than the help column with "…" (an environment variable's
    name, a weights file's): fold it onto the next line instead. A no-op if typer changes.
    Called as help is shown, not at import: typer's rich_utils costs 50 ms to import."""
    try:
        from rich.text import Text
        from typer import rich_utils
    except ImportError:
        return
    original = getattr(rich_utils, "_get_parameter_help", None)
    if original is None or getattr(original, "folds", False):
        return

    def folded(*args, **kwargs):
        columns = original(*args, **kwargs)
        for item in getattr(columns, "renderables", ()):
            if isinstance(item, Text):
                item.overflow = "fold"
        return columns

    folded.folds = True
    rich_utils._get_parameter_help = folded
_LIST_ITEM = re.compile(r"\s|[-*•]\s|\d+[.)]\s")


def _reflow(text: str | None) -> str | None:
    """Docstring paragraphs as one line each, so the terminal wraps them (typer keeps the
    docstring's own line breaks after the first paragraph, which then wrap twice). Lines that
    start a list item or are indented keep their break."""
    if not text:
        return text
    paragraphs = []
    for paragraph in inspect.cleandoc(text).split("\n\n"):
        lines = paragraph.split("\n")
        if paragraph.startswith("\b"):
            paragraphs.append(paragraph)
            continue
        joined = [lines[0]]
        for line in lines[1:]:
            if _LIST_ITEM.match(line):
                joined.append(line)
            else:
                joined[-1] = f"{joined[-1]} {line}"
        paragraphs.append("\n".join(joined))
    return "\n\n".join(paragraphs)


class _PlainHelpFlag:
    """--help/-h is a flag too: no ``<bool>`` beside it. Help text is reflowed (
    :func:`_reflow`)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.help = _reflow(self.help)

    def format_help(self, ctx, formatter) -> None:
        _fold_long_words()
        super().format_help(ctx, formatter)

    def get_help_option(self, ctx):
        option = super().get_help_option(ctx)
        if option is not None:
            option.metavar = ""
        return option


class _Command(_PlainHelpFlag, typer.core.TyperCommand):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        _tidy_help(self.params)


class _Group(_PlainHelpFlag, typer.core.TyperGroup):
    def get_params(self, ctx):
        params = super().get_params(ctx)
        _tidy_help(params)
        return params


class Format(str, Enum):
    table = "table"
    json = "json"


class Direction(str, Enum):
    AtoB = "AtoB"
    BtoA = "BtoA"


DEFAULT_WORKDIR = "genbench-work"


def _named_workdir(value: str | None) -> str | None:
    """An empty --workdir would scatter the store, runs and caches over the current folder."""
    if value is not None and not value.strip():
        raise typer.BadParameter("must name a folder (empty would use the current one), e.g. "
                                 "--workdir genbench-work")
    return value


_WORKDIR_HELP = "Where runs, checkpoints, the SQLite store and leaderboards are kept"

FormatOpt = Annotated[Format, typer.Option("--format", help="table for people, json for scripts.")]
WorkdirOpt = Annotated[str, typer.Option(
    "--workdir", envvar="GENBENCH_WORKDIR", callback=_named_workdir, help=_WORKDIR_HELP + ".")]
# A `runs` subcommand's: None when not given, so that the one given before the subcommand
# (`genbench runs --workdir W show RUN`) counts; the default is said in the help instead.
SubWorkdirOpt = Annotated[str | None, typer.Option(
    "--workdir", envvar="GENBENCH_WORKDIR", callback=_named_workdir,
    help=_WORKDIR_HELP + f" (default: {DEFAULT_WORKDIR}).", show_default=False)]
DatasetFilterOpt = Annotated[str | None, typer.Option(
    "--dataset", "-d", help="Only this dataset.")]
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

# Checked by _extractor_options, not by typer, so a bad value is one line like every error.
ExtractorPrecisionOpt = Annotated[str, typer.Option(
    "--extractor-precision", envvar="GENBENCH_EXTRACTOR_PRECISION",
    help="Inception-v3's arithmetic: fp32, or bf16 (bfloat16 autocast: faster on a GPU, "
         "features within about 1% of fp32's). bf16 numbers are recorded under their own "
         "names (FID@bf16).")]
ExtractorBatchOpt = Annotated[int | None, typer.Option(
    "--extractor-batch",
    help="Images per Inception-v3 forward pass (default: 64 on the CPU; on a GPU up to 500, "
         "as free memory allows).", show_default=False)]

DataRootOpt = Annotated[str | None, typer.Option(
    "--data-root", envvar="GENBENCH_DATA_ROOT",
    help="Folder holding downloaded datasets (torchvision layouts) for mnist, cifar10, ...; "
         "evaluate and samples use the run's own when not given (where it still exists).")]

IwaeOpt = Annotated[int, typer.Option(
    "--iwae-k", min=1,
    help="Importance samples per test example for the IWAE likelihood bound of latent-variable "
         "models (VAEs). Values other than 64 are recorded under their own names (bpd@k16).")]

BootstrapOpt = Annotated[int | None, typer.Option(
    "--bootstrap", min=0,
    help="Resamples of the generated set behind each run's own 95% interval for FD and the "
         "mode metrics (value ± 1.96 bootstrap SE). Default: 100, or 10 in feature spaces of "
         "more than 512 dimensions (Inception); 0 turns it off.")]

# Training speed (genbench.speed); README.md "Training speed" says when each helps.
PrecisionOpt = Annotated[str, typer.Option(
    "--precision", help="fp32, or bf16: each training step under torch.autocast in bfloat16 "
                        "(CPUs and GPUs that support it). Sampling and scoring stay fp32.")]
ChannelsLastOpt = Annotated[bool, typer.Option(
    "--channels-last", help="Keep conv weights and image batches channels-last (NHWC), "
                            "faster for convolutions on GPU tensor cores, mainly with bf16.")]
CompileOpt = Annotated[bool, typer.Option(
    "--compile", help="torch.compile the model's networks in place (the first steps are "
                      "slow while it compiles; checkpoints stay compatible).")]
CompileModeOpt = Annotated[str | None, typer.Option(
    "--compile-mode", help="torch.compile mode, implies --compile: default, "
                           "reduce-overhead (CUDA graphs), max-autotune, "
                           "max-autotune-no-cudagraphs.", show_default=False)]
LogEveryOpt = Annotated[int | None, typer.Option(
    "--log-every", help="Read the losses back every N steps, in one transfer (default: 1 on "
                        "the CPU, 50 on a GPU; every step's losses are kept either way).",
    show_default=False)]


def _compile_option(compile_: bool, mode: str | None) -> bool | str:
    return mode or compile_


RunOrCheckpointArg = Annotated[str, typer.Argument(
    help="A run id (see `genbench runs`) or a checkpoint file.", metavar="RUN|CHECKPOINT")]


EXTRACTOR_PRECISIONS = ("fp32", "bf16")  # as genbench.features.inception.PRECISIONS


def _extractor_options(inception_weights: str | None, iwae_k: int = 64,
                       bootstrap: int | None = None, precision: str = "fp32",
                       batch: int | None = None) -> dict:
    options = {"inception_weights": inception_weights} if inception_weights else {}
    if precision not in EXTRACTOR_PRECISIONS:
        raise GenbenchError(f"--extractor-precision {precision!r} is not one of "
                            f"{', '.join(EXTRACTOR_PRECISIONS)}")
    if precision != "fp32":
        options["extractor_precision"] = precision
    if batch is not None:
        if batch < 1:
            raise GenbenchError(f"--extractor-batch must be at least 1, got {batch}")
        options["extractor_batch"] = batch
    if iwae_k != 64:
        options["iwae_k"] = iwae_k
    if bootstrap is not None:
        options["bootstrap"] = bootstrap
    return options


def _split(values: list[str] | None) -> list[str] | None:
    """``--metrics fd,kid --metrics prdc`` -> ["fd", "kid", "prdc"]."""
    if not values:
        return None
    return [v.strip() for item in values for v in item.split(",") if v.strip()]
