"""Run configuration: a model's dataclass defaults, then its profile, then the user's overrides."""

from __future__ import annotations

import dataclasses
import difflib
import types
import typing
from dataclasses import dataclass
from typing import Any

from genbench.errors import GenbenchError

PROFILES = ("quick", "standard")


@dataclass
class TrainConfig:
    """Settings every model has; a model's own config dataclass subclasses this."""

    steps: int = 1000
    batch_size: int = 64
    checkpoint_every: int = 200
    num_samples: int = 0  # samples drawn for evaluation; 0 = as many as the reference split


def resolve_config(spec, profile: str, data_kind: str, steps: int | None = None,
                   overrides: list[str] | tuple[str, ...] = ()) -> Any:
    """Build the config for one run of ``spec`` (a ModelSpec)."""
    if profile not in PROFILES:
        raise GenbenchError(f"unknown profile {profile!r}; choose one of {', '.join(PROFILES)}")
    values: dict[str, Any] = {}
    for key in (profile, f"{profile}:{data_kind}"):
        values.update(spec.profiles.get(key, {}))
    config = spec.config(**values)
    if steps is not None:
        if steps < 1:
            raise GenbenchError("--steps must be at least 1")
        config = dataclasses.replace(config, steps=steps)
    return apply_overrides(config, overrides, owner=spec.name)


def apply_overrides(config: Any, overrides: list[str] | tuple[str, ...], owner: str = "") -> Any:
    """Apply ``key=value`` strings to a config dataclass, converting to each field's type."""
    types_by_name = typing.get_type_hints(type(config))
    fields = [f.name for f in dataclasses.fields(config)]
    changes: dict[str, Any] = {}
    for item in overrides:
        key, sep, raw = item.partition("=")
        key = key.strip().replace("-", "_")
        if not sep or not key:
            raise GenbenchError(f"--set expects key=value, got {item!r}")
        if key not in fields:
            close = difflib.get_close_matches(key, fields, n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            where = f" for {owner}" if owner else ""
            raise GenbenchError(f"unknown setting {key!r}{where}.{hint} "
                                f"Settings: {', '.join(fields)}")
        changes[key] = parse_value(key, raw.strip(), types_by_name[key])
    return dataclasses.replace(config, **changes)


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def parse_value(key: str, raw: str, annotation: Any) -> Any:
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Literal:
        if raw not in args:
            raise GenbenchError(f"--set {key}={raw}: choose one of {', '.join(map(str, args))}")
        return raw
    if origin in (typing.Union, types.UnionType):
        if raw.lower() in ("none", "null") and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        return parse_value(key, raw, inner[0])
    if origin is tuple:
        return tuple(parse_value(key, part.strip(), args[0]) for part in raw.split(",") if part)
    try:
        if annotation is bool:
            if raw.lower() in _TRUE:
                return True
            if raw.lower() in _FALSE:
                return False
            raise ValueError
        if annotation is int:
            return int(raw)
        if annotation is float:
            value = float(raw)
            if value != value:
                raise ValueError
            return value
    except ValueError:
        raise GenbenchError(
            f"--set {key}={raw}: expected {annotation.__name__}, got {raw!r}"
        ) from None
    return raw


def config_dict(config: Any) -> dict[str, Any]:
    return dataclasses.asdict(config)
