"""VQ-VAE-2 (Razavi, van den Oord and Vinyals 2019, "Generating Diverse High-Fidelity Images
with VQ-VAE-2", arXiv:1906.00446): a two-level VQ-VAE with PixelCNN priors at both levels.

Built from :mod:`genbench_vaes.vqvae`'s pieces (its encoder and decoder stacks with residual
blocks, nearest-code quantisation, the EMA codebook update, code statistics) and
:mod:`genbench_vaes.pixelcnn`'s gated PixelCNN.

* **Bottom encoder**: ``bottom_downsample`` stride-2 convolutions and residual blocks give
  features h_b on the bottom grid (H / 2^b). **Top encoder**: ``top_downsample`` more stride-2
  convolutions on h_b give z_t on the top grid (another 2^t smaller), quantised with the
  **top codebook**.
* **Bottom codes**: the quantised top map is decoded (residual blocks, ``top_downsample``
  transposed convolutions) back to the bottom grid, concatenated with h_b, and a 1x1
  convolution gives z_b, quantised with the **bottom codebook**.
* **Decoder**: the bottom codes concatenated with the top codes upsampled to the bottom grid
  (transposed 4x4 stride-2 convolutions), then residual blocks and ``bottom_downsample``
  transposed convolutions to the image (clamped to [-1, 1] when reconstructing or sampling).
* **Loss**: ``mse(x_hat, x) + beta (||z_t - sg[e_t]||^2 + ||z_b - sg[e_b]||^2)``, beta = 0.25,
  straight-through gradients at both quantisers; both codebooks are EMA codebooks (the paper's
  choice: decay 0.99, Laplace-smoothed counts), updated after each step, no gradient.
* **Priors**: a gated PixelCNN over the top codes, and one over the bottom codes **conditioned
  on the top codes**: a conditioning stack (a learnt embedding of each top code, a 3x3
  convolution, nearest upsampling to the bottom grid, ``prior_cond_blocks`` residual blocks)
  gives location-dependent features that a 1x1 convolution per layer adds to every gate of both
  stacks (the gated PixelCNN's ``V * s`` conditioning; the paper's bottom prior likewise takes
  the top codes through a conditioning stack). The paper's top prior also has self-attention
  layers; ours has none.

**Schedule** (as vq-vae): the first ``steps - prior_steps`` steps train the autoencoder and the
codebooks, the last ``prior_steps = round(prior_fraction * steps)`` train both priors together
on the frozen encoder's codes (the bottom prior given the true top codes). Every step logs
``loss`` (the phase's objective), ``recon``, ``vq`` (beta times the two commitment terms),
``prior_nll_top`` and ``prior_nll_bottom`` (nats per code; 0 before the prior phase).

**Sampling**: top codes from the top prior, bottom codes from the bottom prior given them,
then the decoder. No pixel likelihood (a squared-error decoder; see :mod:`genbench_vaes.vqvae`):
``extra_metrics`` reports codebook usage and perplexity per level and each prior's bits per
code on the reference codes.
"""

from __future__ import annotations

import math
from contextlib import contextmanager
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from genbench.errors import GenbenchError
from genbench.model import DataInfo, GenerativeModel
from genbench_vaes.pixelcnn import GatedLayer, GatedPixelCNN, image_shape
from genbench_vaes.vqvae import (
    CHUNK,
    ResBlock,
    code_statistics,
    decoder,
    encoder,
    model_input,
    nearest_codes,
    update_ema_codebook,
)

LEVELS = ("top", "bottom")


class EmaCodebook(nn.Module):
    """K codes of dimension D, moved by exponential moving averages of their encodings."""

    def __init__(self, size: int, dim: int):
        super().__init__()
        self.register_buffer("weight", torch.empty(size, dim).uniform_(-1 / size, 1 / size))
        self.register_buffer("ema_count", torch.ones(size))
        self.register_buffer("ema_sum", self.weight.clone())

    @property
    def size(self) -> int:
        return self.weight.shape[0]

    def lookup(self, idx: torch.Tensor) -> torch.Tensor:
        """(N, h, w) indices -> (N, D, h, w) code vectors."""
        return self.weight[idx].permute(0, 3, 1, 2)

    def quantise(self, z_e: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        idx = nearest_codes(z_e, self.weight)
        return idx, self.lookup(idx)

    def update(self, z_e: torch.Tensor, idx: torch.Tensor, decay: float, eps: float) -> None:
        update_ema_codebook(self.weight, self.ema_count, self.ema_sum, z_e, idx, decay, eps)


def upsampler(channels: int, times: int) -> nn.Sequential:
    """``times`` 4x4 stride-2 transposed convolutions (ReLU between): each doubles the grid."""
    layers: list[nn.Module] = []
    for i in range(times):
        if i:
            layers.append(nn.ReLU())
        layers.append(nn.ConvTranspose2d(channels, channels, 4, stride=2, padding=1))
    return nn.Sequential(*layers)


class TopConditionedPixelCNN(GatedPixelCNN):
    """A one-channel gated PixelCNN over the bottom codes whose every gate also gets features
    of the top codes (``logits(k, top)``, ``log_probs(k, top)``, ``sample(top, generator)``)."""

    def __init__(self, levels: int, top_levels: int, scale: int, *, hidden: int, layers: int,
                 first_kernel: int, kernel: int, out_hidden: int, embedding: int,
                 cond_blocks: int):
        super().__init__(1, levels, hidden=hidden, layers=layers, first_kernel=first_kernel,
                         kernel=kernel, out_hidden=out_hidden, embedding=embedding)
        # The same gated layers, with a conditioning input of ``hidden`` features.
        self.layers = nn.ModuleList(
            GatedLayer(self.in_dim if i == 0 else hidden, hidden,
                       first_kernel if i == 0 else kernel, first=i == 0, cond_dim=hidden)
            for i in range(layers))
        self.scale = scale
        self.top_embedding = nn.Embedding(top_levels, embedding or hidden)
        self.top_in = nn.Conv2d(embedding or hidden, hidden, 3, padding=1)
        self.top_stack = nn.Sequential(*[ResBlock(hidden) for _ in range(cond_blocks)],
                                       nn.ReLU())
        self._given: torch.Tensor | None = None

    def top_features(self, top: torch.Tensor) -> torch.Tensor:
        """(N, h_t, w_t) top codes -> (N, hidden, h_b, w_b) conditioning features."""
        e = self.top_embedding(top).permute(0, 3, 1, 2)
        up = F.interpolate(self.top_in(e), scale_factor=self.scale, mode="nearest")
        return self.top_stack(up)

    @contextmanager
    def given(self, top: torch.Tensor):
        """Within this block every pass is conditioned on ``top`` (the parent's sampling loop
        asks :meth:`condition` for its features)."""
        self._given = self.top_features(top)
        try:
            yield
        finally:
            self._given = None

    def condition(self, e: torch.Tensor, c: int) -> torch.Tensor | None:
        if self._given is None:
            raise GenbenchError("vq-vae-2: the bottom prior needs top codes")
        return self._given

    def logits_from_inputs(self, e: torch.Tensor) -> torch.Tensor:
        return self.spatial(e[:, 0], self.condition(e, 0)).unsqueeze(1)

    def logits(self, k: torch.Tensor, top: torch.Tensor | None = None) -> torch.Tensor:
        """Logits of the bottom codes k given ``top`` (None: inside :meth:`given`, where the
        parent's ``log_probs`` calls this)."""
        if top is None:
            return super().logits(k)
        with self.given(top):
            return super().logits(k)

    def log_probs(self, k: torch.Tensor, top: torch.Tensor) -> torch.Tensor:
        with self.given(top):
            return super().log_probs(k)

    @torch.no_grad()
    def sample(self, top: torch.Tensor, generator: torch.Generator | None = None
               ) -> torch.Tensor:
        size = (top.shape[1] * self.scale, top.shape[2] * self.scale)
        with self.given(top):
            return super().sample(top.shape[0], size, generator)

    @torch.no_grad()
    def cached_logits(self, k: torch.Tensor, top: torch.Tensor) -> torch.Tensor:
        with self.given(top):
            return super().cached_logits(k)


class Pass(NamedTuple):
    """One autoencoder pass: the reconstruction loss, the commitment terms, the code indices
    and the encodings of both levels."""

    recon: torch.Tensor
    commit_top: torch.Tensor
    commit_bottom: torch.Tensor
    top: torch.Tensor
    bottom: torch.Tensor
    z_top: torch.Tensor
    z_bottom: torch.Tensor


class VQVAE2(GenerativeModel):
    """Two-level VQ-VAE with EMA codebooks and PixelCNN priors; see the module docstring."""

    def __init__(self, config, shape: tuple[int, int, int]):
        super().__init__()
        self.config = config
        self.shape = tuple(shape)
        channels, hidden, dim = shape[0], config.hidden, config.code_dim
        down_b, down_t, blocks = config.bottom_downsample, config.top_downsample, \
            config.res_blocks
        self.encoder_bottom = encoder(channels, hidden, hidden, down_b, blocks)
        self.encoder_top = encoder(hidden, hidden, dim, down_t, blocks)
        self.decoder_top = decoder(dim, hidden, dim, down_t, blocks)
        self.pre_bottom = nn.Conv2d(dim + hidden, dim, 1)
        self.upsample_top = upsampler(dim, down_t)
        self.decoder = decoder(channels, hidden, 2 * dim, down_b, blocks)
        k = config.codebook_size
        self.codebook_top = EmaCodebook(k, dim)
        self.codebook_bottom = EmaCodebook(k, dim)
        self.grid_bottom = (shape[1] >> down_b, shape[2] >> down_b)
        self.grid_top = (self.grid_bottom[0] >> down_t, self.grid_bottom[1] >> down_t)
        sizes = dict(hidden=config.prior_hidden, layers=config.prior_layers,
                     first_kernel=config.prior_first_kernel, kernel=config.prior_kernel,
                     out_hidden=config.prior_out_hidden, embedding=config.prior_embedding)
        self.prior_top = GatedPixelCNN(1, k, **sizes)
        self.prior_bottom = TopConditionedPixelCNN(k, k, 2 ** down_t, **sizes,
                                                   cond_blocks=config.prior_cond_blocks)
        self.register_buffer("steps_done", torch.zeros((), dtype=torch.long))
        self.prior_steps = round(config.prior_fraction * config.steps)
        self.vqvae_steps = config.steps - self.prior_steps
        autoencoder = [self.encoder_bottom, self.encoder_top, self.decoder_top, self.pre_bottom,
                       self.upsample_top, self.decoder]
        self.optimizers = {
            "vqvae": torch.optim.Adam([p for m in autoencoder for p in m.parameters()],
                                      lr=config.lr),
            "prior": torch.optim.Adam([*self.prior_top.parameters(),
                                       *self.prior_bottom.parameters()], lr=config.prior_lr),
        }

    # -- the autoencoder ------------------------------------------------------------------

    def _input(self, x: torch.Tensor) -> torch.Tensor:
        return model_input("vq-vae-2", x, self.shape, self.device)

    def autoencode(self, x: torch.Tensor) -> tuple[Pass, torch.Tensor]:
        """(the pass's losses and codes, the unclamped reconstruction) of images x, with
        straight-through gradients at both quantisers."""
        h_bottom = self.encoder_bottom(x)
        z_top = self.encoder_top(h_bottom)
        top, e_top = self.codebook_top.quantise(z_top)
        q_top = z_top + (e_top - z_top).detach()
        z_bottom = self.pre_bottom(torch.cat([self.decoder_top(q_top), h_bottom], dim=1))
        bottom, e_bottom = self.codebook_bottom.quantise(z_bottom)
        q_bottom = z_bottom + (e_bottom - z_bottom).detach()
        x_hat = self.decoder(torch.cat([self.upsample_top(q_top), q_bottom], dim=1))
        step = Pass(F.mse_loss(x_hat, x), F.mse_loss(z_top, e_top.detach()),
                    F.mse_loss(z_bottom, e_bottom.detach()), top, bottom, z_top, z_bottom)
        return step, x_hat

    def vq_losses(self, x: torch.Tensor) -> Pass:
        return self.autoencode(x)[0]

    def codes(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(top (N, h_t, w_t), bottom (N, h_b, w_b)) code indices of images x in [-1, 1]."""
        h_bottom = self.encoder_bottom(self._input(x))
        top, e_top = self.codebook_top.quantise(self.encoder_top(h_bottom))
        z_bottom = self.pre_bottom(torch.cat([self.decoder_top(e_top), h_bottom], dim=1))
        return top, nearest_codes(z_bottom, self.codebook_bottom.weight)

    def decode_codes(self, top: torch.Tensor, bottom: torch.Tensor) -> torch.Tensor:
        up = self.upsample_top(self.codebook_top.lookup(top))
        out = self.decoder(torch.cat([up, self.codebook_bottom.lookup(bottom)], dim=1))
        return out.clamp(-1, 1)

    @torch.no_grad()
    def reconstruct(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        out = self.decode_codes(*self.codes(x))
        if out.shape[-1] != x.shape[-1]:
            from genbench.data.base import resize_images

            out = resize_images(out, x.shape[-1])
        return out

    # -- training -------------------------------------------------------------------------

    def in_prior_phase(self) -> bool:
        return self.step_count >= self.vqvae_steps

    def prior_nll(self, top: torch.Tensor, bottom: torch.Tensor
                  ) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean negative log-likelihood per code (nats) of each prior: the top prior on the top
        codes, the bottom prior on the bottom codes given the top ones."""
        nll_top = -self.prior_top.log_probs(top.unsqueeze(1)).mean()
        nll_bottom = -self.prior_bottom.log_probs(bottom.unsqueeze(1), top).mean()
        return nll_top, nll_bottom

    def train_step(self, x: torch.Tensor, y: torch.Tensor | None
                   ) -> dict[str, torch.Tensor | float]:
        x = self._input(x)
        beta = self.config.beta
        if not self.in_prior_phase():
            step = self.vq_losses(x)
            loss = step.recon + beta * (step.commit_top + step.commit_bottom)
            opt = self.optimizers["vqvae"]
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            decay, eps = self.config.ema_decay, self.config.ema_epsilon
            self.codebook_top.update(step.z_top.detach(), step.top, decay, eps)
            self.codebook_bottom.update(step.z_bottom.detach(), step.bottom, decay, eps)
            nll_top = nll_bottom = 0.0
        else:
            with torch.no_grad():
                step = self.vq_losses(x)
            nll_top, nll_bottom = self.prior_nll(step.top, step.bottom)
            loss = nll_top + nll_bottom
            opt = self.optimizers["prior"]
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            nll_top, nll_bottom = nll_top.detach(), nll_bottom.detach()
        self.count_step()
        vq = beta * (step.commit_top.detach() + step.commit_bottom.detach())
        return {"loss": loss.detach(), "recon": step.recon.detach(), "vq": vq,
                "prior_nll_top": nll_top, "prior_nll_bottom": nll_bottom}

    # -- sampling and metrics -------------------------------------------------------------

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        top = self.prior_top.sample(n, self.grid_top, generator)[:, 0]
        bottom = self.prior_bottom.sample(top, generator)[:, 0]
        return self.decode_codes(top, bottom)

    @torch.no_grad()
    def extra_metrics(self, reference) -> dict[str, tuple[float, bool]]:
        """Per level, on the reference images: codebook usage (fraction of the K codes used),
        perplexity (exp of the entropy of the code distribution), and the prior's negative
        log-likelihood in bits per code (the bottom prior given the true top codes)."""
        x = reference.x
        tops, bottoms, bits = [], [], {level: 0.0 for level in LEVELS}
        for i in range(0, len(x), CHUNK):
            top, bottom = self.codes(x[i:i + CHUNK])
            nll_top, nll_bottom = self.prior_nll(top, bottom)
            bits["top"] += float(nll_top) * top.numel() / math.log(2)
            bits["bottom"] += float(nll_bottom) * bottom.numel() / math.log(2)
            tops.append(top.cpu())
            bottoms.append(bottom.cpu())
        out = {}
        for level, codes in zip(LEVELS, (torch.cat(tops), torch.cat(bottoms)), strict=True):
            usage, perplexity = code_statistics(codes, self.config.codebook_size)
            out[f"codebook_usage_{level}"] = (usage, True)
            out[f"codebook_perplexity_{level}"] = (perplexity, True)
            out[f"prior_bpd_{level}"] = (bits[level] / max(codes.numel(), 1), False)
        return out


def build_vqvae2(config, data_info: DataInfo) -> VQVAE2:
    channels, height, width = image_shape("vq-vae-2", data_info)
    scale = 2 ** (config.bottom_downsample + config.top_downsample)
    if height % scale or width % scale:
        raise GenbenchError(f"vq-vae-2: {height}x{width} images cannot be downsampled "
                            f"{config.bottom_downsample} + {config.top_downsample} times by 2; "
                            f"change bottom_downsample, top_downsample or image_size")
    return VQVAE2(config, (channels, height, width))
