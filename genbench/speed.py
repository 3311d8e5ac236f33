"""How a run trains fast: the precision of its arithmetic (``--precision``), the memory layout of
its images (``--channels-last``), whether its networks are compiled (``--compile``), and how
often its losses are read back from the device (``--log-every``).

The first three may change the numbers a run produces, so a run that uses one is recorded
with it (``precision=bf16`` beside its ``--set`` overrides) and hashed with it: it is another
configuration, never merged with, skipped for or resumed as an fp32 eager run. The defaults
(fp32, the default layout, no compile) add nothing to the hash, so a default run keeps the
hash it had before these options existed. ``log_every`` changes no number (every step's
losses are kept), so it is recorded but not hashed.

Scoring is not affected: genbench samples and scores in fp32 with the networks uncompiled,
so the metrics of runs trained with different options are computed the same way.
"""

from __future__ import annotations

import os
import shutil
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any

from genbench.errors import GenbenchError

PRECISIONS = ("fp32", "bf16")
# torch.compile's modes; "reduce-overhead" adds CUDA graphs (one launch for a whole graph).
COMPILE_MODES = ("default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs")
# Tests set "aot_eager" (autograd traced, no code generated, no C++ compiler needed).
COMPILE_BACKEND = "inductor"
# Steps between reads of the losses on a GPU: each read waits for the GPU to finish.
LOG_EVERY_GPU = 50
# torch's recompilation limit while a model is compiled (see compile_networks).
RECOMPILE_LIMIT = 64


@dataclass(frozen=True)
class SpeedOptions:
    """``precision`` fp32 or bf16 (autocast around each training step); ``channels_last`` for
    the model's 4-D weights and image batches; ``compile``: None, or the torch.compile mode;
    ``log_every``: steps between reads of the losses (None: 1 on the CPU, 50 on a GPU)."""

    precision: str = "fp32"
    channels_last: bool = False
    compile: str | None = None
    log_every: int | None = None

    def __post_init__(self) -> None:
        if self.precision not in PRECISIONS:
            raise GenbenchError(f"--precision {self.precision}: choose fp32 or bf16")
        if self.compile is not None and self.compile not in COMPILE_MODES:
            raise GenbenchError(f"--compile-mode {self.compile}: choose one of "
                                f"{', '.join(COMPILE_MODES)}")
        if self.log_every is not None and (isinstance(self.log_every, bool)
                                           or not isinstance(self.log_every, int)
                                           or self.log_every < 1):
            raise GenbenchError(f"--log-every {self.log_every}: must be a whole number >= 1")

    @classmethod
    def of(cls, precision: str = "fp32", channels_last: bool = False,
           compile: bool | str | None = False, log_every: int | None = None) -> SpeedOptions:
        """From the API's arguments: ``compile`` True means torch.compile's default mode."""
        mode = "default" if compile is True else (compile or None)
        return cls(precision, bool(channels_last), mode, log_every)

    def settings(self) -> list[str]:
        """The options that differ from the defaults, as the record lists them beside the
        ``--set`` overrides (the leaderboards' settings column)."""
        return settings_of(self.hashed())

    def hashed(self) -> dict[str, Any]:
        """What :func:`genbench.api.config_hash` adds to a run's configuration: the options
        that may change its numbers, where they differ from the defaults."""
        out: dict[str, Any] = {}
        if self.precision != "fp32":
            out["precision"] = self.precision
        if self.channels_last:
            out["channels_last"] = True
        if self.compile:
            out["compile"] = self.compile
        return out

    def log_interval(self, device) -> int:
        return self.log_every or (1 if device.type == "cpu" else LOG_EVERY_GPU)

    def check_device(self, device) -> None:
        """Refuse, in one line and before anything runs, what ``device`` cannot do."""
        import torch

        if self.precision == "bf16" and device.type == "cuda" \
                and not _bf16_on(device):
            raise GenbenchError(f"--precision bf16: {torch.cuda.get_device_name(device)} "
                                f"cannot compute in bfloat16; use --precision fp32")
        if self.compile and device.type == "cpu" and COMPILE_BACKEND == "inductor" \
                and not _cpp_compiler():
            raise GenbenchError("--compile on the CPU needs a C++ compiler (g++ or clang++, "
                                "or one named by $CXX) and none was found; install one or "
                                "run without --compile")

    def describe(self, device) -> dict[str, Any]:
        """Everything about how the run trained, for its record."""
        return {"precision": self.precision, "channels_last": self.channels_last,
                "compile": self.compile, "log_every": self.log_interval(device),
                "fused_optimizers": device.type == "cuda"}


def _bf16_on(device) -> bool:
    """Whether the GPU ``device`` names (not the current one) computes in bfloat16."""
    import torch

    if device.index is None:  # the current GPU
        return torch.cuda.is_bf16_supported()
    with torch.cuda.device(device.index):
        return torch.cuda.is_bf16_supported()


def settings_of(hashed: dict[str, Any]) -> list[str]:
    """``{"precision": "bf16", "channels_last": True}`` -> ``["precision=bf16",
    "channels_last=true"]``, as records list them."""
    return [f"{key}={str(value).lower() if isinstance(value, bool) else value}"
            for key, value in hashed.items()]


def _cpp_compiler() -> str | None:
    names = [os.environ["CXX"]] if os.environ.get("CXX") else []
    return next((path for name in names + ["g++", "c++", "clang++"]
                 if (path := shutil.which(name))), None)


def prepare(model, options: SpeedOptions) -> list:
    """Apply the options to a model already on its device: channels_last for its 4-D weights,
    then torch.compile for its networks. Returns the modules compiled."""
    import torch

    from genbench.model import fit_optimizers

    if options.channels_last:
        model.to(memory_format=torch.channels_last)  # only 4-D tensors change
        fit_optimizers(getattr(model, "optimizers", {}).values())
    return compile_networks(model, options.compile) if options.compile else []


def compile_networks(model, mode: str) -> list:
    """Compile the model's networks in place with ``nn.Module.compile`` (state_dict keys do
    not change, so checkpoints stay interchangeable with uncompiled runs): each child module
    with parameters, and each of its children with parameters, since models call parts of
    a network directly (a discriminator's ``features``). Compilation itself happens at the
    first call; :func:`genbench.training.train` reports its failure.

    Every module compiled this way shares one code object (``Module._call_impl``) and so
    torch's limit on recompilations of it (8 by default: beyond it, torch silently runs
    eagerly): the limit is raised to :data:`RECOMPILE_LIMIT`, and what earlier runs in this
    process compiled is dropped (a sweep compiles one model after another)."""
    import torch

    if not hasattr(torch.compiler, "set_stance"):
        raise GenbenchError(f"--compile needs torch 2.6 or newer (this is torch "
                            f"{torch.__version__}); upgrade torch or run without --compile")
    torch._dynamo.reset()
    config = torch._dynamo.config
    config.recompile_limit = max(config.recompile_limit, RECOMPILE_LIMIT)
    kwargs = {"mode": mode} if COMPILE_BACKEND == "inductor" else {}
    compiled: list = []
    for child in model.children():
        for module in (child, *child.children()):
            if any(True for _ in module.parameters()) and all(m is not module for m in compiled):
                module.compile(backend=COMPILE_BACKEND, **kwargs)
                compiled.append(module)
    return compiled


def eager(compiled: list):
    """Run compiled modules eagerly inside (scoring): ``torch.compiler.set_stance``."""
    if not compiled:
        return nullcontext()
    import torch

    return torch.compiler.set_stance("force_eager")
