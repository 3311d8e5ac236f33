"""The example's kernel density estimate: fitted on the whole training split at once, its
state shaped by the data, its bandwidth recorded with the run."""

from __future__ import annotations

import math

import torch

from genbench.errors import GenbenchError
from genbench.model import DataInfo, GenerativeModel


class GaussianKDE(GenerativeModel):
    """p(x) = mean over centres c of N(x; c, h^2 I), on up to ``max_points`` training
    examples (flattened) with one bandwidth h."""

    likelihood = "density"  # log-densities over genbench's [-1, 1] scale, like the Gaussian's

    def __init__(self, config, data: DataInfo):
        super().__init__()
        self.config = config
        self.shape = data.shape
        self.images = data.kind == "images"
        # Data-shaped state: (0, D) until fitted, (N, D) after; buffers are checkpointed.
        self.register_buffer("centres", torch.zeros(0, math.prod(data.shape)))
        self.register_buffer("bandwidth", torch.zeros((), dtype=torch.float64))

    def fit_training_set(self, x: torch.Tensor, y: torch.Tensor | None) -> None:
        """Called once with the whole training split (on the CPU) before the first step."""
        if len(x) > self.config.max_points:  # torch's generator: seeded with the run
            x = x[torch.randperm(len(x))[:self.config.max_points]]
        flat = x.flatten(1).to(self.device)
        n, d = flat.shape
        spread = flat.std(0).mean().item()
        factor = {"scott": n ** (-1 / (d + 4)),
                  "silverman": (n * (d + 2) / 4) ** (-1 / (d + 4))}[self.config.rule]
        bandwidth = self.config.bandwidth or spread * factor
        if bandwidth <= 0:
            # The user can fix this: a GenbenchError is shown as one line, exit code 2.
            raise GenbenchError("example-kde: the training examples do not vary, so the "
                                "bandwidth rule gives 0; set one with --set bandwidth=0.1")
        self.centres = flat
        self.bandwidth.fill_(bandwidth)

    def load_training_state(self, state: dict) -> None:
        # A new model's centres are (0, D); give them the checkpoint's shape, then load.
        centres = state.get("module", {}).get("centres")
        if centres is not None:
            self.centres = torch.empty_like(centres, device=self.device)
        super().load_training_state(state)

    def fitted_quantities(self) -> dict[str, float]:
        """Kept in the run's record (evaluation.fitted) and shown by `genbench runs show`."""
        return {"bandwidth": self.bandwidth.item(), "centres": len(self.centres)}

    def train_step(self, x: torch.Tensor, y: torch.Tensor | None) -> dict[str, float]:
        return {}  # everything was fitted by fit_training_set

    def log_likelihood(self, x: torch.Tensor, y: torch.Tensor | None = None, *, k: int = 64,
                       generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
        h, d = self.bandwidth, self.centres.shape[1]
        squared = torch.cdist(x.flatten(1), self.centres).square()
        log_kernel = -squared / (2 * h * h) - d * (torch.log(h) + 0.5 * math.log(2 * math.pi))
        return {"exact": torch.logsumexp(log_kernel, 1) - math.log(len(self.centres))}

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        pick = torch.randint(len(self.centres), (n,), generator=generator).to(self.device)
        noise = torch.randn(n, self.centres.shape[1], generator=generator).to(self.device)
        x = (self.centres[pick] + self.bandwidth * noise).view(n, *self.shape)
        return x.clamp(-1.0, 1.0) if self.images else x


def build(config, data: DataInfo) -> GaussianKDE:
    return GaussianKDE(config, data)
