"""Super-resolution quality, on the protocol of Ledig et al. 2017 (SRGAN) and the SR literature.

Images in genbench's [-1, 1] are mapped to [0, 1]; the SR output is clamped to it. Then:

* the luma ``Y`` of RGB images, ITU-R BT.601 as MATLAB's ``rgb2ycbcr`` (the SR papers'
  evaluation code): ``Y = (16 + 65.481 R + 128.553 G + 24.966 B) / 255`` in [16/255, 235/255];
  one-channel images are Y already and are used as they are (full [0, 1]);
* a border of ``scale`` pixels is cropped on every side (the pixels bicubic and SR networks get
  wrong for want of neighbours, excluded by convention);
* PSNR (data range 1) and SSIM on that cropped Y, per image, averaged over images; PSNR is
  capped at 100 dB so an exact output stays finite. SSIM is torchmetrics': Gaussian window
  11x11, sigma 1.5, one window per pixel of the image reflect-padded by 5 (torchmetrics 1.9
  ignores ``kernel_size`` when the window is Gaussian). Wang et al.'s MATLAB code averages the
  valid windows only, so values differ from papers' in the third decimal on small images;
  tests/test_superres_data.py checks this against a numpy formula of the same convention;
* L1: mean absolute error over all channels of the same cropped images in [0, 1].
"""

from __future__ import annotations

import torch

from genbench.metrics.reconstruction import PSNR_CAP_DB, ssim_window

# BT.601 luma weights of 8-bit RGB, with the studio-swing offset: MATLAB's rgb2ycbcr.
Y_WEIGHTS = (65.481, 128.553, 24.966)
Y_OFFSET = 16.0
CHUNK = 256  # images per batch of SSIM filtering


def luma(images: torch.Tensor) -> torch.Tensor:
    """(N, C, H, W) in [0, 1] -> (N, 1, H, W): BT.601 Y of RGB, or the single channel."""
    if images.shape[1] == 1:
        return images
    if images.shape[1] != 3:
        raise ValueError(f"luma needs 1 or 3 channels, got {images.shape[1]}")
    weights = torch.tensor(Y_WEIGHTS, dtype=images.dtype, device=images.device).view(1, 3, 1, 1)
    return ((images * weights).sum(1, keepdim=True) + Y_OFFSET) / 255.0


def crop_border(images: torch.Tensor, border: int) -> torch.Tensor:
    """Drop ``border`` pixels on each side of (..., H, W) images."""
    if border <= 0:
        return images
    height, width = images.shape[-2:]
    if 2 * border >= min(height, width):
        raise ValueError(f"a border of {border} leaves nothing of {height}x{width} images")
    return images[..., border:height - border, border:width - border]


def superres_metrics(hr: torch.Tensor, sr: torch.Tensor, scale: int) -> dict[str, float]:
    """``hr`` (the truth) and ``sr`` (the model's output), (N, C, H, W) in [-1, 1]."""
    from torchmetrics.functional.image import (
        peak_signal_noise_ratio,
        structural_similarity_index_measure,
    )

    if hr.shape != sr.shape:
        raise ValueError(f"SR outputs have shape {tuple(sr.shape)}, the HR images "
                         f"{tuple(hr.shape)}")
    if not torch.isfinite(sr).all():
        raise ValueError("the SR outputs contain NaN or inf")
    truth = crop_border((hr.double() + 1) / 2, scale)
    out = crop_border(((sr.double() + 1) / 2).clamp(0, 1), scale)
    l1 = (out - truth).abs().flatten(1).mean(1)
    y_truth, y_out = luma(truth), luma(out)
    psnr = peak_signal_noise_ratio(y_out, y_truth, data_range=1.0, reduction="none",
                                   dim=(1, 2, 3)).clamp(max=PSNR_CAP_DB)
    window = ssim_window(*y_truth.shape[-2:])  # ignored by torchmetrics 1.9 (see above)
    # SSIM's filtering in float32, as genbench's reconstruction metric (float64 on a CPU is
    # ~10x slower and agrees to ~1e-7).
    ssim = torch.cat([
        structural_similarity_index_measure(y_out[i:i + CHUNK].float(),
                                            y_truth[i:i + CHUNK].float(), data_range=1.0,
                                            kernel_size=window, reduction="none").reshape(-1)
        for i in range(0, len(hr), CHUNK)]).double()
    return {"l1": float(l1.mean()), "psnr_y": float(psnr.mean()), "ssim_y": float(ssim.mean())}
