"""Plugin discovery: genbench's own builtins plus every ``genbench`` entry point.

Each entry point is loaded, and each of its hooks called, inside its own ``try``: a plugin that
fails is reported (``genbench plugins``) and skipped, and every other plugin keeps working.
Plugins load in a fixed order (genbench's own first, then by entry-point name) and register one
after another, so the first to register a name keeps it and a later one is refused as a
conflict. Set ``GENBENCH_DISABLE_PLUGINS=name,other`` to skip plugins by entry-point name.

While a plugin is imported and its hooks run, what it prints goes to stderr (stdout may be the
JSON of ``--format json``), and ``sys.exit()`` in it fails that plugin instead of ending the
command silently. A plugin that loads but registers nothing is flagged with a warning: it is
nearly always a hook function without ``@genbench.hookimpl``.

An exception raised later by a third-party plugin's code (its model's ``train_step``, say) is
reported as that plugin's failure (:func:`plugin_error`, :func:`blame_plugins`), not as
genbench's.
"""

from __future__ import annotations

import difflib
import inspect
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager, redirect_stdout
from dataclasses import dataclass, field
from functools import lru_cache
from importlib.metadata import entry_points

import pluggy

from genbench import hookspecs
from genbench.errors import GenbenchError, PluginError
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
_HOOK_NAMES = tuple(hook_name for hook_name, _ in _HOOKS.values())


@dataclass
class PluginInfo:
    """What ``genbench plugins`` shows for one plugin."""

    name: str
    module: str
    distribution: str
    version: str
    status: str = "loaded"  # loaded | failed | disabled
    error: str = ""
    warning: str = ""  # loaded, but something is likely wrong (it provides nothing)
    provides: dict[str, list[str]] = field(default_factory=dict)

    @property
    def label(self) -> str:
        """How messages name the plugin: ``kde (genbench-kde 0.1.0)``."""
        return f"{self.name} ({self.distribution} {self.version})"


@dataclass
class Registries:
    models: Registry[ModelSpec]
    datasets: Registry[DatasetSpec]
    metrics: Registry[MetricSpec]
    extractors: Registry[ExtractorSpec]
    plugins: list[PluginInfo]

    def provider(self, kind: str, name: str) -> PluginInfo | None:
        """The plugin that registered ``name`` among ``kind`` ("models", "datasets",
        "metrics", "extractors"); a dataset's ``NAME:ARG`` is looked up as ``NAME``."""
        registry = getattr(self, kind)
        plugin = registry.owners.get(name) or registry.owners.get(name.partition(":")[0])
        return next((info for info in self.plugins if info.name == plugin), None)


def one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def _reason(exc: BaseException) -> str:
    """Why loading a plugin failed, in one line."""
    if isinstance(exc, SystemExit):  # its message would be just "0"
        return f"called sys.exit({exc.code!r}) while loading"
    return one_line(exc)


@contextmanager
def _plugin_code() -> Iterator[None]:
    """Run a plugin's import or hooks with its prints sent to stderr: stdout may be the JSON
    of ``--format json``, which one stray line would make unreadable."""
    with redirect_stdout(sys.stderr):
        yield


def _hook_problem(pm: pluggy.PluginManager, plugin: object) -> str:
    """What pluggy refuses in ``plugin``, in one line: a hook it does not know, or an argument
    the hookspec does not have (pluggy's own message spreads this over several lines, and its
    first line does not say what is wrong). "" when nothing is found."""
    for attr in dir(plugin):
        opts = pm.parse_hookimpl_opts(plugin, attr)
        if opts is None:
            continue
        function = getattr(plugin, attr)
        hook = opts.get("specname") or attr
        caller = getattr(pm.hook, hook, None)
        if (caller is None or not caller.has_spec()) and not opts.get("optionalhook"):
            close = difflib.get_close_matches(hook, _HOOK_NAMES, n=1, cutoff=0.6)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            return f"{attr}: unknown hook {hook!r}{hint}; the hooks are {', '.join(_HOOK_NAMES)}"
        if caller is None or not caller.has_spec():
            continue
        try:
            params = inspect.signature(function).parameters
        except (TypeError, ValueError):
            continue
        expected = ", ".join(caller.spec.argnames)
        for name, param in params.items():
            required = param.default is param.empty and param.kind not in (
                param.VAR_POSITIONAL, param.VAR_KEYWORD)
            if required and name not in caller.spec.argnames:
                return (f"{attr}({', '.join(params)}): argument {name!r} is not in the hookspec "
                        f"{hook}({expected}); write def {attr}({expected})")
    return ""


def _validation_reason(pm: pluggy.PluginManager, plugin: object,
                       exc: pluggy.PluginValidationError) -> str:
    return _hook_problem(pm, plugin) or "PluginValidationError: " + "; ".join(
        line.strip() for line in str(exc).splitlines() if line.strip())


def _disabled() -> set[str]:
    raw = os.environ.get("GENBENCH_DISABLE_PLUGINS", "")
    return {name.strip() for name in raw.split(",") if name.strip()}


def _load_order(ep) -> tuple:
    """genbench's own plugins first, so a third party can never take over a builtin name;
    then the others by entry-point name, then distribution name: the same on every machine."""
    dist = ep.dist.name if ep.dist is not None else ""
    return (dist != "genbench", ep.name, dist, ep.value)


def _load_plugins(pm: pluggy.PluginManager) -> list[PluginInfo]:
    import importlib

    from genbench import __version__

    infos = []
    for module_name in BUILTIN_PLUGINS:
        info = PluginInfo("builtin", module_name, "genbench", __version__)
        pm.register(importlib.import_module(module_name), name=info.name)
        infos.append(info)
    disabled = _disabled()
    for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=_load_order):
        dist = ep.dist
        info = PluginInfo(ep.name, ep.value, dist.name if dist else "?",
                          dist.version if dist else "?")
        if ep.name in disabled:
            info.status = "disabled"
        elif pm.has_plugin(ep.name):
            first = next(i for i in infos if i.name == ep.name)
            info.status, info.error = "failed", (
                f"conflict: the plugin name {ep.name!r} is already taken by {first.label}, "
                f"which loaded first; rename the entry point")
        else:
            plugin = None
            try:
                with _plugin_code():
                    plugin = ep.load()
                pm.register(plugin, name=ep.name)
                pm.check_pending()
            except KeyboardInterrupt:  # the user's Ctrl-C, not the plugin's failure
                raise
            except pluggy.PluginValidationError as exc:
                info.status, info.error = "failed", _validation_reason(pm, plugin, exc)
            # A broken plugin must not take the others down, and sys.exit() in one must not
            # end the command (silently, with status 0).
            except BaseException as exc:
                info.status, info.error = "failed", _reason(exc)
            if info.status == "failed" and pm.has_plugin(ep.name):
                pm.unregister(name=ep.name)
        infos.append(info)
    return infos


class _Conflict(GenbenchError):
    """A name another plugin registered first."""


def _impls(pm: pluggy.PluginManager, hook_name: str, plugin_name: str) -> list:
    """The plugin's implementations of one hook, in the order they are defined: a plugin may
    have several (``@hookimpl(specname=...)`` on a second function), and each is called."""
    def defined_at(impl) -> tuple:
        code = getattr(impl.function, "__code__", None)
        return (getattr(code, "co_filename", ""), getattr(code, "co_firstlineno", 0),
                impl.function.__name__)

    return sorted((impl for impl in getattr(pm.hook, hook_name).get_hookimpls()
                   if impl.plugin_name == plugin_name), key=defined_at)


def _idle_warning(pm: pluggy.PluginManager, info: PluginInfo) -> str:
    """Why a plugin that loaded provides nothing, as a hint at what to fix."""
    plugin = pm.get_plugin(info.name)
    if pm.get_hookcallers(plugin):
        return "provides nothing: its hooks ran but never called register(...)"
    undecorated = [name for name in _HOOK_NAMES if callable(getattr(plugin, name, None))]
    if undecorated:
        return (f"provides nothing: {', '.join(undecorated)} "
                f"{'is' if len(undecorated) == 1 else 'are'} not decorated with "
                f"@genbench.hookimpl")
    return "provides nothing: are its hook functions decorated with @genbench.hookimpl?"


def _collect(pm: pluggy.PluginManager, infos: list[PluginInfo]) -> Registries:
    registries = {kind: (DatasetRegistry if kind == "datasets" else Registry)(kind.rstrip("s"))
                  for kind in _HOOKS}
    by_name = {info.name: info for info in infos}
    # Plugin by plugin in load order, not in pluggy's call order (which tryfirst/trylast
    # change): the first plugin to register a name keeps it, and a plugin that fails drops
    # what it registered before the next one registers anything.
    for info in infos:
        if info.status != "loaded":
            continue
        for kind, (hook_name, spec_type) in _HOOKS.items():
            registry = registries[kind]

            def register(spec, _info=info, _type=spec_type, _registry=registry, _kind=kind):
                if not isinstance(spec, _type):
                    raise GenbenchError(f"expected a {_type.__name__}, got {type(spec).__name__}")
                owner = _registry.owners.get(spec.name)
                if owner is not None and owner != _info.name:
                    raise _Conflict(f"conflict: {_registry.kind} {spec.name!r} is already "
                                    f"registered by plugin {by_name[owner].label}, which loaded "
                                    f"first; {_info.name} is skipped")
                _registry.add(spec, _info.name)
                _info.provides.setdefault(_kind, []).append(spec.name)

            for impl in _impls(pm, hook_name, info.name):
                _call_hook(impl, hook_name, register, info)
                if info.status == "failed":
                    break
            if info.status == "failed":  # it keeps nothing it registered
                for failed_kind, names in info.provides.items():
                    for name in names:
                        registries[failed_kind].remove(name)
                info.provides = {}
                break
        if info.status == "loaded" and not info.provides:
            info.warning = _idle_warning(pm, info)
    failed = [f"{info.label} [{info.error}]" for info in infos if info.status == "failed"]
    idle = [f"{info.label} [{info.warning}]" for info in infos if info.warning]
    for registry in registries.values():
        registry.failed_plugins, registry.idle_plugins = failed, idle
    return Registries(plugins=infos, **registries)


def _call_hook(impl, hook_name: str, register, info: PluginInfo) -> None:
    """Call one of the plugin's hook functions; a failure marks the plugin failed."""
    # pluggy allows a hook function without the argument, but it could register nothing.
    if "register" not in (*impl.argnames, *impl.kwargnames):
        info.status, info.error = "failed", (
            f"{impl.function.__name__}({', '.join(impl.argnames)}): takes no 'register' "
            f"argument; write def {impl.function.__name__}(register)")
        return
    try:
        with _plugin_code():
            impl.function(register=register)
    except _Conflict as exc:
        info.status, info.error = "failed", str(exc)
    except KeyboardInterrupt:
        raise
    except BaseException as exc:  # sys.exit() in a hook too: the plugin's failure
        info.status, info.error = "failed", f"{hook_name}: {_reason(exc)}"


@lru_cache(maxsize=1)
def get_registries() -> Registries:
    """Discover plugins once per process and return everything they registered."""
    pm = pluggy.PluginManager(ENTRY_POINT_GROUP)
    pm.add_hookspecs(hookspecs)
    infos = _load_plugins(pm)
    return _collect(pm, infos)


def _plugin_packages(registries: Registries) -> dict[str, PluginInfo]:
    """The top-level packages holding each third-party plugin's code: its entry-point module
    and every ``module:attribute`` it registered. genbench's own plugins are left out: an
    exception in them is genbench's to fix."""
    third_party = {info.name: info for info in registries.plugins
                   if info.status == "loaded" and info.distribution != "genbench"}
    modules = [(info.module, info) for info in third_party.values()]
    for kind, ref in (("models", "factory"), ("datasets", "loader"), ("metrics", "compute"),
                      ("extractors", "factory")):
        registry = getattr(registries, kind)
        modules += [(getattr(spec, ref), third_party[registry.owners[spec.name]])
                    for spec in registry if registry.owners[spec.name] in third_party]
    packages: dict[str, PluginInfo] = {}
    for module, info in modules:
        top = module.partition(":")[0].partition(".")[0]
        if top and top != "genbench":
            packages.setdefault(top, info)
    return packages


def culprit(exc: BaseException) -> PluginInfo | None:
    """The third-party plugin whose code raised ``exc``: the one owning the innermost frame
    of its traceback that lies in a plugin's package, or None."""
    import traceback

    packages = _plugin_packages(get_registries())
    found = None
    for frame, _ in traceback.walk_tb(exc.__traceback__):
        top = str(frame.f_globals.get("__name__", "")).partition(".")[0]
        found = packages.get(top, found)
    return found


def plugin_error(exc: BaseException, model: str | None = None) -> PluginError | None:
    """``exc`` as the failure of the plugin whose code raised it (naming ``model`` when that
    plugin provides it), or None when no third-party plugin's code is in its traceback."""
    if isinstance(exc, GenbenchError):  # a plugin's own one-line error stays as it is
        return None
    info = culprit(exc)
    if info is None:
        return None
    where = f" in model {model}" if model in info.provides.get("models", ()) else ""
    return PluginError(f"plugin {info.label} failed{where}: {one_line(exc)}")


@contextmanager
def blame_plugins(model: str | None = None) -> Iterator[None]:
    """Turn an exception from a third-party plugin's code (inside the block) into a
    :class:`PluginError` that names the plugin and ``model``; others pass through."""
    try:
        yield
    except Exception as exc:
        error = plugin_error(exc, model)
        if error is None:
            raise
        raise error from exc


def why_missing(what: str, role: str, name: str, made_by: dict,
                plugins: list[PluginInfo]) -> str:
    """Why ``role`` ``name`` of ``what`` (``run X``) is not here although its record names
    the plugin that provided it (``made_by``: plugin, distribution, version), and how to
    bring that plugin back."""
    distribution, version = made_by["distribution"], made_by["version"]
    # Records from before plugin names were kept name the distribution only.
    here = [p for p in plugins if p.name == made_by.get("plugin")
            or (not made_by.get("plugin") and p.distribution == distribution)]
    plugin = made_by.get("plugin") or (here[0].name if len(here) == 1 else "")
    who = (f"plugin {plugin} ({distribution} {version})" if plugin
           else f"a plugin from {distribution} {version}")
    head = f"{what} was made by {who}, which provided its {role} {name!r}"
    install = f"pip install '{distribution}=={version}'"
    state = here[0] if len(here) == 1 else None
    if state is not None and state.status == "disabled":
        return (f"{head}; it is disabled: enable it (remove {state.name} from "
                f"GENBENCH_DISABLE_PLUGINS)")
    if state is not None and state.status == "failed":
        return (f"{head}; it failed to load ({state.error}): fix it or reinstall it "
                f"({install}); `genbench plugins` lists it")
    if state is not None:
        return (f"{head}; the installed {state.distribution} {state.version} does not provide "
                f"it: install the version that made the run ({install})")
    return f"{head}; it is not installed: install it ({install})"
