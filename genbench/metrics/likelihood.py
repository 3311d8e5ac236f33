"""Negative log-likelihood and bits per dimension of a held-out split.

The conventions (8-bit binning, uniform dequantisation for density models, the bound reported
for latent-variable models) are in :mod:`genbench.likelihood` and docs/metrics.md.
"""

from __future__ import annotations

import torch

from genbench import likelihood as lk

# The bound reported as ``nll``/``bpd``: the exact value when a model has it, else the
# tightest bound it gives.
PREFERENCE = ("exact", "iwae", "elbo")


def split_log_likelihoods(model, x: torch.Tensor, y: torch.Tensor | None, images: bool,
                          k: int, seed: int, device, chunk: int = 256) -> dict[str, torch.Tensor]:
    """Per-example log P(x) in nats for each bound the model gives, on the conventions of
    :mod:`genbench.likelihood` (``x`` already at the model's input size)."""
    gen = torch.Generator().manual_seed(seed)
    offset = 0.0
    if images:
        bins = lk.to_bins(x)
        if getattr(model, "likelihood", "density") == "discrete":
            x = lk.bin_centres(bins)
        else:
            x = lk.dequantize(bins, gen)
            offset = lk.dims(x) * lk.LOG_BIN_WIDTH
    parts: dict[str, list[torch.Tensor]] = {}
    with torch.no_grad():
        for i in range(0, len(x), chunk):
            xb = x[i:i + chunk].to(device)
            yb = None if y is None else y[i:i + chunk].to(device)
            out = model.log_likelihood(xb, yb, k=k, generator=gen)
            for key, value in out.items():
                if value.shape != (len(xb),):
                    raise ValueError(f"log_likelihood gave {key!r} of shape "
                                     f"{tuple(value.shape)}, expected ({len(xb)},)")
                parts.setdefault(key, []).append(value.detach().double().cpu())
    values = {key: torch.cat(chunks) + offset for key, chunks in parts.items()}
    for key, value in values.items():
        if not torch.isfinite(value).all():
            raise ValueError(f"the model's {key} log-likelihoods contain NaN or inf")
    return values


def likelihood_metrics(values: dict[str, torch.Tensor], d: int) -> dict[str, float]:
    """``nll`` (nats per example) and ``bpd`` from the preferred bound; latent-variable models
    also report their ELBO as ``nll_elbo`` / ``bpd_elbo``."""
    best = next((key for key in PREFERENCE if key in values), None)
    if best is None:
        return {}
    out = {}
    for name, key in (("", best), ("_elbo", "elbo" if best != "elbo" else None)):
        if key is None or key not in values:
            continue
        nll = float(-values[key].mean())
        out[f"nll{name}"] = nll
        out[f"bpd{name}"] = float(lk.bits_per_dim(nll, d))
    return out
