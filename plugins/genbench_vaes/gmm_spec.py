"""The Gaussian-mixture baseline's config and spec (torch-free)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

from genbench.config import Count, Range, TrainConfig, Weight
from genbench.registry import ModelSpec


@dataclass
class GmmConfig(TrainConfig):
    """scikit-learn's GaussianMixture, fitted by EM on the flattened training split. One step
    is one EM fit on the whole split (``batch_size`` caps it); a further step continues EM
    from the current parameters."""

    steps: int = 1
    batch_size: int = 1_000_000  # the whole training split
    checkpoint_every: int = 1
    components: Count = 10
    covariance: Literal["full", "diag", "tied", "spherical"] = "full"
    reg_covar: Weight = 1e-6  # added to the covariance diagonals
    max_iter: Count = 200  # EM iterations per step
    tol: Annotated[float, Range(ge=0)] = 1e-3
    init: Literal["kmeans", "k-means++", "random", "random_from_data"] = "kmeans"
    # Images are fitted on uniformly dequantised 8-bit values (genbench.likelihood), the data
    # its likelihood is reported on.
    dequantize: bool = True


SPECS = (
    ModelSpec(
        name="gmm", family="mixture",
        summary="Gaussian mixture fitted by EM (scikit-learn) on flattened data: the baseline; "
                "exact likelihood, samples",
        paper="Dempster, Laird & Rubin 1977, Maximum Likelihood from Incomplete Data via the "
              "EM Algorithm, J. R. Stat. Soc. B 39(1)",
        factory="genbench_vaes.gmm:build_gmm",
        config=GmmConfig,
        accepts=("points", "images"),
        capabilities=("sample", "log_prob"),
        profiles={"quick": {}, "quick:points": {"components": 25},
                  "standard": {"components": 50, "max_iter": 500},
                  "standard:points": {"components": 25, "max_iter": 500}},
    ),
)
