"""The Gaussian mixture: scikit-learn fits it by EM, torch holds the fitted parameters as
buffers (so checkpoints, sampling and likelihoods work like any other model's)."""

from __future__ import annotations

import warnings

import numpy as np
import torch
from torch import distributions as dist

from genbench import likelihood as lk
from genbench.errors import GenbenchError
from genbench.model import DataInfo, GenerativeModel


class GaussianMixtureModel(GenerativeModel):
    likelihood = "density"

    def __init__(self, config, data: DataInfo):
        super().__init__()
        self.config, self.data = config, data
        self.images = data.kind == "images"
        d, k = int(np.prod(data.shape)), config.components
        full = config.covariance in ("full", "tied")
        self.register_buffer("weights", torch.full((k,), 1.0 / k, dtype=torch.float64))
        self.register_buffer("means", torch.zeros(k, d, dtype=torch.float64))
        # Cholesky factors of the covariances (full, tied) or standard deviations (diag, spherical).
        self.register_buffer("scale", torch.eye(d, dtype=torch.float64).repeat(k, 1, 1)
                             if full else torch.ones(k, d, dtype=torch.float64))
        self.register_buffer("steps_done", torch.zeros((), dtype=torch.long))
        self.register_buffer("fitted", torch.zeros((), dtype=torch.bool))

    @property
    def device(self) -> torch.device:
        return self.means.device

    def _flat(self, x: torch.Tensor) -> torch.Tensor:
        return x.reshape(len(x), -1).double()

    def train_step(self, x: torch.Tensor, y: torch.Tensor | None) -> dict[str, float]:
        from sklearn.exceptions import ConvergenceWarning
        from sklearn.mixture import GaussianMixture

        cfg = self.config
        if self.images and cfg.dequantize:
            x = lk.dequantize(lk.to_bins(x.cpu()))  # draws from torch's global generator
        data = self._flat(x).cpu().numpy()
        if len(data) < cfg.components:
            raise GenbenchError(f"gmm: {cfg.components} components need at least as many "
                                f"training examples (got {len(data)})")
        seed = int(torch.randint(0, 2**31 - 1, ()).item())
        kwargs = {}
        if bool(self.fitted):  # continue EM from the current fit
            kwargs = {"weights_init": self.weights.cpu().numpy(),
                      "means_init": self.means.cpu().numpy(),
                      "precisions_init": self._precisions()}
        gm = GaussianMixture(cfg.components, covariance_type=cfg.covariance,
                             reg_covar=cfg.reg_covar, max_iter=cfg.max_iter, tol=cfg.tol,
                             init_params=cfg.init, random_state=seed, **kwargs)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            gm.fit(data)
        self._store(gm)
        self.count_step()
        return {"nll": float(-gm.score(data)), "em_iterations": float(gm.n_iter_),
                "converged": float(gm.converged_)}

    def _store(self, gm) -> None:
        k, d = self.means.shape
        cov = torch.as_tensor(gm.covariances_, dtype=torch.float64)
        if self.config.covariance == "full":
            scale = torch.linalg.cholesky(cov)
        elif self.config.covariance == "tied":
            scale = torch.linalg.cholesky(cov).expand(k, d, d).clone()
        elif self.config.covariance == "diag":
            scale = cov.sqrt()
        else:  # spherical: one variance per component
            scale = cov.sqrt()[:, None].expand(k, d).clone()
        dev = self.means.device
        self.weights.copy_(torch.as_tensor(gm.weights_, dtype=torch.float64, device=dev))
        self.means.copy_(torch.as_tensor(gm.means_, dtype=torch.float64, device=dev))
        self.scale.copy_(scale.to(dev))
        self.fitted.fill_(True)

    def _precisions(self) -> np.ndarray:
        """The current fit as scikit-learn's ``precisions_init`` for this covariance type."""
        scale = self.scale.cpu()
        kind = self.config.covariance
        if kind in ("full", "tied"):
            cov = scale @ scale.transpose(-1, -2)
            prec = torch.linalg.inv(cov)
            return (prec[0] if kind == "tied" else prec).numpy()
        var = scale**2
        return (1 / var[:, 0] if kind == "spherical" else 1 / var).numpy()

    def mixture(self) -> dist.MixtureSameFamily:
        if not bool(self.fitted):
            raise GenbenchError("gmm: the mixture has not been fitted yet (train it first)")
        if self.scale.dim() == 3:
            comp = dist.MultivariateNormal(self.means, scale_tril=self.scale)
        else:
            comp = dist.Independent(dist.Normal(self.means, self.scale), 1)
        return dist.MixtureSameFamily(dist.Categorical(probs=self.weights), comp)

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        k, d = self.means.shape
        which = torch.multinomial(self.weights.cpu().float(), n, replacement=True,
                                  generator=generator).to(self.device)
        eps = torch.randn(n, d, generator=generator, dtype=torch.float64).to(self.device)
        if self.scale.dim() == 3:
            x = self.means[which] + (self.scale[which] @ eps[:, :, None])[:, :, 0]
        else:
            x = self.means[which] + self.scale[which] * eps
        x = x.float().reshape(n, *self.data.shape)
        return x.clamp(-1, 1) if self.images else x

    def log_likelihood(self, x: torch.Tensor, y: torch.Tensor | None = None, *, k: int = 64,
                       generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
        return {"exact": self.mixture().log_prob(self._flat(x).to(self.device))}


def build_gmm(config, data: DataInfo) -> GaussianMixtureModel:
    return GaussianMixtureModel(config, data)
