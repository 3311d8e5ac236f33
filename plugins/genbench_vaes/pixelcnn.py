"""Gated PixelCNN (van den Oord et al. 2016, arXiv:1606.05328; PixelCNN: arXiv:1601.06759): an
autoregressive network giving every value of an image, or of a VQ-VAE's grid of code indices, a
categorical distribution over ``levels`` values given the values before it.

Architecture (:class:`GatedPixelCNN`), following the gated paper:

* a **vertical stack** (kernels ``(k//2 + 1) x k`` over the current row and those above) and a
  **horizontal stack** (kernels ``1 x (k//2 + 1)`` over the current row, up to the current
  column). The vertical stack reaches the horizontal one only through a 1x1 convolution of its
  pre-activations **shifted down one row**, so the horizontal stack at row ``i`` sees rows
  ``< i`` completely and row ``i`` up to its column: no blind spot.
* gated activations ``tanh(a) * sigmoid(b)`` in both stacks; a 1x1 convolution and a residual
  connection after the gate in the horizontal stack.
* the first layer is masked "A" (its horizontal convolution is shifted one column right, so it
  excludes the current value), the later ones "B" (they include the current position, whose
  features depend only on earlier values). The first layer has a larger kernel (7x7 in the
  paper's setting).
* an output head of two 1x1 convolutions with ReLUs, ``levels`` logits per value.

**Channels** (C = 3): the likelihood is factorised over channels,
``p(x) = prod_c prod_(i,j) p(x_c[i, j] | x_c[< (i, j)], x_0, ..., x_(c-1))``: channel ``c`` is a
spatial PixelCNN (raster order) conditioned on the *complete* earlier channels, which are given
unmasked. One network serves every channel: the earlier channels (in their slots, zeros for the
slots not yet used) and a one-hot plane of ``c`` go through an unmasked two-layer 3x3
convolutional net whose features are added, through 1x1 convolutions, to every gate of both stacks
(the paper's location-dependent conditioning ``V * s``). The ordering is channel-major: all of
channel 0 in raster order, then channel 1, and so on; it is a valid autoregressive order, so the
likelihood is exact and normalised. (The paper's alternative, R->G->B masks within each pixel,
is not implemented.)

**Inputs**: ``embedding=0`` feeds each value as a number, its bin centre on [-1, 1]
(``(k + 1/2) * 2/levels - 1``: :func:`genbench.likelihood.bin_centres` for 256 levels); an
``embedding`` size > 0 feeds a learnt embedding of the index instead (what the VQ-VAE prior uses:
code indices have no order).

**Sampling** is ancestral, value by value, with cached activations (:meth:`GatedPixelCNN.sample`):
the vertical stack is computed one row at a time (when row ``i`` is about to be sampled, each
layer computes only its row ``i - 1``) and the horizontal stack one position at a time, so drawing
an image costs about one forward pass per channel instead of one per value. The cached path
computes the same functions as :meth:`GatedPixelCNN.logits` (tests check they agree). Draws are
inverse-CDF with uniforms drawn on the CPU from the given generator, so samples are reproducible
whatever device the model is on.

**Shared with pixelrnn**: the inputs, the channel conditioning, the likelihood and the sampling
loop live in :class:`AutoregressiveNet`, the output layers in :func:`output_head`, and training,
likelihood and sampling of 8-bit images in :class:`AutoregressiveImageModel`;
:mod:`genbench_vaes.pixelrnn` subclasses them with its Row LSTM layers.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from genbench.errors import GenbenchError
from genbench.likelihood import LEVELS, bin_centres, to_bins
from genbench.model import DataInfo, GenerativeModel

LOG_CHUNK = 500  # examples per forward pass in log_likelihood


def gate(a: torch.Tensor) -> torch.Tensor:
    """tanh(first half) * sigmoid(second half), along the channel dimension."""
    t, s = a.chunk(2, dim=1)
    return torch.tanh(t) * torch.sigmoid(s)


class GatedLayer(nn.Module):
    """One gated layer of both stacks. ``first`` makes it the masked-"A" input layer."""

    def __init__(self, in_dim: int, hidden: int, kernel: int, first: bool, cond_dim: int = 0):
        super().__init__()
        if kernel < 1 or kernel % 2 == 0:
            raise GenbenchError(f"pixelcnn: kernel sizes must be odd, got {kernel}")
        self.first = first
        self.pad = kernel // 2  # columns each side (vertical) / to the left (horizontal)
        self.rows = kernel // 2 + 1  # vertical kernel height: the rows above and the current one
        self.v_conv = nn.Conv2d(in_dim, 2 * hidden, (self.rows, kernel))
        self.h_conv = nn.Conv2d(in_dim, 2 * hidden, (1, self.pad + 1))
        self.link = nn.Conv2d(2 * hidden, 2 * hidden, 1)  # vertical -> horizontal
        self.h_out = nn.Conv2d(hidden, hidden, 1)
        self.cond = nn.Conv2d(cond_dim, 4 * hidden, 1) if cond_dim else None

    def cond_terms(self, cond: torch.Tensor | None):
        """(vertical, horizontal) gate biases from the conditioning features, or (0, 0)."""
        if cond is None or self.cond is None:
            return 0, 0
        return self.cond(cond).chunk(2, dim=1)

    def forward(self, v: torch.Tensor, h: torch.Tensor, cond: torch.Tensor | None = None):
        cv, ch = self.cond_terms(cond)
        v_pre = self.v_conv(F.pad(v, (self.pad, self.pad, self.rows - 1, 0))) + cv
        link = F.pad(self.link(v_pre), (0, 0, 1, 0))[:, :, :-1]  # shifted down one row
        src = F.pad(h, (1, 0))[..., :-1] if self.first else h  # mask A: shifted right
        h_pre = self.h_conv(F.pad(src, (self.pad, 0))) + link + ch
        h_new = self.h_out(gate(h_pre))
        if not self.first:
            h_new = h_new + h
        return gate(v_pre), h_new


class AutoregressiveNet(nn.Module):
    """What every autoregressive net over (N, channels, H, W) integer tensors with values
    0..levels-1 shares, whatever its spatial layers: the inputs (bin values or an embedding),
    the channel-major factorisation (earlier channels through an unmasked conditioning net),
    the likelihood and ancestral sampling.

    A subclass builds its layers after calling ``__init__`` and implements ``spatial(x, cond)``
    ((B, E, H, W) inputs of one channel -> (B, levels, H, W) logits, causal in raster order)
    and ``_run(n, size, device, choose)`` (the ancestral pass that :meth:`sample` and
    :meth:`cached_logits` drive). ``logits(k)`` -> (N, channels, levels, H, W);
    ``log_probs(k)`` the log-probability of each value, ``log_prob(k)`` their sum per example;
    ``sample(n, (H, W), generator)`` draws.
    """

    label = "pixelcnn"  # names the model in error messages

    def __init__(self, channels: int, levels: int, *, hidden: int, layers: int, out_hidden: int,
                 embedding: int = 0):
        super().__init__()
        if channels < 1 or levels < 2 or hidden < 1 or layers < 1 or out_hidden < 1:
            raise GenbenchError(f"{self.label}: channels >= 1, levels >= 2, and hidden, layers, "
                                "out_hidden >= 1 are needed")
        self.channels, self.levels, self.hidden = channels, levels, hidden
        self.embedding = nn.Embedding(levels, embedding) if embedding > 0 else None
        self.in_dim = embedding if embedding > 0 else 1
        self.cond_dim = hidden if channels > 1 else 0  # width of the conditioning features
        if channels > 1:
            cond_in = (channels - 1) * self.in_dim + channels
            self.cond_net = nn.Sequential(
                nn.Conv2d(cond_in, hidden, 3, padding=1), nn.ReLU(),
                nn.Conv2d(hidden, hidden, 3, padding=1), nn.ReLU())

    # -- full forward (training, likelihood) ----------------------------------------------

    def embed(self, k: torch.Tensor) -> torch.Tensor:
        """(N, C, H, W) indices -> (N, C, E, H, W) network inputs."""
        if self.embedding is None:
            return ((k.float() + 0.5) * (2.0 / self.levels) - 1).unsqueeze(2)
        return self.embedding(k).permute(0, 1, 4, 2, 3)

    def condition(self, e: torch.Tensor, c: int) -> torch.Tensor | None:
        """Features of the complete channels before ``c`` (and of ``c`` itself, one-hot) from
        (N, C, E, H, W) inputs; None for single-channel nets."""
        if self.channels == 1:
            return None
        n, _, dim, height, width = e.shape
        earlier = e[:, :c].reshape(n, c * dim, height, width)
        empty = e.new_zeros(n, (self.channels - 1 - c) * dim, height, width)
        which = e.new_zeros(n, self.channels, height, width)
        which[:, c] = 1
        return self.cond_net(torch.cat([earlier, empty, which], dim=1))

    def spatial(self, x: torch.Tensor, cond: torch.Tensor | None) -> torch.Tensor:
        """(B, E, H, W) inputs of one channel -> (B, levels, H, W) logits."""
        raise NotImplementedError

    def logits_from_inputs(self, e: torch.Tensor) -> torch.Tensor:
        """(N, C, E, H, W) network inputs -> (N, C, levels, H, W) logits. The channels are
        stacked along the batch so one pass computes them all."""
        n, channels = e.shape[:2]
        if channels != self.channels:
            raise GenbenchError(f"{self.label}: built for {self.channels} channels, got "
                                f"{channels}")
        if channels == 1:
            return self.spatial(e[:, 0], None).unsqueeze(1)
        x = e.transpose(0, 1).flatten(0, 1)
        cond = torch.cat([self.condition(e, c) for c in range(channels)])
        out = self.spatial(x, cond)
        return out.unflatten(0, (channels, n)).transpose(0, 1)

    def logits(self, k: torch.Tensor) -> torch.Tensor:
        return self.logits_from_inputs(self.embed(k))

    def log_probs(self, k: torch.Tensor) -> torch.Tensor:
        """(N, C, H, W) log-probability of each value given the values before it. The
        softmax is over 256 values in float32 even under bf16 autocast (where a bf16
        log-probability would be too coarse to train on)."""
        logp = F.log_softmax(self.logits(k).float(), dim=2)
        return logp.gather(2, k.unsqueeze(2)).squeeze(2)

    def log_prob(self, k: torch.Tensor) -> torch.Tensor:
        """(N,) log-probability of each example, in nats."""
        return self.log_probs(k).flatten(1).sum(1)

    # -- ancestral passes -------------------------------------------------------------------

    def _run(self, n: int, size: tuple[int, int], device: torch.device,
             choose: Callable[[torch.Tensor, int, int, int], torch.Tensor]) -> torch.Tensor:
        """Ancestral pass in the autoregressive order: at each value the logits (n, levels)
        go to ``choose(logits, c, i, j)``, which returns the (n,) values to write there."""
        raise NotImplementedError

    @torch.no_grad()
    def sample(self, n: int, size: tuple[int, int],
               generator: torch.Generator | None = None) -> torch.Tensor:
        """(n, C, H, W) indices drawn ancestrally; the uniforms come from ``generator`` (CPU)."""
        device = next(self.parameters()).device
        height, width = size
        uniforms = torch.rand(n, self.channels, height, width, generator=generator,
                              dtype=torch.float64).to(device)

        def draw(logits, c, i, j):
            cdf = torch.softmax(logits.double(), dim=1).cumsum(dim=1)
            u = uniforms[:, c, i, j].unsqueeze(1) * cdf[:, -1:]
            return (cdf < u).sum(dim=1).clamp(max=self.levels - 1)

        return self._run(n, size, device, draw)

    @torch.no_grad()
    def cached_logits(self, k: torch.Tensor) -> torch.Tensor:
        """(N, C, levels, H, W) logits of ``k`` computed by the sampling path (teacher forced);
        equal to :meth:`logits` up to rounding. For tests."""
        n, _, height, width = k.shape
        out = torch.zeros(n, self.channels, self.levels, height, width, device=k.device)

        def record(logits, c, i, j):
            out[:, c, :, i, j] = logits
            return k[:, c, i, j]

        self._run(n, (height, width), k.device, record)
        return out


def output_head(width: int, out_hidden: int, levels: int) -> nn.Sequential:
    """ReLU, 1x1 convolution, ReLU, 1x1 convolution to ``levels`` logits per position (the
    PixelRNN paper's output layers; with the channels factorised channel-major, its mask B on
    a 1x1 convolution masks nothing)."""
    return nn.Sequential(nn.ReLU(), nn.Conv2d(width, out_hidden, 1), nn.ReLU(),
                         nn.Conv2d(out_hidden, levels, 1))


class GatedPixelCNN(AutoregressiveNet):
    """Gated PixelCNN over (N, channels, H, W) integer tensors with values 0..levels-1; what it
    answers is :class:`AutoregressiveNet`'s."""

    def __init__(self, channels: int, levels: int, *, hidden: int = 64, layers: int = 5,
                 first_kernel: int = 7, kernel: int = 3, out_hidden: int = 256,
                 embedding: int = 0):
        super().__init__(channels, levels, hidden=hidden, layers=layers, out_hidden=out_hidden,
                         embedding=embedding)
        self.layers = nn.ModuleList(
            GatedLayer(self.in_dim if i == 0 else hidden, hidden,
                       first_kernel if i == 0 else kernel, first=i == 0,
                       cond_dim=self.cond_dim)
            for i in range(layers))
        self.head = output_head(hidden, out_hidden, levels)

    def spatial(self, x: torch.Tensor, cond: torch.Tensor | None) -> torch.Tensor:
        v = h = x
        for layer in self.layers:
            v, h = layer(v, h, cond)
        return self.head(h)

    # -- cached sampling --------------------------------------------------------------------

    def _run(self, n: int, size: tuple[int, int], device: torch.device,
             choose: Callable[[torch.Tensor, int, int, int], torch.Tensor]) -> torch.Tensor:
        """The ancestral pass (:meth:`AutoregressiveNet._run`), with cached activations.

        The vertical stack runs one row at a time on (N, C, H, W) buffers. The horizontal stack
        runs one position at a time on (N, columns, features) row buffers, its 1 x k
        convolutions as matrix products on a window of columns (a view, no copy)."""
        height, width = size
        layers = list(self.layers)
        top = max(layer.rows for layer in layers) - 1
        side = max(layer.pad for layer in layers) + 1
        dims = [self.in_dim] + [self.hidden] * len(layers)
        # Each layer's horizontal convolution as a matrix over (columns, features) windows, and
        # its 1x1 output convolution; the head's two 1x1 convolutions.
        h_weights = [layer.h_conv.weight.permute(0, 2, 3, 1).flatten(1).t() for layer in layers]
        out_weights = [layer.h_out.weight.flatten(1).t() for layer in layers]
        head_1, head_2 = self.head[1], self.head[3]
        k = torch.zeros(n, self.channels, height, width, dtype=torch.long, device=device)
        for c in range(self.channels):
            cond = self.condition(self.embed(k), c)
            terms = [layer.cond_terms(cond) for layer in layers]
            # Padded inputs of each layer's vertical stack; v_in[0] holds this channel's values.
            v_in = [torch.zeros(n, d, top + height, side + width + side, device=device)
                    for d in dims]
            for i in range(height):
                # Per layer, what the horizontal stack adds at each column of row i: its bias,
                # the vertical stack's row i - 1 (through the link), the conditioning.
                row_bias = []
                for index, layer in enumerate(layers):
                    cv, ch = terms[index]
                    bias = layer.h_conv.bias.view(1, 1, -1)
                    if i > 0:
                        lo = top + i - layer.rows
                        window = v_in[index][:, :, lo:lo + layer.rows,
                                             side - layer.pad:side + width + layer.pad]
                        v_pre = layer.v_conv(window)
                        if not isinstance(cv, int):
                            v_pre = v_pre + cv[:, :, i - 1:i]
                        v_in[index + 1][:, :, top + i - 1, side:side + width] = \
                            gate(v_pre)[:, :, 0]
                        bias = bias + layer.link(v_pre)[:, :, 0].transpose(1, 2)
                    if not isinstance(ch, int):
                        bias = bias + ch[:, :, i].transpose(1, 2)
                    row_bias.append(bias.expand(n, width, -1).contiguous())
                rows = [torch.zeros(n, side + width, d, device=device) for d in dims]
                for j in range(width):
                    for index, layer in enumerate(layers):
                        end = side + j + (0 if layer.first else 1)
                        window = rows[index][:, end - layer.pad - 1:end].flatten(1)
                        h_pre = torch.addmm(row_bias[index][:, j], window, h_weights[index])
                        out = torch.addmm(layer.h_out.bias, gate(h_pre), out_weights[index])
                        if not layer.first:
                            out += rows[index][:, side + j]
                        rows[index + 1][:, side + j] = out
                    hidden = torch.relu(rows[-1][:, side + j])
                    hidden = torch.relu(F.linear(hidden, head_1.weight.flatten(1), head_1.bias))
                    logits = F.linear(hidden, head_2.weight.flatten(1), head_2.bias)
                    values = choose(logits, c, i, j)
                    k[:, c, i, j] = values
                    new = self.embed(values.view(n, 1, 1, 1))[:, 0, :, 0, 0]
                    v_in[0][:, :, top + i, side + j] = new
                    rows[0][:, side + j] = new
        return k


def image_shape(name: str, data: DataInfo) -> tuple[int, int, int]:
    if data.kind != "images" or len(data.shape) != 3:
        raise GenbenchError(f"{name}: takes (C, H, W) images, got {data.kind} of shape "
                            f"{tuple(data.shape)}")
    channels, height, width = data.shape
    return channels, height, width


class AutoregressiveImageModel(GenerativeModel):
    """An :class:`AutoregressiveNet` over 8-bit images: a 256-way softmax for every value,
    exact likelihood; trained with Adam.

    ``train_step`` minimises the mean negative log-likelihood per value (nats; the logged
    ``loss``; ``bits_per_dim`` is the same in bits), so ``loss * C*H*W`` is the mean NLL per
    image. ``log_likelihood`` returns ``{"exact": log P(bins)}`` per image in nats; ``sample``
    returns bin centres in [-1, 1].
    """

    likelihood = "discrete"
    label = "pixelcnn"  # names the model in error messages

    def __init__(self, config, shape: tuple[int, int, int], net: AutoregressiveNet):
        super().__init__()
        self.config = config
        self.shape = tuple(shape)
        self.net = net
        self.register_buffer("steps_done", torch.zeros((), dtype=torch.long))
        self.optimizers = {"model": torch.optim.Adam(self.net.parameters(), lr=config.lr)}

    def _bins(self, x: torch.Tensor) -> torch.Tensor:
        if tuple(x.shape[1:]) != self.shape:
            raise GenbenchError(f"{self.label}: built for images of shape {self.shape}, got "
                                f"{tuple(x.shape[1:])}")
        return to_bins(x.to(self.device))

    def train_step(self, x: torch.Tensor, y: torch.Tensor | None) -> dict[str, torch.Tensor]:
        k = self._bins(x)
        loss = -self.net.log_probs(k).mean()
        opt = self.optimizers["model"]
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        self.count_step()
        value = loss.detach()
        # In float64, as Python divided the float it was read as.
        return {"loss": value, "bits_per_dim": value.double() / math.log(2)}

    @torch.no_grad()
    def log_likelihood(self, x: torch.Tensor, y: torch.Tensor | None = None, *, k: int = 64,
                       generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
        """Exact log P of each image's 8-bit bins, in nats (x are bin centres)."""
        bins = self._bins(x)
        parts = [self.net.log_prob(bins[i:i + LOG_CHUNK]).cpu()
                 for i in range(0, bins.shape[0], LOG_CHUNK)]
        return {"exact": torch.cat(parts) if parts else torch.zeros(0)}

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        return bin_centres(self.net.sample(n, self.shape[1:], generator))


class PixelCNN(AutoregressiveImageModel):
    """The gated PixelCNN over 8-bit images."""

    def __init__(self, config, shape: tuple[int, int, int]):
        net = GatedPixelCNN(shape[0], LEVELS, hidden=config.hidden, layers=config.layers,
                            first_kernel=config.first_kernel, kernel=config.kernel,
                            out_hidden=config.out_hidden, embedding=config.embedding)
        super().__init__(config, shape, net)


def build_pixelcnn(config, data_info: DataInfo) -> PixelCNN:
    shape = image_shape("pixelcnn", data_info)
    return PixelCNN(config, shape)
