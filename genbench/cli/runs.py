"""``genbench runs``: list the stored runs, ``show`` one in full, ``export`` them for pandas,
``import`` records made elsewhere."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.text import Text

from genbench.cli.options import (
    DEFAULT_WORKDIR,
    DatasetFilterOpt,
    Format,
    FormatOpt,
    SubWorkdirOpt,
    WorkdirOpt,
    _Command,
    _Group,
)
from genbench.cli.output import _cell, _pairs, _print_json, _table, friendly, out
from genbench.errors import GenbenchError

app = typer.Typer(cls=_Group)


@app.callback(invoke_without_command=True)
@friendly
def runs(
    ctx: typer.Context,
    dataset: DatasetFilterOpt = None,
    workdir: WorkdirOpt = DEFAULT_WORKDIR,
    fmt: FormatOpt = Format.table,
) -> None:
    """List stored runs, show one in full, export them, or import records made elsewhere.

    Without a subcommand: the list (newest last, any status). `genbench runs show RUN` prints
    one record in full; `genbench runs export --out FILE` writes the store as CSV or Parquet
    for pandas; `genbench runs import PATH...` adds records made elsewhere to this store.
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


@app.command("show", cls=_Command)
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
    marks settings changed from the profile); how it trained (precision, channels-last,
    compile, log_every, fused optimizers); hardware; library versions; the plugins that
    provided the model, dataset, metrics and extractors (and, after `evaluate`, those that
    scored it last), with their versions; the feature
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
    if record.training:
        out.print(_pairs("Training", record.training))
    out.print(_pairs("Hardware", record.hardware))
    out.print(_pairs("Versions", {k: v for k, v in record.versions.items() if k != "plugins"}))
    for title, versions in (("Plugins (training)", record.versions),
                            ("Plugins (latest scoring)", record.evaluation.get("versions"))):
        rows = _plugin_rows(versions or {})
        if rows:
            out.print(_table(title, ["provides", "name", "plugin", "distribution", "version"],
                             rows))
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
    if record.evaluation.get("fitted"):
        out.print(_pairs("Fitted by the model", record.evaluation["fitted"]))
    if record.trajectory:
        names = list(dict.fromkeys(n for p in record.trajectory for n in p.get("metrics", {})))
        out.print(_table("Trajectory (seconds: training time)", ["step", "seconds", *names], [
            [str(p.get("step", "")), _cell(p.get("seconds")),
             *(_cell(p.get("metrics", {}).get(n)) for n in names)]
            for p in record.trajectory]))


def _plugin_rows(versions: dict) -> list[list[str]]:
    """One row per model, dataset, metric and extractor a record says a plugin provided."""
    plugins = versions.get("plugins") or {}
    rows = []
    for role, shown in (("model", "model"), ("dataset", "dataset"), ("metrics", "metric"),
                        ("extractors", "extractor")):
        found = plugins.get(role) or []
        for entry in found if isinstance(found, list) else [found]:
            rows.append([shown, *(str(entry.get(k, "")) for k in
                                  ("name", "plugin", "distribution", "version"))])
    return rows


class ExportFormat(str, Enum):
    csv = "csv"
    parquet = "parquet"


@app.command("export", cls=_Command)
@friendly
def runs_export(
    ctx: typer.Context,
    out_file: Annotated[str, typer.Option(
        "--out", help="File to write (replaced atomically): runs.csv or runs.parquet.",
        metavar="FILE")],
    export_format: Annotated[ExportFormat | None, typer.Option(
        "--format", help="csv or parquet (needs pyarrow); default: from FILE's extension.",
        show_default=False)] = None,
    dataset: DatasetFilterOpt = None,
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
    config_hash, overrides, config as JSON, model_plugin and model_plugin_version: the
    distribution that provided the model and its version), then the metric's columns (metric, value,
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


@app.command("import", cls=_Command)
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
    records = read_records(sources)  # every file checked before the store takes any
    if not records:
        raise GenbenchError(f"no run records (.json files) in {', '.join(map(str, sources))}; "
                            f"a workdir's records are its runs/*/record.json")
    for record in records:
        if record.run_id in have and not replace:
            skipped += 1
            continue
        store.save(record)
        added += 1
    out.print(f"imported {added} run{'' if added == 1 else 's'} into {escape(str(store.path))}"
              + (f"; {skipped} already there (--replace overwrites them)" if skipped else ""),
              soft_wrap=True)
