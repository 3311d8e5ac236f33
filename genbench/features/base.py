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
    # What to suspect when the extractor gives every image the same features (see
    # :func:`check_tells_apart`): the end of that one-line error.
    same_features_hint: str = "its weights are probably not the ones it expects, or it collapsed"

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


# Below this spread (the largest, over dimensions, of max - min across examples) features are
# constant. Trained networks' features vary by O(1) between images; a random-weights
# Inception-v3 gives values of about 4e-7 that vary by about 1e-7, which scored horses
# against zebras FID 2e-13 and IS 1.
SAME_FEATURES = 1e-4
SAME_FEATURES_RELATIVE = 1e-5  # of the largest value: float32's rounding, with a margin


def _nearly_constant(x: torch.Tensor) -> bool:
    """Whether every example of ``x`` (N, ...) is the same, within float tolerance."""
    low, high = x.amin(0).double(), x.amax(0).double()
    spread = float((high - low).max())
    scale = float(torch.maximum(low.abs(), high.abs()).max())
    return spread <= max(SAME_FEATURES, SAME_FEATURES_RELATIVE * scale)


def check_tells_apart(extractor: Extractor, features: Features, x: torch.Tensor,
                      what: str) -> None:
    """Refuse a feature space that gives every one of a reference's different examples the
    same features: every score in it would say nothing (FD ~0, IS 1) and look like a perfect
    one. Only the reference is checked: a generator that collapsed to one sample has constant
    features legitimately, and its FD against a varied reference must still be reported; and
    a reference whose examples are themselves all the same is not the extractor's fault."""
    if len(x) < 2 or not _nearly_constant(features.features) or _nearly_constant(x):
        return
    from genbench.errors import GenbenchError

    raise GenbenchError(
        f"the {extractor.name} feature space gives every image the same features: the "
        f"{len(x):,} different examples of {what} all map to one {features.features.shape[1]}-d "
        f"vector, so FD, KID, precision/recall and IS would mean nothing; "
        f"{extractor.same_features_hint}")
