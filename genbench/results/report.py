"""The static HTML report: ``leaderboards/index.html``, one page for every dataset.

It needs no server and no network: CSS and JavaScript are inline, images are small PNGs under
``report/`` linked relatively, so the committed folder works from a clean clone and from
``file://``. Per dataset it shows the models across seeds (mean ± 95% interval) and every run,
both sortable by clicking a header, a sample thumbnail per row, each run's training curve, a
precision-recall scatter and quality against training compute. The same records give the same
bytes, so re-rendering an unchanged store changes no file.
"""

from __future__ import annotations

import html
import math
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from genbench.atomic import atomic_write
from genbench.data.anomaly_specs import PROTOCOLS
from genbench.results.leaderboard import (
    best_rows,
    class_frame,
    class_table,
    group_key,
    interval_text,
    label,
    leaderboard_frame,
    not_computed,
    protocol_groups,
    published_caveat,
    published_row,
    summary_frame,
    summary_key,
)
from genbench.results.provenance import by_plugin_version
from genbench.results.record import MetricValue, RunRecord, board_stem

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

# The metric plotted against training compute: the first of these a dataset has.
PRIMARY = ("modes_covered", "modes_covered[evaluator]", "FD[evaluator]", "FID", "FD[raw]", "bpd")
THUMB_PX = 96  # longest side of a sample thumbnail
CURVE_PX = 400  # longest side of a training-curve copy
COLOURS = 64  # palette size of the PNG copies: a fifth of the bytes, no visible loss
MARKERS = "osD^vP*Xh<>p"
# Matplotlib writes its version into PNGs unless told not to; the report must not change
# when only matplotlib does.
PNG_METADATA = {"Software": None}

Cell = tuple[str, str | None]  # inner HTML, and the numeric sort key (None: a text cell)
Picture = tuple[str, tuple[int, int]]  # a written PNG: its path relative to the index, size


def write_report(records: list[RunRecord], out_dir: str | Path,
                 title: str = "genbench leaderboards") -> Path:
    """Write ``out_dir/index.html`` and its images under ``out_dir/report/``; return the index."""
    out_dir = Path(out_dir)
    by_dataset: dict[str, list[RunRecord]] = {}
    for r in records:
        by_dataset.setdefault(r.dataset, []).append(r)
    protocols = protocol_groups(records)
    sections = [_protocol_section(b, protocols[b], out_dir) for b in sorted(protocols)]
    sections += [_dataset_section(d, by_dataset[d], out_dir) for d in sorted(by_dataset)]
    nav = " · ".join([f'<a href="#{_anchor(b + ":all")}">{html.escape(b)}, every class</a>'
                      for b in sorted(protocols)]
                     + [f'<a href="#{_anchor(d)}">{html.escape(d)}</a>'
                        for d in sorted(by_dataset)])
    page = _PAGE.format(title=html.escape(title), css=_CSS, js=_JS, nav=nav or "No runs yet.",
                        sections="\n".join(sections))
    index = _publish(out_dir / "index.html",
                     lambda tmp: Path(tmp).write_text(page, encoding="utf-8"))
    _prune(out_dir, page)
    return index


def _prune(out_dir: Path, page: str) -> None:
    """Remove the PNGs under ``report/`` that an earlier render wrote and the page no longer
    shows (runs that left the store, datasets without runs); remember what it shows."""
    from genbench.results import written

    shown = {out_dir / html.unescape(m)
             for m in re.findall(r'(?:src|href)="(report/[^"]+)"', page)}
    assets = out_dir / "report"
    written.prune(out_dir, sorted(assets.rglob("*.png")) if assets.is_dir() else [], shown)
    written.remember(out_dir, sorted(p for p in shown if p.is_file()) + [out_dir / "index.html"])


def _publish(path: Path, write: Callable[[str], None]) -> Path:
    """Write atomically, readable by all: the folder may be served as it is."""
    def write_readable(tmp: str) -> None:
        write(tmp)
        os.chmod(tmp, 0o644)

    return atomic_write(path, write_readable)


def _anchor(dataset: str) -> str:
    return "ds-" + board_stem(dataset)


def _dataset_section(dataset: str, records: list[RunRecord], out_dir: Path) -> str:
    # One model's runs of different plugin versions are kept apart, as in the tables.
    records = by_plugin_version(records)
    done = [r for r in records if r.status == "completed"]
    parts = [f'<section id="{_anchor(dataset)}">', f"<h2>{html.escape(dataset)}</h2>"]
    if done:
        thumbs = {r.run_id: _samples_picture(r, out_dir) for r in done}
        parts += ["<h3>Across seeds</h3>", _summary_table(done, thumbs),
                  "<h3>Every run</h3>", _runs_table(done, thumbs, out_dir),
                  "<h3>Plots</h3>", _plots(dataset, done, out_dir)]
        skipped = not_computed(done)
        if skipped:
            parts += ['<h3>Not computed</h3>', '<ul class="not-computed">']
            parts += [f"<li>{html.escape(', '.join(names))}: {html.escape(why)}</li>"
                      for why, names in skipped.items()]
            parts.append("</ul>")
    else:
        parts.append("<p>No completed runs yet.</p>")
    others = [r for r in records if r.status != "completed"]
    if others:
        parts += ['<h3>Not ranked</h3>', '<ul class="unranked">']
        parts += [f"<li>{html.escape(r.model)} seed {r.seed}: <b>{html.escape(r.status)}</b>"
                  + (f" ({html.escape(r.message)})" if r.message else "")
                  + f" <code>{html.escape(r.run_id)}</code></li>" for r in others]
        parts.append("</ul>")
    parts.append("</section>")
    return "\n".join(parts)


# --- anomaly protocols: every class of one protocol together ------------------------------

def _protocol_section(base: str, runs: list[RunRecord], out_dir: Path) -> str:
    """The per-class board of an anomaly protocol (``BASE:K`` for every K): AUROC and AUPRC
    tables, a row per model and a column per class, and AUROC by class as a picture."""
    runs = by_plugin_version(runs)
    frame = class_frame(runs)
    classes = sorted({int(r.dataset.partition(":")[2]) for r in runs})
    protocol = runs[0].evaluation.get("protocol", "")
    parts = [f'<section id="{_anchor(base + ":all")}">',
             f"<h2>{html.escape(base)}: anomaly detection, every class</h2>",
             f"<p>{html.escape(PROTOCOLS.get(protocol, protocol))}; the runs on "
             f"<code>{html.escape(base)}:K</code> for every K. The whole test split is scored, "
             "anomalies being the positive class. Every class's own runs are in its section "
             "below.</p>"]
    for metric, title in (("auroc", "AUROC (%) ↑"), ("auprc", "AUPRC (%) ↑")):
        part = frame[frame["metric"] == metric]
        if part.empty:
            continue
        wide, columns, marked = class_table(part, classes)
        settings = int(wide["settings"].astype(bool).any())  # the column only where used
        header = ["model", "profile"] + ["settings"] * settings + ["seeds"] + columns
        rows = [[_text(row["model"]), _text(row["profile"])]
                + [_text(row["settings"])] * settings
                + [_number(int(row["seeds"]), str(int(row["seeds"])))]
                + [_interval_cell(row[c], row[f"{c} ±"], i in marked.get(c, ()))
                   for c in columns] for i, row in wide.iterrows()]
        parts += [f"<h3>{html.escape(title)}</h3>",
                  _table("classes", header, rows, caption=f"{title}, mean over seeds ± the "
                         "half-width of the 95% Student-t interval; `mean` averages each "
                         "seed's classes first. Bold: the best in its column within a profile, "
                         "only where its interval does not overlap the runner-up's.")]
    rel = f"report/{board_stem(base)}-classes.png"
    fig, caption = _draw_classes(frame, classes, protocol, base)
    if fig is not None:
        _save_figure(fig, out_dir / rel)
        parts.append(f'<div class="plots"><figure><img src="{rel}" alt="{html.escape(caption)}"'
                     f' class="plot"><figcaption>{html.escape(caption)}</figcaption></figure>'
                     "</div>")
    parts.append("</section>")
    return "\n".join(parts)


def _draw_classes(frame, classes: list[int], protocol: str,
                  base: str) -> tuple[Figure | None, str]:
    """AUROC against the normal class, a line per model (quick profile first) with its 95%
    interval, and the published reference where there is one for these classes."""
    part = frame[(frame["metric"] == "auroc") & (frame["class"] != "mean")]
    if part.empty:
        return None, ""
    fig, ax = _figure()
    style = _style(list(part["model"]))
    for (model, profile, settings), rows in part.groupby(["model", "profile", "settings"],
                                                         sort=True):
        rows = rows.assign(k=rows["class"].astype(int)).sort_values("k")
        legend = " ".join(x for x in (model, "" if profile == "quick" else profile, settings) if x)
        mean, half = 100 * rows["mean"], 100 * rows["±"].fillna(0)
        # An AUC cannot pass 100%: the t-interval's upper arm is cut there.
        ax.errorbar(rows["k"], mean, yerr=[half, half.clip(upper=100 - mean)], label=legend,
                    capsize=2, markersize=5, alpha=0.85, **style[model])
    published = published_row(protocol, classes)
    if published:
        name, values = published
        ax.plot(classes, values, "k--", linewidth=1, label=name.split(" (")[0])
    ax.set(xticks=classes, xlabel="normal class K", ylabel="AUROC (%) ↑",
           title="AUROC by normal class")
    _legend(ax)
    return fig, ("AUROC by normal class: a line per model, bars the 95% interval over seeds "
                 "(cut at 100)"
                 + (f"; dashed, the published reference ({published_caveat(base)})."
                    if published else "."))


# --- tables -------------------------------------------------------------------------------

def _summary_table(done: list[RunRecord], thumbs: dict[str, Picture | None]) -> str:
    frame, directions = summary_frame(done)
    marked = best_rows(frame, directions)
    by_samples = "samples" in frame.columns
    groups: dict[tuple, list[RunRecord]] = {}
    for r in done:
        groups.setdefault(group_key(r, by_samples), []).append(r)
    header = ["sample", "model", "profile", "settings"] + ["samples"] * by_samples + ["seeds"]
    header += [label(name, up) for name, up in directions.items()]
    rows = []
    for i, row in frame.iterrows():
        runs = groups[summary_key(row)]
        first = min(runs, key=lambda r: (r.seed, r.run_id))
        cells = [(_img(thumbs[first.run_id], _samples_alt(first), 64), None),
                 _text(row["model"]), _text(row["profile"]), _text(row["settings"])]
        if by_samples:
            cells.append(_text(row["samples"]))
        cells += [_number(int(row["seeds"]), str(int(row["seeds"])))]
        for name in directions:
            cells.append(_interval_cell(row[name], row[f"{name} ±"],
                                        i in marked.get(name, ())))
        rows.append(cells)
    return _table("summary", header, rows, caption="Mean ± half-width of the 95% confidence "
                  "interval over seeds (Student's t; a single seed's own bootstrap interval "
                  "where there is one). Bold: the best in its column within a profile, only "
                  "where its interval does not overlap the runner-up's. The sample is the "
                  "first seed's.")


def _interval_cell(mean, half, bold: bool) -> Cell:
    shown = interval_text(mean, half)
    inner = html.escape(shown)
    return (f"<b>{inner}</b>" if bold and shown else inner), _sort_key(mean)


def _runs_table(done: list[RunRecord], thumbs: dict[str, Picture | None],
                out_dir: Path) -> str:
    frame = leaderboard_frame(done)
    by_id = {r.run_id: r for r in done}
    names: list[str] = []
    directions: dict[str, bool] = {}
    for r in done:
        for m in r.metrics:
            if m.name not in directions:
                names.append(m.name)
                directions[m.name] = m.higher_is_better
    header = ["sample", "training curve", "model", "profile", "settings", "seed"]
    header += [label(name, directions[name]) for name in names]
    header += ["wall time (s)", "device", "run"]
    rows = []
    for run_id in frame["run"]:
        r = by_id[run_id]
        values = {m.name: m for m in r.metrics}
        curve = _img(_curve_picture(r, out_dir), f"training curves of {r.model}, seed "
                     f"{r.seed}", 132, missing="no curve", link=True)
        cells = [(_img(thumbs[run_id], _samples_alt(r), 48), None), (curve, None),
                 _text(r.model), _text(r.profile),
                 _text(" ".join(r.overrides)), _number(r.seed, str(r.seed))]
        for name in names:
            m = values.get(name)
            cells.append(_number(None, "") if m is None else _metric_cell(m))
        cells += [_number(r.wall_time, f"{r.wall_time:.1f}"), _text(r.device),
                  (f"<code>{html.escape(run_id)}</code>", None)]
        rows.append(cells)
    return _table("runs", header, rows, caption="One row per completed run; hover a value for "
                  "its bootstrap interval where there is one.")


def _metric_cell(m: MetricValue) -> Cell:
    if _blank(m.value):
        return "", ""
    inner = html.escape(f"{m.value:.4g}")
    if m.ci_low is not None and m.ci_high is not None:
        tip = f"95% bootstrap interval {m.ci_low:.4g} to {m.ci_high:.4g}"
        inner = f'<span title="{html.escape(tip)}">{inner}</span>'
    return inner, _sort_key(m.value)


def _table(kind: str, header: list[str], rows: list[list[Cell]], caption: str) -> str:
    """A sortable table: a cell's ``data-sort`` (when given) is what the script sorts by."""
    heads = "".join(f'<th class="nosort">{html.escape(h)}</th>' if h in _PICTURE_COLUMNS else
                    f"<th>{_breakable(h)}</th>" for h in header)
    body = []
    for cells in rows:
        tds = "".join(f"<td>{inner}</td>" if key is None else
                      f'<td class="num" data-sort="{html.escape(key)}">{inner}</td>'
                      for inner, key in cells)
        body.append(f"<tr>{tds}</tr>")
    return (f'<div class="scroll"><table class="sortable {kind}"><caption>{html.escape(caption)}'
            f"</caption><thead><tr>{heads}</tr></thead><tbody>\n" + "\n".join(body)
            + "\n</tbody></table></div>")


_PICTURE_COLUMNS = ("sample", "training curve")


def _breakable(header: str) -> str:
    """Let ``coverage[evaluator] ↑`` wrap before the bracket, so wide tables stay narrower."""
    return html.escape(header).replace("[", "<wbr>[")


def _text(value) -> Cell:
    return html.escape(str(value)), None


def _number(value, shown: str) -> Cell:
    return html.escape(shown), _sort_key(value)


def _sort_key(value) -> str:
    return "" if _blank(value) else repr(float(value))


def _blank(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


# --- images -------------------------------------------------------------------------------

def _samples_picture(record: RunRecord, out_dir: Path) -> Picture | None:
    """A thumbnail of the run's samples (or translations, or coupled pairs), or None when there
    are none."""
    names = ("samples.png", "translations.png", "pairs.png", "reconstructions.png")
    sources = [Path(record.run_dir) / n for n in names] if record.run_dir else []
    rel = f"report/thumbs/{board_stem(record.run_id)}.png"
    size = _shrink(sources, out_dir / rel, THUMB_PX)
    return None if size is None else (rel, size)


def _curve_picture(record: RunRecord, out_dir: Path) -> Picture | None:
    sources = [Path(record.run_dir) / "losses.png"] if record.run_dir else []
    rel = f"report/curves/{board_stem(record.run_id)}.png"
    size = _shrink(sources, out_dir / rel, CURVE_PX)
    return None if size is None else (rel, size)


def _samples_alt(record: RunRecord) -> str:
    return f"samples of {record.model}, seed {record.seed}"


def _img(picture: Picture | None, alt: str, shown_px: int, missing: str = "no image",
         link: bool = False) -> str:
    """An ``<img>`` at most ``shown_px`` wide or high, or a visible placeholder."""
    if picture is None:
        return f'<span class="noimg">{html.escape(missing)}</span>'
    rel, (width, height) = picture
    scale = min(1.0, shown_px / max(width, height))
    tag = (f'<img src="{html.escape(rel)}" width="{round(width * scale)}" '
           f'height="{round(height * scale)}" alt="{html.escape(alt)}">')
    return f'<a href="{html.escape(rel)}">{tag}</a>' if link else tag


def _shrink(sources: list[Path], dest: Path, longest: int) -> tuple[int, int] | None:
    """Write a small palette PNG of the first readable source to ``dest``; return its size.

    When the run folder is gone (a store copied without its runs) an earlier copy is kept,
    so re-rendering never loses the pictures already in the report."""
    from PIL import Image

    for source in sources:
        try:
            with Image.open(source) as im:
                im = im.convert("RGBA")
        except (OSError, ValueError):  # missing or unreadable: try the next one
            continue
        flat = Image.new("RGB", im.size, "white")
        flat.paste(im, mask=im.getchannel("A"))
        flat.thumbnail((longest, longest), Image.Resampling.LANCZOS)
        small = flat.quantize(COLOURS)
        _publish(dest, lambda tmp, small=small: small.save(tmp, format="PNG", optimize=True))
        return small.size
    try:
        with Image.open(dest) as kept:
            return kept.size
    except (OSError, ValueError):
        return None


# --- plots --------------------------------------------------------------------------------

def _plots(dataset: str, done: list[RunRecord], out_dir: Path) -> str:
    stem = board_stem(dataset)
    style = _style([r.model for r in done])  # a model looks the same in both plots
    figures = []
    for kind, draw in (("pr", _draw_pr), ("compute", _draw_compute)):
        rel = f"report/{stem}-{kind}.png"
        fig, caption = draw(done, style)
        if fig is None:
            figures.append(f'<p class="noplot">{html.escape(caption)}</p>')
        else:
            _save_figure(fig, out_dir / rel)
            figures.append(f'<figure><img src="{rel}" alt="{html.escape(caption)}" '
                           f'class="plot"><figcaption>{html.escape(caption)}</figcaption>'
                           "</figure>")
    return '<div class="plots">' + "".join(figures) + "</div>"


def _save_figure(fig: Figure, path: Path) -> None:
    _publish(path, lambda tmp: fig.savefig(tmp, format="png", dpi=80, metadata=PNG_METADATA))


def _style(models: list[str]) -> dict[str, dict]:
    """One colour and marker per model, stable for a given set of models."""
    from matplotlib import colormaps

    colours = colormaps["tab10"].colors
    return {m: {"color": colours[i % len(colours)], "marker": MARKERS[i % len(MARKERS)]}
            for i, m in enumerate(sorted(set(models)))}


def _draw_pr(done: list[RunRecord], style: dict[str, dict]) -> tuple[Figure | None, str]:
    """Precision against recall, in the feature space most runs were scored in."""
    pairs: dict[str, list[tuple[RunRecord, float, float]]] = {}
    for r in done:
        values = r.metric_map()
        for name, precision in values.items():
            partner = "recall" + name[len("precision"):]
            if name.startswith("precision") and partner in values:
                pairs.setdefault(name[len("precision"):], []).append(
                    (r, values[partner], precision))
    if not pairs:
        return None, "No precision-recall plot: no run has both precision and recall."
    space = max(sorted(pairs), key=lambda k: len(pairs[k]))
    features = f" ({space.strip('[]')} features)" if space else ""
    fig, ax = _figure()
    for model, kw in style.items():
        points = [(x, y) for r, x, y in pairs[space] if r.model == model]
        if not points:
            continue
        ax.scatter(*zip(*points, strict=True), label=model, s=36, alpha=0.8, **kw)
    ax.set(xlim=(0, 1), ylim=(0, 1), xlabel="recall", ylabel="precision",
           title=f"Precision and recall{features}")
    _legend(ax)
    return fig, f"Precision against recall{features}, one point per run."


def _draw_compute(done: list[RunRecord], style: dict[str, dict]) -> tuple[Figure | None, str]:
    """The primary metric against training seconds: a line per run with a trajectory, else
    one point at the run's wall time."""
    names = {n for r in done for n in r.metric_map()}
    names |= {n for r in done for e in r.trajectory for n in e.get("metrics", {})}
    primary = next((n for n in PRIMARY if n in names), None)
    series = [(r, _compute_points(r, primary)) for r in done] if primary else []
    series = [(r, pts) for r, pts in series if pts]
    if not series:
        return None, f"No quality-against-compute plot: none of {', '.join(PRIMARY)} was scored."
    xs = [x for _, pts in series for x, _ in pts if x > 0]
    log = bool(xs) and max(xs) > 10 * min(xs)
    fig, ax = _figure()
    labelled: set[str] = set()
    for r, pts in series:
        pts = [(x, y) for x, y in pts if x > 0 or not log]
        if not pts:
            continue
        legend = None if r.model in labelled else r.model
        labelled.add(r.model)
        ax.plot(*zip(*pts, strict=True), label=legend, markersize=5, alpha=0.8,
                **style[r.model])
    higher = next((m.higher_is_better for r in done for m in r.metrics if m.name == primary),
                  True)
    ax.set(xlabel="training time (s)", ylabel=label(primary, higher),
           title=f"{primary} against training compute")
    if log:
        _log_x(ax)
    _legend(ax)
    return fig, (f"{primary} against training seconds: a line per run evaluated during "
                 "training (--eval-every), else one point at the run's wall time.")


def _compute_points(r: RunRecord, name: str) -> list[tuple[float, float]]:
    points = [(float(e["seconds"]), float(e["metrics"][name])) for e in r.trajectory
              if name in e.get("metrics", {}) and not _blank(e["metrics"][name])]
    if points:
        return sorted(points)
    final = r.metric_map().get(name)
    return [] if _blank(final) else [(r.wall_time, final)]


def _legend(ax: Axes) -> None:
    """Beside the axes, where it hides no point."""
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1), frameon=False)


def _log_x(ax: Axes) -> None:
    """A log axis labelled 20, 50, 100, ... rather than crowded powers of ten."""
    from matplotlib import ticker

    ax.set_xscale("log")
    ax.xaxis.set_major_locator(ticker.LogLocator(subs=(1, 2, 5), numticks=15))
    ax.xaxis.set_major_formatter(ticker.FormatStrFormatter("%g"))
    ax.xaxis.set_minor_formatter(ticker.NullFormatter())


def _figure() -> tuple[Figure, Axes]:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6, 4), layout="constrained")
    return fig, fig.subplots()


# --- page ---------------------------------------------------------------------------------

_CSS = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em auto; max-width: 1400px;
       padding: 0 1em; color: #222; }
h2 { border-bottom: 2px solid #ccc; margin-top: 2em; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; margin: 0.5em 0 1em; }
caption { caption-side: bottom; text-align: left; color: #666; font-size: 12px; }
th, td { border: 1px solid #ddd; padding: 3px 6px; vertical-align: middle; text-align: left; }
td { white-space: nowrap; }
td.num { text-align: right; }
th { background: #f3f3f3; position: sticky; top: 0; }
th:not(.nosort) { cursor: pointer; user-select: none; }
th:not(.nosort)::after { content: " \\21C5"; color: #bbb; }
th[aria-sort=ascending]::after { content: " \\25B2"; color: #000; }
th[aria-sort=descending]::after { content: " \\25BC"; color: #000; }
tbody tr:nth-child(even) { background: #fafafa; }
td img { display: block; image-rendering: auto; }
.noimg { color: #a00; font-size: 11px; }
.plots { display: flex; flex-wrap: wrap; gap: 1em; }
.plots figure { margin: 0; }
figcaption, .noplot { color: #666; font-size: 12px; max-width: 480px; }
code { font-size: 11px; }
"""

# Sort a table by the clicked column: numbers numerically, text naturally, blanks last either
# way; a second click reverses. ``aria-sort`` on the header says the current direction.
_JS = """
function sortKey(row, col) {
  const td = row.cells[col];
  const raw = (td.dataset.sort !== undefined ? td.dataset.sort : td.textContent).trim();
  if (raw === "") return null;
  const num = Number(raw);
  return Number.isNaN(num) ? raw : num;
}
function compareKeys(x, y) {
  if (typeof x === "number" && typeof y === "number") return x - y;
  return String(x).localeCompare(String(y), undefined, {numeric: true});
}
function sortTable(table, th, col) {
  const ascending = th.getAttribute("aria-sort") !== "ascending";
  table.querySelectorAll("thead th").forEach(h => h.removeAttribute("aria-sort"));
  th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
  const body = table.tBodies[0];
  const rows = Array.from(body.rows);
  rows.sort((a, b) => {
    const x = sortKey(a, col), y = sortKey(b, col);
    if (x === null || y === null) return (x === null) - (y === null);
    return ascending ? compareKeys(x, y) : compareKeys(y, x);
  });
  rows.forEach(row => body.appendChild(row));
}
document.querySelectorAll("table.sortable").forEach(table => {
  table.querySelectorAll("thead th").forEach((th, col) => {
    if (th.classList.contains("nosort")) return;
    th.tabIndex = 0;
    th.addEventListener("click", () => sortTable(table, th, col));
    th.addEventListener("keydown", e => {
      if (e.key === "Enter" || e.key === " ") { e.preventDefault(); sortTable(table, th, col); }
    });
  });
});
"""

_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>{css}</style>
</head>
<body>
<h1>{title}</h1>
<p>Rendered from the genbench store by <code>genbench leaderboard render</code>; do not edit by
hand. ↑ higher is better, ↓ lower is better. Compare rows only within a profile:
<code>quick</code> runs are CPU smoke budgets, <code>standard</code> runs paper-like ones.
Click a column header to sort by it; click again to reverse.</p>
<nav>{nav}</nav>
{sections}
<script>{js}</script>
</body>
</html>
"""
