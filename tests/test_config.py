"""Config resolution: dataclass defaults < profile < profile:kind < --steps < --set."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import pytest

from genbench.config import TrainConfig, apply_overrides, resolve_config
from genbench.errors import GenbenchError
from genbench.registry import ModelSpec


@dataclass
class Config(TrainConfig):
    lr: float = 1e-3
    width: int = 8
    norm: Literal["batch", "none"] = "batch"
    ema: bool = False
    sizes: tuple[int, ...] = (1, 2)
    clip: float | None = None


SPEC = ModelSpec(name="m", family="f", summary="s", paper="p", factory="x:y", config=Config,
                 profiles={"quick": {"steps": 10, "width": 4}, "quick:points": {"width": 2},
                           "standard": {"steps": 1000}})


def test_layers_apply_in_order():
    assert resolve_config(SPEC, "quick", "images").width == 4
    cfg = resolve_config(SPEC, "quick", "points", steps=7, overrides=["lr=0.5", "ema=yes"])
    assert (cfg.steps, cfg.width, cfg.lr, cfg.ema) == (7, 2, 0.5, True)
    assert resolve_config(SPEC, "standard", "points").steps == 1000


def test_values_are_typed():
    cfg = apply_overrides(Config(), ["sizes=3,4,5", "clip=0.01", "norm=none", "batch-size=32"])
    assert cfg.sizes == (3, 4, 5) and cfg.clip == 0.01 and cfg.norm == "none"
    assert cfg.batch_size == 32
    assert apply_overrides(Config(clip=1.0), ["clip=none"]).clip is None


@pytest.mark.parametrize("item, message", [
    ("widht=3", "Did you mean 'width'"),
    ("width=3.5", "expected int"),
    ("ema=maybe", "expected bool"),
    ("norm=layer", "choose one of batch, none"),
    ("lr=inf-ish", "expected float"),
    ("=3", "expects key=value"),
])
def test_bad_overrides(item, message):
    with pytest.raises(GenbenchError, match=message):
        apply_overrides(Config(), [item])


def test_bad_steps_and_profile():
    with pytest.raises(GenbenchError, match="at least 1"):
        resolve_config(SPEC, "quick", "points", steps=0)
    with pytest.raises(GenbenchError, match="unknown profile"):
        resolve_config(SPEC, "slow", "points")
