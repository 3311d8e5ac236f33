"""Run configuration: a model's dataclass defaults, then its profile, then the user's overrides,
then the checks every config dataclass declares on its fields.

A field's allowed values are declared next to it with :data:`typing.Annotated`::

    steps: Annotated[int, Range(ge=1)] = 1000
    dropout: Annotated[float, Range(ge=0, lt=1)] = 0.5

and rules over several fields in the class attribute ``checks`` (a tuple of :class:`Check`).
:func:`resolve_config` checks every field's type (``Literal`` choices included) and all of
these for every model, builtin or third-party, before anything is trained or stored.
Constraints are inherited: a subclass that restates a field to change its default keeps the
base class's constraints (and may add its own); ``checks`` accumulate down the hierarchy.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import math
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar

from genbench.errors import GenbenchError

PROFILES = ("quick", "standard")
# What torch.manual_seed accepts and the store's INTEGER column holds: a signed 64-bit integer.
SEED_MIN, SEED_MAX = -(2 ** 63), 2 ** 63 - 1


def _number(value: float) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


@dataclass(frozen=True)
class Range:
    """The interval a number must lie in: ``ge``/``gt`` below, ``le``/``lt`` above (any may be
    left out). ``also`` lists values allowed outside it, typically ``0`` for "off" or
    "automatic"; ``note`` says what the value means and is added to the error."""

    ge: float | None = None
    gt: float | None = None
    le: float | None = None
    lt: float | None = None
    also: tuple = ()
    note: str = ""

    def problem(self, value: Any) -> str | None:
        if value in self.also or (
                (self.ge is None or value >= self.ge) and (self.gt is None or value > self.gt)
                and (self.le is None or value <= self.le) and (self.lt is None or value < self.lt)):
            return None
        return self.describe()

    def describe(self) -> str:
        low = ("[", self.ge) if self.ge is not None else ("(", self.gt)
        high = ("]", self.le) if self.le is not None else (")", self.lt)
        if low[1] is not None and high[1] is not None:
            text = f"in {low[0]}{_number(low[1])}, {_number(high[1])}{high[0]}"
        elif low[1] is not None:
            text = (">= " if self.ge is not None else "> ") + _number(low[1])
        elif high[1] is not None:
            text = ("<= " if self.le is not None else "< ") + _number(high[1])
        else:
            text = "any number"
        extra = "".join(f"{_number(v)} or " for v in self.also)
        return f"must be {extra}{text}" + (f" ({self.note})" if self.note else "")


@dataclass(frozen=True)
class Odd:
    """An odd number (kernel sizes that have a centre)."""

    note: str = ""

    def problem(self, value: Any) -> str | None:
        return None if value % 2 == 1 else self.describe()

    def describe(self) -> str:
        return "must be odd" + (f" ({self.note})" if self.note else "")


@dataclass(frozen=True)
class Check:
    """A rule over several settings: ``test`` is called with their values (in ``names``'
    order) and returns whether they fit together; ``message`` says what is wrong if not."""

    names: tuple[str, ...]
    test: Callable[..., bool]
    message: str


# Annotations for the common cases: ``hidden: Count = 128``, ``lr: Rate = 1e-3``.
Count = Annotated[int, Range(ge=1)]  # sizes, widths, counts of steps, layers, samples
Rate = Annotated[float, Range(gt=0)]  # learning rates, step sizes, scales
Weight = Annotated[float, Range(ge=0)]  # loss weights and other non-negative amounts
Probability = Annotated[float, Range(ge=0, le=1)]  # probabilities and fractions


@dataclass
class TrainConfig:
    """Settings every model has; a model's own config dataclass subclasses this."""

    checks: ClassVar[tuple[Check, ...]] = ()

    steps: Count = 1000
    batch_size: Count = 64
    checkpoint_every: Count = 200  # the last step is always saved too
    # Samples drawn for evaluation; 0 = as many as the reference split.
    num_samples: Annotated[int, Range(ge=2, also=(0,), note="0 = as many as the reference "
                                                              "split")] = 0


def resolve_config(spec, profile: str, data_kind: str, steps: int | None = None,
                   overrides: list[str] | tuple[str, ...] = ()) -> Any:
    """Build the config for one run of ``spec`` (a ModelSpec) and check it
    (:func:`check_config`)."""
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
    config = apply_overrides(config, overrides, owner=spec.name)
    given = dict(_split_override(item) for item in overrides)
    check_config(config, spec.name, given)
    return config


def check_seed(seed: int, option: str = "--seed") -> int:
    if not SEED_MIN <= seed <= SEED_MAX:
        raise GenbenchError(f"{option} {seed}: seeds must be in [-2**63, 2**63 - 1] "
                            f"([{SEED_MIN}, {SEED_MAX}]), what torch.manual_seed and the store "
                            f"accept")
    return seed


def check_config(config: Any, owner: str = "", given: dict[str, str] | None = None) -> None:
    """Raise one GenbenchError (one line) naming every setting of ``config`` that breaks its
    declared type, constraints or checks; ``owner`` (the model) starts the message. ``given``
    maps the settings the user passed with ``--set`` to the text they typed."""
    given = given or {}

    def show(name: str) -> str:
        if name in given:
            return f"--set {name}={given[name]}"
        return f"{name}={_show_value(getattr(config, name))}"

    found = config_problems(config)
    problems = [f"{show(name)}: {problem}" for name, problem in found]
    bad = {name for name, _ in found}
    for check in _declared(type(config))[1]:
        if bad & set(check.names):  # already refused: the rule may not hold on such values
            continue
        if not check.test(*(getattr(config, name) for name in check.names)):
            problems.append(f"{' '.join(show(n) for n in check.names)}: {check.message}")
    if problems:
        raise GenbenchError(f"{owner}: {'; '.join(problems)}" if owner else "; ".join(problems))


def config_problems(config: Any) -> list[tuple[str, str]]:
    """(setting, what is wrong) for each field whose value breaks its type or constraints."""
    problems = []
    fields, _ = _declared(type(config))
    for name, (annotation, constraints) in fields.items():
        value = getattr(config, name)
        problem = _problem(value, annotation)
        if problem is None and value is not None:  # the constraints declared in base classes
            for item in value if isinstance(value, tuple) else (value,):
                problem = next((p for c in constraints if (p := c.problem(item))), None)
                if problem:
                    break
        if problem:
            problems.append((name, problem))
    return problems


@functools.cache
def _declared(cls: type) -> tuple[dict[str, tuple[Any, tuple]], tuple[Check, ...]]:
    """Each field's type and constraints (gathered over the class and its bases), and the
    class's checks (its own and its bases')."""
    hints = {klass: typing.get_type_hints(klass, include_extras=True)
             for klass in cls.__mro__ if dataclasses.is_dataclass(klass)}
    fields = {}
    for f in dataclasses.fields(cls):
        constraints = []
        for klass_hints in hints.values():
            for c in _constraints(klass_hints.get(f.name)):
                if c not in constraints:
                    constraints.append(c)
        fields[f.name] = (hints[cls][f.name], tuple(constraints))
    checks = tuple(c for klass in reversed(cls.__mro__) for c in vars(klass).get("checks", ()))
    return fields, checks


def _constraints(annotation: Any) -> list:
    if annotation is None:
        return []
    if typing.get_origin(annotation) is Annotated:
        return [m for m in annotation.__metadata__ if hasattr(m, "problem")]
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return [c for arg in typing.get_args(annotation) for c in _constraints(arg)]
    return []


def _problem(value: Any, annotation: Any) -> str | None:
    """What is wrong with ``value`` for ``annotation``: its type, then the constraints in any
    ``Annotated`` of it (``tuple[Annotated[int, Range(ge=1)], ...]`` checks each item)."""
    constraints: list = []
    if typing.get_origin(annotation) is Annotated:
        constraints = [m for m in annotation.__metadata__ if hasattr(m, "problem")]
        annotation = typing.get_args(annotation)[0]
    problem = _type_problem(value, annotation)
    if problem is None and value is not None:
        problem = next((p for c in constraints if (p := c.problem(value))), None)
    return problem


def _type_problem(value: Any, annotation: Any) -> str | None:
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Literal:
        if value in args and type(value) in {type(a) for a in args}:
            return None
        return f"must be one of {', '.join(map(str, args))}"
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        inner = [_problem(value, a) for a in args if a is not type(None)]
        return None if None in inner else inner[0]
    if origin is tuple:
        if not isinstance(value, tuple):
            return "must be a tuple (comma-separated values)"
        each = args if len(args) != 2 or args[1] is not Ellipsis else (args[0],) * len(value)
        if len(each) != len(value):
            return f"must have {len(each)} values"
        return next((p for v, a in zip(value, each, strict=True)
                     if (p := _problem(v, a))), None)
    if annotation is bool:
        return None if isinstance(value, bool) else "must be true or false"
    if annotation is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
        return None if ok else "must be an integer"
    if annotation is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return "must be a number"
        return None if math.isfinite(value) else "must be a finite number"
    if annotation is str:
        return None if isinstance(value, str) else "must be a string"
    return None  # a type genbench does not know: the model's factory checks it


def describe_settings(config_cls: type, profiles: dict[str, dict[str, Any]] | None = None
                      ) -> list[dict[str, Any]]:
    """Each setting of a config dataclass as ``genbench models NAME`` shows it: ``name``,
    ``type``, ``default``, ``profiles`` (the value each profile key that sets it gives it) and
    ``allowed`` (its declared choices and constraints, as text; ``""`` if any value of its
    type goes)."""
    fields, _ = _declared(config_cls)
    rows = []
    for f in dataclasses.fields(config_cls):
        annotation, constraints = fields[f.name]
        if f.default is not dataclasses.MISSING:
            default = f.default
        else:
            default = f.default_factory() if f.default_factory is not dataclasses.MISSING else None
        rows.append({"name": f.name, "type": type_name(annotation), "default": default,
                     "profiles": {key: values[f.name] for key, values in (profiles or {}).items()
                                  if f.name in values},
                     "allowed": allowed_values(annotation, constraints)})
    return rows


def describe_checks(config_cls: type) -> list[dict[str, Any]]:
    """The class's rules over several settings: ``{"settings": [...], "rule": message}``."""
    return [{"settings": list(c.names), "rule": c.message} for c in _declared(config_cls)[1]]


def type_name(annotation: Any) -> str:
    """``int``, ``float | None``, ``tuple of int``...: a setting's type as people read it."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is Annotated:
        return type_name(args[0])
    if origin is typing.Literal:
        return type(args[0]).__name__
    if origin in (typing.Union, types.UnionType):
        return " | ".join("None" if a is type(None) else type_name(a) for a in args)
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return f"tuple of {type_name(args[0])}"
        return f"tuple[{', '.join(map(type_name, args))}]" if args else "tuple"
    return getattr(annotation, "__name__", str(annotation))


def allowed_values(annotation: Any, constraints: tuple = ()) -> str:
    """The values a setting accepts beyond its type: ``one of a, b``, ``>= 1``, ``each >= 1``;
    ``constraints`` are those declared on it (in base classes too)."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    parts = [_constraint_text(c) for c in constraints]
    if origin is Annotated:
        own = [_constraint_text(c) for c in _constraints(annotation)]
        return "; ".join(dict.fromkeys(p for p in [allowed_values(args[0]), *own, *parts] if p))
    if origin is typing.Literal:
        parts.insert(0, f"one of {', '.join(map(str, args))}")
    elif origin in (typing.Union, types.UnionType):
        inner = [allowed_values(a) for a in args if a is not type(None)]
        parts = [p for p in inner if p] + [p for p in parts if p not in inner]
        if parts and type(None) in args:
            parts.append("or none")
    elif origin is tuple and args:
        each = allowed_values(args[0])
        if each:
            parts.append(f"each {each}")
    return "; ".join(dict.fromkeys(p for p in parts if p))


def _constraint_text(constraint: Any) -> str:
    describe = getattr(constraint, "describe", None)
    text = describe() if callable(describe) else type(constraint).__name__
    return text.removeprefix("must be ")


def _show_value(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, tuple):
        return ",".join(map(_show_value, value))
    return str(value)


def _split_override(item: str) -> tuple[str, str]:
    key, _, raw = item.partition("=")
    return key.strip().replace("-", "_"), raw.strip()


def apply_overrides(config: Any, overrides: list[str] | tuple[str, ...], owner: str = "") -> Any:
    """Apply ``key=value`` strings to a config dataclass, converting to each field's type."""
    types_by_name = typing.get_type_hints(type(config))
    fields = [f.name for f in dataclasses.fields(config)]
    changes: dict[str, Any] = {}
    for item in overrides:
        key, raw = _split_override(item)
        if "=" not in item or not key:
            raise GenbenchError(f"--set expects key=value, got {item!r}")
        if key not in fields:
            close = difflib.get_close_matches(key, fields, n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            where = f" for {owner}" if owner else ""
            raise GenbenchError(f"unknown setting {key!r}{where}.{hint} "
                                f"Settings: {', '.join(fields)}")
        try:
            changes[key] = parse_value(key, raw, types_by_name[key])
        except GenbenchError as exc:
            raise GenbenchError(f"{owner}: {exc}" if owner else str(exc)) from None
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
            if value != value or value in (float("inf"), float("-inf")):
                raise GenbenchError(f"--set {key}={raw}: must be a finite number")
            return value
    except ValueError:
        raise GenbenchError(
            f"--set {key}={raw}: expected {annotation.__name__}, got {raw!r}"
        ) from None
    return raw


def config_dict(config: Any) -> dict[str, Any]:
    return dataclasses.asdict(config)
