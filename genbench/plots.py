"""Pictures of a run: sample grids, 2-D scatter plots against the data, training curves."""

from __future__ import annotations

from pathlib import Path

import torch

from genbench.atomic import atomic_write


def image_grid(images: torch.Tensor, path: Path, nrow: int = 8, min_cell: int = 64) -> Path:
    """Save images in [-1, 1] as a grid, enlarging tiny images (nearest) so they can be seen."""
    from torchvision.utils import save_image

    images = images.detach().float().cpu()
    scale = max(1, min_cell // images.shape[-1])
    if scale > 1:
        images = torch.nn.functional.interpolate(images, scale_factor=scale, mode="nearest")
    grid_images = (images.clamp(-1, 1) + 1) / 2
    return atomic_write(path, lambda tmp: save_image(grid_images, tmp, nrow=nrow, padding=2,
                                                pad_value=1.0, format="png"))


def _figure(width: float = 5.0, height: float = 5.0):
    from matplotlib.figure import Figure  # no pyplot: no global state, no GUI backend

    return Figure(figsize=(width, height), dpi=110, layout="constrained")


def scatter(fake: torch.Tensor, real: torch.Tensor, path: Path, title: str,
            modes: torch.Tensor | None = None) -> Path:
    fig = _figure()
    ax = fig.add_subplot()
    ax.scatter(real[:, 0], real[:, 1], s=2, c="0.75", label="data", rasterized=True)
    ax.scatter(fake[:, 0], fake[:, 1], s=2, c="tab:blue", alpha=0.6, label="generated",
               rasterized=True)
    if modes is not None:
        ax.scatter(modes[:, 0], modes[:, 1], marker="x", c="tab:red", s=40, label="modes")
    ax.set_aspect("equal")
    ax.set_title(title, fontsize=10)
    ax.legend(loc="upper right", fontsize=8, markerscale=3)
    return atomic_write(path, lambda tmp: fig.savefig(tmp, format="png"))


def loss_curves(history: dict[str, list[float]], path: Path, title: str) -> Path:
    keys = [k for k in history if k != "step"]
    fig = _figure(7.0, 3.5)
    ax = fig.add_subplot()
    steps = history.get("step", [])
    for key in keys:
        values = torch.tensor(history[key], dtype=torch.float64)
        window = max(1, len(values) // 50)
        smooth = values.unfold(0, window, 1).mean(1) if len(values) >= window else values
        # NaN where a loss was not reported (before a later phase began): not drawn.
        ax.plot(steps[window - 1:len(values)], smooth.numpy(), label=key, linewidth=1)
    ax.set_xlabel("step")
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    if keys:
        ax.legend(fontsize=8)
    return atomic_write(path, lambda tmp: fig.savefig(tmp, format="png"))


def latent_scatter(codes: torch.Tensor, labels: torch.Tensor | None, path: Path,
                   title: str) -> Path:
    """A 2-D latent space: each encoded test example, coloured by its class."""
    fig = _figure()
    ax = fig.add_subplot()
    codes = codes.detach().float().cpu()
    if labels is None:
        ax.scatter(codes[:, 0], codes[:, 1], s=4, c="tab:blue", rasterized=True)
    else:
        classes = labels.cpu().unique().tolist()
        cmap = "tab10" if len(classes) <= 10 else "viridis"
        points = ax.scatter(codes[:, 0], codes[:, 1], s=4, c=labels.cpu().numpy(), cmap=cmap,
                            rasterized=True)
        if len(classes) <= 10:
            handles, names = points.legend_elements()
            ax.legend(handles, names, title="class", fontsize=7, loc="upper right")
        else:
            fig.colorbar(points, ax=ax, label="class")
    ax.set_xlabel("z[0]")
    ax.set_ylabel("z[1]")
    ax.set_title(title, fontsize=10)
    return atomic_write(path, lambda tmp: fig.savefig(tmp, format="png"))


def translation_grid(inputs: torch.Tensor, outputs: torch.Tensor, truth: torch.Tensor | None,
                     path: Path) -> Path:
    """One row per example: input | output | ground truth (when known), at the output's size;
    grey inputs are shown in colour channels when the outputs have three."""
    import torch.nn.functional as F

    size = outputs.shape[-1]
    columns = [inputs, outputs] + ([truth] if truth is not None else [])
    channels = max(c.shape[1] for c in columns)
    cells = []
    for images in columns:
        images = images.detach().float().cpu()
        if images.shape[-1] != size:
            images = F.interpolate(images, size=(size, size), mode="nearest")
        if images.shape[1] != channels:
            images = images.expand(-1, channels, -1, -1)
        cells.append(images)
    rows = torch.stack(cells, dim=1).flatten(0, 1)
    return image_grid(rows, path, nrow=len(columns))


def score_histogram(scores: torch.Tensor, anomalous: torch.Tensor, path: Path,
                    title: str) -> Path:
    """Anomaly scores of the normal and the anomalous test examples, overlaid."""
    fig = _figure(6.0, 3.5)
    ax = fig.add_subplot()
    scores = scores.double()
    bins = torch.linspace(float(scores.min()), float(scores.max()) + 1e-12, 41).numpy()
    for flag, label, colour in ((0, "normal", "tab:blue"), (1, "anomalous", "tab:red")):
        chosen = scores[anomalous == flag].numpy()
        ax.hist(chosen, bins=bins, alpha=0.55, color=colour,
                label=f"{label} ({len(chosen)})", density=True)
    ax.set_xlabel("anomaly score (higher = more anomalous)")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8)
    return atomic_write(path, lambda tmp: fig.savefig(tmp, format="png"))
