"""What is installed: ``models`` (or one model in full), ``datasets``, ``metrics``,
``extractors`` and ``plugins``."""

from __future__ import annotations

from typing import Annotated

import typer
from rich import box
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from genbench.cli.options import Format, FormatOpt
from genbench.cli.output import _pairs, _print_json, _table, err, friendly, out


@friendly
def models(
    name: Annotated[str | None, typer.Argument(
        help="Show this model in full: summary, paper, capabilities, data, plugin, and its "
             "settings with types, defaults per profile and allowed values.",
        show_default=False)] = None,
    fmt: FormatOpt = Format.table,
) -> None:
    """List the generative models that installed plugins provide (and plugins that failed to
    load), or show one model in full."""
    from genbench.plugins import get_registries

    reg = get_registries()
    if name is not None:
        return _show_model(reg, name, fmt)
    rows = [{"name": m.name, "family": m.family, "data": list(m.accepts),
             "capabilities": list(m.capabilities), "plugin": reg.models.owners[m.name],
             "summary": m.summary, "paper": m.paper} for m in reg.models]
    if fmt == Format.json:
        _print_json(rows)
    else:
        out.print(_table("Models", ["name", "family", "data", "plugin", "summary"],
                         [[r["name"], r["family"], ", ".join(r["data"]), r["plugin"],
                           r["summary"]] for r in rows]))
    # A plugin that failed, or registered nothing, may be the one meant to provide the model
    # being looked for.
    for p in reg.plugins:
        line = (Text(f"plugin {p.label} failed to load: {p.error}", style="red")
                if p.status == "failed" else
                Text(f"plugin {p.label} {p.warning}", style="yellow") if p.warning else None)
        if line is not None:
            (err if fmt == Format.json else out).print(line, soft_wrap=True)


def _setting_text(value) -> str:
    """A setting's value as --set takes it."""
    if value is None:
        return "none"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (tuple, list)):
        return ",".join(map(_setting_text, value))
    return f"{value:g}" if isinstance(value, float) else str(value)


def _show_model(reg, name: str, fmt: Format) -> None:
    """``genbench models NAME``."""
    from genbench.config import describe_checks, describe_settings

    spec = reg.models.get(name)
    plugin = next(p for p in reg.plugins if p.name == reg.models.owners[spec.name])
    settings = describe_settings(spec.config, spec.profiles)
    checks = describe_checks(spec.config)
    if fmt == Format.json:
        return _print_json({
            "name": spec.name, "family": spec.family, "summary": spec.summary,
            "paper": spec.paper, "plugin": plugin.name, "distribution": plugin.distribution,
            "version": plugin.version, "capabilities": list(spec.capabilities),
            "data": list(spec.accepts), "settings": settings, "checks": checks})
    out.print(_pairs(f"Model {spec.name}", {
        "summary": spec.summary, "family": spec.family, "paper": spec.paper,
        "capabilities": ", ".join(spec.capabilities), "data": ", ".join(spec.accepts),
        "plugin": plugin.label}))
    table = Table(title="Settings (--set NAME=VALUE); a profile's value replaces the default "
                        "(PROFILE:KIND on datasets of that kind)", title_justify="left",
                  box=box.SIMPLE_HEAD)
    table.add_column("setting", no_wrap=True)
    for column in ("type", "default", "profiles", "allowed"):
        table.add_column(column, overflow="fold")
    for row in settings:
        by_profile = "\n".join(f"{key} {_setting_text(value)}"  # one profile a line
                               for key, value in row["profiles"].items())
        table.add_row(*map(Text, (row["name"], row["type"], _setting_text(row["default"]),
                                  by_profile, row["allowed"])))
    out.print(table)
    for check in checks:
        out.print(Text(f"  {' and '.join(check['settings'])} together: {check['rule']}"),
                  soft_wrap=True)


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


@friendly
def plugins(
    fmt: FormatOpt = Format.table,
    check: Annotated[bool, typer.Option(
        "--check", help="Exit with status 1 if any plugin failed to load, naming each on "
                        "stderr: a CI step that gates on the plugins.")] = False,
) -> None:
    """List discovered plugins, what each provides, and why any failed to load."""
    from genbench.plugins import get_registries

    infos = get_registries().plugins
    if fmt == Format.json:
        _print_json([vars(p) for p in infos])
    else:
        rows = []
        for p in infos:
            provides = "; ".join(f"{k}: {', '.join(v)}" for k, v in p.provides.items())
            style = {"loaded": "yellow" if p.warning else "green", "disabled": "yellow"}
            rows.append([p.name, f"{p.distribution} {p.version}",
                         Text(p.status, style=style.get(p.status, "red")),
                         p.error or p.warning or provides])
        out.print(_table("Plugins", ["name", "distribution", "status", "provides / error"],
                         rows))
    failed = [p for p in infos if p.status == "failed"]
    if check and failed:
        listing = "; ".join(f"{p.label} [{p.error}]" for p in failed)
        err.print(f"[bold red]error:[/] {len(failed)} plugin{'s' if len(failed) > 1 else ''} "
                  f"failed to load: {escape(listing)}", soft_wrap=True)
        raise typer.Exit(1)
