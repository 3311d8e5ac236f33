"""VQ-VAE (van den Oord et al. 2017, "Neural Discrete Representation Learning", arXiv:1711.00937)
with a gated PixelCNN prior over its grid of codes.

* **Encoder**: ``downsample`` 4x4 stride-2 convolutions (ReLU between them), a 3x3 convolution,
  ``res_blocks`` residual blocks (ReLU, 3x3, ReLU, 1x1) and a 1x1 projection to ``code_dim``:
  an (H / 2^downsample) x (W / 2^downsample) grid of D-dimensional vectors z_e (8x8 -> 2x2,
  28 -> 7, 32 -> 8 with the paper's two downsamplings). The **decoder** mirrors it with 4x4
  stride-2 transposed convolutions; its output is unbounded during training and clamped to
  [-1, 1] when reconstructing or sampling.
* **Quantisation**: each z_e is replaced by its nearest codebook vector e (K codes, Euclidean);
  the decoder's gradient is copied to z_e (straight-through estimator).
* **Loss**: ``mse(x_hat, x) + ||sg[z_e] - e||^2 + beta ||z_e - sg[e]||^2`` (squared errors
  averaged over elements), beta = 0.25. With ``codebook="ema"`` the codebook gets no gradient
  and no codebook loss; after each step it is updated with exponential moving averages of the
  assigned encodings (the paper's appendix A.1): ``N_i <- g N_i + (1 - g) n_i``,
  ``m_i <- g m_i + (1 - g) sum_j z_e,j``, ``e_i = m_i / N_i``, decay g = 0.99, with
  Laplace-smoothed counts ``N_i <- (N_i + eps) / (N + K eps) N`` so unused codes never divide
  by zero.
* **Prior**: a :class:`genbench_vaes.pixelcnn.GatedPixelCNN` over the code-index grid (one
  channel, K levels, learnt index embeddings), unconditional.

**Schedule**: one run, one ``train_step`` loop. The first ``steps - prior_steps`` steps train the
encoder, decoder and codebook; the last ``prior_steps = round(prior_fraction * steps)`` train
the prior on the codes of the then frozen encoder (the paper trains the prior after the
VQ-VAE). The model counts its steps in the ``steps_done`` buffer, so a resumed run continues in
the right phase; the two phases have their own optimizers (``"vqvae"``, ``"prior"``). Every
step logs the same keys: ``loss`` (the current phase's objective), ``recon``, ``vq`` (codebook +
commitment terms; both computed in the prior phase too, without gradients) and ``prior_nll``
(nats per code; 0 until the prior's phase starts).

**No likelihood**: the decoder is trained with a squared error, i.e. a Gaussian of fixed,
unspecified variance; there is no calibrated distribution over the 8-bit pixels, so any
bits/dim would depend on an arbitrary variance choice. The model offers ``reconstruct`` and
reports codebook usage instead (:meth:`VQVAE.extra_metrics`).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from genbench.errors import GenbenchError
from genbench.model import DataInfo, GenerativeModel
from genbench_vaes.pixelcnn import GatedPixelCNN, image_shape

CHUNK = 500  # examples per pass when encoding a whole split


class ResBlock(nn.Module):
    """x + conv1x1(relu(conv3x3(relu(x)))), as in the paper."""

    def __init__(self, channels: int):
        super().__init__()
        self.body = nn.Sequential(nn.ReLU(), nn.Conv2d(channels, channels, 3, padding=1),
                                  nn.ReLU(), nn.Conv2d(channels, channels, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


def encoder(in_channels: int, hidden: int, code_dim: int, downsample: int,
            res_blocks: int) -> nn.Sequential:
    layers: list[nn.Module] = []
    channels = in_channels
    for _ in range(downsample):
        layers += [nn.Conv2d(channels, hidden, 4, stride=2, padding=1), nn.ReLU()]
        channels = hidden
    layers.append(nn.Conv2d(channels, hidden, 3, padding=1))
    layers += [ResBlock(hidden) for _ in range(res_blocks)]
    layers += [nn.ReLU(), nn.Conv2d(hidden, code_dim, 1)]
    return nn.Sequential(*layers)


def decoder(out_channels: int, hidden: int, code_dim: int, upsample: int,
            res_blocks: int) -> nn.Sequential:
    layers: list[nn.Module] = [nn.Conv2d(code_dim, hidden, 3, padding=1)]
    layers += [ResBlock(hidden) for _ in range(res_blocks)]
    layers.append(nn.ReLU())
    channels = hidden
    for i in range(upsample):
        last = i == upsample - 1
        width = out_channels if last else hidden
        layers.append(nn.ConvTranspose2d(channels, width, 4, stride=2, padding=1))
        if not last:
            layers.append(nn.ReLU())
        channels = width
    if upsample == 0:
        layers.append(nn.Conv2d(channels, out_channels, 3, padding=1))
    return nn.Sequential(*layers)


def nearest_codes(z: torch.Tensor, codebook: torch.Tensor) -> torch.Tensor:
    """(N, D, h, w) encodings -> (N, h, w) index of the nearest codebook row (Euclidean).

    In fp32 even under bf16 autocast: bf16's 3 significant digits in the distances would
    pick codes that are not the nearest."""
    with torch.autocast(z.device.type, enabled=False):
        flat = z.float().permute(0, 2, 3, 1).reshape(-1, z.shape[1])
        book = codebook.float()
        dist = (flat.pow(2).sum(1, keepdim=True) - 2 * flat @ book.t()
                + book.pow(2).sum(1)[None, :])
    return dist.argmin(dim=1).view(z.shape[0], z.shape[2], z.shape[3])


def code_statistics(codes: torch.Tensor, num_codes: int) -> tuple[float, float]:
    """(usage, perplexity) of a set of code indices: the fraction of the ``num_codes`` codes
    used at least once, and exp of the entropy (nats) of the empirical code distribution."""
    counts = torch.bincount(codes.flatten().cpu(), minlength=num_codes).double()
    total = counts.sum()
    if total == 0:
        return 0.0, 0.0
    p = counts[counts > 0] / total
    entropy = -(p * p.log()).sum()
    return float((counts > 0).sum() / num_codes), float(entropy.exp())


@torch.no_grad()
def update_ema_codebook(codebook: torch.Tensor, count: torch.Tensor, sums: torch.Tensor,
                        z_e: torch.Tensor, idx: torch.Tensor, decay: float, eps: float) -> None:
    """One EMA step of a codebook, in place (appendix A.1): ``count`` N_i and ``sums`` m_i move
    toward this batch's assignment counts and summed encodings (z_e (N, D, h, w), idx
    (N, h, w)); ``codebook`` becomes m_i over the Laplace-smoothed counts."""
    k = codebook.shape[0]
    flat = z_e.permute(0, 2, 3, 1).reshape(-1, z_e.shape[1]).to(sums.dtype)
    onehot = F.one_hot(idx.flatten(), k).to(flat.dtype)
    count.mul_(decay).add_(onehot.sum(0), alpha=1 - decay)
    with torch.autocast(z_e.device.type, enabled=False):  # the sums in the codebook's dtype
        summed = onehot.t() @ flat
    sums.mul_(decay).add_(summed, alpha=1 - decay)
    total = count.sum()
    smoothed = (count + eps) / (total + k * eps) * total
    codebook.copy_(sums / smoothed[:, None])


def model_input(name: str, x: torch.Tensor, shape: tuple[int, int, int],
                device: torch.device) -> torch.Tensor:
    """x on ``device`` at the model's image size (resized if another size; refused if another
    number of channels)."""
    if tuple(x.shape[1:]) != shape:
        from genbench.data.base import resize_images

        if x.shape[1] != shape[0]:
            raise GenbenchError(f"{name}: built for {shape[0]}-channel images, got "
                                f"{x.shape[1]}")
        x = resize_images(x, shape[-1])
    return x.to(device)


class VQVAE(GenerativeModel):
    """Encoder, codebook and decoder, and a PixelCNN prior over the codes; see the module
    docstring for the losses and the two-phase schedule."""

    def __init__(self, config, shape: tuple[int, int, int]):
        super().__init__()
        self.config = config
        self.shape = tuple(shape)
        channels = shape[0]
        self.encoder = encoder(channels, config.hidden, config.code_dim, config.downsample,
                               config.res_blocks)
        self.decoder = decoder(channels, config.hidden, config.code_dim, config.downsample,
                               config.res_blocks)
        k = config.codebook_size
        self.codebook = nn.Parameter(torch.empty(k, config.code_dim).uniform_(-1 / k, 1 / k))
        self.ema = config.codebook == "ema"
        if self.ema:
            self.codebook.requires_grad_(False)
            self.register_buffer("ema_count", torch.ones(k))
            self.register_buffer("ema_sum", self.codebook.detach().clone())
        scale = 2 ** config.downsample
        self.grid = (shape[1] // scale, shape[2] // scale)
        self.prior = GatedPixelCNN(1, k, hidden=config.prior_hidden, layers=config.prior_layers,
                                   first_kernel=config.prior_first_kernel,
                                   kernel=config.prior_kernel,
                                   out_hidden=config.prior_out_hidden,
                                   embedding=config.prior_embedding)
        self.register_buffer("steps_done", torch.zeros((), dtype=torch.long))
        self.prior_steps = round(config.prior_fraction * config.steps)
        self.vqvae_steps = config.steps - self.prior_steps
        vq_params = [*self.encoder.parameters(), *self.decoder.parameters()]
        if not self.ema:
            vq_params.append(self.codebook)
        self.optimizers = {
            "vqvae": torch.optim.Adam(vq_params, lr=config.lr),
            "prior": torch.optim.Adam(self.prior.parameters(), lr=config.prior_lr),
        }

    # -- the autoencoder ------------------------------------------------------------------

    def _input(self, x: torch.Tensor) -> torch.Tensor:
        return model_input("vq-vae", x, self.shape, self.device)

    def codes(self, x: torch.Tensor) -> torch.Tensor:
        """(N, h, w) code indices of images x (N, C, H, W) in [-1, 1]."""
        return nearest_codes(self.encoder(self._input(x)), self.codebook)

    def quantise(self, z_e: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(indices (N, h, w), codebook vectors (N, D, h, w)) nearest to z_e."""
        idx = nearest_codes(z_e, self.codebook)
        return idx, self.lookup(idx)

    def lookup(self, idx: torch.Tensor) -> torch.Tensor:
        return self.codebook[idx].permute(0, 3, 1, 2)

    def decode_codes(self, idx: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.lookup(idx)).clamp(-1, 1)

    @torch.no_grad()
    def reconstruct(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        size = x.shape[-1]
        out = self.decode_codes(self.codes(x))
        if out.shape[-1] != size:
            from genbench.data.base import resize_images

            out = resize_images(out, size)
        return out

    # -- training -------------------------------------------------------------------------

    def in_prior_phase(self) -> bool:
        return self.step_count >= self.vqvae_steps

    def vq_losses(self, x: torch.Tensor):
        """(recon, codebook, commitment, indices, z_e) for a batch, the decoder's input passed
        straight through to z_e."""
        z_e = self.encoder(x)
        idx, e = self.quantise(z_e)
        x_hat = self.decoder(z_e + (e - z_e).detach())
        recon = F.mse_loss(x_hat, x)
        codebook = F.mse_loss(e, z_e.detach())
        commitment = F.mse_loss(z_e, e.detach())
        return recon, codebook, commitment, idx, z_e

    def vq_objective(self, recon, codebook, commitment) -> torch.Tensor:
        beta = self.config.beta
        if self.ema:
            return recon + beta * commitment
        return recon + codebook + beta * commitment

    def ema_update(self, z_e: torch.Tensor, idx: torch.Tensor) -> None:
        update_ema_codebook(self.codebook, self.ema_count, self.ema_sum, z_e, idx,
                            self.config.ema_decay, self.config.ema_epsilon)

    def train_step(self, x: torch.Tensor, y: torch.Tensor | None
                   ) -> dict[str, torch.Tensor | float]:
        x = self._input(x)
        if not self.in_prior_phase():
            recon, codebook, commitment, idx, z_e = self.vq_losses(x)
            loss = self.vq_objective(recon, codebook, commitment)
            opt = self.optimizers["vqvae"]
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            if self.ema:
                self.ema_update(z_e.detach(), idx)
            prior_nll = 0.0
        else:
            with torch.no_grad():
                recon, codebook, commitment, idx, _ = self.vq_losses(x)
            nll = -self.prior.log_probs(idx.unsqueeze(1)).mean()
            opt = self.optimizers["prior"]
            opt.zero_grad(set_to_none=True)
            nll.backward()
            opt.step()
            loss = nll
            prior_nll = nll.detach()
        self.count_step()
        codebook, commitment = codebook.detach(), commitment.detach()
        vq = (codebook + self.config.beta * commitment) if not self.ema else \
            self.config.beta * commitment
        return {"loss": loss.detach(), "recon": recon.detach(), "vq": vq,
                "prior_nll": prior_nll}

    # -- sampling and metrics -------------------------------------------------------------

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        idx = self.prior.sample(n, self.grid, generator)[:, 0]
        return self.decode_codes(idx)

    @torch.no_grad()
    def extra_metrics(self, reference) -> dict[str, tuple[float, bool]]:
        """Codebook usage (fraction of the K codes used) and perplexity (exp of the entropy of
        the code distribution) on the reference images."""
        x = reference.x
        codes = torch.cat([self.codes(x[i:i + CHUNK]).cpu() for i in range(0, len(x), CHUNK)])
        usage, perplexity = code_statistics(codes, self.codebook.shape[0])
        return {"codebook_usage": (usage, True), "codebook_perplexity": (perplexity, True)}


def build_vqvae(config, data_info: DataInfo) -> VQVAE:
    channels, height, width = image_shape("vq-vae", data_info)
    scale = 2 ** config.downsample
    if height % scale or width % scale:
        raise GenbenchError(f"vq-vae: {height}x{width} images cannot be downsampled "
                            f"{config.downsample} times by 2; change downsample or image_size")
    return VQVAE(config, (channels, height, width))
