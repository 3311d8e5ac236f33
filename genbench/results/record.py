"""A RunRecord holds everything needed to trust and repeat one number."""

from __future__ import annotations

import json
import re
from dataclasses import MISSING, asdict, dataclass, field, fields
from typing import Any


@dataclass
class MetricValue:
    name: str  # e.g. "FD[raw]", "modes_covered"
    value: float
    higher_is_better: bool
    metric: str  # the registered metric family, e.g. "fd"
    extractor: str | None = None
    n_real: int = 0
    n_fake: int = 0
    # A 95% interval for a single run: the percentile bootstrap over the generated samples
    # (metrics whose family supports it); None where there is none.
    ci_low: float | None = None
    ci_high: float | None = None


@dataclass
class RunRecord:
    run_id: str
    model: str
    dataset: str
    split: str
    profile: str
    seed: int
    config: dict[str, Any]
    # What the user changed from the profile (--steps, --set), shown in leaderboards.
    overrides: list[str] = field(default_factory=list)
    status: str = "running"  # running | completed | diverged | interrupted | failed
    message: str = ""
    steps: int = 0
    wall_time: float = 0.0
    created: str = ""
    updated: str = ""
    device: str = ""
    hardware: dict[str, Any] = field(default_factory=dict)
    versions: dict[str, Any] = field(default_factory=dict)
    git_revision: str | None = None
    # The run's folder. A record from a store holds it as an absolute path in the workdir in
    # use; the store and record.json keep it relative to the workdir (runs/<run id>).
    run_dir: str = ""
    config_hash: str = ""
    # The feature spaces metrics were computed in: key, weights, the evaluator's accuracy...
    extractors: dict[str, dict[str, Any]] = field(default_factory=dict)
    metrics: list[MetricValue] = field(default_factory=list)
    # Quality against compute (``genbench run --eval-every N``): one entry per evaluation,
    # ``{"step": int, "seconds": float, "metrics": {name: value}}``, where ``seconds`` counts
    # training time only (evaluations excluded).
    trajectory: list[dict[str, Any]] = field(default_factory=list)
    # How the numbers were obtained beyond the feature spaces: an anomaly protocol's normal
    # classes and test counts, the score used, how the model was selected...
    evaluation: dict[str, Any] = field(default_factory=dict)
    # How it trained (genbench.speed): precision, channels_last, compile, log_every and
    # whether the optimizers were fused. The options that change numbers and are not the
    # defaults are also in ``overrides`` and in the configuration hash.
    training: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunRecord:
        """The inverse of :meth:`to_dict`; fields added since a record was written default."""
        data = dict(data)
        data["metrics"] = [MetricValue(**m) for m in data.get("metrics", [])]
        return cls(**data)

    @classmethod
    def parse(cls, data: Any) -> RunRecord:
        """:meth:`from_dict` for a record from outside the store (a file to import): every
        field is checked, so a bad one is refused, by name, before it reaches the store
        (where a seed of "abc" broke every later leaderboard on its dataset)."""
        if not isinstance(data, dict):
            raise ValueError(f"a record is a JSON object, not {_kind(data)}")
        _check_fields("the record", data, {f.name: f for f in fields(cls)}, _RECORD_TYPES)
        for i, metric in enumerate(data.get("metrics", [])):
            if not isinstance(metric, dict):
                raise ValueError(f"metrics[{i}] is {_kind(metric)}, not an object")
            _check_fields(f"metrics[{i}]", metric, {f.name: f for f in fields(MetricValue)},
                          _METRIC_TYPES)
        if data.get("status", "running") not in STATUSES:
            raise ValueError(f"status {data['status']!r} is none of {', '.join(STATUSES)}")
        return cls.from_dict(data)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    def metric_map(self) -> dict[str, float]:
        return {m.name: m.value for m in self.metrics}


STATUSES = ("running", "completed", "diverged", "interrupted", "failed")
_NUMBER = (int, float)
_RECORD_TYPES: dict[str, tuple] = {
    "run_id": (str,), "model": (str,), "dataset": (str,), "split": (str,), "profile": (str,),
    "seed": (int,), "config": (dict,), "overrides": (list,), "status": (str,),
    "message": (str,), "steps": (int,), "wall_time": _NUMBER, "created": (str,),
    "updated": (str,), "device": (str,), "hardware": (dict,), "versions": (dict,),
    "git_revision": (str, type(None)), "run_dir": (str,), "config_hash": (str,),
    "extractors": (dict,), "metrics": (list,), "trajectory": (list,), "evaluation": (dict,),
    "training": (dict,)}
_METRIC_TYPES: dict[str, tuple] = {
    "name": (str,), "value": _NUMBER, "higher_is_better": (bool,), "metric": (str,),
    "extractor": (str, type(None)), "n_real": (int,), "n_fake": (int,),
    "ci_low": (*_NUMBER, type(None)), "ci_high": (*_NUMBER, type(None))}
_KIND_NAMES = {str: "a string", int: "a whole number", float: "a number", bool: "true or false",
               dict: "an object", list: "a list", type(None): "null"}


def _kind(value: Any) -> str:
    return _KIND_NAMES.get(type(value), type(value).__name__)


def _check_fields(what: str, data: dict, known: dict, types: dict[str, tuple]) -> None:
    """Unknown, missing and mistyped fields of ``data``, named (``bool`` is no number)."""
    unknown = sorted(set(data) - set(known))
    if unknown:
        raise ValueError(f"{what} has unknown field(s) {', '.join(map(repr, unknown))}")
    missing = [name for name, f in known.items() if name not in data
               and f.default is MISSING and f.default_factory is MISSING]
    if missing:
        raise ValueError(f"{what} lacks field(s) {', '.join(map(repr, missing))}")
    for name, value in data.items():
        allowed = types[name]
        if (isinstance(value, bool) and bool not in allowed) or not isinstance(value, allowed):
            names = [_KIND_NAMES[t] for t in allowed if not (t is int and float in allowed)]
            want = " or ".join(names)
            raise ValueError(f"{what}: {name!r} must be {want}, not {_kind(value)} "
                             f"({json.dumps(value)[:40]})")


def board_stem(dataset: str) -> str:
    """A file name for a dataset's leaderboard: ``paired-folder:/data/facades`` becomes
    ``paired-folder_data_facades``."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", dataset).strip("_") or "dataset"
