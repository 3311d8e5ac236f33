"""PixelRNN with Row LSTM layers (van den Oord et al. 2016, Pixel Recurrent Neural Networks,
arXiv:1601.06759, section 3.1) or Diagonal BiLSTM layers (section 3.2): an autoregressive
network giving every value of an 8-bit image a 256-way categorical distribution given the values
before it.

**Diagonal BiLSTM** (:class:`DiagonalBiLSTMNet`, model ``pixelrnn-diagonal``): the same first
layer and output head; each layer skews its input map (row i shifted right by i, so every
diagonal becomes a column), runs an LSTM over the columns (input-to-state a 1x1 convolution,
state-to-state a convolution of kernel 2 over the previous column: the states of the positions
above and to the left) and unskews; a second LSTM does the same on the mirrored map (right to
left) and its output is shifted down one row, so a position gets only the rows above from it.
The two are added, and a 1x1 convolution and the residual connection follow as in the Row LSTM.
Its receptive field is the whole context, above and to the left (tests check it). It samples
with a full pass per value (no cached path).

Architecture (:class:`RowLSTMNet`), the Row LSTM column of the paper's Table 1:

* a ``first_kernel`` x ``first_kernel`` (7x7) convolution with **mask A** (the rows above within
  reach and the current row left of the value, not the value itself), 2h feature maps;
* ``layers`` **Row LSTM** layers, each wrapped in a residual connection. The input-to-state
  component is a 1-D convolution along the row (``kernel`` = 3 wide, **mask B**: the value's
  column and those before it), computing the four gates of every position of the map at once;
  the state-to-state component is a 1-D convolution (``state_kernel`` = 3, unmasked) of the
  previous row's hidden state. The rows are processed top to bottom, the row index being the
  LSTM's time:

      [o, f, i, g] = K_ss * h_(r-1) + K_is * x_r
      c_r = sigmoid(f) c_(r-1) + sigmoid(i) tanh(g),   h_r = sigmoid(o) tanh(c_r)

  with h and c of h maps per position and zero states above the first row. As in the paper's
  residual connections, the layer's input has 2h maps, its output h_r goes back to 2h through a
  1x1 convolution and the input is added to it.
* the output layers of pixelcnn (:func:`genbench_vaes.pixelcnn.output_head`): ReLU, 1x1
  convolution, ReLU, 1x1 convolution to 256 logits, a softmax per value (the paper's "ReLU
  followed by 1x1 conv, mask B (2 layers)").

**Receptive field: a triangle.** Position (i, j) reaches the previous row's states at columns
j-1..j+1 only (the state-to-state kernel), one more column per row further up; with the 7x7
first layer, row i-d (d >= 1) is seen up to column j + (d - 1) + 3 at most, and the context
to the upper right of that is not seen: unlike the gated PixelCNN (and the Diagonal BiLSTM
below), the Row LSTM does not use the whole available context. In the
current row it sees ``first_kernel // 2 + layers * (kernel // 2)`` values back. The skip
connections from every layer to the output (the paper's Table 3) are not implemented either.

**Channels, inputs, likelihood, sampling** are pixelcnn's
(:class:`genbench_vaes.pixelcnn.AutoregressiveNet`): the channels are factorised channel-major
(all of channel 0 in raster order, then channel 1, ...), each channel conditioned on the
complete earlier ones through an unmasked convolutional net whose features are added to every
layer's gates (a 1x1 convolution): the same order as pixelcnn's, so the two likelihoods are of
the same factorisation, exact and normalised. The paper's R->G->B masks within each pixel are
not implemented; with one channel (digits, MNIST) the two orders are the same.

**Sampling** is ancestral with cached states (:meth:`RowLSTMNet._run`): each layer's
state-to-state term depends only on the row above, so it is computed once per row, and each
new value costs one column of every layer (the first convolution on a window, the input-to-state
convolution on the last ``kernel // 2 + 1`` columns of its input row, one LSTM cell), not a
pass over the image. The cached path computes the same functions as :meth:`RowLSTMNet.logits`
(tests check they agree).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from genbench.errors import GenbenchError
from genbench.likelihood import LEVELS
from genbench.model import DataInfo
from genbench_vaes.pixelcnn import (
    AutoregressiveImageModel,
    AutoregressiveNet,
    image_shape,
    output_head,
)


def check_kernel(kernel: int) -> None:
    if kernel < 1 or kernel % 2 == 0:
        raise GenbenchError(f"pixelrnn: kernel sizes must be odd, got {kernel}")


class MaskedConv(nn.Module):
    """A k x k convolution masked for raster order: mask "A" sees the rows above (within k//2)
    and the current row left of the centre; mask "B" the centre too. Only the k//2 + 1 rows
    ending at the current one are kept as weights; a fixed mask zeroes the current row's
    masked part."""

    def __init__(self, in_dim: int, out_dim: int, kernel: int, mask: str):
        super().__init__()
        check_kernel(kernel)
        self.pad = kernel // 2
        self.conv = nn.Conv2d(in_dim, out_dim, (self.pad + 1, kernel))
        keep = torch.ones(self.pad + 1, kernel)
        keep[-1, self.pad + (mask == "B"):] = 0
        self.register_buffer("keep", keep, persistent=False)

    def pad_input(self, x: torch.Tensor) -> torch.Tensor:
        """Zeros above and on both sides, so that the output has the input's size."""
        return F.pad(x, (self.pad, self.pad, self.pad, 0))

    def on_padded(self, padded: torch.Tensor) -> torch.Tensor:
        return F.conv2d(padded, self.conv.weight * self.keep, self.conv.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.on_padded(self.pad_input(x))


def lstm_cell(gates: torch.Tensor, c: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(o, f, i, g) pre-activations along dim 1 and the previous cell state -> (h, c)."""
    o, f, i, g = gates.chunk(4, dim=1)
    c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
    return torch.sigmoid(o) * torch.tanh(c), c


class RowLSTMLayer(nn.Module):
    """One Row LSTM layer with its residual connection, on (B, width, H, W) maps (width = 2h)."""

    def __init__(self, width: int, hidden: int, kernel: int, state_kernel: int,
                 cond_dim: int = 0):
        super().__init__()
        check_kernel(kernel)
        check_kernel(state_kernel)
        self.hidden = hidden
        self.pad = kernel // 2  # columns to the left the input-to-state convolution sees
        # Mask B along the row: the kernel's right half is never used, so it is not kept.
        self.input_to_state = nn.Conv2d(width, 4 * hidden, (1, self.pad + 1))
        self.state_to_state = nn.Conv1d(hidden, 4 * hidden, state_kernel,
                                        padding=state_kernel // 2)
        self.cond = nn.Conv2d(cond_dim, 4 * hidden, 1) if cond_dim else None
        self.out = nn.Conv2d(hidden, width, 1)

    def input_gates(self, x: torch.Tensor, cond: torch.Tensor | None) -> torch.Tensor:
        """(B, 4h, H, W): the input-to-state part of every gate, conditioning included."""
        pre = self.input_to_state(F.pad(x, (self.pad, 0)))
        if self.cond is not None and cond is not None:
            pre = pre + self.cond(cond)
        return pre

    def forward(self, x: torch.Tensor, cond: torch.Tensor | None = None) -> torch.Tensor:
        pre = self.input_gates(x, cond)
        n, _, height, width = x.shape
        h = c = x.new_zeros(n, self.hidden, width)
        rows = []
        for r in range(height):
            h, c = lstm_cell(pre[:, :, r] + self.state_to_state(h), c)
            rows.append(h)
        return x + self.out(torch.stack(rows, dim=2))


class LSTMStackNet(AutoregressiveNet):
    """The PixelRNN stack: a mask-A ``first_kernel`` convolution to 2h maps, ``layers`` LSTM
    layers (``make_layer(width)``, each with its residual connection), pixelcnn's output head.
    ``hidden`` is the paper's h: the LSTM states have h maps, the maps between layers 2h."""

    def __init__(self, channels: int, levels: int, *, hidden: int, layers: int,
                 first_kernel: int, out_hidden: int, embedding: int,
                 make_layer: Callable[[int], nn.Module]):
        super().__init__(channels, levels, hidden=hidden, layers=layers, out_hidden=out_hidden,
                         embedding=embedding)
        width = 2 * hidden
        self.first = MaskedConv(self.in_dim, width, first_kernel, "A")
        self.layers = nn.ModuleList(make_layer(width) for _ in range(layers))
        self.head = output_head(width, out_hidden, levels)

    def spatial(self, x: torch.Tensor, cond: torch.Tensor | None) -> torch.Tensor:
        x = self.first(x)
        for layer in self.layers:
            x = layer(x, cond)
        return self.head(x)


class RowLSTMNet(LSTMStackNet):
    """PixelRNN (Row LSTM) over (N, channels, H, W) integer tensors with values 0..levels-1;
    what it answers is :class:`AutoregressiveNet`'s."""

    label = "pixelrnn"

    def __init__(self, channels: int, levels: int, *, hidden: int = 16, layers: int = 5,
                 first_kernel: int = 7, kernel: int = 3, state_kernel: int = 3,
                 out_hidden: int = 256, embedding: int = 0):
        super().__init__(channels, levels, hidden=hidden, layers=layers,
                         first_kernel=first_kernel, out_hidden=out_hidden, embedding=embedding,
                         make_layer=lambda width: RowLSTMLayer(width, hidden, kernel,
                                                               state_kernel, self.cond_dim))

    # -- cached sampling --------------------------------------------------------------------

    def _run(self, n: int, size: tuple[int, int], device: torch.device,
             choose: Callable[[torch.Tensor, int, int, int], torch.Tensor]) -> torch.Tensor:
        """The ancestral pass (:meth:`AutoregressiveNet._run`), one column of every layer per
        value. Per layer it keeps the previous row's states (h, c) and the current row's input
        maps, left-padded, as (n, maps, columns) buffers; a column, once computed, depends only
        on earlier values and is never recomputed."""
        height, width = size
        layers = list(self.layers)
        first, pad = self.first, layers[0].pad
        maps = 2 * self.hidden
        k = torch.zeros(n, self.channels, height, width, dtype=torch.long, device=device)
        for c in range(self.channels):
            cond = self.condition(self.embed(k), c)
            cond_gates = [None if cond is None or layer.cond is None else layer.cond(cond)
                          for layer in layers]
            image = first.pad_input(torch.zeros(n, self.in_dim, height, width, device=device))
            h_prev = [torch.zeros(n, self.hidden, width, device=device) for _ in layers]
            c_prev = [torch.zeros(n, self.hidden, width, device=device) for _ in layers]
            for i in range(height):
                # The state-to-state term of the whole row: it depends on the row above only.
                above = [layer.state_to_state(h) for layer, h in zip(layers, h_prev, strict=True)]
                rows = [torch.zeros(n, maps, pad + width, device=device)
                        for _ in range(len(layers) + 1)]
                h_row = [torch.zeros(n, self.hidden, width, device=device) for _ in layers]
                c_row = [torch.zeros(n, self.hidden, width, device=device) for _ in layers]
                for j in range(width):
                    window = image[:, :, i:i + first.pad + 1, j:j + 2 * first.pad + 1]
                    rows[0][:, :, pad + j] = first.on_padded(window)[:, :, 0, 0]
                    for index, layer in enumerate(layers):
                        inputs = rows[index][:, :, j:j + pad + 1].unsqueeze(2)
                        gates = layer.input_to_state(inputs)[:, :, 0, 0]
                        if cond_gates[index] is not None:
                            gates = gates + cond_gates[index][:, :, i, j]
                        h, cell = lstm_cell(gates + above[index][:, :, j],
                                            c_prev[index][:, :, j])
                        h_row[index][:, :, j], c_row[index][:, :, j] = h, cell
                        out = layer.out(h.view(n, self.hidden, 1, 1))[:, :, 0, 0]
                        rows[index + 1][:, :, pad + j] = rows[index][:, :, pad + j] + out
                    top = rows[-1][:, :, pad + j].view(n, maps, 1, 1)
                    logits = self.head(top).view(n, self.levels)
                    values = choose(logits, c, i, j)
                    k[:, c, i, j] = values
                    new = self.embed(values.view(n, 1, 1, 1))[:, 0, :, 0, 0]
                    image[:, :, first.pad + i, first.pad + j] = new
                h_prev, c_prev = h_row, c_row
        return k


# -- Diagonal BiLSTM ---------------------------------------------------------------------------

def skew(x: torch.Tensor) -> torch.Tensor:
    """(B, C, H, W) -> (B, C, H, W + H - 1): row i shifted right by i, zeros elsewhere, so
    each diagonal of the map becomes a column (the paper's Figure 3)."""
    n, c, height, width = x.shape
    out = x.new_zeros(n, c, height, width + height - 1)
    for i in range(height):
        out[:, :, i, i:i + width] = x[:, :, i]
    return out


def unskew(x: torch.Tensor, width: int) -> torch.Tensor:
    """The inverse of :func:`skew`: (B, C, H, W + H - 1) -> (B, C, H, W)."""
    return torch.stack([x[:, :, i, i:i + width] for i in range(x.shape[2])], dim=2)


class DiagonalLSTM(nn.Module):
    """One direction of a Diagonal BiLSTM layer, left to right: on the skewed map, the columns
    are processed in order (a column is a diagonal of the image); the input-to-state component
    is a 1x1 convolution (mask B), the state-to-state one a convolution of kernel 2 along the
    previous column (the state of the position above and the one to the left, unskewed):

        [o, f, i, g] = K_ss * h_(k-1) + K_is * x_k
    """

    def __init__(self, width: int, hidden: int, cond_dim: int = 0):
        super().__init__()
        self.hidden = hidden
        self.input_to_state = nn.Conv2d(width, 4 * hidden, 1)
        self.state_to_state = nn.Conv1d(hidden, 4 * hidden, 2)
        self.cond = nn.Conv2d(cond_dim, 4 * hidden, 1) if cond_dim else None

    def forward(self, x: torch.Tensor, cond: torch.Tensor | None) -> torch.Tensor:
        pre = self.input_to_state(x)
        if self.cond is not None and cond is not None:
            pre = pre + self.cond(cond)
        n, _, height, width = x.shape
        pre = skew(pre)
        h = c = x.new_zeros(n, self.hidden, height)
        columns = []
        for k in range(pre.shape[-1]):
            # Kernel 2 over rows (i - 1, i) of the previous column; a zero state above row 0.
            h, c = lstm_cell(pre[..., k] + self.state_to_state(F.pad(h, (1, 0))), c)
            columns.append(h)
        return unskew(torch.stack(columns, dim=3), width)


class DiagonalBiLSTMLayer(nn.Module):
    """A Diagonal BiLSTM layer with its residual connection, on (B, width, H, W) maps: a
    left-to-right diagonal LSTM, and one right to left (on the mirrored map) whose output is
    shifted down one row so that position (i, j) only gets rows above from it (the paper's
    section 3.2); the two are added, taken back to ``width`` maps by a 1x1 convolution and
    added to the input."""

    def __init__(self, width: int, hidden: int, cond_dim: int = 0):
        super().__init__()
        self.forward_lstm = DiagonalLSTM(width, hidden, cond_dim)
        self.backward_lstm = DiagonalLSTM(width, hidden, cond_dim)
        self.out = nn.Conv2d(hidden, width, 1)

    def forward(self, x: torch.Tensor, cond: torch.Tensor | None = None) -> torch.Tensor:
        left = self.forward_lstm(x, cond)
        right = self.backward_lstm(x.flip(-1), None if cond is None else cond.flip(-1)).flip(-1)
        right = F.pad(right, (0, 0, 1, 0))[:, :, :-1]  # row i gets row i - 1's states
        return x + self.out(left + right)


class DiagonalBiLSTMNet(LSTMStackNet):
    """PixelRNN (Diagonal BiLSTM) over (N, channels, H, W) integer tensors with values
    0..levels-1: a mask-A first convolution, ``layers`` Diagonal BiLSTM layers, pixelcnn's
    output head; what it answers is :class:`AutoregressiveNet`'s. Its receptive field is the
    whole available context (every value above, and those before it in its row).

    Sampling runs the full network once per value (no cached path): the right-to-left
    direction of every layer depends on whole rows, so a value's logits cannot be updated one
    column at a time as the Row LSTM's are. That is H x W x C passes, fine for small images
    (8x8 digits, 28x28 MNIST), slow for large ones."""

    label = "pixelrnn-diagonal"

    def __init__(self, channels: int, levels: int, *, hidden: int = 16, layers: int = 5,
                 first_kernel: int = 7, out_hidden: int = 256, embedding: int = 0):
        super().__init__(channels, levels, hidden=hidden, layers=layers,
                         first_kernel=first_kernel, out_hidden=out_hidden, embedding=embedding,
                         make_layer=lambda width: DiagonalBiLSTMLayer(width, hidden,
                                                                      self.cond_dim))

    def _run(self, n: int, size: tuple[int, int], device: torch.device,
             choose: Callable[[torch.Tensor, int, int, int], torch.Tensor]) -> torch.Tensor:
        """The ancestral pass: the full network on the values drawn so far, once per value."""
        height, width = size
        k = torch.zeros(n, self.channels, height, width, dtype=torch.long, device=device)
        for c in range(self.channels):
            for i in range(height):
                for j in range(width):
                    logits = self.logits(k)[:, c, :, i, j]
                    k[:, c, i, j] = choose(logits, c, i, j)
        return k


class PixelRNN(AutoregressiveImageModel):
    """PixelRNN (Row LSTM) over 8-bit images: a 256-way softmax for every value, exact
    likelihood; training, likelihood and sampling are :class:`AutoregressiveImageModel`'s."""

    label = "pixelrnn"

    def __init__(self, config, shape: tuple[int, int, int]):
        net = RowLSTMNet(shape[0], LEVELS, hidden=config.hidden, layers=config.layers,
                         first_kernel=config.first_kernel, kernel=config.kernel,
                         state_kernel=config.state_kernel, out_hidden=config.out_hidden,
                         embedding=config.embedding)
        super().__init__(config, shape, net)


class PixelRNNDiagonal(AutoregressiveImageModel):
    """PixelRNN (Diagonal BiLSTM) over 8-bit images: a 256-way softmax for every value, exact
    likelihood; training, likelihood and sampling are :class:`AutoregressiveImageModel`'s."""

    label = "pixelrnn-diagonal"

    def __init__(self, config, shape: tuple[int, int, int]):
        net = DiagonalBiLSTMNet(shape[0], LEVELS, hidden=config.hidden, layers=config.layers,
                                first_kernel=config.first_kernel,
                                out_hidden=config.out_hidden, embedding=config.embedding)
        super().__init__(config, shape, net)


def build_pixelrnn(config, data_info: DataInfo) -> PixelRNN:
    return PixelRNN(config, image_shape("pixelrnn", data_info))


def build_pixelrnn_diagonal(config, data_info: DataInfo) -> PixelRNNDiagonal:
    return PixelRNNDiagonal(config, image_shape("pixelrnn-diagonal", data_info))
