"""The extension points of genbench. Each hook receives a ``register`` callback.

A plugin module implements any of these with ``@genbench.hookimpl`` and is announced through the
``genbench`` entry-point group of its distribution. The host, not the plugin, validates what is
registered (names, duplicates), so every plugin gets the same checks and the same error messages.
Registering must stay cheap: specs name their heavy code as ``"module:attribute"`` strings that
are imported only when that model, dataset, metric or extractor is used.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from genbench.registry import DatasetSpec, ExtractorSpec, MetricSpec, ModelSpec

hookspec = pluggy.HookspecMarker("genbench")


@hookspec
def register_models(register: Callable[[ModelSpec], None]) -> None:
    """Register generative models: call ``register(ModelSpec(...))`` once per model."""


@hookspec
def register_datasets(register: Callable[[DatasetSpec], None]) -> None:
    """Register datasets: call ``register(DatasetSpec(...))`` once per dataset."""


@hookspec
def register_metrics(register: Callable[[MetricSpec], None]) -> None:
    """Register metrics: call ``register(MetricSpec(...))`` once per metric family."""


@hookspec
def register_extractors(register: Callable[[ExtractorSpec], None]) -> None:
    """Register feature extractors: call ``register(ExtractorSpec(...))`` once per extractor."""
