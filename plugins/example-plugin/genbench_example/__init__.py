"""An example genbench plugin: two baselines, a maximum-likelihood diagonal Gaussian and a
Gaussian kernel density estimate.

genbench imports this module for every command, ``genbench models`` included, so it holds only
the specs and the config dataclasses. The models (and torch) live in ``genbench_example.model``
and ``genbench_example.kde``, which genbench imports only when a model is built.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

from genbench import hookimpl
from genbench.config import Count, Range, TrainConfig
from genbench.registry import ModelSpec


@dataclass
class GaussianConfig(TrainConfig):
    # Constraints ride on the annotation; `genbench run` checks them before anything is
    # trained: --set lr=0 fails with "example-gaussian: --set lr=0: must be > 0".
    lr: Annotated[float, Range(gt=0)] = 0.05  # Adam learning rate


@dataclass
class KdeConfig(TrainConfig):
    # Fitted in one go by fit_training_set, so one (empty) training step is enough.
    steps: int = 1
    checkpoint_every: int = 1
    max_points: Count = 2000  # training examples kept as kernel centres (a random subset)
    rule: Literal["scott", "silverman"] = "scott"  # how the data choose the bandwidth
    bandwidth: Annotated[float, Range(ge=0, note="0 = chosen by the rule")] = 0.0


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
        # Names from genbench.registry.CAPABILITIES; a misspelt one fails the plugin.
        capabilities=("sample", "latent", "log_prob"),
        profiles={
            "quick": {"steps": 300, "batch_size": 128},
            "standard": {"steps": 3000},
        },
    ))
    register(ModelSpec(
        name="example-kde",
        family="baseline",
        summary="a Gaussian kernel density estimate on the training examples (example plugin)",
        paper="Parzen 1962, On Estimation of a Probability Density Function and Mode, "
              "Ann. Math. Statist. 33(3); bandwidth rules: Scott 1992, Silverman 1986",
        factory="genbench_example.kde:build",
        config=KdeConfig,
        accepts=("points", "images"),
        capabilities=("sample", "log_prob"),
        profiles={"standard": {"max_points": 20000}},
    ))
