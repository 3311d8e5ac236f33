"""What a feature extractor is: a callable from data to features (and logits, when it has a
classifier head), plus what identifies its output for the feature cache and the records."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from genbench.registry import DatasetSpec


@dataclass
class ExtractorContext:
    """What an extractor factory receives: ``factory(ctx) -> Extractor``.

    ``dataset`` is None when scoring arbitrary files (``genbench score``). ``options`` carries
    user settings such as ``{"inception_weights": "/path/to/file.pth", "extractor_precision":
    "bf16", "extractor_batch": 500}``; ``workdir`` is where an extractor may cache what it
    trains or downloads. ``progress``, when given, is called as ``progress(what, done, total)``
    while the factory does something slow (the evaluator's training), e.g. ``("training the
    mnist evaluator (once per workdir): epoch 4/30, val 98.6%", 4, 30)``.
    """

    dataset: DatasetSpec | None
    device: torch.device
    workdir: Path
    options: dict[str, Any] = field(default_factory=dict)
    seed: int = 0
    progress: Callable[[str, int, int], None] | None = None


@dataclass
class Features:
    features: torch.Tensor  # (N, D) float32, on the CPU
    logits: torch.Tensor | None = None  # (N, K) classifier logits, when the extractor has them


class Extractor:
    """Subclass and implement :meth:`extract`.

    ``key`` must change whenever the same input could give different features (weights,
    preprocessing, resolution): it names the on-disk feature cache. ``info`` is recorded with
    every metric computed in this space (e.g. the evaluator's held-out accuracy). ``variant``
    names terms other than the standard ones (``"bf16"``): metrics in such a space are named
    ``FID@bf16``, ``precision[raw]@bf16``, so they never share a leaderboard column with the
    standard numbers.
    """

    name: str = ""
    key: str = ""
    variant: str = ""
    batch_size: int = 256

    def __init__(self) -> None:
        self.info: dict[str, Any] = {}

    def extract(self, x: torch.Tensor) -> Features:
        """Features of one batch: ``x`` is data as datasets hold it (images in [-1, 1])."""
        raise NotImplementedError

    @torch.no_grad()
    def __call__(self, x: torch.Tensor, progress=None) -> Features:
        """Features of any number of examples, in batches; ``progress(done, total)``."""
        feats, logits = [], []
        for i in range(0, x.shape[0], self.batch_size):
            out = self.extract(x[i:i + self.batch_size])
            feats.append(out.features.float().cpu())
            if out.logits is not None:
                logits.append(out.logits.float().cpu())
            if progress:
                progress(min(i + self.batch_size, x.shape[0]), x.shape[0])
        if not feats:
            raise ValueError("no examples to extract features from")
        return Features(torch.cat(feats), torch.cat(logits) if logits else None)
