"""Typed specs for everything a plugin can register, and name lookup with "did you mean".

Specs are plain data: importing them must not import torch. Heavy code is named by
``"module:attribute"`` strings and imported by :func:`load_object` only when it is used.
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

from genbench.errors import GenbenchError

# What a dataset holds, and so what a model must accept. "superres": low-resolution images in
# ``x``, the high-resolution images they were made from in ``target`` (aligned, like "paired").
# "inpaint": images with their centre cut out in ``x``, the whole images in ``target``.
DATA_KINDS = ("points", "images", "paired", "unpaired", "superres", "inpaint")
# Kinds whose ``target`` is aligned with ``x``: example i of target is the answer for x[i].
ALIGNED_KINDS = ("paired", "superres", "inpaint")
# Optional model capabilities; "sample" is the one every generative model has.
CAPABILITIES = ("sample", "latent", "conditional", "reconstruct", "encode", "translate",
                "anomaly_score", "log_prob", "pairs")


@dataclass(frozen=True)
class ModelSpec:
    """A generative model a plugin offers.

    ``factory`` ("module:callable") is called as ``factory(config, data_info)`` and returns a
    :class:`genbench.model.GenerativeModel`. ``config`` is a dataclass (subclass of
    :class:`genbench.config.TrainConfig`) whose defaults are the paper's; ``profiles`` overrides
    them per profile, optionally per data kind with keys like ``"quick:points"``.
    """

    name: str
    family: str
    summary: str
    paper: str
    factory: str
    config: type
    accepts: tuple[str, ...] = ("points", "images")
    capabilities: tuple[str, ...] = ("sample",)
    profiles: dict[str, dict[str, Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # Checked when the plugin registers, so a typo fails that plugin with a clear reason
        # instead of surfacing later as a TypeError in someone's run.
        import dataclasses

        from genbench.config import PROFILES

        owner = f"model {self.name!r}"
        _check_config_class(owner, self.config)
        known = {f.name for f in dataclasses.fields(self.config)}
        for key, values in self.profiles.items():
            # A key no run looks up ("quik", "standard:imges") would be silently never used.
            profile, colon, kind = str(key).partition(":")
            check_names(owner, "profile", (profile,), PROFILES, "profiles (keys are PROFILE "
                        "or PROFILE:KIND)")
            if colon:
                check_names(f"{owner}, profile {key!r}", "data kind", (kind,), DATA_KINDS,
                            "data kinds")
            unknown = sorted(set(values) - known)
            if unknown:
                raise GenbenchError(f"model {self.name!r}: profile {key!r} sets unknown "
                                    f"settings {', '.join(unknown)}")
        check_names(owner, "data kind", self.accepts, DATA_KINDS, "data kinds")
        check_names(owner, "capability", self.capabilities, CAPABILITIES, "capabilities")


def _check_config_class(owner: str, config: Any) -> None:
    """Refuse a config class that would fail only when a run builds it: one that is not a
    TrainConfig (it lacks ``steps``, which every run sets), or a subclass that is not itself a
    dataclass (it inherits the dataclass machinery, so its own fields are silently not
    settings and its own defaults silently not used)."""
    from genbench.config import TrainConfig

    if not (isinstance(config, type) and issubclass(config, TrainConfig)):
        what = config.__name__ if isinstance(config, type) else repr(config)
        raise GenbenchError(f"{owner}: config {what} must be a dataclass that subclasses "
                            f"genbench.config.TrainConfig (it has the settings every run sets: "
                            f"steps, batch_size, ...)")
    for cls in config.__mro__:
        own = "__dataclass_fields__" in vars(cls)  # is_dataclass() also sees an inherited one
        if issubclass(cls, TrainConfig) and cls is not TrainConfig and not own:
            raise GenbenchError(f"{owner}: config {cls.__name__} is not a dataclass itself "
                                f"(it only inherits from one), so its fields are not settings; "
                                f"decorate {cls.__name__} with @dataclass")


@dataclass(frozen=True)
class DatasetSpec:
    """A dataset. ``loader`` ("module:callable") is called as
    ``loader(split=..., image_size=..., root=...)`` and returns a
    :class:`genbench.data.base.TensorData`."""

    name: str
    kind: str
    summary: str
    source: str
    loader: str
    shape: tuple[int, ...]
    num_classes: int = 0
    splits: tuple[str, ...] = ("train", "test")
    eval_split: str = "test"
    # Properties metrics can rely on, e.g. "known-modes" (mode centres and spread in the data).
    traits: tuple[str, ...] = ()
    # For datasets built from another labelled dataset (anomaly protocols, stacked digits): the
    # evaluator is that dataset's, trained on its full train split with every class; it reads
    # each channel separately where the dataset has the "stacked-modes" trait.
    evaluator_from: str = ""
    # The feature space runs are scored in unless --extractor says otherwise; "" picks the
    # evaluator for labelled images and raw otherwise. Natural-image sets use "inception-v3".
    default_extractor: str = ""
    # Whether loading needs files under --data-root (torchvision sets) or is built in.
    needs_data_root: bool = False
    # Translation datasets: the (C, H, W) of domain B (``shape`` is domain A's); super-resolution
    # datasets: the HR images' (``shape`` is the LR input's).
    target_shape: tuple[int, ...] = ()
    # Datasets named with an argument, ``NAME:ARG`` (e.g. ``paired-folder:PATH``): what ARG is.
    # The loader then also receives ``argument=ARG``.
    argument: str = ""
    # Set on the spec that ``DatasetRegistry.get`` returns for ``NAME:ARG[:BtoA]``: the bound
    # argument and, for translation datasets, the direction.
    value: str = ""
    direction: str = "AtoB"

    def __post_init__(self) -> None:
        # Checked when the plugin registers, like ModelSpec: a misspelt kind ("image") would
        # otherwise register and fail only in someone's run, far from its cause.
        owner = f"dataset {self.name!r}"
        check_names(owner, "data kind", (self.kind,), DATA_KINDS, "data kinds")
        _check_shape(owner, "shape", self.shape)
        if self.target_shape != ():
            _check_shape(owner, "target_shape", self.target_shape)
        if not _is_int(self.num_classes) or self.num_classes < 0:
            raise GenbenchError(f"{owner}: num_classes must be a whole number >= 0 (0 for "
                                f"unlabelled data), got {self.num_classes!r}")
        if isinstance(self.splits, str) or not all(isinstance(s, str) for s in self.splits):
            raise GenbenchError(f"{owner}: splits must be a tuple of strings, got "
                                f"{self.splits!r}; write e.g. ('train', 'test')")
        check_names(owner, "eval_split", (self.eval_split,), tuple(self.splits),
                    "splits")

    def load(self, split: str, image_size: int | None = None, root=None, *,
             uint8: bool = False):
        """Load one split as a :class:`genbench.data.base.TensorData` of float32 images in
        [-1, 1] at ``image_size``. With ``uint8=True``, a loader that has a ``uint8``
        parameter may keep 8-bit images as uint8 at their own size (4x less memory; the
        training path converts them a batch at a time); other loaders load as usual."""
        kwargs = {}
        if root is not None and Path(root).expanduser().is_file():
            raise GenbenchError(f"--data-root {root} is a file; give the folder that holds "
                                f"the datasets")
        if self.argument:
            kwargs["argument"] = self.value
        if self.kind in ("paired", "unpaired"):
            kwargs["direction"] = self.direction
        from genbench.contract import check_split, owner

        loader = load_object(self.loader, f"dataset {self.name!r}")
        if uint8 and _has_parameter(loader, "uint8"):
            kwargs["uint8"] = True
        missing = [name for name in ("split", "image_size", "root", *kwargs)
                   if not _accepts(loader, name)]
        if missing:
            raise GenbenchError(f"dataset {self.name!r}{owner('datasets', self.name)}: its "
                                f"loader {self.loader} takes no "
                                f"{', '.join(missing)} parameter; a loader is called as "
                                f"loader(split=..., image_size=..., root=...)"
                                + (f" and {', '.join(f'{k}=...' for k in kwargs)}"
                                   if kwargs else ""))
        return check_split(loader(split=split, image_size=image_size, root=root, **kwargs),
                           self)


@dataclass(frozen=True)
class MetricSpec:
    """A metric family. ``compute`` ("module:callable") is called as ``compute(ctx)`` with a
    :class:`genbench.evaluation.MetricContext` and returns ``{output_name: value}``.

    ``outputs`` maps each output to whether higher is better. ``applies`` says whether the
    metric makes sense on a dataset. Metrics that work in a feature space set
    ``uses_features`` and their outputs are recorded as ``name[extractor]``.
    """

    name: str
    summary: str
    compute: str
    outputs: dict[str, bool]
    applies: Callable[[DatasetSpec], bool] = lambda dataset: True
    uses_features: bool = True
    # An extractor this metric always uses (e.g. NDB bins raw pixels), whatever the run's is.
    extractor: str | None = None
    # Needs (N, K) classifier logits from the extractor (the Inception Score does).
    requires_logits: bool = False
    reference: str = ""
    # Model capabilities the metric needs (e.g. "reconstruct"); such a metric is computed from
    # the trained model on the reference split, not from samples, and is applied to every model
    # whose spec lists the capabilities.
    requires: tuple[str, ...] = ()
    # The outputs can be recomputed on the generated samples resampled with replacement, which
    # gives a single run its bootstrap interval. Leave False for k-NN metrics (PRDC): duplicated
    # samples become each other's nearest neighbours and the resampled values are biased.
    bootstrap: bool = False

    def __post_init__(self) -> None:
        check_names(f"metric {self.name!r}", "capability", self.requires, CAPABILITIES,
                    "capabilities")


@dataclass(frozen=True)
class ExtractorSpec:
    """A feature extractor. ``factory`` ("module:callable") is called as ``factory(ctx)`` with
    a :class:`genbench.features.base.ExtractorContext` and returns a
    :class:`genbench.features.base.Extractor`."""

    name: str
    summary: str
    factory: str
    applies: Callable[[DatasetSpec], bool] = lambda dataset: True


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_shape(owner: str, field_name: str, shape: Any) -> None:
    if not (isinstance(shape, tuple) and shape and all(_is_int(n) and n > 0 for n in shape)):
        raise GenbenchError(f"{owner}: {field_name} must be a tuple of positive whole numbers, "
                            f"(D,) for points or (C, H, W) for images; got {shape!r}")


def check_names(owner: str, what: str, given: tuple[str, ...], known: tuple[str, ...],
                plural: str) -> None:
    """Refuse a name that is not one of ``known`` (a misspelt capability would otherwise be
    accepted and silently never used), with the closest known name and the full list."""
    if isinstance(given, str):  # ("sample") is a string, not a tuple
        raise GenbenchError(f"{owner}: {plural} must be a tuple of strings, got "
                            f"{given!r}; write ({given!r},)")
    for name in given:
        if name not in known:
            close = difflib.get_close_matches(str(name), known, n=1, cutoff=0.6)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise GenbenchError(f"{owner}: unknown {what} {name!r}{hint}; known {plural}: "
                                f"{', '.join(known)}")


T = TypeVar("T")


class Registry(Generic[T]):
    """Specs of one kind by name, remembering which plugin registered each."""

    def __init__(self, kind: str):
        self.kind = kind
        self._specs: dict[str, T] = {}
        self.owners: dict[str, str] = {}
        # One entry per plugin that failed to load ("kde (genbench-kde 1.0) [why]"): any of them
        # may have provided a name that is not found, so the error says so.
        self.failed_plugins: list[str] = []
        # And one per plugin that loaded but registered nothing ("kde (...) [provides nothing:
        # ...]"): usually a hook function without @hookimpl, the likely reason in turn.
        self.idle_plugins: list[str] = []

    def add(self, spec: T, plugin: str) -> None:
        name = spec.name  # type: ignore[attr-defined]
        if not name or name != name.strip() or " " in name:
            raise GenbenchError(f"{self.kind} name {name!r} from plugin {plugin} is not valid")
        if name in self._specs:
            raise GenbenchError(
                f"{self.kind} {name!r} from plugin {plugin} is already registered by plugin "
                f"{self.owners[name]}"
            )
        self._specs[name] = spec
        self.owners[name] = plugin

    def remove(self, name: str) -> None:
        self._specs.pop(name, None)
        self.owners.pop(name, None)

    def get(self, name: str) -> T:
        try:
            return self._specs[name]
        except KeyError:
            raise GenbenchError(unknown_name_message(self.kind, name, self.names(),
                                                     self.failed_plugins,
                                                     self.idle_plugins)) from None

    def names(self) -> list[str]:
        return sorted(self._specs)

    def __contains__(self, name: object) -> bool:
        return name in self._specs

    def __iter__(self) -> Iterator[T]:
        return iter(self._specs[name] for name in self.names())

    def __len__(self) -> int:
        return len(self._specs)


DIRECTIONS = ("AtoB", "BtoA")


class DatasetRegistry(Registry[DatasetSpec]):
    """Datasets, where a name may carry an argument and a direction: ``NAME``, ``NAME:ARG``
    (for specs with an ``argument``, e.g. ``paired-folder:/data/facades``), and for translation
    datasets a trailing ``:BtoA`` (or ``:AtoB``) that swaps the domains."""

    def get(self, name: str) -> DatasetSpec:
        import dataclasses

        if name in self._specs and not self._specs[name].argument:
            return self._specs[name]
        base, _, rest = name.partition(":")
        spec = super().get(base)
        direction = "AtoB"
        if spec.kind in ("paired", "unpaired") and rest.rsplit(":", 1)[-1] in DIRECTIONS:
            head, _, direction = rest.rpartition(":")
            rest = head
        if rest in DIRECTIONS and spec.kind not in ("paired", "unpaired"):
            raise GenbenchError(f"dataset {base!r} holds {spec.kind}, not translation pairs: "
                                f"a direction ({rest}) does not apply")
        if spec.argument and not rest:
            raise GenbenchError(f"dataset {base!r} needs an argument: --dataset "
                                f"{base}:{spec.argument}")
        if rest and not spec.argument:
            raise GenbenchError(f"dataset {base!r} takes no argument (got {rest!r})")
        return dataclasses.replace(spec, name=canonical_dataset(base, rest, direction),
                                   value=rest, direction=direction)


def canonical_dataset(base: str, value: str = "", direction: str = "AtoB") -> str:
    """The name a dataset is recorded under: ``NAME[:ARG][:BtoA]``."""
    return base + (f":{value}" if value else "") + (":BtoA" if direction == "BtoA" else "")


def unknown_name_message(kind: str, name: str, available: list[str],
                         failed_plugins: list[str] = (), idle_plugins: list[str] = ()) -> str:
    close = difflib.get_close_matches(name, available, n=1, cutoff=0.6)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    listing = ", ".join(available) if available else "none"
    failed = ""
    if failed_plugins:  # first: a plugin that failed is the likeliest reason
        failed = (f" {'A plugin' if len(failed_plugins) == 1 else 'Plugins'} that failed to "
                  f"load may provide it: {'; '.join(failed_plugins)} (see `genbench plugins`).")
    if idle_plugins:  # then one that loaded but registered nothing, as if it had no hooks
        failed += (f" {'A plugin' if len(idle_plugins) == 1 else 'Plugins'} that loaded but "
                   f"registered nothing may be meant to provide it: {'; '.join(idle_plugins)}.")
    return f"unknown {kind} {name!r}.{failed}{hint} Available: {listing}"


def _has_parameter(function: Callable, name: str) -> bool:
    import inspect

    try:
        parameter = inspect.signature(function).parameters.get(name)
    except (TypeError, ValueError):  # no signature to read: do not guess
        return False
    return parameter is not None and parameter.kind in (inspect.Parameter.KEYWORD_ONLY,
                                                        inspect.Parameter.POSITIONAL_OR_KEYWORD)


def _accepts(function: Callable, name: str) -> bool:
    """Whether ``function`` can be called with ``name=...`` (True where it takes **kwargs,
    and where its signature cannot be read)."""
    import inspect

    try:
        parameters = inspect.signature(function).parameters
    except (TypeError, ValueError):
        return True
    return _has_parameter(function, name) or any(
        p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values())


def load_object(ref: str, owner: str = "") -> Any:
    """Import ``"package.module:attribute"``.

    A reference that names nothing (a misspelt module or attribute in a spec) is a
    :class:`GenbenchError` that says which and what to fix; ``owner`` ("model 'kde'") names
    the spec in it. An ImportError raised while a module that exists is imported (one of its
    own imports failing) passes through as it is: it is that module's error, not the
    reference's.
    """
    module_name, _, attr = ref.partition(":")
    where = f"{owner}: " if owner else ""
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        # exc.name is the module that was not found: the referenced one or a package above it
        # means the reference is wrong; any other is a missing dependency of the module.
        if exc.name is None or not (module_name + ".").startswith(exc.name + "."):
            raise
        raise GenbenchError(f"{where}cannot import {ref!r}: there is no module {exc.name!r}; "
                            f"fix the module in this \"module:attribute\" reference (or "
                            f"install the plugin that provides it)") from None
    except ValueError:  # "" or ".x": not a module name at all
        raise GenbenchError(f"{where}{ref!r} is not a \"module:attribute\" reference") from None
    if not attr:
        return module
    try:
        return getattr(module, attr)
    except AttributeError:
        public = [name for name in dir(module) if not name.startswith("_")]
        close = difflib.get_close_matches(attr, public, n=1, cutoff=0.6)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise GenbenchError(f"{where}cannot import {ref!r}: module {module_name} has no "
                            f"attribute {attr!r}{hint}; fix the attribute in this "
                            f"\"module:attribute\" reference") from None
