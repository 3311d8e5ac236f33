"""The one training loop every model goes through: batches, seeding, checkpoints, resume,
progress, and a guard that stops a run whose losses become NaN or infinite."""

from __future__ import annotations

import math
import os
import pickle
import signal
import time
import zipfile
from collections.abc import Callable
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from genbench.atomic import atomic_write
from genbench.contract import check_losses
from genbench.errors import GenbenchError

CHECKPOINT_FORMAT = "genbench-checkpoint/1"


@dataclass
class TrainOutcome:
    status: str  # completed | diverged | interrupted
    step: int
    history: dict[str, list[float]] = field(default_factory=dict)
    message: str = ""
    seconds: float = 0.0


class _Shuffled:
    """Indices of one tensor's mini-batches, reshuffled every epoch from (seed, epoch)."""

    def __init__(self, n: int, batch_size: int, seed: int, device: torch.device):
        if n < 2:
            raise GenbenchError("the training split has fewer than 2 examples")
        self.n, self.batch_size, self.seed, self.device = n, min(batch_size, n), seed, device
        self.per_epoch = n // self.batch_size
        self._epoch = -1
        self._perm: torch.Tensor | None = None

    def indices(self, step: int) -> torch.Tensor:
        epoch, k = divmod(step, self.per_epoch)
        if epoch != self._epoch:
            # Modulo 2**64: what torch does to a negative seed, and room for any 64-bit seed.
            gen = torch.Generator().manual_seed((self.seed * 1_000_003 + epoch) % 2 ** 64)
            self._perm = torch.randperm(self.n, generator=gen).to(self.device)
            self._epoch = epoch
        return self._perm[k * self.batch_size:(k + 1) * self.batch_size]


class InMemoryBatches:
    """Shuffled mini-batches whose order depends only on (seed, step), so a resumed run sees
    exactly the batches the uninterrupted run would have seen.

    Translation data also has a ``target`` domain: a batch is then ``(x_A, x_B)``, the same
    examples of both for paired data, an independently shuffled batch of B for unpaired data.

    ``x`` and ``target`` may be uint8 pixels (value ``v`` meaning ``v / 127.5 - 1``; see
    :class:`genbench.data.base.TensorData`): each batch is then converted to float32 on the
    device, bit for bit as the float loaders convert the whole set, and resized to
    ``image_size`` (per image, so the same as resizing the whole set; on a GPU, the resize
    runs there and may round differently from the CPU's). The data is kept on the device
    when it takes at most half its free memory, else on the CPU, where each batch is gathered
    into pinned memory and copied to the GPU without waiting for it.
    With ``channels_last``, image batches (4-D) come in that memory layout.
    """

    def __init__(self, x: torch.Tensor, y: torch.Tensor | None, batch_size: int, seed: int,
                 device: torch.device, target: torch.Tensor | None = None,
                 paired: bool = True, image_size: int | None = None,
                 channels_last: bool = False):
        self.device = torch.device(device)
        self.channels_last = channels_last
        self.home = _home(self.device, [x, y, target])
        self.order = _Shuffled(x.shape[0], batch_size, seed, self.home)
        self.batch_size = self.order.batch_size
        self.image_size = image_size
        self.x = x.to(self.home)
        self.y = None if y is None else y.to(self.home)
        self.target = None if target is None else target.to(self.home)
        self.target_order = None
        if target is not None and not paired:
            self.target_order = _Shuffled(target.shape[0], self.batch_size, seed + 7919,
                                          self.home)
        elif target is not None and target.shape[0] != x.shape[0]:
            raise GenbenchError(f"paired data needs as many B as A examples (got "
                                f"{target.shape[0]} and {x.shape[0]})")

    @classmethod
    def from_data(cls, data, batch_size: int, seed: int, device: torch.device,
                  paired: bool = True, channels_last: bool = False) -> InMemoryBatches:
        """Batches of a :class:`genbench.data.base.TensorData` (uint8 or float)."""
        return cls(data.x, data.y, batch_size, seed, device, target=data.target, paired=paired,
                   image_size=getattr(data, "image_size", None), channels_last=channels_last)

    def batch(self, step: int) -> tuple[torch.Tensor, torch.Tensor | None]:
        idx = self.order.indices(step)
        if self.target is not None:
            other = idx if self.target_order is None else self.target_order.indices(step)
            return self._images(self.x, idx), self._images(self.target, other)
        return self._images(self.x, idx), None if self.y is None else self._gather(self.y, idx)

    def whole(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The whole split at once, as float on the CPU (it may not fit on a GPU): ``(x, y)``,
        or ``(x_A, x_B)`` for translation data; in the split's order."""
        x = self._on_cpu(self.x)
        if self.target is not None:
            return x, self._on_cpu(self.target)
        return x, None if self.y is None else self.y.cpu()

    def _on_cpu(self, images: torch.Tensor) -> torch.Tensor:
        if images.dtype != torch.uint8:
            return images.cpu()
        from genbench.data.base import to_unit

        return to_unit(images.cpu(), self.image_size)

    def _gather(self, tensor: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
        """``tensor[idx]`` on the device. From the CPU to a GPU, the rows are gathered into
        pinned memory and copied asynchronously (a copy from pageable memory would make the
        CPU wait; torch's pinned-memory cache keeps the buffer until the copy is done)."""
        if self.home == self.device:
            return tensor[idx]
        if self.device.type != "cuda":
            return tensor[idx].to(self.device)
        rows = torch.empty((len(idx), *tensor.shape[1:]), dtype=tensor.dtype, pin_memory=True)
        torch.index_select(tensor, 0, idx, out=rows)
        return rows.to(self.device, non_blocking=True)

    def _images(self, images: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
        part = self._gather(images, idx)
        if part.dtype == torch.uint8:
            from genbench.data.base import to_unit

            part = to_unit(part, self.image_size)
        if self.channels_last and part.dim() == 4:
            part = part.contiguous(memory_format=torch.channels_last)
        return part


def _home(device: torch.device, tensors: list[torch.Tensor | None]) -> torch.device:
    """Where the training data lives: on the device unless it is a GPU on which the data
    would take more than half the free memory."""
    if device.type != "cuda":
        return device
    needed = sum(t.numel() * t.element_size() for t in tensors if t is not None)
    free, _ = torch.cuda.mem_get_info(device)
    # What this process's allocator holds but does not use is free to it (earlier runs of a
    # sweep in the same process leave such blocks behind).
    free += torch.cuda.memory_reserved(device) - torch.cuda.memory_allocated(device)
    return device if needed <= free // 2 else torch.device("cpu")


def seed_everything(seed: int) -> None:
    torch.manual_seed(seed)  # also seeds every CUDA device


def atomic_torch_save(obj: Any, path: Path) -> None:
    atomic_write(path, lambda tmp: torch.save(obj, tmp))


def load_checkpoint(path: str | os.PathLike) -> dict:
    """Load a genbench checkpoint safely (weights_only), with one-line errors."""
    path = Path(path)
    if path.is_dir():
        raise GenbenchError(f"{path} is a folder, not a checkpoint; give a run's "
                            f"checkpoint.pt or its run id (`genbench runs` lists them)")
    if not path.is_file():
        raise GenbenchError(f"checkpoint {path} does not exist")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except (RuntimeError, EOFError, OSError, ValueError, pickle.UnpicklingError,
            zipfile.BadZipFile) as exc:
        # torch's own text is long and, for a file that fails the safe load, advises loading
        # it unsafely: not advice to pass on. Its kind says enough.
        why = ("cut short or not a torch file" if isinstance(exc, (EOFError, zipfile.BadZipFile))
               or "PytorchStreamReader" in str(exc) else
               "not a torch file, or one holding more than tensors"
               if isinstance(exc, pickle.UnpicklingError)
               else type(exc).__name__)
        raise GenbenchError(f"checkpoint {path} is corrupt or not a genbench checkpoint "
                            f"({why}); it cannot be used: move it aside, then `genbench run` "
                            f"without --resume trains the run again") from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != CHECKPOINT_FORMAT:
        raise GenbenchError(f"{path} is not a genbench checkpoint")
    return ckpt


def _rng_state() -> dict:
    state = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        # Per device that is here: a checkpoint from a machine with more GPUs still resumes.
        for index, saved in enumerate(state["cuda"][:torch.cuda.device_count()]):
            torch.cuda.set_rng_state(saved, index)


@contextmanager
def _stop_on_first_interrupt():
    """The first Ctrl-C (or SIGTERM) asks the loop to stop after the current step (so the
    checkpoint is consistent); a second one interrupts at once."""
    flag = {"stop": False}
    if threading_main():
        def handler(signum, frame):
            if flag["stop"]:
                raise KeyboardInterrupt
            flag["stop"] = True

        previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield flag
        finally:
            for sig, before in previous.items():
                signal.signal(sig, before)
    else:
        yield flag


def threading_main() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()


class CompileError(GenbenchError):
    """torch.compile failed on a model's first training step."""


class _PendingLosses:
    """The losses of steps that ran but were not read yet. A device tensor is not read when it
    is returned (that would make the CPU wait for the GPU at every step): each step's tensors
    are stacked where they are, and :meth:`read` copies every step's to the host in one
    transfer per device."""

    def __init__(self) -> None:
        # (step, [(key, a float, or (device, index) into that device's values)])
        self.steps: list[tuple[int, list[tuple[str, Any]]]] = []
        self.stacks: dict[torch.device, list[torch.Tensor]] = {}
        self.counts: dict[torch.device, int] = {}

    def add(self, step: int, losses: dict[str, Any]) -> None:
        check_losses(losses)  # a dict of numbers: a step must not fail at the next read
        entries: list[tuple[str, Any]] = []
        tensors: dict[torch.device, list[torch.Tensor]] = {}
        for key, value in losses.items():
            if isinstance(value, torch.Tensor):
                # CPU tensors too: one code path, the one a GPU takes, whatever the device.
                where = tensors.setdefault(value.device, [])
                index = self.counts.get(value.device, 0) + len(where)
                where.append(value.detach().reshape(()).to(torch.float64))  # exact
                entries.append((key, (value.device, index)))
            else:
                entries.append((key, value))
        for device, values in tensors.items():
            # A fresh tensor per step: a compiled model's outputs may be overwritten by its
            # next call (CUDA graphs), and the step's own tensors can be freed.
            self.stacks.setdefault(device, []).append(torch.stack(values))
            self.counts[device] = self.counts.get(device, 0) + len(values)
        self.steps.append((step, entries))

    def read(self) -> list[tuple[int, dict[str, Any]]]:
        """Every pending step's losses as numbers, oldest first; nothing is pending after."""
        host = {device: torch.cat(stack).cpu().tolist() for device, stack in self.stacks.items()}
        out = [(step, {key: host[value[0]][value[1]] if isinstance(value, tuple) else value
                       for key, value in entries})
               for step, entries in self.steps]
        self.steps, self.stacks, self.counts = [], {}, {}
        return out


def _autocast(precision: str, device: torch.device):
    if precision == "fp32":
        return nullcontext()
    if precision == "bf16":
        return torch.autocast(device.type, dtype=torch.bfloat16)
    raise GenbenchError(f"unknown precision {precision!r}; choose fp32 or bf16")


def train(model, batches: InMemoryBatches, config, *, checkpoint: Path, meta: dict,
          resume_from: dict | None = None, progress: Callable | None = None,
          evaluate_every: int = 0,
          evaluate: Callable[[int, float], None] | None = None, log_every: int = 1,
          precision: str = "fp32", compiled: bool = False) -> TrainOutcome:
    """Run ``model.train_step`` until ``config.steps``, checkpointing to ``checkpoint``.
    A model with a ``fit_training_set(x, y)`` method gets the whole split first, once.

    ``meta`` is stored in every checkpoint (model, dataset, config, seed, run id) so a checkpoint
    alone is enough to rebuild the model. ``evaluate(step, seconds)`` is called every
    ``evaluate_every`` steps before the last, with the training seconds so far; evaluations
    are not counted as training time (nor in ``TrainOutcome.seconds``) and leave the random
    state and the model's mode as they were, so they do not change the training itself.

    The losses a step returns are read every ``log_every`` steps, all at once (tensors left
    on a GPU are read in one transfer), and always before a checkpoint is saved, before an
    evaluation and at the end. Each read adds every step's losses to the history, checks
    them (the first NaN or infinite loss ends the run as ``diverged`` at the step that made
    it, before anything is saved) and calls ``progress(step, total, losses)`` with the last
    step read. ``precision="bf16"`` runs each ``train_step`` under ``torch.autocast`` in
    bfloat16. ``compiled``: the model's networks were compiled, so a failure of its first
    step here is raised as a :class:`CompileError`.
    """
    step, history, before = 0, {"step": []}, 0.0
    if resume_from is not None:
        model.load_training_state(resume_from["state"])
        _set_rng_state(resume_from["rng"])
        step, history = resume_from["step"], resume_from["history"]
        before = resume_from.get("train_seconds", 0.0)
    started = time.perf_counter()
    evaluating = 0.0
    pending = _PendingLosses()
    read_to = step  # the last step whose losses were read (and found finite)
    first_step = True

    def seconds() -> float:
        return before + time.perf_counter() - started - evaluating

    def save() -> None:
        atomic_torch_save({"format": CHECKPOINT_FORMAT, **meta, "step": step,
                           "history": history, "state": model.training_state(),
                           "rng": _rng_state(), "train_seconds": seconds()}, checkpoint)

    def read() -> str:
        """Read the pending losses into the history; the divergence message, or ""."""
        nonlocal read_to
        last, message = None, ""
        for n, losses in pending.read():
            bad = [k for k, v in losses.items() if not math.isfinite(v)]
            if bad:
                message = f"{bad[0]} became {losses[bad[0]]} at step {n}"
                break
            history["step"].append(n)
            for key, value in losses.items():
                column = history.setdefault(key, [])
                # A loss that appears late (a model's second phase, e.g. SRGAN's adversarial
                # losses after its MSE pretraining) is NaN before, so it stays aligned with step.
                column.extend([math.nan] * (len(history["step"]) - 1 - len(column)))
                column.append(float(value))
            read_to, last = n, losses
        if progress is not None and last is not None:
            progress(read_to, config.steps, last)
        return message

    model.train()
    fit = getattr(model, "fit_training_set", None)
    if resume_from is None and callable(fit):
        # Once, before the first step; a resumed run has the fit in its checkpoint.
        fit(*batches.whole())
    with _stop_on_first_interrupt() as interrupt:
        while step < config.steps:
            x, y = batches.batch(step)
            if compiled:
                # A step is one CUDA-graph generation ("reduce-overhead" compiles): a GAN's
                # step calls D for real, G, D for fake and two backwards, and none of them may
                # overwrite another's outputs before the step is over. Without CUDA graphs
                # this only counts steps.
                torch.compiler.cudagraph_mark_step_begin()
            with _autocast(precision, batches.device):
                if compiled and first_step:
                    losses = _first_compiled_step(model, x, y)
                else:
                    losses = model.train_step(x, y)
            first_step = False
            step += 1
            pending.add(step, losses)
            evaluate_now = bool(evaluate and evaluate_every and step % evaluate_every == 0
                                and step < config.steps)
            save_now = (step % config.checkpoint_every == 0 or step == config.steps
                        or interrupt["stop"])
            if step % log_every == 0 or evaluate_now or save_now:
                message = read()
                if message:
                    return TrainOutcome("diverged", read_to, history, message, seconds())
            if evaluate_now:
                state, clock = _rng_state(), time.perf_counter()
                evaluate(step, seconds())
                _set_rng_state(state)
                model.train()
                evaluating += time.perf_counter() - clock
            if step % config.checkpoint_every == 0 or step == config.steps:
                save()
            if interrupt["stop"]:
                save()
                return TrainOutcome("interrupted", step, history,
                                    f"interrupted at step {step}", seconds())
    return TrainOutcome("completed", step, history, "", seconds())


def _first_compiled_step(model, x, y):
    """The first step of a compiled model, where torch.compile compiles: its failures (no C++
    compiler, an operation the compiler cannot take) become one-line errors."""
    try:
        return model.train_step(x, y)
    except (GenbenchError, KeyboardInterrupt):
        raise
    except Exception as exc:
        text = " ".join(str(exc).split())
        first = text[:300] + ("..." if len(text) > 300 else "")
        raise CompileError(f"--compile: torch.compile failed on the first training step "
                           f"({type(exc).__name__}: {first}); run without --compile") from exc
