"""What genbench checks at the boundary with a plugin's objects: a model's outputs, the losses
its ``train_step`` returns, and the splits a dataset's loader returns.

A plugin that breaks the interface (``sample`` returning a numpy array, images in [0, 255],
labels past ``num_classes``) must fail where it breaks it, with a message naming the model or
dataset and its plugin and saying what was expected. Unchecked, such output either crashes
deep inside genbench ("internal error ... please report it", blaming genbench) or, worse, is
scored and ranked as if it were fine: images x100 got an FD of 3.7e5 and a place on the board.

The checks cost one pass over what they check (a min and a max), nothing per training step
beyond a type test, and nothing on uint8 images, which cannot be out of range.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import torch

from genbench.errors import GenbenchError

# Images are in [-1, 1]. Float round-off of a tanh or a clamp stays far inside this margin;
# a model scaled wrongly (to [0, 255], or unbounded) is far outside it.
RANGE_MARGIN = 1e-3


class ContractError(GenbenchError):
    """A model's output broke genbench's model interface. Raised where the model's name is
    not at hand; :func:`named` adds it (and its plugin) before the user sees it."""


def owner(kind: str, name: str) -> str:
    """`` (plugin kde, genbench-kde 0.1.0)`` for a name a third-party plugin registered;
    "" for genbench's own, and for names no plugin registered."""
    from genbench.plugins import get_registries

    info = get_registries().provider(kind, name)
    if info is None or info.distribution == "genbench":
        return ""
    return f" (plugin {info.name}, {info.distribution} {info.version})"


def named(exc: ContractError, model: str) -> GenbenchError:
    """``exc`` as a one-line error that names the model and its plugin."""
    return GenbenchError(f"model {model!r}{owner('models', model)}: {exc}; fix the model")


@contextmanager
def naming(model: str) -> Iterator[None]:
    """Inside the block, a :class:`ContractError` is raised as :func:`named`'s error."""
    try:
        yield
    except ContractError as exc:
        raise named(exc, model) from None


def check_model_object(model: Any, name: str) -> None:
    """A factory must return a :class:`genbench.model.GenerativeModel`."""
    from genbench.model import GenerativeModel

    if not isinstance(model, GenerativeModel):
        raise GenbenchError(f"model {name!r}{owner('models', name)}: its factory returned "
                            f"{_type_name(model)}, not a genbench.model.GenerativeModel; "
                            f"return an instance of a GenerativeModel subclass")


def check_output(out: Any, method: str, n: int, shape: tuple[int, ...] | None,
                 images: bool) -> torch.Tensor:
    """What ``method`` (``sample``, ``translate``...) returned for ``n`` examples: a float
    tensor of ``n`` examples of ``shape`` (when given; for images, ``(C, H, W)``, and any
    ``(C, ...)`` when only the channels are known), images in [-1, 1]. Returns it."""
    if not isinstance(out, torch.Tensor):
        raise ContractError(f"{method}() returned {_type_name(out)}; return a torch.Tensor")
    if not out.is_floating_point():
        raise ContractError(f"{method}() returned a {out.dtype} tensor; return floats "
                            f"({'images in [-1, 1]' if images else 'points'})")
    if out.dim() == 0 or out.shape[0] != n:
        got = "a 0-d tensor" if out.dim() == 0 else f"{out.shape[0]:,}"
        raise ContractError(f"{method}() was asked for {n:,} examples and returned {got}")
    if shape is not None and tuple(out.shape[1:]) != tuple(shape):
        raise ContractError(f"{method}() returned examples of shape {tuple(out.shape[1:])}; "
                            f"the model was built for {tuple(shape)}")
    outside = images and out_of_range(out)
    if outside:
        raise ContractError(f"{method}() returned images in {outside}, but images are in "
                            f"[-1, 1]; end the generator with tanh, or clamp")
    return out


def out_of_range(images: torch.Tensor) -> str:
    """"[low, high]" of float images whose finite values leave [-1, 1], else "" (NaN and
    inf are left to the divergence checks; uint8 images cannot leave it)."""
    if images.dtype == torch.uint8 or images.numel() == 0:
        return ""
    low, high = (float(v) for v in torch.aminmax(images))  # one pass, no copy
    if not (math.isfinite(low) and math.isfinite(high)):
        return ""
    if low < -1 - RANGE_MARGIN or high > 1 + RANGE_MARGIN:
        return f"[{low:.4g}, {high:.4g}]"
    return ""


def check_losses(losses: Any) -> Mapping:
    """``train_step`` returns ``{name: 0-d tensor or number}``."""
    if not isinstance(losses, Mapping):
        raise ContractError(f"train_step() returned {_type_name(losses)}; return the losses "
                            f"by name, e.g. {{'loss': loss.detach()}}")
    for key, value in losses.items():
        if not isinstance(key, str):
            raise ContractError(f"train_step() returned a loss named {key!r}; name losses "
                                f"with strings")
        if isinstance(value, torch.Tensor):
            if value.numel() != 1:
                raise ContractError(f"train_step() returned a tensor of shape "
                                    f"{tuple(value.shape)} for {key!r}; return one number "
                                    f"per loss (a 0-d tensor such as loss.detach())")
        elif not isinstance(value, numbers.Real):
            raise ContractError(f"train_step() returned {_type_name(value)} for {key!r}; "
                                f"return a number or a 0-d tensor")
    return losses


def check_split(data: Any, spec) -> Any:
    """What a dataset's loader returned for one split of ``spec`` (a DatasetSpec): a
    TensorData whose ``x`` fits the spec's kind, with as many labels (and, for aligned
    kinds, targets) as examples, labels in ``[0, num_classes)``, finite values, and float
    images in [-1, 1]. Returns it."""
    from genbench.data.base import TensorData

    where = f"dataset {spec.name!r}{owner('datasets', spec.name)}"
    if not isinstance(data, TensorData):
        raise GenbenchError(f"{where}: its loader returned {_type_name(data)}; return a "
                            f"genbench.data.base.TensorData")
    split = f"{where}, split {data.split!r}"
    x = data.x
    if not isinstance(x, torch.Tensor):
        raise GenbenchError(f"{split}: x is {_type_name(x)}; make it a torch.Tensor")
    want = 2 if spec.kind == "points" else 4
    if x.dim() != want:
        layout = "(N, D) points" if want == 2 else "(N, C, H, W) images"
        raise GenbenchError(f"{split}: x has shape {tuple(x.shape)}; a {spec.kind} dataset "
                            f"holds {layout}")
    if data.y is not None:
        y = data.y
        if not isinstance(y, torch.Tensor) or y.dim() != 1 or len(y) != len(x):
            got = (f"shape {tuple(y.shape)}" if isinstance(y, torch.Tensor)
                   else _type_name(y))
            raise GenbenchError(f"{split}: y has {got} for {len(x):,} examples; give one "
                                f"integer label per example, or y=None")
        if y.is_floating_point() or y.dtype == torch.bool:
            raise GenbenchError(f"{split}: y is {y.dtype}; labels are integers (torch.long)")
        if spec.num_classes and len(y):
            low, high = int(y.min()), int(y.max())
            if low < 0 or high >= spec.num_classes:
                raise GenbenchError(f"{split}: labels run from {low} to {high}, but the "
                                    f"dataset declares num_classes={spec.num_classes} "
                                    f"(labels 0 to {spec.num_classes - 1})")
    target = data.target
    if target is not None and spec.kind in ("paired", "superres", "inpaint") \
            and len(target) != len(x):
        raise GenbenchError(f"{split}: {len(target):,} targets for {len(x):,} inputs; a "
                            f"{spec.kind} dataset's target i belongs to x[i]")
    for name, values in (("x", x), ("target", target)):
        if values is None or values.dtype == torch.uint8:
            continue
        if not values.is_floating_point():
            raise GenbenchError(f"{split}: {name} is {values.dtype}; give float32 (or uint8 "
                                f"images)")
        if not bool(torch.isfinite(values).all()):
            raise GenbenchError(f"{split}: {name} holds NaN or inf")
        outside = values.dim() == 4 and out_of_range(values)
        if outside:
            raise GenbenchError(f"{split}: {name} holds images in {outside}, but images are "
                                f"in [-1, 1]; scale 8-bit pixels as v / 127.5 - 1")
    return data


def _type_name(value: Any) -> str:
    if value is None:
        return "None"
    kind = type(value)
    module = kind.__module__
    return f"a {kind.__name__}" if module == "builtins" else f"a {module}.{kind.__qualname__}"
