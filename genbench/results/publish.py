"""Publishing the boards: per dataset the Markdown and CSV tables, the per-class tables of
the anomaly protocols, the run records and the HTML report, written atomically into one folder.

It sits above :mod:`genbench.results.leaderboard` (the tables) and
:mod:`genbench.results.report` (the page, which reads the tables): nothing imports back up.
"""

from __future__ import annotations

from pathlib import Path

from genbench.atomic import write_text
from genbench.results.leaderboard import (
    OWN_BOARD,
    _only,
    class_frame,
    leaderboard_frame,
    protocol_groups,
    protocol_markdown,
    summary_frame,
    to_markdown,
)
from genbench.results.record import RunRecord, board_stem
from genbench.results.report import write_report
from genbench.results.written import prune, remember


def write_records(records: list[RunRecord], out_dir: str | Path) -> list[Path]:
    """``out_dir/records/<run id>.json`` for every completed run; records an earlier render
    wrote there for runs no longer in the store are removed (never other files:
    :mod:`genbench.results.written`)."""
    import json


    folder = Path(out_dir) / "records"
    folder.mkdir(parents=True, exist_ok=True)
    done = [r for r in records if r.status == "completed"]
    paths = [folder / f"{r.run_id}.json" for r in done]
    prune(out_dir, sorted(folder.glob("*.json")), set(paths))
    for r, path in zip(done, paths, strict=True):
        write_text(path, json.dumps(r.to_dict(), indent=2) + "\n")
    remember(out_dir, paths)
    return paths


def render(records: list[RunRecord], out_dir: str | Path,
           datasets: list[str] | None = None, report: bool = False) -> list[Path]:
    """Write ``<dataset>.md``, ``<dataset>.csv`` (one row per run) and
    ``<dataset>-summary.csv`` (one row per model: means, interval half-widths, seeds) for each
    dataset with runs, ``<protocol>.md``/``.csv`` per anomaly protocol (a column per class),
    and with ``report`` the HTML report ``index.html``."""
    out_dir = Path(out_dir)
    by_dataset: dict[str, list[RunRecord]] = {}
    for r in records:
        by_dataset.setdefault(r.dataset, []).append(r)
    written = []
    for dataset in sorted(datasets or by_dataset):
        recs = by_dataset.get(dataset, [])
        boards = {"": _only(recs, lambda m: m.metric not in OWN_BOARD)}
        for family, board in OWN_BOARD.items():
            mine = _only(recs, lambda m, f=family: m.metric == f)
            if any(r.metrics for r in mine):
                boards[board] = [r for r in mine if r.metrics or r.status != "completed"]
        for board, board_recs in boards.items():
            frame = leaderboard_frame(board_recs)
            stem = board_stem(dataset) + (f"-{board}" if board else "")
            md, csv = out_dir / f"{stem}.md", out_dir / f"{stem}.csv"
            summary_csv = out_dir / f"{stem}-summary.csv"
            write_text(md, to_markdown(dataset, frame, board_recs, board))
            write_text(csv, frame.to_csv(index=False))
            write_text(summary_csv, summary_frame(board_recs)[0].to_csv(index=False))
            written += [md, csv, summary_csv]
    by_protocol = protocol_groups(records)
    bases = {d.partition(":")[0] for d in datasets} if datasets else set(by_protocol)
    for base in sorted(bases & set(by_protocol)):
        md, csv = out_dir / f"{board_stem(base)}.md", out_dir / f"{board_stem(base)}.csv"
        write_text(md, protocol_markdown(base, by_protocol[base]))
        write_text(csv, class_frame(by_protocol[base]).to_csv(index=False))
        written += [md, csv]
    if report:
        written.append(write_report(records, out_dir))
    remember(out_dir, written)
    return written
