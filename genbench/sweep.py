"""Sweeps: every model on every dataset with every seed, one run after another, resumable.

A sweep is planned in full before anything runs, so a typo in its last entry fails in a second
rather than after hours. An entry is *done* when the store holds a completed record with the
same model, dataset, seed and configuration hash (the hash ``api.run`` stores), so rerunning an
interrupted sweep skips what finished and continues with the rest.

Importing this module is cheap: the registries, the store and ``genbench.api`` are imported
by the functions that use them.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from genbench.config import check_seed
from genbench.errors import GenbenchError
from genbench.speed import SpeedOptions

# Keys a sweep file may hold, at the top and in each [[run]] table.
TOP_KEYS = ("profile", "seeds", "steps", "set", "run")
RUN_KEYS = ("models", "datasets", "seeds", "profile", "steps", "set")
DEFAULT_PROFILE = "quick"
DEFAULT_SEEDS = (0,)


@dataclass(frozen=True)
class Block:
    """One ``[[run]]`` table (or the command line's options): the models x datasets x seeds."""

    models: tuple[str, ...]
    datasets: tuple[str, ...]
    seeds: tuple[int, ...] = DEFAULT_SEEDS
    profile: str = DEFAULT_PROFILE
    steps: int | None = None
    overrides: tuple[str, ...] = ()
    origin: str = ""  # where it was written, for error messages: "sweep.toml, [[run]] 2"


@dataclass(frozen=True)
class Entry:
    """One run of the sweep, with the configuration hash its record will carry."""

    model: str
    dataset: str
    seed: int
    profile: str
    steps: int | None
    overrides: tuple[str, ...]
    config_hash: str
    speed: SpeedOptions = SpeedOptions()  # the sweep's --precision, --compile...

    @property
    def label(self) -> str:
        return f"{self.model} on {self.dataset}, seed {self.seed}"

    @property
    def settings(self) -> list[str]:
        """What a record of this entry lists as its overrides (as ``api.run`` writes them)."""
        return (([f"steps={self.steps}"] if self.steps else []) + list(self.overrides)
                + self.speed.settings())

    def to_dict(self) -> dict[str, Any]:
        return {"model": self.model, "dataset": self.dataset, "seed": self.seed,
                "profile": self.profile, "settings": self.settings,
                "config_hash": self.config_hash}


@dataclass
class Planned:
    """An entry and what the sweep will do with it: run it, skip it (a completed record
    exists) or resume it (its latest attempt was interrupted and left a checkpoint)."""

    entry: Entry
    action: str  # run | skip | resume
    record: Any = None  # the completed record (skip) or the interrupted one (resume)

    def to_dict(self) -> dict[str, Any]:
        return {**self.entry.to_dict(), "action": self.action,
                "run_id": self.record.run_id if self.record else None}


@dataclass
class Outcome:
    """What happened to one entry."""

    entry: Entry
    status: str  # completed | diverged | failed | interrupted | skipped | not run
    run_id: str = ""
    wall_time: float = 0.0
    message: str = ""
    metric: tuple[str, float] | None = None  # the leaderboard's ranking metric, if any
    attempts: int = 1  # workers started for it (more than one when a worker died)

    def to_dict(self) -> dict[str, Any]:
        return {**self.entry.to_dict(), "status": self.status, "run_id": self.run_id or None,
                "attempts": 0 if self.status in ("skipped", "not run") else self.attempts,
                "wall_time": round(self.wall_time, 3), "message": self.message,
                "metric": {"name": self.metric[0], "value": self.metric[1]}
                if self.metric else None}


@dataclass
class SweepResult:
    outcomes: list[Outcome] = field(default_factory=list)
    interrupted: bool = False

    def counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for outcome in self.outcomes:
            counts[outcome.status] = counts.get(outcome.status, 0) + 1
        return counts

    @property
    def failed(self) -> list[Outcome]:
        """Entries that ran and did not complete (failed or diverged)."""
        return [o for o in self.outcomes if o.status in ("failed", "diverged")]

    def to_dict(self) -> dict[str, Any]:
        return {"entries": [o.to_dict() for o in self.outcomes], "counts": self.counts(),
                "interrupted": self.interrupted}


# --- what to run: a sweep file and the command line's options -----------------------------


def read_spec(path: str | Path) -> list[Block]:
    """The ``[[run]]`` blocks of a TOML sweep file, top-level values filled in."""
    try:
        import tomllib
    except ModuleNotFoundError:  # Python < 3.11
        try:
            import tomli as tomllib
        except ModuleNotFoundError:
            raise GenbenchError("reading a sweep file on Python < 3.11 needs tomli: "
                                "pip install tomli") from None
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise GenbenchError(f"sweep file {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise GenbenchError(f"cannot read sweep file {path}: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise GenbenchError(f"{path} is not valid TOML: {exc}") from None
    _check_keys(data, TOP_KEYS, str(path))
    tables = data.get("run")
    if not isinstance(tables, list) or not tables or not all(isinstance(t, dict)
                                                             for t in tables):
        raise GenbenchError(f"{path} has no [[run]] tables; each needs models = [...] and "
                            f"datasets = [...] (see `genbench sweep --help`)")
    profile = _text(data, "profile", str(path), DEFAULT_PROFILE)
    seeds = _seeds(data, str(path), DEFAULT_SEEDS)
    steps = _steps(data, str(path))
    overrides = _overrides(data, str(path))
    blocks = []
    for i, table in enumerate(tables, 1):
        where = f"{path}, [[run]] {i}"
        _check_keys(table, RUN_KEYS, where)
        blocks.append(Block(models=_names(table, "models", where),
                            datasets=_names(table, "datasets", where),
                            seeds=_seeds(table, where, seeds),
                            profile=_text(table, "profile", where, profile),
                            steps=_steps(table, where) or steps,
                            overrides=overrides + _overrides(table, where),
                            origin=where))
    return blocks


def make_blocks(spec: str | Path | None = None, *, models: list[str] | None = None,
                datasets: list[str] | None = None, seeds: list[int] | None = None,
                profile: str | None = None, steps: int | None = None,
                overrides: list[str] | tuple[str, ...] = ()) -> list[Block]:
    """What to run, from a sweep file and/or the command line's options.

    Without a file the options make one block (models and datasets are then required). With
    a file, ``models`` and ``datasets`` keep only those of the file's entries, ``seeds``,
    ``profile`` and ``steps`` replace the file's, and ``overrides`` are applied after the
    file's ``set`` (so the command line wins).
    """
    overrides = tuple(overrides)
    if spec is None:
        if not models or not datasets:
            raise GenbenchError("give --model and --dataset (repeat or comma-separate), or a "
                                "sweep file: genbench sweep SPEC.toml")
        return [Block(models=tuple(dict.fromkeys(models)), datasets=tuple(dict.fromkeys(datasets)),
                      seeds=tuple(dict.fromkeys(seeds or DEFAULT_SEEDS)),
                      profile=profile or DEFAULT_PROFILE, steps=steps, overrides=overrides)]
    blocks = read_spec(spec)
    for option, wanted, have in (("--model", models, {m for b in blocks for m in b.models}),
                                 ("--dataset", datasets,
                                  {d for b in blocks for d in b.datasets})):
        missing = [name for name in wanted or () if name not in have]
        if missing:
            raise GenbenchError(f"{option} {missing[0]} is not in {spec} (it has "
                                f"{', '.join(sorted(have))}); without a file, --model and "
                                f"--dataset say what to run")
    chosen = []
    for block in blocks:
        kept_models = tuple(m for m in block.models if not models or m in models)
        kept_datasets = tuple(d for d in block.datasets if not datasets or d in datasets)
        if not kept_models or not kept_datasets:
            continue
        chosen.append(Block(models=kept_models, datasets=kept_datasets,
                            seeds=tuple(dict.fromkeys(seeds)) if seeds else block.seeds,
                            profile=profile or block.profile, steps=steps or block.steps,
                            overrides=block.overrides + overrides, origin=block.origin))
    if not chosen:
        raise GenbenchError(f"no entry of {spec} has both the --model and the --dataset given")
    return chosen


def parse_seeds(values: list[str] | None) -> list[int] | None:
    """``["0,1", "2"]`` -> ``[0, 1, 2]``: the seeds themselves, never a count."""
    if not values:
        return None
    seeds = []
    for item in values:
        for part in item.split(","):
            if not part.strip():
                continue
            try:
                seeds.append(int(part))
            except ValueError:
                raise GenbenchError(f"--seeds takes integers, e.g. --seeds 0,1,2; got "
                                    f"{part.strip()!r}") from None
            check_seed(seeds[-1], "--seeds")
    return seeds or None


def _check_keys(table: dict, allowed: tuple[str, ...], where: str) -> None:
    for key in table:
        if key not in allowed:
            close = difflib.get_close_matches(key, allowed, n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise GenbenchError(f"{where}: unknown key {key!r}.{hint} Keys here: "
                                f"{', '.join(allowed)}")


def _names(table: dict, key: str, where: str) -> tuple[str, ...]:
    value = table.get(key)
    if isinstance(value, str):
        value = [value]
    if (not isinstance(value, list) or not value
            or not all(isinstance(v, str) and v.strip() for v in value)):
        raise GenbenchError(f"{where}: {key} must be a non-empty list of names, e.g. "
                            f"{key} = [\"{'gan' if key == 'models' else 'ring8'}\"]")
    return tuple(dict.fromkeys(v.strip() for v in value))


def _seeds(table: dict, where: str, default: tuple[int, ...]) -> tuple[int, ...]:
    value = table.get("seeds", list(default))
    if isinstance(value, int) and not isinstance(value, bool):
        value = [value]
    if (not isinstance(value, list) or not value
            or not all(isinstance(v, int) and not isinstance(v, bool) for v in value)):
        raise GenbenchError(f"{where}: seeds must be a list of integers, e.g. seeds = [0, 1, 2]")
    for seed in value:
        check_seed(seed, f"{where}: seed")
    return tuple(dict.fromkeys(value))


def _text(table: dict, key: str, where: str, default: str) -> str:
    value = table.get(key, default)
    if not isinstance(value, str):
        raise GenbenchError(f"{where}: {key} must be a string, e.g. {key} = \"{default}\"")
    return value


def _steps(table: dict, where: str) -> int | None:
    value = table.get("steps")
    if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                              or value < 1):
        raise GenbenchError(f"{where}: steps must be a positive integer")
    return value


def _overrides(table: dict, where: str) -> tuple[str, ...]:
    """``set = ["lr_g=1e-4"]`` or ``set = {lr_g = 1e-4}``, as ``key=value`` strings."""
    value = table.get("set", [])
    if isinstance(value, dict):
        return tuple(f"{k}={str(v).lower() if isinstance(v, bool) else v}"
                     for k, v in value.items())
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise GenbenchError(f"{where}: set must be a list of \"key=value\" strings, e.g. "
                            f"set = [\"lr_g=1e-4\"]")
    return tuple(value)


# --- the plan: every entry checked, and what the store already holds ----------------------


def expand(blocks: list[Block], speed: SpeedOptions | None = None) -> list[Entry]:
    """Every entry of the blocks, in order, without duplicates. Unknown names, incompatible
    pairs, unknown profiles and bad settings fail here, before anything runs. ``speed``
    applies to every entry and is part of each one's configuration hash."""
    from genbench.api import check_compatible, config_hash, expand_classes
    from genbench.config import config_dict, resolve_config
    from genbench.plugins import blame_plugins, get_registries

    registries = get_registries()
    speed = speed or SpeedOptions()
    entries: dict[tuple, Entry] = {}
    for block in blocks:
        try:  # NAME:all names one dataset per class (the anomaly protocols)
            datasets = [name for dataset in block.datasets for name in expand_classes(dataset)]
        except GenbenchError as exc:
            raise GenbenchError(f"{block.origin}: {exc}" if block.origin else str(exc)) from None
        for model in block.models:
            for dataset in datasets:
                try:
                    model_spec = registries.models.get(model)
                    dataset_spec = registries.datasets.get(dataset)
                    check_compatible(model_spec, dataset_spec)
                    # The same calls api.run makes, so the hash is the one its record will hold.
                    with blame_plugins(model):
                        config = resolve_config(model_spec, block.profile, dataset_spec.kind,
                                                block.steps, block.overrides)
                except GenbenchError as exc:
                    raise GenbenchError(f"{block.origin}: {exc}" if block.origin
                                        else str(exc)) from None
                key = config_hash(model, dataset, block.profile, config_dict(config),
                                  speed.hashed())
                for seed in block.seeds:
                    entries.setdefault((model, dataset, seed, key), Entry(
                        model, dataset, seed, block.profile, block.steps, block.overrides, key,
                        speed))
    return list(entries.values())


def plan(entries: list[Entry], workdir: str | Path) -> list[Planned]:
    """What to do with each entry, given the store in ``workdir`` (read only; a workdir
    without a store has nothing done)."""
    from genbench.results.store import STORE_NAME, Store

    records = Store(workdir).runs() if (Path(workdir) / STORE_NAME).is_file() else []
    by_entry: dict[tuple, list] = {}
    for record in records:  # oldest first
        ident = (record.model, record.dataset, record.seed, record.config_hash)
        by_entry.setdefault(ident, []).append(record)
    planned = []
    for entry in entries:
        mine = by_entry.get((entry.model, entry.dataset, entry.seed, entry.config_hash), [])
        done = [r for r in mine if r.status == "completed"]
        # The record api.run(resume=True) would pick: the newest unfinished one with a checkpoint.
        resumable = [r for r in mine if r.status in ("running", "interrupted", "failed")
                     and (Path(r.run_dir) / "checkpoint.pt").is_file()]
        if done:
            planned.append(Planned(entry, "skip", done[-1]))
        elif resumable and (resumable[-1].status == "interrupted"
                            or resumable[-1].status == "running"
                            and _abandoned(resumable[-1].run_dir)):
            planned.append(Planned(entry, "resume", resumable[-1]))
        else:
            planned.append(Planned(entry, "run"))
    return planned


def _abandoned(run_dir: str) -> bool:
    """A 'running' run whose process is gone (killed with -9): nobody holds its folder."""
    from genbench.atomic import hold_folder

    hold = hold_folder(run_dir)
    if hold is None:
        return False
    hold.release()
    return True


# --- running it -----------------------------------------------------------------------------

# watch(index, planned) -> a context manager around one run that yields its
# (progress, eval_progress) callbacks for api.run; report(index, outcome) after each entry.
Watch = Callable[[int, Planned], AbstractContextManager]
Report = Callable[[int, Outcome], None]


@contextmanager
def _unwatched(index: int, item: Planned) -> Iterator[tuple[None, None]]:
    yield None, None


def execute(planned: list[Planned], *, workdir: str | Path, device: str = "auto",
            data_root: str | None = None, fail_fast: bool = False,
            watch: Watch | None = None, report: Report | None = None,
            executor: str = "local", jobs: int | None = None,
            watch_tasks: Callable[[list], None] | None = None,
            notify: Callable[[str], None] | None = None) -> SweepResult:
    """Run the entries that are not done, one after another, with ``api.run``.

    ``executor="local"`` with ``jobs`` other than None or 1 (0: one per GPU or core), or
    ``executor="ray"`` / ``"ray:ADDRESS"`` (``jobs`` None: what the cluster holds), runs them
    in workers instead, several at once (:mod:`genbench.parallel`); ``watch_tasks(tasks)``
    then follows them in place of ``watch``, and ``notify(text)`` hears what the driver does
    beside them (training an evaluator for a Ray cluster).

    The store is read again before each entry, so an entry that another sweep on the same
    workdir completed in the meantime is skipped, not run twice (two sweeps may still start
    the same entry at the same moment; give them different models or datasets to be sure).
    A failed or diverged entry is reported and the sweep goes on (``fail_fast`` stops it).
    Ctrl-C stops the sweep: the entry that was running is recorded as interrupted (with a
    checkpoint if training had one), the rest as not run, and ``interrupted`` is set.
    """
    from genbench import api

    if executor != "local" or jobs not in (None, 1):
        from genbench import parallel

        return parallel.execute(planned, workdir=workdir, executor=executor, jobs=jobs,
                                device=device, data_root=data_root, fail_fast=fail_fast,
                                watch=watch_tasks, report=report, notify=notify)
    api.prepare_workdir(workdir)
    # A bad --device (or one that cannot do --precision bf16) fails before the first entry.
    torch_device = api.resolve_device(device)
    for options in dict.fromkeys(item.entry.speed for item in planned):
        options.check_device(torch_device)
    watch = watch or _unwatched
    result = SweepResult()
    stop = False
    for index, item in enumerate(planned):
        if stop:
            outcome = Outcome(item.entry, "not run")
        elif item.action == "skip":
            outcome = _outcome(item.entry, item.record, "skipped")
        elif (now := plan([item.entry], workdir)[0]).action == "skip":
            # Another sweep on the same store completed it since this one was planned.
            outcome = _outcome(item.entry, now.record, "skipped")
        else:
            try:
                with watch(index, item) as (progress, eval_progress):
                    record = api.run(item.entry.model, item.entry.dataset,
                                     profile=item.entry.profile, seed=item.entry.seed,
                                     steps=item.entry.steps, device=device,
                                     overrides=item.entry.overrides, workdir=workdir,
                                     resume=item.action == "resume", progress=progress,
                                     eval_progress=eval_progress, data_root=data_root,
                                     precision=item.entry.speed.precision,
                                     channels_last=item.entry.speed.channels_last,
                                     compile=item.entry.speed.compile or False,
                                     log_every=item.entry.speed.log_every)
                outcome = _outcome(item.entry, record, record.status)
            except KeyboardInterrupt:
                outcome = Outcome(item.entry, "interrupted", message="interrupted (Ctrl-C)")
            except GenbenchError as exc:
                outcome = Outcome(item.entry, "failed", message=str(exc))
            except Exception as exc:
                if os.environ.get("GENBENCH_DEBUG"):
                    raise
                outcome = Outcome(item.entry, "failed", message=f"{type(exc).__name__}: {exc}")
            if outcome.status == "interrupted":
                result.interrupted = stop = True
            elif outcome.status in ("failed", "diverged") and fail_fast:
                stop = True
        result.outcomes.append(outcome)
        if report:
            report(index, outcome)
    return result


def _outcome(entry: Entry, record, status: str) -> Outcome:
    return Outcome(entry, status, run_id=record.run_id, wall_time=record.wall_time,
                   message=record.message, metric=main_metric(record))


def main_metric(record) -> tuple[str, float] | None:
    """The metric the leaderboard ranks by, else the record's first."""
    from genbench.results.leaderboard import RANK_BY

    values = record.metric_map()
    name = next((k for k in RANK_BY if k in values), next(iter(values), None))
    return (name, values[name]) if name else None


def render_leaderboards(planned: list[Planned], workdir: str | Path,
                        out_dir: str | Path) -> list[Path]:
    """The leaderboards of the sweep's datasets and the HTML report, from everything in the
    store."""
    from genbench.results.publish import render
    from genbench.results.store import Store

    datasets = sorted({item.entry.dataset for item in planned})
    return render(Store(workdir).runs(), out_dir, datasets, report=True)
