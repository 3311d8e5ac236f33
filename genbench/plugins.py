"""Plugin discovery: genbench's own builtins plus every ``genbench`` entry point.

Each entry point is loaded, and each of its hooks called, inside its own ``try``: a plugin that
fails is reported (``genbench plugins``) and skipped, and every other plugin keeps working.
Set ``GENBENCH_DISABLE_PLUGINS=name,other`` to skip plugins by entry-point name.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import lru_cache
from importlib.metadata import entry_points

import pluggy

from genbench import hookspecs
from genbench.errors import GenbenchError
from genbench.registry import (
    DatasetRegistry,
    DatasetSpec,
    ExtractorSpec,
    MetricSpec,
    ModelSpec,
    Registry,
)

ENTRY_POINT_GROUP = "genbench"
BUILTIN_PLUGINS = ("genbench.builtin",)
_HOOKS = {
    "models": ("register_models", ModelSpec),
    "datasets": ("register_datasets", DatasetSpec),
    "metrics": ("register_metrics", MetricSpec),
    "extractors": ("register_extractors", ExtractorSpec),
}


@dataclass
class PluginInfo:
    """What ``genbench plugins`` shows for one plugin."""

    name: str
    module: str
    distribution: str
    version: str
    status: str = "loaded"  # loaded | failed | disabled
    error: str = ""
    provides: dict[str, list[str]] = field(default_factory=dict)


@dataclass
class Registries:
    models: Registry[ModelSpec]
    datasets: Registry[DatasetSpec]
    metrics: Registry[MetricSpec]
    extractors: Registry[ExtractorSpec]
    plugins: list[PluginInfo]


def one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def _disabled() -> set[str]:
    raw = os.environ.get("GENBENCH_DISABLE_PLUGINS", "")
    return {name.strip() for name in raw.split(",") if name.strip()}


def _load_plugins(pm: pluggy.PluginManager) -> list[PluginInfo]:
    import importlib

    from genbench import __version__

    infos = []
    for module_name in BUILTIN_PLUGINS:
        info = PluginInfo("builtin", module_name, "genbench", __version__)
        pm.register(importlib.import_module(module_name), name=info.name)
        infos.append(info)
    disabled = _disabled()
    # genbench's own plugins first, so a third party can never take over a builtin name.
    def order(ep):
        return (ep.dist is None or ep.dist.name != "genbench", ep.name)

    for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=order):
        dist = ep.dist
        info = PluginInfo(ep.name, ep.value, dist.name if dist else "?",
                          dist.version if dist else "?")
        infos.append(info)
        if ep.name in disabled:
            info.status = "disabled"
            continue
        if pm.has_plugin(ep.name):
            info.status, info.error = "failed", f"a plugin named {ep.name!r} is already loaded"
            continue
        try:
            pm.register(ep.load(), name=ep.name)
            pm.check_pending()
        except Exception as exc:  # a broken plugin must not take the others down
            info.status, info.error = "failed", one_line(exc)
            if pm.has_plugin(ep.name):
                pm.unregister(name=ep.name)
    return infos


def _collect(pm: pluggy.PluginManager, infos: list[PluginInfo]) -> Registries:
    by_name = {info.name: info for info in infos}
    registries = {kind: (DatasetRegistry if kind == "datasets" else Registry)(kind.rstrip("s"))
                  for kind in _HOOKS}
    for kind, (hook_name, spec_type) in _HOOKS.items():
        registry = registries[kind]
        for impl in getattr(pm.hook, hook_name).get_hookimpls():
            info = by_name[impl.plugin_name]
            if info.status != "loaded":
                continue

            def register(spec, _info=info, _type=spec_type, _registry=registry, _kind=kind):
                if not isinstance(spec, _type):
                    raise GenbenchError(f"expected a {_type.__name__}, got {type(spec).__name__}")
                _registry.add(spec, _info.name)
                _info.provides.setdefault(_kind, []).append(spec.name)

            try:
                impl.function(register=register)
            except Exception as exc:
                info.status, info.error = "failed", f"{hook_name}: {one_line(exc)}"
    # A plugin that failed half-way keeps nothing it registered.
    for info in infos:
        if info.status == "failed":
            for kind, names in info.provides.items():
                for name in names:
                    registries[kind].remove(name)
            info.provides = {}
    return Registries(plugins=infos, **registries)


@lru_cache(maxsize=1)
def get_registries() -> Registries:
    """Discover plugins once per process and return everything they registered."""
    pm = pluggy.PluginManager(ENTRY_POINT_GROUP)
    pm.add_hookspecs(hookspecs)
    infos = _load_plugins(pm)
    return _collect(pm, infos)
