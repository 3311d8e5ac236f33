"""An example genbench plugin: a maximum-likelihood diagonal Gaussian.

genbench imports this module for every command, ``genbench models`` included, so it holds only
the spec and the config dataclass. The model (and torch) lives in ``genbench_example.model``,
which genbench imports only when the model is built.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from genbench import hookimpl
from genbench.config import Range, TrainConfig
from genbench.registry import ModelSpec


@dataclass
class GaussianConfig(TrainConfig):
    # Constraints ride on the annotation; `genbench run` checks them before anything is
    # trained: --set lr=0 fails with "example-gaussian: --set lr=0: must be > 0".
    lr: Annotated[float, Range(gt=0)] = 0.05  # Adam learning rate


@hookimpl
def register_models(register):
    register(ModelSpec(
        name="example-gaussian",
        family="baseline",
        summary="a diagonal Gaussian fitted to the data by maximum likelihood (example plugin)",
        paper="a baseline: the maximum-likelihood diagonal Gaussian",
        factory="genbench_example.model:build",
        config=GaussianConfig,
        accepts=("points", "images"),
        capabilities=("sample", "log_prob"),
        profiles={
            "quick": {"steps": 300, "batch_size": 128},
            "standard": {"steps": 3000},
        },
    ))
