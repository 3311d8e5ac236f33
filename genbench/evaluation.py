"""Scoring generated samples against a reference split with the registered metrics."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from genbench.data.base import TensorData
from genbench.errors import DivergedError, GenbenchError
from genbench.registry import DatasetSpec, ExtractorSpec, MetricSpec, Registry, load_object
from genbench.results.record import MetricValue

FEATURE_BATCH = 512


@dataclass
class MetricContext:
    """What a metric's ``compute`` receives."""

    dataset: DatasetSpec
    real: TensorData
    fake: torch.Tensor
    real_features: torch.Tensor | None = None
    fake_features: torch.Tensor | None = None
    extractor: str | None = None
    device: torch.device = torch.device("cpu")


def compute_modes(ctx: MetricContext) -> dict[str, float]:
    from genbench.metrics.modes2d import mode_metrics

    return mode_metrics(ctx.fake, ctx.real.meta["modes"], ctx.real.meta["std"])


def compute_fd(ctx: MetricContext) -> dict[str, float]:
    from genbench.metrics.frechet import frechet_distance

    return {"FD": frechet_distance(ctx.real_features, ctx.fake_features)}


def compute_prdc(ctx: MetricContext) -> dict[str, float]:
    from genbench.metrics.prdc import density_coverage, precision_recall

    real = ctx.real_features.to(ctx.device)
    fake = ctx.fake_features.to(ctx.device)
    return {**precision_recall(real, fake, k=3), **density_coverage(real, fake, k=5)}


def select_metrics(metrics: Registry[MetricSpec], dataset: DatasetSpec,
                   names: list[str] | None) -> list[MetricSpec]:
    """The metrics to compute: those named (each must apply), or every one that applies."""
    if not names:
        return [m for m in metrics if m.applies(dataset)]
    chosen = []
    for name in names:
        spec = metrics.get(name)
        if not spec.applies(dataset):
            raise GenbenchError(f"metric {name!r} does not apply to dataset {dataset.name!r}")
        chosen.append(spec)
    return chosen


@torch.no_grad()
def extract(extractor, x: torch.Tensor, device: torch.device) -> torch.Tensor:
    parts = [extractor(x[i:i + FEATURE_BATCH].to(device)).cpu()
             for i in range(0, x.shape[0], FEATURE_BATCH)]
    return torch.cat(parts)


def score(dataset: DatasetSpec, real: TensorData, fake: torch.Tensor, metrics: list[MetricSpec],
          extractor: ExtractorSpec, device: torch.device,
          report: Callable[[str, int], None] | None = None) -> list[MetricValue]:
    """Compute every metric in ``metrics``; raises DivergedError if the samples are not finite."""
    if not torch.isfinite(fake).all():
        raise DivergedError("the model produced NaN or inf samples")
    expected = tuple(real.x.shape[1:2]) if dataset.kind == "images" else tuple(real.x.shape[1:])
    if tuple(fake.shape[1:len(expected) + 1]) != expected:
        raise GenbenchError(f"samples have shape {tuple(fake.shape[1:])}, which does not match "
                            f"dataset {dataset.name!r} ({tuple(real.x.shape[1:])})")
    ctx = MetricContext(dataset, real, fake, device=device)
    if any(m.uses_features for m in metrics):
        fn = load_object(extractor.factory)(dataset, device)
        ctx.real_features = extract(fn, real.x, device)
        ctx.fake_features = extract(fn, fake, device)
        ctx.extractor = extractor.name
    values = []
    for done, spec in enumerate(metrics):
        if report:
            report(spec.name, done)
        try:
            out = load_object(spec.compute)(ctx)
        except ValueError as exc:
            raise GenbenchError(f"metric {spec.name}: {exc}") from None
        for key, value in out.items():
            name = f"{key}[{extractor.name}]" if spec.uses_features else key
            values.append(MetricValue(
                name=name, value=float(value), higher_is_better=spec.outputs[key],
                metric=spec.name, extractor=extractor.name if spec.uses_features else None,
                n_real=len(real), n_fake=fake.shape[0]))
    if report:
        report("done", len(metrics))
    return values
