"""Reconstruction quality on a held-out split: MSE, PSNR and SSIM.

Images are compared in [0, 1] (genbench's [-1, 1] mapped by (x + 1) / 2) at the dataset's native
resolution: a model trained on upsampled images has its reconstructions area-averaged back, which
exactly undoes nearest upsampling. PSNR and SSIM are torchmetrics' (data range 1), computed per
image and averaged; PSNR is capped at 100 dB so a perfect reconstruction stays finite. SSIM uses
an 11-pixel Gaussian window (sigma 1.5), or the largest odd window that fits smaller images
(7 for 8x8). Points get the MSE only.
"""

from __future__ import annotations

import torch

PSNR_CAP_DB = 100.0


def ssim_window(height: int, width: int) -> int:
    size = min(11, height, width)
    return size if size % 2 else size - 1


def reconstruction_metrics(x: torch.Tensor, recon: torch.Tensor, images: bool) -> dict[str, float]:
    """``x`` and ``recon`` of the same shape: points (N, D), or images (N, C, H, W) in [-1, 1]."""
    if x.shape != recon.shape:
        raise ValueError(f"reconstructions have shape {tuple(recon.shape)}, the data "
                         f"{tuple(x.shape)}")
    if not torch.isfinite(recon).all():
        raise ValueError("the model's reconstructions contain NaN or inf")
    x, recon = x.double(), recon.double()
    if not images:
        return {"mse": float(((recon - x) ** 2).mean())}
    from torchmetrics.functional.image import (
        peak_signal_noise_ratio,
        structural_similarity_index_measure,
    )

    a, b = (x + 1) / 2, ((recon + 1) / 2).clamp(0, 1)
    psnr = peak_signal_noise_ratio(b, a, data_range=1.0, reduction="none", dim=(1, 2, 3))
    ssim = structural_similarity_index_measure(b, a, data_range=1.0,
                                               kernel_size=ssim_window(*a.shape[-2:]))
    return {"mse": float(((b - a) ** 2).mean()),
            "psnr": float(psnr.clamp(max=PSNR_CAP_DB).mean()),
            "ssim": float(ssim)}
