"""What the super-resolution and inpainting models share: one image in, one image out, one
direction, no sampling (capability ``"translate"`` only)."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from genbench.errors import GenbenchError
from genbench.model import GenerativeModel
from genbench_translation.models import _frozen, bce


class OneWayModel(GenerativeModel):
    """``translate(x)`` checks the direction and the input's shape, and runs :meth:`output` in
    eval mode, clamped to [-1, 1]. Subclasses set ``name``, ``task`` (what they do, for
    messages: "upscales LR to HR", "fills holes"), ``inputs`` (what they take: "LR images")
    and ``input_shape``, and implement :meth:`output`."""

    name = "one-way"
    task = "translates"
    inputs = "images"
    input_shape: tuple[int, ...] = ()

    def output(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    @torch.no_grad()
    def translate(self, x: torch.Tensor, direction: str = "AtoB") -> torch.Tensor:
        if direction != "AtoB":
            raise GenbenchError(f"{self.name} {self.task} only, not {direction!r}")
        if tuple(x.shape[1:]) != tuple(self.input_shape):
            raise GenbenchError(f"{self.name}: takes {self.inputs} of shape "
                                f"{tuple(self.input_shape)}, got {tuple(x.shape[1:])}")
        was_training = self.training
        self.eval()
        try:
            return self.output(x.to(self.device)).clamp(-1.0, 1.0)
        finally:
            self.train(was_training)

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        raise NotImplementedError(f"{self.name} {self.task} (capability 'translate'); it does "
                                  f"not sample")


def bce_gan_update(d: nn.Module, optimizers: dict, real: torch.Tensor, fake: torch.Tensor,
                   generator_loss: Callable[[torch.Tensor], torch.Tensor]
                   ) -> tuple[torch.Tensor, torch.Tensor]:
    """One update of the standard (BCE) GAN game: D on BCE(D(real), 1) + BCE(D(fake), 0)
    with ``optimizers["d"]``, then G on ``generator_loss(BCE(D(fake), 1))`` with
    ``optimizers["g"]``, D frozen (the loss may use D's features too). Returns (D's loss, the
    adversarial term), detached by the caller."""
    d_loss = bce(d(real), 1.0) + bce(d(fake.detach()), 0.0)
    optimizers["d"].zero_grad(set_to_none=True)
    d_loss.backward()
    optimizers["d"].step()
    with _frozen(d):
        adversarial = bce(d(fake), 1.0)
        g_loss = generator_loss(adversarial)
        optimizers["g"].zero_grad(set_to_none=True)
        g_loss.backward()
        optimizers["g"].step()
    return d_loss, adversarial
