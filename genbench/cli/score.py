"""``genbench score``: two sample sets made elsewhere, scored against each other."""

from __future__ import annotations

from typing import Annotated

import typer

from genbench.cli.options import (
    DEFAULT_WORKDIR,
    DeviceOpt,
    ExtractorBatchOpt,
    ExtractorPrecisionOpt,
    Format,
    FormatOpt,
    InceptionOpt,
    WorkdirOpt,
    _extractor_options,
    _split,
)
from genbench.cli.output import _print_json, _print_not_computed, _table, err, friendly, out
from genbench.cli.progress import _progress_bar


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
    extractor_precision: ExtractorPrecisionOpt = "fp32",
    extractor_batch: ExtractorBatchOpt = None,
    device: DeviceOpt = "auto",
    workdir: WorkdirOpt = DEFAULT_WORKDIR,
    fmt: FormatOpt = Format.table,
) -> None:
    """Score two sample sets made elsewhere: FD, KID, precision/recall, density/coverage, IS.

    FD on Inception features is FID.

    Precision/recall/density/coverage all use k=5 here (the prdc package's default) unless
    --k says otherwise; `genbench run` uses the papers' k=3 for precision/recall.
    JSON output is one object keyed fid (fd outside Inception-v3 features: FID is the
    Fréchet distance in Inception's space only), kid_mean, kid_std, precision, recall,
    density, coverage, is_mean, is_std.
    """
    from genbench import api

    options = _extractor_options(inception_weights, precision=extractor_precision,
                                 batch=extractor_batch)
    progress, _, evaluating = _progress_bar(err if fmt == Format.json else out)
    with progress:
        progress.remove_task(progress.task_ids[0])
        result = api.score(real, fake, metrics=_split(metrics_), extractor=extractor, k=k,
                           device=device, workdir=workdir, report=evaluating,
                           extractor_options=options)
    if fmt == Format.json:
        return _print_json(result)
    keys = [key for key in api.SCORE_KEYS.values() if key in result]
    features = result.get("features", f"{result['extractor']} features")
    out.print(_table(f"{result['n_real']} real vs {result['n_fake']} generated, {features}",
                     ["metric", "value"],
                     [[key, f"{result[key]:.6g}"] for key in keys]
                     + [[name, "not computed"] for name in result.get("not_computed", {})]))
    _print_not_computed(result.get("not_computed", {}))
