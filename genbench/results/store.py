"""The SQLite store of run records under a workdir.

A workdir is self-contained, so it can be copied or moved and used in place: the store keeps
each run's folder relative to the workdir (``runs/<run id>``) and hands records out with it
resolved against the workdir in use. Stores written before that hold absolute paths; one that
no longer lies in the workdir is read as the workdir's own ``runs/<same name>`` when there is
one (the workdir was copied or moved since).

Every write is one transaction, so an interrupted or failed run can never leave a half-written
record, and a crash mid-run leaves a row with status ``running`` rather than a broken file
(``run --resume`` continues such a run once no live process holds its folder).
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import fields
from pathlib import Path

from genbench.errors import GenbenchError
from genbench.results.record import MetricValue, RunRecord

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY,
    model TEXT NOT NULL, dataset TEXT NOT NULL, split TEXT NOT NULL, profile TEXT NOT NULL,
    seed INTEGER NOT NULL, config TEXT NOT NULL, overrides TEXT NOT NULL,
    config_hash TEXT NOT NULL,
    status TEXT NOT NULL, message TEXT, steps INTEGER, wall_time REAL,
    created TEXT, updated TEXT, device TEXT, hardware TEXT, versions TEXT, git_revision TEXT,
    run_dir TEXT, extractors TEXT NOT NULL, trajectory TEXT NOT NULL DEFAULT '[]',
    evaluation TEXT NOT NULL DEFAULT '{}', training TEXT NOT NULL DEFAULT '{}'
);
CREATE TABLE IF NOT EXISTS metrics (
    run_id TEXT NOT NULL REFERENCES runs(run_id) ON DELETE CASCADE,
    name TEXT NOT NULL, value REAL, higher_is_better INTEGER NOT NULL, metric TEXT NOT NULL,
    extractor TEXT, n_real INTEGER, n_fake INTEGER, ci_low REAL, ci_high REAL,
    PRIMARY KEY (run_id, name)
);
CREATE INDEX IF NOT EXISTS runs_by_key ON runs(model, dataset, config_hash, seed);
"""
# Columns added after the first release, added to older stores when they are opened.
_ADDED_COLUMNS = {"runs": {"trajectory": "TEXT NOT NULL DEFAULT '[]'",
                           "evaluation": "TEXT NOT NULL DEFAULT '{}'",
                           "training": "TEXT NOT NULL DEFAULT '{}'"},
                  "metrics": {"ci_low": "REAL", "ci_high": "REAL"}}
_JSON_COLUMNS = ("config", "overrides", "hardware", "versions", "extractors", "trajectory",
                 "evaluation", "training")
_RUN_COLUMNS = [f.name for f in fields(RunRecord) if f.name != "metrics"]
STORE_NAME = "genbench.sqlite"


class Store:
    def __init__(self, workdir: str | Path):
        self.workdir = Path(workdir)
        self.path = self.workdir / STORE_NAME
        try:
            with closing(self._connect()) as conn, conn:
                # Before anything is written: a damaged page must not be built upon.
                verdict = conn.execute("PRAGMA quick_check(1)").fetchone()[0]
                if verdict != "ok":
                    raise sqlite3.DatabaseError(verdict)
                conn.executescript(SCHEMA)
                for table, columns in _ADDED_COLUMNS.items():
                    have = {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}
                    for name, decl in columns.items():
                        if name not in have:
                            _add_column(conn, table, name, decl)
        except sqlite3.OperationalError as exc:
            raise GenbenchError(f"{self.path} is not a usable genbench store ({exc}); move it "
                                f"aside or choose another --workdir") from None
        except sqlite3.DatabaseError as exc:
            raise self._corrupt(exc) from None

    def _corrupt(self, exc: sqlite3.DatabaseError) -> GenbenchError:
        # quick_check reports on several lines ("*** in database main ***\nPage 2: ...").
        detail = " ".join(str(exc).replace("*** in database main ***", "").split())
        return GenbenchError(f"the store {self.path} is corrupt ({detail}), not a usable genbench "
                             f"store; it was left untouched: move it aside (or restore a copy) "
                             f"or choose another --workdir")

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=30)
        conn.execute("PRAGMA foreign_keys = ON")
        return conn

    @contextmanager
    def _open(self) -> Iterator[sqlite3.Connection]:
        """A connection whose corruption errors (a page damaged after the store was opened)
        become one-line errors; "locked" and other operational errors pass through."""
        try:
            with closing(self._connect()) as conn:
                yield conn
        except sqlite3.OperationalError:
            raise
        except sqlite3.DatabaseError as exc:
            raise self._corrupt(exc) from None

    def save(self, record: RunRecord) -> None:
        """Insert or replace a run and its metrics in one transaction."""
        row = {c: getattr(record, c) for c in _RUN_COLUMNS}
        row["run_dir"] = stored_run_dir(record.run_dir, self.workdir)
        for c in _JSON_COLUMNS:
            row[c] = json.dumps(row[c], sort_keys=True)
        cols = ", ".join(_RUN_COLUMNS)
        marks = ", ".join(f":{c}" for c in _RUN_COLUMNS)
        with self._open() as conn, conn:
            conn.execute(f"INSERT OR REPLACE INTO runs ({cols}) VALUES ({marks})", row)
            conn.execute("DELETE FROM metrics WHERE run_id = ?", (record.run_id,))
            conn.executemany(
                "INSERT INTO metrics (run_id, name, value, higher_is_better, metric, extractor, "
                "n_real, n_fake, ci_low, ci_high) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [(record.run_id, m.name, m.value, int(m.higher_is_better), m.metric,
                  m.extractor, m.n_real, m.n_fake, m.ci_low, m.ci_high)
                 for m in record.metrics],
            )

    def delete(self, run_id: str) -> None:
        """Forget a run and its metrics (a run that failed before training anything)."""
        with self._open() as conn, conn:
            conn.execute("DELETE FROM runs WHERE run_id = ?", (run_id,))

    def get(self, run_id: str) -> RunRecord:
        records = self.query("run_id = ?", (run_id,))
        if not records:
            raise GenbenchError(f"no run {run_id!r} in {self.path}; `genbench runs` lists them")
        return records[0]

    def query(self, where: str = "1", params: tuple = ()) -> list[RunRecord]:
        with self._open() as conn:
            conn.row_factory = sqlite3.Row
            conn.execute("BEGIN")  # one snapshot for both reads: no save lands in between
            rows = conn.execute(f"SELECT * FROM runs WHERE {where} ORDER BY created",
                                params).fetchall()
            metric_rows = conn.execute(
                f"SELECT * FROM metrics WHERE run_id IN (SELECT run_id FROM runs WHERE {where})",
                params).fetchall()
        metrics: dict[str, list[MetricValue]] = {}
        for m in metric_rows:
            metrics.setdefault(m["run_id"], []).append(MetricValue(
                name=m["name"], value=m["value"], higher_is_better=bool(m["higher_is_better"]),
                metric=m["metric"], extractor=m["extractor"], n_real=m["n_real"],
                n_fake=m["n_fake"], ci_low=m["ci_low"], ci_high=m["ci_high"]))
        records = []
        for row in rows:
            data = {c: row[c] for c in _RUN_COLUMNS}
            for c in _JSON_COLUMNS:
                data[c] = json.loads(data[c])
            data["run_dir"] = resolve_run_dir(data["run_dir"], self.workdir)
            records.append(RunRecord(**data, metrics=metrics.get(row["run_id"], [])))
        return records

    def runs(self, dataset: str | None = None, status: str | None = None) -> list[RunRecord]:
        clauses, params = [], []
        if dataset:
            clauses.append("dataset = ?")
            params.append(dataset)
        if status:
            clauses.append("status = ?")
            params.append(status)
        return self.query(" AND ".join(clauses) or "1", tuple(params))


def inside(path: str | Path, folder: str | Path) -> bool:
    """Whether ``path`` is ``folder`` or lies below it (symbolic links resolved or not)."""
    def forms(p: Path) -> tuple[Path, Path]:
        return Path(os.path.normpath(p.absolute())), p.resolve()

    return any(p.is_relative_to(f) for p in forms(Path(path)) for f in forms(Path(folder)))


def stored_run_dir(run_dir: str | None, workdir: str | Path) -> str | None:
    """A run's folder as the store and record.json keep it: relative to the workdir when it
    lies inside (``runs/<run id>``); a folder elsewhere (an imported record's) as it is."""
    path = Path(run_dir or "")
    if not run_dir or not path.is_absolute():
        return run_dir
    for p in (Path(os.path.normpath(path)), path.resolve()):
        for base in (Path(os.path.normpath(Path(workdir).absolute())), Path(workdir).resolve()):
            if p.is_relative_to(base) and p != base:
                return p.relative_to(base).as_posix()
    return run_dir


def resolve_run_dir(stored: str | None, workdir: str | Path) -> str | None:
    """The absolute folder a stored run_dir names in the workdir in use."""
    if not stored:
        return stored
    base, path = Path(workdir).resolve(), Path(stored)
    if not path.is_absolute():
        return str(base / path)
    if inside(path, base):
        return stored
    # An older store's absolute path into the workdir this one was copied or moved from.
    here = base / "runs" / path.name
    return str(here) if here.is_dir() else stored


def _add_column(conn: sqlite3.Connection, table: str, name: str, decl: str) -> None:
    try:
        conn.execute(f"ALTER TABLE {table} ADD COLUMN {name} {decl}")
    except sqlite3.OperationalError as exc:
        if "duplicate column" not in str(exc):  # another process added it first
            raise


def open_store(workdir: str | Path) -> Store:
    """The store of an existing workdir, without creating anything."""
    path = Path(workdir) / STORE_NAME
    if not path.is_file():
        raise GenbenchError(f"no genbench store in {workdir}; run `genbench run ...` first or "
                            f"pass --workdir")
    return Store(workdir)
