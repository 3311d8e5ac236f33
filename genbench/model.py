"""The base class of every model plugin's model object.

A model owns its networks and optimizers, so a GAN's discriminator/generator alternation lives in
its own ``train_step``. The training loop only feeds batches and checkpoints ``training_state``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from genbench.errors import GenbenchError


@dataclass(frozen=True)
class DataInfo:
    """What a model factory learns about the data it will be trained on."""

    kind: str  # "points" or "images"
    shape: tuple[int, ...]  # (D,) or (C, H, W) as the model will see it
    num_classes: int = 0


class GenerativeModel(nn.Module):
    """Subclass and implement ``train_step`` and ``sample``; optional capabilities are plain
    methods (``reconstruct``, ``encode``, ``log_prob``...) named in the ModelSpec."""

    def __init__(self) -> None:
        super().__init__()
        self.optimizers: dict[str, torch.optim.Optimizer] = {}

    def train_step(self, x: torch.Tensor, y: torch.Tensor | None) -> dict[str, float]:
        """One optimisation step on a batch; returns the losses to log."""
        raise NotImplementedError

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """n samples in data space (points, or images in [-1, 1])."""
        raise NotImplementedError

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    def training_state(self) -> dict:
        """Everything needed to continue training: weights, buffers and optimizer states."""
        return {
            "module": self.state_dict(),
            "optimizers": {name: opt.state_dict() for name, opt in self.optimizers.items()},
        }

    def load_training_state(self, state: dict) -> None:
        try:
            self.load_state_dict(state["module"])
            for name, opt in self.optimizers.items():
                opt.load_state_dict(state["optimizers"][name])
        except (KeyError, RuntimeError, ValueError) as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise GenbenchError(f"checkpoint does not fit this model: {first}") from None
