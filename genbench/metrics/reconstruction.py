"""Reconstruction quality on a held-out split: MSE, PSNR and SSIM.

Images are compared in [0, 1] (genbench's [-1, 1] mapped by (x + 1) / 2) at the dataset's native
resolution: a model trained on upsampled images has its reconstructions area-averaged back, which
exactly undoes nearest upsampling. PSNR and SSIM are torchmetrics' (data range 1), computed per
image and averaged, a few images at a time so memory stays bounded (SSIM's filtering in
float32: see :func:`_image_metrics`); PSNR is capped at 100 dB so a perfect reconstruction stays
finite. SSIM uses an 11-pixel Gaussian window (sigma 1.5) at every image size: torchmetrics
(1.9) derives a Gaussian window's size from sigma and ignores ``kernel_size``, so the smaller
window :func:`ssim_window` asks for on images under 11 pixels (7 for 8x8) has no effect, and 8x8
images are filtered with the 11-pixel window over their reflect-padded borders (checked: the same
SSIM with kernel_size 3, 7 and 11 on 8x8 images). Points get the MSE only.
"""

from __future__ import annotations

import torch

PSNR_CAP_DB = 100.0
CHUNK_BYTES = 256 * 2 ** 20  # working memory of one batch of images


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
    if not images:
        return {"mse": float(((recon.double() - x.double()) ** 2).mean())}
    # A few images at a time, so memory stays bounded whatever the split's size and resolution:
    # every output is a mean over images (MSE's images all have one size).
    per_image = x[0].numel() * 8 * 24  # float64 copies and SSIM's stacked, filtered maps
    chunk = max(1, CHUNK_BYTES // per_image)
    parts = [_image_metrics(x[i:i + chunk], recon[i:i + chunk]) for i in range(0, len(x), chunk)]
    return {key: float(torch.cat([part[key] for part in parts]).mean())
            for key in ("mse", "psnr", "ssim")}


def _image_metrics(x: torch.Tensor, recon: torch.Tensor) -> dict[str, torch.Tensor]:
    """Per image: MSE, PSNR and SSIM in [0, 1]."""
    from torchmetrics.functional.image import (
        peak_signal_noise_ratio,
        structural_similarity_index_measure,
    )

    a, b = (x.double() + 1) / 2, ((recon.double() + 1) / 2).clamp(0, 1)
    psnr = peak_signal_noise_ratio(b, a, data_range=1.0, reduction="none", dim=(1, 2, 3))
    # SSIM's Gaussian filtering runs in float32: in float64 on a CPU torchmetrics' convolution
    # unfolds every window (5 N C k^2 H W values: 32 GB for 100 images of 3x256x256) and is
    # ~10x slower; float32 agrees to about 1e-7.
    ssim = structural_similarity_index_measure(b.float(), a.float(), data_range=1.0,
                                               kernel_size=ssim_window(*a.shape[-2:]),
                                               reduction="none").reshape(-1).double()
    return {"mse": (b - a).pow(2).flatten(1).mean(1), "psnr": psnr.clamp(max=PSNR_CAP_DB),
            "ssim": ssim}
