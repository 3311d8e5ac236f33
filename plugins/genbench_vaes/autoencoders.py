"""The autoencoders (ae, dae) and VAEs (vae, beta-vae, cvae).

One base class, :class:`AutoencoderModel`, owns the encoder, the decoder, the Adam optimizer
and the single ``train_step``; the variants override small hooks:

- ``prepare(x)``: the training target (the VAE's Gaussian decoder dequantises images);
- ``corrupt(x)``: the encoder's training input (the denoising autoencoder's noise);
- ``objective(inp, target, cond) -> (loss, logs, codes)``: the loss of one batch;
- ``after_step(codes)``: bookkeeping after the optimizer step (the autoencoders' code
  statistics, the VAE's decoder-scale bound);
- ``code``, ``decode_mean`` and ``latent``: the code of an input, the decoder's mean, and the
  latent draws that ``sample`` decodes.

Conditioning (cvae) is a one-hot label joined to the encoder's and the decoder's inputs (for
images: at the encoder's dense output layer and the decoder's dense input layer).

Random numbers for ``sample``, ``latent`` and ``log_likelihood`` are drawn on the CPU from the
given generator and moved to the model's device, so a seeded generator gives the same numbers
on every device. There is no normalisation layer anywhere, so nothing depends on the batch or
on train/eval mode.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from genbench.errors import GenbenchError
from genbench.likelihood import dequantize, log_mean_exp, to_bins
from genbench.model import DataInfo, GenerativeModel
from genbench_vaes.blocks import ConvDecoder, ConvEncoder, mlp

CHUNK = 500  # examples per forward pass in encode / reconstruct
LL_BUDGET = 4096  # decoder evaluations (examples x importance samples) per pass in likelihoods
LOG_2PI = math.log(2 * math.pi)


# -- networks --------------------------------------------------------------------------------

class Encoder(nn.Module):
    """x (and an optional conditioning vector) -> ``out_dim`` values: an MLP for points, a
    :class:`ConvEncoder` for images."""

    def __init__(self, data: DataInfo, width: int, depth: int, out_dim: int,
                 cond_dim: int = 0):
        super().__init__()
        self.conv = data.kind == "images"
        if self.conv:
            channels, size, _ = data.shape
            self.net = ConvEncoder(channels, size, width, out_dim, cond_dim=cond_dim)
        else:
            self.net = mlp(data.shape[0] + cond_dim, out_dim, width, depth)

    def forward(self, x: torch.Tensor, cond: torch.Tensor | None = None) -> torch.Tensor:
        if self.conv:
            return self.net(x, cond)
        return self.net(x if cond is None else torch.cat([x, cond], dim=1))


class Decoder(nn.Module):
    """z (and an optional conditioning vector) -> raw outputs of the data's shape."""

    def __init__(self, data: DataInfo, width: int, depth: int, latent_dim: int,
                 cond_dim: int = 0):
        super().__init__()
        if data.kind == "images":
            channels, size, _ = data.shape
            self.net = ConvDecoder(latent_dim + cond_dim, channels, size, width)
        else:
            self.net = mlp(latent_dim + cond_dim, data.shape[0], width, depth)

    def forward(self, z: torch.Tensor, cond: torch.Tensor | None = None) -> torch.Tensor:
        return self.net(z if cond is None else torch.cat([z, cond], dim=1))


# -- the shared base -------------------------------------------------------------------------

class AutoencoderModel(GenerativeModel):
    """An encoder, a decoder and one Adam optimizer (``optimizers["opt"]``, over every
    parameter) trained by the one ``train_step``; see the module docstring for the hooks."""

    code_factor = 1  # the encoder gives latent_dim * code_factor values (VAE: mean, log-var)

    def __init__(self, config, data: DataInfo, name: str, num_classes: int = 0):
        super().__init__()
        self.config = config
        self.name = name
        self.kind = data.kind
        self.shape = tuple(data.shape)
        self.num_classes = num_classes
        self.latent_dim = config.latent_dim
        self.encoder = Encoder(data, config.width, config.depth,
                               config.latent_dim * self.code_factor, num_classes)
        self.decoder = Decoder(data, config.width, config.depth, config.latent_dim,
                               num_classes)
        self.register_buffer("steps_done", torch.zeros((), dtype=torch.long))
        self.init_extra()
        self.optimizers = {"opt": torch.optim.Adam(self.parameters(), lr=config.lr)}

    # hooks -------------------------------------------------------------------------------

    def init_extra(self) -> None:
        """Register extra parameters and buffers (called before the optimizer is made)."""

    def prepare(self, x: torch.Tensor) -> torch.Tensor:
        return x

    def corrupt(self, x: torch.Tensor) -> torch.Tensor:
        return x

    def objective(self, inp: torch.Tensor, target: torch.Tensor, cond: torch.Tensor | None
                  ) -> tuple[torch.Tensor, dict[str, torch.Tensor], torch.Tensor]:
        raise NotImplementedError

    def after_step(self, codes: torch.Tensor) -> None:
        pass

    def code(self, x: torch.Tensor, cond: torch.Tensor | None) -> torch.Tensor:
        return self.encoder(x, cond)

    def decode_mean(self, z: torch.Tensor, cond: torch.Tensor | None) -> torch.Tensor:
        return self.decoder(z, cond)

    # shared machinery --------------------------------------------------------------------

    def condition(self, labels: torch.Tensor | None, what: str = "this") -> torch.Tensor | None:
        """One-hot labels for a conditional model, None for the others (labels ignored)."""
        if not self.num_classes:
            return None
        if labels is None:
            raise GenbenchError(f"{self.name}: {what} needs class labels (y)")
        return F.one_hot(labels.long().to(self.device), self.num_classes).float()

    def to_data(self, x: torch.Tensor) -> torch.Tensor:
        """Decoder means into data space: images are clamped to [-1, 1]."""
        return x.clamp(-1, 1) if self.kind == "images" else x

    def randn(self, *shape: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """Standard normals drawn on the generator's device (the CPU by default), moved to the
        model's device."""
        device = generator.device if generator is not None else torch.device("cpu")
        return torch.randn(shape, generator=generator, device=device).to(self.device)

    def train_step(self, x: torch.Tensor, y: torch.Tensor | None) -> dict[str, torch.Tensor]:
        x = x.to(self.device)
        cond = self.condition(y, "training")
        target = self.prepare(x)
        loss, logs, codes = self.objective(self.corrupt(target), target, cond)
        opt = self.optimizers["opt"]
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        with torch.no_grad():
            self.after_step(codes.detach())
        self.count_step()
        return {"loss": loss.detach(), **logs}

    def _chunked(self, fn, x: torch.Tensor, y: torch.Tensor | None, what: str) -> torch.Tensor:
        parts = []
        for i in range(0, x.shape[0], CHUNK):
            xb = x[i:i + CHUNK].to(self.device)
            cond = self.condition(None if y is None else y[i:i + CHUNK], what)
            parts.append(fn(xb, cond))
        return torch.cat(parts).to(x.device)

    # the capabilities ----------------------------------------------------------------------

    def latent(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """n draws from N(0, I) (the autoencoders override this)."""
        return self.randn(n, self.latent_dim, generator=generator)

    @torch.no_grad()
    def generate(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """The decoder's mean for codes ``z``, in data space (images in [-1, 1])."""
        cond = self.condition(labels, "generate")
        return self.to_data(self.decode_mean(z.to(self.device), cond))

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        return self.generate(self.latent(n, generator))

    @torch.no_grad()
    def encode(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """The code of x (a VAE's posterior mean), (N, latent_dim)."""
        return self._chunked(self.code, x, y, "encode")

    @torch.no_grad()
    def reconstruct(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """The decoder's mean at the code of x, in data space."""
        return self._chunked(lambda xb, c: self.to_data(self.decode_mean(self.code(xb, c), c)),
                             x, y, "reconstruct")


# -- deterministic autoencoders --------------------------------------------------------------

class Autoencoder(AutoencoderModel):
    """A deterministic autoencoder trained on the mean squared error.

    It has no prior of its own, so to sample it fits a Gaussian to its codes: every training
    step updates exponential moving averages (decay ``code_decay``) of the batch codes' mean
    and of their second moment E[z z^T]; ``code_mean`` / ``code_cov`` are their bias-corrected
    values (divided by 1 - decay^t, so the first step's batch counts fully) and
    cov = E[z z^T] - mean mean^T, the population covariance. The codes are those of the clean
    batch under the encoder before the step. ``latent`` draws from N(code_mean, code_cov)
    (N(0, I) before any training) and ``sample`` decodes those draws."""

    def init_extra(self) -> None:
        d = self.latent_dim
        self.register_buffer("code_first", torch.zeros(d, dtype=torch.float64))
        self.register_buffer("code_second", torch.zeros(d, d, dtype=torch.float64))
        self.register_buffer("code_weight", torch.zeros((), dtype=torch.float64))

    def objective(self, inp, target, cond):
        z = self.encoder(inp, cond)
        mse = F.mse_loss(self.decoder(z, cond), target)
        if inp is not target:  # the statistics are of the clean inputs' codes
            with torch.no_grad():
                z = self.encoder(target, cond)
        return mse, {"mse": mse.detach()}, z

    def after_step(self, codes: torch.Tensor) -> None:
        decay = self.config.code_decay
        z = codes.double()
        self.code_first.mul_(decay).add_(z.mean(0), alpha=1 - decay)
        self.code_second.mul_(decay).add_(z.T @ z / z.shape[0], alpha=1 - decay)
        self.code_weight.mul_(decay).add_(1 - decay)

    @property
    def code_mean(self) -> torch.Tensor:
        if float(self.code_weight) == 0:
            return torch.zeros_like(self.code_first)
        return self.code_first / self.code_weight

    @property
    def code_cov(self) -> torch.Tensor:
        if float(self.code_weight) == 0:
            return torch.eye(self.latent_dim, dtype=torch.float64, device=self.device)
        mean = self.code_mean
        cov = self.code_second / self.code_weight - torch.outer(mean, mean)
        return (cov + cov.T) / 2

    def latent(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """n draws from the Gaussian fitted to the codes: mean + V sqrt(L) eps, from the
        eigendecomposition cov = V L V^T (negative rounding-error eigenvalues set to 0)."""
        eps = self.randn(n, self.latent_dim, generator=generator).double()
        evals, evecs = torch.linalg.eigh(self.code_cov.cpu())
        root = (evecs * evals.clamp(min=0).sqrt()).to(self.device)
        return (self.code_mean + eps @ root.T).float()


class DenoisingAutoencoder(Autoencoder):
    """Vincent et al. 2008: the encoder sees corrupted inputs and the loss asks for the clean
    ones. ``noise="gaussian"`` adds ``noise_std`` * N(0, I); ``noise="mask"`` sets each value
    to 0 with probability ``mask_prob`` (for images to -1, black, the paper's 0 intensity).
    Corruption is applied in training only; ``encode``/``reconstruct`` see clean inputs."""

    def corrupt(self, x: torch.Tensor) -> torch.Tensor:
        cfg = self.config
        if cfg.noise == "gaussian":
            return x + cfg.noise_std * torch.randn_like(x)
        masked = torch.rand_like(x) < cfg.mask_prob
        return x.masked_fill(masked, -1.0 if self.kind == "images" else 0.0)


# -- VAEs ------------------------------------------------------------------------------------

def standard_normal_log_prob(z: torch.Tensor) -> torch.Tensor:
    """log N(z; 0, I) summed over the last dimension."""
    return -0.5 * (z ** 2 + LOG_2PI).sum(-1)


class VAE(AutoencoderModel):
    """Kingma & Welling 2014: q(z|x) = N(mu(x), diag sigma^2(x)), prior N(0, I), trained on
    reconstruction NLL + ``beta`` * KL (the analytic KL, one reparametrised sample per
    example); beta = 1 is the negative ELBO, beta-VAE uses beta > 1.

    Decoders: ``"gaussian"``: p(x|z) = N(decoder(z), diag s^2) with a learned log-scale per data
    value (a parameter starting at s = 1, trained by the same Adam as the nets and projected
    onto log s >= log ``min_scale`` after every step); images are uniformly dequantised for
    training (``dequantize``), so it is a density of 8-bit data.
    ``"bernoulli"``: (x + 1) / 2 in [0, 1] as the probabilities of Bernoulli variables (binary
    cross-entropy with logits), as the paper did for MNIST. That is not a likelihood of the
    data, so ``log_likelihood`` then returns {}.

    ``encode`` is the posterior mean, ``reconstruct`` the decoder's mean there, ``generate``
    the decoder's mean (Gaussian: clamped to [-1, 1] for images; Bernoulli: 2 sigmoid - 1)."""

    code_factor = 2

    def init_extra(self) -> None:
        self.gaussian = self.config.decoder == "gaussian"
        self.dequantize_images = (self.gaussian and self.kind == "images"
                                  and self.config.dequantize)
        if self.gaussian:
            self.log_scale = nn.Parameter(torch.zeros(self.shape))

    @property
    def min_log_scale(self) -> float:
        return math.log(self.config.min_scale)

    def posterior(self, x: torch.Tensor, cond: torch.Tensor | None
                  ) -> tuple[torch.Tensor, torch.Tensor]:
        """q(z|x)'s mean and log-variance."""
        mu, logvar = self.encoder(x, cond).chunk(2, dim=1)
        return mu, logvar.clamp(-30.0, 20.0)

    def code(self, x, cond):
        return self.posterior(x, cond)[0]

    def decode_mean(self, z, cond):
        out = self.decoder(z, cond)
        return out if self.gaussian else 2 * torch.sigmoid(out) - 1

    def log_px(self, x: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
        """log p(x|z) per example, from the decoder's raw output ``out`` at z."""
        if self.gaussian:
            log_s = self.log_scale.clamp(min=self.min_log_scale)
            nll = 0.5 * ((x - out) * torch.exp(-log_s)) ** 2 + log_s + 0.5 * LOG_2PI
        else:
            nll = F.binary_cross_entropy_with_logits(out, (x + 1) / 2, reduction="none")
        return -nll.flatten(1).sum(1)

    def prepare(self, x):
        return dequantize(to_bins(x)) if self.dequantize_images else x

    def objective(self, inp, target, cond):
        mu, logvar = self.posterior(inp, cond)
        z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)
        nll = -self.log_px(target, self.decoder(z, cond))
        kl = 0.5 * (mu ** 2 + logvar.exp() - 1 - logvar).sum(1)
        loss = (nll + self.config.beta * kl).mean()
        nll, kl = nll.detach(), kl.detach()
        logs = {"nll": nll.mean(), "kl": kl.mean(), "neg_elbo": (nll + kl).mean()}
        return loss, logs, mu

    def after_step(self, codes):
        if self.gaussian:
            self.log_scale.clamp_(min=self.min_log_scale)

    # likelihoods -------------------------------------------------------------------------

    def log_weights(self, x: torch.Tensor, cond: torch.Tensor | None,
                    eps: torch.Tensor) -> torch.Tensor:
        """Importance log-weights log p(x|z_j) + log p(z_j) - log q(z_j|x), (m, k), for
        z_j = mu + sigma * eps[:, j] with ``eps`` (m, k, latent_dim) standard normals."""
        m, k, _ = eps.shape
        mu, logvar = self.posterior(x, cond)
        z = mu[:, None] + torch.exp(0.5 * logvar)[:, None] * eps
        log_q = standard_normal_log_prob(eps) - 0.5 * logvar.sum(1)[:, None]
        log_prior = standard_normal_log_prob(z)
        flat_cond = None if cond is None else cond.repeat_interleave(k, dim=0)
        out = self.decoder(z.flatten(0, 1), flat_cond)
        x_rep = x[:, None].expand(m, k, *x.shape[1:]).flatten(0, 1)
        return self.log_px(x_rep, out).view(m, k) + log_prior - log_q

    def _bound_chunks(self, x: torch.Tensor, k: int, generator: torch.Generator | None):
        """(start, x chunk on the device, eps) with at most LL_BUDGET decoder evaluations per
        chunk; eps drawn in order from ``generator``."""
        if k < 1:
            raise GenbenchError(f"{self.name}: k must be at least 1, got {k}")
        size = max(1, LL_BUDGET // k)
        for i in range(0, x.shape[0], size):
            xb = x[i:i + size].to(self.device)
            yield i, xb, self.randn(xb.shape[0], k, self.latent_dim, generator=generator)

    @staticmethod
    def bounds(w: torch.Tensor) -> dict[str, torch.Tensor]:
        """The ELBO estimate (mean log-weight) and the IWAE bound (log mean weight) from
        (m, k) log-weights. With k = 1 the two are equal, and IWAE >= ELBO always."""
        return {"elbo": w.mean(1), "iwae": log_mean_exp(w, dim=1)}

    def _conditional_bounds(self, x, y, k, generator) -> dict[str, torch.Tensor]:
        parts: dict[str, list[torch.Tensor]] = {"elbo": [], "iwae": []}
        for i, xb, eps in self._bound_chunks(x, k, generator):
            cond = self.condition(None if y is None else y[i:i + xb.shape[0]], "log_likelihood")
            for key, value in self.bounds(self.log_weights(xb, cond, eps)).items():
                parts[key].append(value)
        return {key: torch.cat(v).to(x.device) for key, v in parts.items()}

    @torch.no_grad()
    def log_likelihood(self, x: torch.Tensor, y: torch.Tensor | None = None, *, k: int = 64,
                       generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
        """Per-example bounds on log p(x) in nats: ``"iwae"``, log mean_j w_j, and ``"elbo"``,
        mean_j log w_j, from the same k importance samples z_j ~ q(z|x) (so the ELBO here is
        the k-sample Monte Carlo estimate with the sampled, not the analytic, KL; with k = 1
        the two coincide). Computed in chunks of at most LL_BUDGET decoder evaluations; the
        numbers depend only on x, k and the generator's state. {} with the Bernoulli
        decoder."""
        if not self.gaussian:
            return {}
        return self._conditional_bounds(x, None, k, generator)


class ConditionalVAE(VAE):
    """Sohn et al. 2015: q(z|x, y) and p(x|z, y) take one-hot labels y; prior N(0, I).
    ``sample`` draws z first, then labels uniformly, both from the generator;
    ``encode``/``reconstruct`` need y. ``log_likelihood`` is of x alone,
    log p(x) = logsumexp_c [log p(c) + log p(x|c)] with p(c) = 1/K and each log p(x|c)
    replaced by its ELBO / IWAE bound (a sum of lower bounds, so still a lower bound); the
    same importance draws serve every class. It costs K times a VAE's likelihood, so with
    more than ``likelihood_max_classes`` classes it returns {} (no likelihood in that
    configuration). ``conditional_log_likelihood(x, y)`` gives the bounds on log p(x|y)."""

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        z = self.latent(n, generator)
        device = generator.device if generator is not None else torch.device("cpu")
        labels = torch.randint(self.num_classes, (n,), generator=generator, device=device)
        return self.generate(z, labels)

    @torch.no_grad()
    def conditional_log_likelihood(self, x: torch.Tensor, y: torch.Tensor, *, k: int = 64,
                                   generator: torch.Generator | None = None
                                   ) -> dict[str, torch.Tensor]:
        if not self.gaussian:
            return {}
        if y is None:
            raise GenbenchError(f"{self.name}: conditional_log_likelihood needs class labels")
        return self._conditional_bounds(x, y, k, generator)

    @torch.no_grad()
    def log_likelihood(self, x, y=None, *, k=64, generator=None):
        if not self.gaussian or self.num_classes > self.config.likelihood_max_classes:
            return {}
        log_prior = -math.log(self.num_classes)
        parts: dict[str, list[torch.Tensor]] = {"elbo": [], "iwae": []}
        for _, xb, eps in self._bound_chunks(x, k, generator):
            per_class: dict[str, list[torch.Tensor]] = {"elbo": [], "iwae": []}
            for c in range(self.num_classes):
                labels = torch.full((xb.shape[0],), c, dtype=torch.long, device=self.device)
                w = self.log_weights(xb, self.condition(labels), eps)
                for key, value in self.bounds(w).items():
                    per_class[key].append(value)
            for key, values in per_class.items():
                parts[key].append(torch.logsumexp(torch.stack(values, 1), dim=1) + log_prior)
        return {key: torch.cat(v).to(x.device) for key, v in parts.items()}


# -- factories -------------------------------------------------------------------------------

def _check(name: str, data: DataInfo) -> None:
    if data.kind == "images":
        if len(data.shape) != 3 or data.shape[1] != data.shape[2]:
            raise GenbenchError(f"{name}: takes square (C, H, W) images, got shape "
                                f"{tuple(data.shape)}")
        if data.shape[1] < 4:
            raise GenbenchError(f"{name}: images must be at least 4x4, got {data.shape[1]}")
    elif data.kind == "points":
        if len(data.shape) != 1:
            raise GenbenchError(f"{name}: takes (D,) points, got shape {tuple(data.shape)}")
    else:
        raise GenbenchError(f"{name}: cannot take {data.kind} data")


def build_ae(config, data: DataInfo) -> Autoencoder:
    _check("ae", data)
    return Autoencoder(config, data, "ae")


def build_dae(config, data: DataInfo) -> DenoisingAutoencoder:
    _check("dae", data)
    return DenoisingAutoencoder(config, data, "dae")


def build_vae(config, data: DataInfo) -> VAE:
    _check("vae", data)
    return VAE(config, data, "vae")


def build_beta_vae(config, data: DataInfo) -> VAE:
    _check("beta-vae", data)
    return VAE(config, data, "beta-vae")


def build_cvae(config, data: DataInfo) -> ConditionalVAE:
    _check("cvae", data)
    if data.num_classes <= 0:
        raise GenbenchError("cvae: needs class labels, but this dataset has none "
                            "(num_classes=0); use a labelled dataset such as digits")
    return ConditionalVAE(config, data, "cvae", num_classes=data.num_classes)
