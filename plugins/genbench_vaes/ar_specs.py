"""Specs and configs of the autoregressive models: ``pixelcnn`` (a gated PixelCNN over 8-bit
pixels), ``pixelrnn`` (PixelRNN's Row LSTM over 8-bit pixels) and ``vq-vae`` (a VQ-VAE with a
gated PixelCNN prior over its codes). No torch here; the networks live in
:mod:`genbench_vaes.pixelcnn`, :mod:`genbench_vaes.pixelrnn` and :mod:`genbench_vaes.vqvae`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

from genbench.config import Count, Odd, Probability, Range, Rate, TrainConfig, Weight
from genbench.registry import ModelSpec

ImageSize = Annotated[int, Range(ge=0, note="0 = the dataset's native size")]
Kernel = Annotated[int, Range(ge=1), Odd()]


@dataclass
class PixelCnnConfig(TrainConfig):
    """A gated PixelCNN in the spirit of the paper's CIFAR-10 model (a 7x7 masked-A first layer,
    then 3x3 gated layers, two 1x1 output layers and a 256-way softmax), narrower; Adam."""

    image_size: ImageSize = 0  # 0 = the dataset's native size
    hidden: Count = 128  # feature maps in each stack
    layers: Count = 15  # gated layers, the first masked "A"
    first_kernel: Kernel = 7
    kernel: Kernel = 3
    out_hidden: Count = 512  # width of the 1x1 output layers before the softmax
    # 0: feed each value as its bin centre; > 0: a learnt embedding.
    embedding: Annotated[int, Range(ge=0, note="0 = feed bin values")] = 0
    lr: Rate = 1e-3


@dataclass
class PixelRnnStackConfig(TrainConfig):
    """What both PixelRNN variants take, with the paper's CIFAR-10 settings (arXiv:1601.06759,
    Table 1 and section 5: a 7x7 mask-A first layer, 12 LSTM layers with h = 128, residual
    connections, two 1x1 output layers and a 256-way softmax). The width of the output layers
    is ours (pixelcnn's); Adam at 1e-3 (the paper trained with RMSProp) keeps the optimiser the
    same as pixelcnn's. See :mod:`genbench_vaes.pixelrnn`."""

    image_size: ImageSize = 0  # 0 = the dataset's native size
    hidden: Count = 128  # h: LSTM state maps; 2h maps between layers
    layers: Count = 12  # LSTM layers after the mask-A convolution
    first_kernel: Kernel = 7
    out_hidden: Count = 512  # width of the 1x1 output layers before the softmax
    # 0: feed each value as its bin centre; > 0: a learnt embedding.
    embedding: Annotated[int, Range(ge=0, note="0 = feed bin values")] = 0
    lr: Rate = 1e-3


@dataclass
class PixelRnnConfig(PixelRnnStackConfig):
    """PixelRNN's Row LSTM: input-to-state and state-to-state kernels of 3 along the row."""

    kernel: Kernel = 3  # input-to-state, along the row, mask B
    state_kernel: Kernel = 3  # state-to-state, over the previous row's hidden state


@dataclass
class PixelRnnDiagonalConfig(PixelRnnStackConfig):
    """PixelRNN's Diagonal BiLSTM: a 1x1 input-to-state and a kernel-2 state-to-state
    convolution, fixed by the construction (no settings of their own)."""


@dataclass
class VqVaeConfig(TrainConfig):
    """The paper's image autoencoder (two stride-2 4x4 convolutions and two residual blocks with
    256 hidden units, K = 512 codes, beta 0.25, Adam 2e-4); the code dimension D = 64 and the
    prior's size are our choices. See :mod:`genbench_vaes.vqvae`."""

    image_size: ImageSize = 0  # 0 = the dataset's native size
    hidden: Count = 256
    res_blocks: Annotated[int, Range(ge=0)] = 2
    # Stride-2 convolutions: the code grid is H/2^d x W/2^d.
    downsample: Annotated[int, Range(ge=0)] = 2
    codebook_size: Annotated[int, Range(ge=2)] = 512  # K
    code_dim: Count = 64  # D
    codebook: Literal["loss", "ema"] = "loss"  # codebook loss, or EMA updates (appendix A.1)
    beta: Weight = 0.25  # commitment weight
    ema_decay: Annotated[float, Range(gt=0, lt=1)] = 0.99
    ema_epsilon: Rate = 1e-5  # Laplace smoothing of the EMA counts
    lr: Rate = 2e-4
    # The last round(prior_fraction * steps) steps train the prior on the frozen encoder's codes.
    prior_fraction: Probability = 0.5
    prior_hidden: Count = 128
    prior_layers: Count = 10
    prior_first_kernel: Kernel = 7
    prior_kernel: Kernel = 3
    prior_out_hidden: Count = 512
    prior_embedding: Annotated[int, Range(ge=0, note="0 = feed bin values")] = 64  # learnt
    prior_lr: Rate = 1e-3
    steps: int = 20000
    batch_size: int = 128


@dataclass
class VqVae2Config(TrainConfig):
    """VQ-VAE-2's two-level autoencoder with the paper's settings (Razavi et al. 2019, appendix
    table of VQ-VAE hyper-parameters: 128 hidden units, 2 residual layers, K = 512 codes of
    dimension 64 at each level, beta 0.25, EMA codebooks with decay 0.99, batch 128; the top
    grid half the bottom's, the bottom a quarter of the image's). The learning rates and the
    priors' sizes are ours: the paper's priors are far larger PixelCNNs with self-attention.
    See :mod:`genbench_vaes.vqvae2`."""

    image_size: ImageSize = 0  # 0 = the dataset's native size
    hidden: Count = 128
    res_blocks: Annotated[int, Range(ge=0)] = 2
    # Stride-2 convolutions: bottom grid H/2^b x W/2^b, top grid a further 2^t smaller.
    bottom_downsample: Annotated[int, Range(ge=0)] = 2
    top_downsample: Annotated[int, Range(ge=0)] = 1
    codebook_size: Annotated[int, Range(ge=2)] = 512  # K, at each level
    code_dim: Count = 64  # D, at each level
    beta: Weight = 0.25  # commitment weight
    ema_decay: Annotated[float, Range(gt=0, lt=1)] = 0.99
    ema_epsilon: Rate = 1e-5  # Laplace smoothing of the EMA counts
    lr: Rate = 2e-4
    # The last round(prior_fraction * steps) steps train both priors on the frozen codes.
    prior_fraction: Probability = 0.5
    prior_hidden: Count = 128
    prior_layers: Count = 10
    prior_first_kernel: Kernel = 7
    prior_kernel: Kernel = 3
    prior_out_hidden: Count = 512
    prior_embedding: Annotated[int, Range(ge=0, note="0 = feed bin values")] = 64  # learnt
    # Residual blocks of the bottom prior's conditioning stack over the top codes.
    prior_cond_blocks: Annotated[int, Range(ge=0)] = 2
    prior_lr: Rate = 1e-3
    steps: int = 20000
    batch_size: int = 128

PIXELCNN_PROFILES = {
    # Narrow and shallow (enough to see all of an 8x8 image), a higher learning rate: about a
    # minute on 2 CPU cores on digits, scoring included.
    "quick": {"steps": 1000, "batch_size": 32, "hidden": 32, "layers": 5, "first_kernel": 5,
              "out_hidden": 64, "lr": 2e-3, "checkpoint_every": 500},
    "standard": {"steps": 50000, "batch_size": 64, "checkpoint_every": 2000},
}

PIXELRNN_PROFILES = {
    # pixelcnn's quick budget (native size, batch 32, 1,000 steps, Adam 2e-3) and depth (5
    # layers, 64-wide output layers); h = 16, so 2h = 32 maps between layers (pixelcnn's
    # quick width), and the paper's 7x7 first layer. The triangle's current-row reach,
    # 3 + 5 columns, covers an 8-pixel row.
    "quick": {"steps": 1000, "batch_size": 32, "hidden": 16, "layers": 5, "out_hidden": 64,
              "lr": 2e-3, "checkpoint_every": 500},
    "standard": {"steps": 50000, "batch_size": 64, "checkpoint_every": 2000},
}

VQVAE_PROFILES = {
    # A small autoencoder with one downsampling (8x8 -> 4x4 codes), K = 64 codes of dimension
    # 16, the EMA codebook (the paper's appendix) and higher learning rates: with the codebook
    # loss at Adam 2e-4 the codes move too slowly for a short run and most stay unused.
    "quick": {"steps": 1500, "batch_size": 64, "hidden": 64, "res_blocks": 1, "downsample": 1,
              "codebook_size": 64, "code_dim": 16, "codebook": "ema", "lr": 1e-3,
              "prior_hidden": 32, "prior_layers": 4, "prior_first_kernel": 3,
              "prior_out_hidden": 64, "prior_embedding": 16, "prior_lr": 3e-3,
              "checkpoint_every": 500},
    "standard": {"steps": 60000, "batch_size": 128, "checkpoint_every": 2000},
}

VQVAE2_PROFILES = {
    # vq-vae's quick budget and sizes (batch 64, 1,500 steps, 64 hidden units, K = 64 codes of
    # dimension 16 per level, same learning rates and priors) so the two compare on one board:
    # 8x8 digits -> 4x4 bottom codes -> 2x2 top codes.
    "quick": {"steps": 1500, "batch_size": 64, "hidden": 64, "res_blocks": 1,
              "bottom_downsample": 1, "top_downsample": 1, "codebook_size": 64,
              "code_dim": 16, "lr": 1e-3, "prior_hidden": 32, "prior_layers": 4,
              "prior_first_kernel": 3, "prior_out_hidden": 64, "prior_embedding": 16,
              "prior_cond_blocks": 1, "prior_lr": 3e-3, "checkpoint_every": 500},
    "standard": {"steps": 60000, "batch_size": 128, "checkpoint_every": 2000},
}

SPECS = (
    ModelSpec(
        name="pixelcnn", family="autoregressive",
        summary="gated PixelCNN: vertical and horizontal masked stacks, tanh*sigmoid gates, a "
                "256-way softmax per value; exact likelihood (channels factorised in order)",
        paper="van den Oord et al. 2016, Conditional Image Generation with PixelCNN Decoders, "
              "arXiv:1606.05328; van den Oord et al. 2016, Pixel Recurrent Neural Networks, "
              "arXiv:1601.06759",
        factory="genbench_vaes.pixelcnn:build_pixelcnn",
        config=PixelCnnConfig,
        accepts=("images",),
        capabilities=("sample", "log_prob"),
        profiles=PIXELCNN_PROFILES,
    ),
    ModelSpec(
        name="pixelrnn", family="autoregressive",
        summary="PixelRNN, Row LSTM: a 7x7 mask-A convolution, then LSTM layers run row by "
                "row (masked 1-D input-to-state, 1-D state-to-state convolutions; triangular "
                "receptive field) with residual connections; a 256-way softmax per value, "
                "exact likelihood (channels factorised in order)",
        paper="van den Oord et al. 2016, Pixel Recurrent Neural Networks, arXiv:1601.06759",
        factory="genbench_vaes.pixelrnn:build_pixelrnn",
        config=PixelRnnConfig,
        accepts=("images",),
        capabilities=("sample", "log_prob"),
        profiles=PIXELRNN_PROFILES,
    ),
    ModelSpec(
        name="pixelrnn-diagonal", family="autoregressive",
        summary="PixelRNN, Diagonal BiLSTM: a 7x7 mask-A convolution, then LSTM layers run "
                "along the diagonals in both directions (1x1 input-to-state, kernel-2 "
                "state-to-state convolutions on the skewed map; the whole context as receptive "
                "field) with residual connections; a 256-way softmax per value, exact "
                "likelihood",
        paper="van den Oord et al. 2016, Pixel Recurrent Neural Networks, arXiv:1601.06759",
        factory="genbench_vaes.pixelrnn:build_pixelrnn_diagonal",
        config=PixelRnnDiagonalConfig,
        accepts=("images",),
        capabilities=("sample", "log_prob"),
        profiles=PIXELRNN_PROFILES,
    ),
    ModelSpec(
        name="vq-vae", family="vae",
        summary="vector-quantised autoencoder (nearest-code quantisation, straight-through "
                "gradients, codebook loss or EMA) with a gated PixelCNN prior over the codes",
        paper="van den Oord et al. 2017, Neural Discrete Representation Learning, "
              "arXiv:1711.00937",
        factory="genbench_vaes.vqvae:build_vqvae",
        config=VqVaeConfig,
        accepts=("images",),
        capabilities=("sample", "reconstruct"),
        profiles=VQVAE_PROFILES,
    ),
    ModelSpec(
        name="vq-vae-2", family="vae",
        summary="two-level VQ-VAE (top codes over bottom codes, EMA codebooks) with PixelCNN "
                "priors: over the top codes, and over the bottom codes given the top ones",
        paper="Razavi, van den Oord and Vinyals 2019, Generating Diverse High-Fidelity Images "
              "with VQ-VAE-2, arXiv:1906.00446",
        factory="genbench_vaes.vqvae2:build_vqvae2",
        config=VqVae2Config,
        accepts=("images",),
        capabilities=("sample", "reconstruct"),
        profiles=VQVAE2_PROFILES,
    ),
)
