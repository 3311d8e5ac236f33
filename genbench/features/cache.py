"""Features of a dataset split, computed once and kept on disk.

The file name holds the dataset, the split, a fingerprint of the split's contents and the
extractor's key (which changes with its weights and preprocessing), so scoring a second model
against the same reference never recomputes it, and nothing stale is ever reused. Files are
written atomically and loaded with ``weights_only=True``; a damaged file is recomputed.
Set ``GENBENCH_CACHE_DIR`` to share one cache between workdirs.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import torch

from genbench.atomic import atomic_write
from genbench.features.base import Extractor, Features, check_tells_apart

FINGERPRINT_VALUES = 1 << 20


def cache_dir(workdir: str | os.PathLike) -> Path:
    return Path(os.environ.get("GENBENCH_CACHE_DIR") or Path(workdir) / "cache")


def fingerprint(x: torch.Tensor) -> str:
    """A cheap content hash: shape plus an evenly strided sample of at most ~1M values."""
    flat = x.detach().reshape(-1)
    step = max(1, flat.numel() // FINGERPRINT_VALUES)
    digest = hashlib.sha256(str(tuple(x.shape)).encode())
    digest.update(flat[::step].contiguous().cpu().numpy().tobytes())
    return digest.hexdigest()[:16]


def split_features(extractor: Extractor, dataset: str, split: str, x: torch.Tensor,
                   workdir: str | os.PathLike, progress=None,
                   what: str | None = None) -> tuple[Features, bool]:
    """Features of a dataset split, from the cache when possible; returns (features, cached).
    ``what`` names the split in errors (default: "the test split of 'digits'")."""
    path = cache_dir(workdir) / "features" / (
        f"{dataset}-{split}-{fingerprint(x)}-{extractor.key}.pt")
    what = what or f"the {split} split of {dataset!r}"
    found = None
    if path.is_file():
        try:
            saved = torch.load(path, map_location="cpu", weights_only=True)
            if saved["features"].shape[0] == x.shape[0]:
                found = Features(saved["features"], saved.get("logits"))
        except Exception:  # damaged: recompute below and overwrite
            pass
    feats = found or extractor(x, progress=progress)
    # Every score is computed against these features: the one place to check that the
    # extractor tells the reference's images apart, for `run`, `evaluate` and `score` alike
    # (and for features cached before the check existed).
    check_tells_apart(extractor, feats, x, what)
    if found is None:
        payload = {"features": feats.features, "logits": feats.logits}
        atomic_write(path, lambda tmp: torch.save(payload, tmp))
    return feats, found is not None
