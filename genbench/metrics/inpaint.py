"""Inpainting quality on the hole only, as Pathak et al. 2016 (context encoders) report it.

The completed images (the context as given, the model's output in the hole: see
:func:`genbench.data.inpaint.paste`) and the original images are mapped from [-1, 1] to [0, 1]
and cut to the hole (:func:`genbench.data.inpaint.hole_box`). Then, per image and averaged over
the test images, all channels:

* ``l1_hole``: mean absolute error; ``l2_hole``: mean squared error (the paper's "mean L1 loss"
  and "mean L2 loss");
* ``psnr_hole``: PSNR with data range 1, capped at 100 dB (the paper's PSNR of the hole);
* ``ssim_hole``: torchmetrics' SSIM of the hole patch (Gaussian window 11x11, sigma 1.5, over
  the reflect-padded patch: the same function and convention as the reconstruction metric).

The context is not scored: it is the input, the same for every model. FD of the completed
images against the test images (in the dataset's feature space) is scored beside these.
"""

from __future__ import annotations

import torch

from genbench.data.inpaint import hole
from genbench.metrics.reconstruction import reconstruction_metrics


def inpaint_metrics(truth: torch.Tensor, completed: torch.Tensor) -> dict[str, float]:
    """``truth`` (the original images) and ``completed``, (N, C, H, W) in [-1, 1]."""
    if truth.shape != completed.shape:
        raise ValueError(f"completed images have shape {tuple(completed.shape)}, the "
                         f"originals {tuple(truth.shape)}")
    if not torch.isfinite(completed).all():
        raise ValueError("the completed images contain NaN or inf")
    a, b = hole(truth), hole(completed).clamp(-1, 1)
    out = reconstruction_metrics(a, b, images=True)
    l1 = ((b.double() - a.double()).abs() / 2).flatten(1).mean(1)
    return {"l1_hole": float(l1.mean()), "l2_hole": out["mse"], "psnr_hole": out["psnr"],
            "ssim_hole": out["ssim"]}
