"""The base class of every model plugin's model object.

A model owns its networks and optimizers, so a GAN's discriminator/generator alternation lives in
its own ``train_step``. The training loop only feeds batches and checkpoints ``training_state``.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import torch
from torch import nn

from genbench.errors import GenbenchError


@dataclass(frozen=True)
class DataInfo:
    """What a model factory learns about the data it will be trained on."""

    kind: str  # "points", "images", or for translation "paired" / "unpaired"
    shape: tuple[int, ...]  # (D,) or (C, H, W) as the model will see it (domain A)
    num_classes: int = 0
    target_shape: tuple[int, ...] = ()  # translation: (C, H, W) of domain B


class GenerativeModel(nn.Module):
    """Subclass and implement ``train_step`` and ``sample``. Optional capabilities are plain
    methods, and a model has one when its ModelSpec names it in ``capabilities``; genbench then
    applies that capability's metrics and pictures to it automatically:

    - ``"latent"``: ``latent(n, generator) -> z`` draws from the prior and
      ``generate(z, labels=None) -> x`` decodes (latent interpolations, class grids).
    - ``"conditional"``: ``generate`` takes ``labels`` (N,) ints; ``sample`` draws labels itself.
    - ``"encode"``: ``encode(x, y=None) -> z`` (N, latent_dim), the code (a VAE's posterior
      mean). ``y`` is given when the dataset has labels; conditional models need it.
    - ``"reconstruct"``: ``reconstruct(x, y=None) -> x_hat``, deterministic, same shape as x
      (MSE, PSNR, SSIM on the test split; reconstruction grids).
    - ``"translate"``: ``translate(x, direction="AtoB") -> x_B`` maps domain-A images to
      domain B (``"BtoA"`` the other way, for models that learn both), deterministic in eval
      mode. Translation models are trained with ``train_step(x, y)`` where ``x`` is a batch of
      domain A and ``y`` a batch of domain B (aligned for paired data); they need not ``sample``.
    - ``"log_prob"``: ``log_likelihood(x, y=None, *, k=64, generator=None) -> {bound: (N,)}``,
      per-example log-likelihoods in nats on :mod:`genbench.likelihood`'s conventions. The
      class attribute ``likelihood`` says what x is: ``"density"`` models get dequantised
      images (or raw points) and return log densities, ``"discrete"`` models get 8-bit bin
      centres and return log probabilities. Keys are ``"exact"``, or ``"elbo"`` and ``"iwae"``
      (the importance-weighted bound with ``k`` samples) for latent-variable models. An empty
      dict means the model has no likelihood in this configuration.
    - ``"pairs"``: ``sample_pairs(n, generator) -> (x_A, x_B)``, n pairs of the two domains
      of an unpaired (or paired) dataset drawn together, example i of each from one latent
      (a coupled GAN's joint samples). On such a dataset genbench scores domain B's images
      with the sample metrics (against the test images of B, as translations are) and adds
      the ``coupling`` metric: each domain's FD and how often a pair shows one class.
    - ``"anomaly_score"``: ``anomaly_score(x) -> (N,)``, higher = more anomalous, given the
      whole test split at once (chunk inside if memory needs it). The optional attribute
      ``anomaly_score_description`` (a string) says what the score is; the run records it.
      Models that only ``reconstruct`` are scored by their reconstruction error instead.

    ``extra_metrics(reference) -> {name: (value, higher_is_better)}`` reports numbers only the
    model can give (a semi-supervised GAN's accuracy, a VQ-VAE's codebook usage). A third
    item, ``(value, higher_is_better, n)``, gives the number of examples it was computed on
    when that is not the reference split's (CycleGAN's cycle error on domain B).

    Two optional hooks need no capability:

    - ``fit_training_set(x, y)``: called once, before the first ``train_step`` (never on
      ``--resume``), with the whole training split as float tensors on the CPU (``y`` as in
      ``train_step``), for models fitted in one go (a KDE, a mixture by EM). Keep what it
      fits in parameters or buffers; a buffer whose shape depends on the data needs
      ``load_training_state`` to resize it before loading (see the example plugin's KDE).
    - ``fitted_quantities() -> {name: number or text}``: what the model fitted that is not a
      metric (a bandwidth, a chosen number of components); the run's record keeps it under
      ``evaluation["fitted"]``.
    """

    likelihood: str = "density"

    def __init__(self) -> None:
        super().__init__()
        self.optimizers: dict[str, torch.optim.Optimizer] = {}
        # The ``steps_done`` buffer (where a model has one) as a Python int: reading a buffer
        # on a GPU waits for every queued kernel, reading this does not.
        self.step_count = 0
        self.register_load_state_dict_post_hook(_mirror_step_count)

    def train_step(self, x: torch.Tensor, y: torch.Tensor | None
                   ) -> dict[str, torch.Tensor | float]:
        """One optimisation step on a batch; returns the losses to log, by name.

        Return each loss as a detached 0-d tensor (``loss.detach()``), not ``loss.item()``:
        ``.item()`` makes the CPU wait for the GPU at every step, while genbench reads all
        the losses of ``log_every`` steps in one transfer. Plain floats are accepted too
        (numbers computed on the CPU). Avoid other reads of device values in a step as well
        (``int(buffer)``, ``if tensor.any():``); keep counters as Python ints
        (:meth:`count_step`)."""
        raise NotImplementedError

    def count_step(self) -> int:
        """Add one to the ``steps_done`` buffer (saved in checkpoints) and to
        :attr:`step_count`, its copy on the host; returns the new count. Loading a state
        with ``steps_done`` sets :attr:`step_count` from it. The model registers the buffer
        in ``__init__``:
        ``self.register_buffer("steps_done", torch.zeros((), dtype=torch.long))``."""
        if not isinstance(getattr(self, "steps_done", None), torch.Tensor):
            from genbench.contract import ContractError

            raise ContractError(
                f"{type(self).__name__}.count_step() needs a steps_done buffer: register it in "
                f"__init__ with self.register_buffer('steps_done', torch.zeros((), "
                f"dtype=torch.long))")
        self.steps_done += 1
        self.step_count += 1
        return self.step_count

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """n samples in data space (points, or images in [-1, 1])."""
        raise NotImplementedError

    @property
    def device(self) -> torch.device:
        """Where the model lives: the device of its first parameter, or of its first buffer
        for a model without parameters (a KDE keeps only buffers)."""
        for tensor in itertools.chain(self.parameters(), self.buffers()):
            return tensor.device
        return torch.device("cpu")

    def training_state(self) -> dict:
        """Everything needed to continue training: weights, buffers and optimizer states."""
        return {
            "module": self.state_dict(),
            "optimizers": {name: opt.state_dict() for name, opt in self.optimizers.items()},
        }

    def load_training_state(self, state: dict) -> None:
        try:
            self.load_state_dict(state["module"])
            for name, opt in self.optimizers.items():
                opt.load_state_dict(state["optimizers"][name])
        except (KeyError, RuntimeError, ValueError) as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise GenbenchError(f"checkpoint does not fit this model: {first}") from None
        # A checkpoint brings the optimizer flags of the device it was saved on.
        fit_optimizers(self.optimizers.values())


def _mirror_step_count(module: nn.Module, incompatible_keys) -> None:
    steps = getattr(module, "steps_done", None)
    if isinstance(steps, torch.Tensor):
        module.step_count = int(steps)


# Optimizers with a fused (one kernel for every parameter) implementation on CUDA.
FUSED = (torch.optim.Adam, torch.optim.AdamW, torch.optim.SGD)


def _fusable(param: torch.Tensor) -> bool:
    return param.device.type == "cuda" and param.is_floating_point()


def fit_optimizers(optimizers) -> None:
    """Give each optimizer the fastest kernels its parameters' device has: ``fused`` on CUDA
    for Adam, AdamW and SGD, torch's defaults elsewhere (so CPU results do not change).

    Plugins build their optimizers before genbench moves the model to its device, and a
    checkpoint carries the flags of the device it was saved on, so genbench calls this after
    each move and each load: it sets the flags and moves each parameter's step count where
    those kernels keep it (on the device for fused, on the CPU otherwise). Other optimizers
    are left alone."""
    for opt in optimizers:
        if not isinstance(opt, FUSED):
            continue
        for group in opt.param_groups:
            if "fused" not in group or group.get("capturable") or group.get("differentiable"):
                continue
            params = group["params"]
            fused = bool(params) and all(_fusable(p) for p in params)
            group["fused"] = fused or None
            if fused:
                group["foreach"] = None
            for p in params:
                state = opt.state.get(p, {})
                if isinstance(state.get("step"), torch.Tensor):
                    step = state["step"].float()
                    state["step"] = step.to(p.device) if fused else step.cpu()
                for key, value in state.items():
                    # Fused kernels walk parameters and moments in memory order: give a
                    # moment loaded from elsewhere its parameter's layout (channels_last).
                    if (fused and isinstance(value, torch.Tensor) and value.shape == p.shape
                            and value.stride() != p.stride()):
                        state[key] = torch.empty_like(p).copy_(value)
