"""The store as tables for pandas users, written as CSV or Parquet.

The long table is tidy: one row per (run, metric), each carrying the run's identity, so
``frame.pivot_table(index="model", columns="metric", values="value")`` needs nothing else.
A run without metrics (failed, interrupted) still gets one row, its metric columns blank.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pandas as pd

from genbench.atomic import atomic_write
from genbench.errors import GenbenchError
from genbench.results.provenance import model_plugin
from genbench.results.record import RunRecord

RUN_COLUMNS = ["run_id", "model", "dataset", "split", "profile", "seed", "status", "message",
               "steps", "wall_time", "device", "git_revision", "created", "updated",
               "config_hash", "overrides", "config", "model_plugin", "model_plugin_version"]
METRIC_COLUMNS = ["metric", "value", "higher_is_better", "family", "extractor", "n_real",
                  "n_fake", "ci_low", "ci_high"]
# Nullable dtypes, so blanks survive a Parquet round trip without turning ints into floats.
_DTYPES = {"seed": "Int64", "steps": "Int64", "wall_time": "float64", "value": "float64",
           "higher_is_better": "boolean", "n_real": "Int64", "n_fake": "Int64",
           "ci_low": "float64", "ci_high": "float64"}
FORMATS = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}


def _identity(record: RunRecord) -> dict:
    plugin, version = model_plugin(record) or (None, None)
    return {"run_id": record.run_id, "model": record.model, "dataset": record.dataset,
            "split": record.split, "profile": record.profile, "seed": record.seed,
            "status": record.status, "message": record.message, "steps": record.steps,
            "wall_time": record.wall_time, "device": record.device,
            "git_revision": record.git_revision, "created": record.created,
            "updated": record.updated, "config_hash": record.config_hash,
            "overrides": " ".join(record.overrides),
            "config": json.dumps(record.config, sort_keys=True, default=str),
            # Runs of one model made with different versions of its plugin are not one model.
            "model_plugin": plugin, "model_plugin_version": version}


def _typed(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.astype({c: t for c, t in _DTYPES.items() if c in frame.columns})


def long_frame(records: list[RunRecord]) -> pd.DataFrame:
    """One row per (run, metric): the run's identity columns, then the metric's."""
    rows = []
    for record in records:
        identity = _identity(record)
        for m in record.metrics:
            rows.append({**identity, "metric": m.name, "value": m.value,
                         "higher_is_better": m.higher_is_better, "family": m.metric,
                         "extractor": m.extractor, "n_real": m.n_real, "n_fake": m.n_fake,
                         "ci_low": m.ci_low, "ci_high": m.ci_high})
        if not record.metrics:
            rows.append({**identity, **dict.fromkeys(METRIC_COLUMNS)})
    return _typed(pd.DataFrame(rows, columns=RUN_COLUMNS + METRIC_COLUMNS))


def wide_frame(records: list[RunRecord]) -> pd.DataFrame:
    """One row per run: the identity columns, then one column per metric name."""
    names = list(dict.fromkeys(m.name for r in records for m in r.metrics))
    rows = [{**_identity(r), **r.metric_map()} for r in records]
    frame = pd.DataFrame(rows, columns=RUN_COLUMNS + names)
    return _typed(frame).astype({name: "float64" for name in names})


def format_of(path: str | Path, fmt: str | None = None) -> str:
    if fmt:
        return fmt
    try:
        return FORMATS[Path(path).suffix.lower()]
    except KeyError:
        raise GenbenchError(f"cannot tell the format of {path} from its extension; name it "
                            f".csv or .parquet, or pass --format csv|parquet") from None


def write_frame(frame: pd.DataFrame, path: str | Path, fmt: str) -> Path:
    """Write ``frame`` to a temporary file beside ``path``, then move it into place."""
    if fmt == "parquet":
        if importlib.util.find_spec("pyarrow") is None:
            raise GenbenchError("writing Parquet needs pyarrow: pip install pyarrow "
                                "(or export to .csv)")
        return atomic_write(path, lambda tmp: frame.to_parquet(tmp, index=False,
                                                               engine="pyarrow"))
    if fmt == "csv":
        return atomic_write(path, lambda tmp: frame.to_csv(tmp, index=False))
    raise GenbenchError(f"unknown export format {fmt!r}; choose csv or parquet")


def export(records: list[RunRecord], path: str | Path, fmt: str | None = None,
           wide: bool = False) -> tuple[Path, int]:
    """Write the records to ``path`` (format from ``fmt`` or the extension); returns the path
    and the number of rows written."""
    fmt = format_of(path, fmt)
    frame = wide_frame(records) if wide else long_frame(records)
    try:
        return write_frame(frame, path, fmt), len(frame)
    except OSError as exc:
        raise GenbenchError(f"cannot write {path} ({exc.strerror or exc}); choose another "
                            f"--out") from None


def read_records(sources) -> list[RunRecord]:
    """Run records from ``record.json`` files and folders of them (searched recursively)."""
    files = []
    for source in sources:
        path = Path(source)
        if path.is_dir():
            files += sorted(path.rglob("*.json"))
        elif path.is_file():
            files.append(path)
        else:
            raise GenbenchError(f"{source} does not exist")
    records = []
    for path in files:
        try:
            record = RunRecord.parse(json.loads(path.read_text()))
        except (ValueError, TypeError, KeyError) as exc:
            raise GenbenchError(f"{path} is not a genbench run record ({exc})") from None
        record.run_dir = _run_dir_of(record.run_dir, path)
        records.append(record)
    return records


def _run_dir_of(run_dir: str, path: Path) -> str:
    """A record.json in its run's folder names that folder relative to its workdir
    (``runs/<run id>``), or from older versions as an absolute path, perhaps from before the
    workdir was copied or moved: either way the run's folder is the one the file is in."""
    folder = path.parent.resolve()
    return str(folder) if run_dir and Path(run_dir).name == folder.name else run_dir
