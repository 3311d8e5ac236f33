"""Scoring generated samples against a reference with the registered metrics.

Every feature-space metric is computed in the run's extractor space unless the metric names its
own (NDB bins raw pixels; stacked-digits modes need the evaluator). Reference features come from
the on-disk cache; generated ones are computed once per extractor and shared by all metrics.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import torch

from genbench.data.base import TensorData
from genbench.errors import DivergedError, GenbenchError
from genbench.features.base import Extractor, ExtractorContext, Features
from genbench.features.cache import split_features
from genbench.registry import DatasetSpec, MetricSpec, Registry, load_object
from genbench.results.record import MetricValue

Report = Callable[[str, int], None]


@dataclass
class MetricContext:
    """What a metric's ``compute`` receives."""

    dataset: DatasetSpec | None
    real: TensorData | None
    fake: torch.Tensor | None
    real_features: Features | None = None
    fake_features: Features | None = None
    extractor: str | None = None
    device: torch.device = torch.device("cpu")
    options: dict[str, Any] = field(default_factory=dict)
    # For metrics that ``require`` a model capability: the trained model and the shape of the
    # data it was trained on ((C, H, W) can differ from the dataset's native size).
    model: Any = None
    model_shape: tuple[int, ...] | None = None
    # What a metric wants recorded about how it was computed (an anomaly protocol's test
    # counts...): gathered into the run record's ``evaluation``.
    notes: dict[str, Any] = field(default_factory=dict)
    artifacts: dict[str, Any] = field(default_factory=dict)  # tensors for pictures, not stored
    # What a metric computes once of the reference and reuses for the bootstrap's resamples
    # (which share this dict): valid for this context's real features only.
    cache: dict[str, Any] = field(default_factory=dict)
    # For metrics that ``require`` "pairs": the (x_A, x_B) pairs the run's samples came from,
    # and the Scorer, whose extractors and cached reference features they share.
    pairs: tuple[torch.Tensor, torch.Tensor] | None = None
    scorer: Any = None


# --- the builtin metrics' compute functions -------------------------------------------------

def compute_modes(ctx: MetricContext) -> dict[str, float]:
    from genbench.metrics.modes2d import mode_metrics

    return mode_metrics(ctx.fake, ctx.real.meta["modes"], ctx.real.meta["std"])


def compute_fd(ctx: MetricContext) -> dict[str, float]:
    from genbench.metrics.frechet import FrechetReference

    # The reference's factor once, not once per bootstrap resample.
    reference = ctx.cache.get("frechet")
    if reference is None:
        # float64 on the run's device: a GPU does the 2,048-d products in milliseconds.
        reference = ctx.cache["frechet"] = FrechetReference(
            ctx.real_features.features.to(ctx.device))
    return {"FD": reference.distance(ctx.fake_features.features)}


def compute_kid(ctx: MetricContext) -> dict[str, float]:
    from genbench.metrics.kid import kid

    # float64 on the run's device: 100 subsets of 1,000 x 2,048 products are about 1.2 TFLOP,
    # tens of seconds on a CPU and tens of milliseconds on a GPU.
    real = ctx.real_features.features.to(ctx.device)
    fake = ctx.fake_features.features.to(ctx.device)
    smaller = min(len(real), len(fake))
    size = min(ctx.options.get("kid_subset_size", 1000), smaller)
    if size == smaller:  # every subset would be the whole set, and the spread meaningless
        size = max(2, smaller // 2)
    return kid(real, fake, subsets=ctx.options.get("kid_subsets", 100), subset_size=size)


def compute_is(ctx: MetricContext) -> dict[str, float]:
    from genbench.metrics.inception_score import inception_score

    logits = ctx.fake_features.logits
    # 10 splits as is standard; fewer only when there are fewer than 10 samples.
    return inception_score(logits, splits=min(ctx.options.get("is_splits", 10), len(logits)))


def compute_prdc(ctx: MetricContext) -> dict[str, float]:
    from genbench.metrics.prdc import prdc

    real = ctx.real_features.features.to(ctx.device)
    fake = ctx.fake_features.features.to(ctx.device)
    k = ctx.options.get("k")
    # Defaults of the papers: k=3 for precision/recall, k=5 for density/coverage; --k sets both.
    return prdc(real, fake, k=k or 5, k_pr=k or 3)


def compute_stacked_modes(ctx: MetricContext) -> dict[str, float]:
    from genbench.metrics.stacked import stacked_mode_metrics

    logits = ctx.fake_features.logits
    if logits is None or logits.dim() != 3:
        raise ValueError("stacked modes need per-channel classifier logits (the evaluator)")
    return stacked_mode_metrics(logits.argmax(-1), classes=logits.shape[-1])


def compute_ndb(ctx: MetricContext) -> dict[str, float]:
    from genbench.metrics.ndb import ndb

    return ndb(ctx.real_features.features, ctx.fake_features.features,
               seed=ctx.options.get("seed", 0))


def _model_inputs(ctx: MetricContext) -> torch.Tensor:
    """The reference split at the size the model was trained on."""
    from genbench.data.base import resize_images

    x = ctx.real.x
    if x.dim() == 4 and ctx.model_shape and tuple(x.shape[1:]) != tuple(ctx.model_shape):
        x = resize_images(x, ctx.model_shape[-1])
    return x


def compute_reconstruction(ctx: MetricContext) -> dict[str, float]:
    from genbench.data.base import images_per_pass, resize_images
    from genbench.metrics.reconstruction import reconstruction_metrics

    x, xin, y = ctx.real.x, _model_inputs(ctx), ctx.real.y
    chunk = images_per_pass(tuple(xin.shape[1:]))
    with torch.no_grad():
        recon = torch.cat([
            ctx.model.reconstruct(xin[i:i + chunk].to(ctx.device),
                                  None if y is None else y[i:i + chunk].to(ctx.device))
            .float().cpu() for i in range(0, len(xin), chunk)])
    if x.dim() == 4 and recon.dim() == 4 and recon.shape[1:] != x.shape[1:]:
        recon = resize_images(recon, x.shape[-1])
    return reconstruction_metrics(x, recon, images=x.dim() == 4)


def compute_translation(ctx: MetricContext) -> dict[str, float]:
    """Translations against the known true translations of the same test images."""
    from genbench.metrics.reconstruction import reconstruction_metrics

    if not ctx.real.meta.get("aligned") or ctx.fake.shape != ctx.real.x.shape:
        return {}
    out = reconstruction_metrics(ctx.real.x, ctx.fake, images=True)
    l1 = float(((ctx.fake.double().clamp(-1, 1) - ctx.real.x.double()).abs() / 2).mean())
    return {"l1": l1, "psnr": out["psnr"], "ssim": out["ssim"]}


def compute_superres(ctx: MetricContext) -> dict[str, float]:
    """SR outputs against the HR test images (Y-channel PSNR/SSIM, border cropped; L1)."""
    from genbench.metrics.superres import superres_metrics

    if ctx.fake is None or ctx.fake.shape != ctx.real.x.shape:
        return {}
    return superres_metrics(ctx.real.x, ctx.fake, int(ctx.real.meta.get("scale", 4)))


def compute_inpaint(ctx: MetricContext) -> dict[str, float]:
    """Completed images against the originals, on the hole only (L1, L2, PSNR, SSIM)."""
    from genbench.metrics.inpaint import inpaint_metrics

    if ctx.fake is None or ctx.fake.shape != ctx.real.x.shape:
        return {}
    return inpaint_metrics(ctx.real.x, ctx.fake)


def anomaly_scores(ctx: MetricContext) -> tuple[torch.Tensor, str]:
    """Per test example, higher = more anomalous: the model's own ``anomaly_score`` (given the
    whole split at once, so a latent search can run batched on the device), or else its
    reconstruction error (mean squared, at the size the model was trained on). Conditional
    models reconstruct as the normal class when there is exactly one."""
    x = _model_inputs(ctx)
    if callable(getattr(ctx.model, "anomaly_score", None)):
        described = getattr(ctx.model, "anomaly_score_description", None)
        return ctx.model.anomaly_score(x.to(ctx.device)).detach().float().cpu(), \
            described if isinstance(described, str) and described \
            else "the model's anomaly_score()"
    normal = ctx.real.meta.get("normal_classes", [])
    labels = torch.full((len(x),), normal[0], dtype=torch.long) if len(normal) == 1 else None
    chunk, scores = 500, []
    with torch.no_grad():
        for i in range(0, len(x), chunk):
            xb = x[i:i + chunk].to(ctx.device)
            yb = None if labels is None else labels[i:i + chunk].to(ctx.device)
            recon = ctx.model.reconstruct(xb, yb).float()
            scores.append((recon - xb.float()).pow(2).flatten(1).mean(1).cpu())
    return torch.cat(scores), "reconstruction error (per-example MSE)"


def compute_anomaly(ctx: MetricContext) -> dict[str, float]:
    """AUROC and AUPRC of the anomaly scores, anomalies (classes outside
    ``meta["normal_classes"]``) being the positive class."""
    from torchmetrics.functional.classification import binary_auroc, binary_average_precision

    normal = ctx.real.meta.get("normal_classes")
    if normal is None or ctx.real.y is None:
        raise ValueError("needs a protocol dataset with normal classes (e.g. digits-oneclass:K)")
    scores, source = anomaly_scores(ctx)
    if scores.shape != (len(ctx.real),):
        raise ValueError(f"anomaly scores have shape {tuple(scores.shape)}, expected "
                         f"({len(ctx.real)},)")
    if not torch.isfinite(scores).all():
        raise DivergedError("the model gave NaN or infinite anomaly scores")
    target = (~torch.isin(ctx.real.y, torch.tensor(normal))).long()
    # torchmetrics reads scores outside [0, 1] as logits and squashes them with a sigmoid,
    # which saturates for large scores (AnoGAN's losses are in the hundreds): rescale to
    # [0, 1] in float64 first, which keeps the order and the ties.
    low, high = scores.double().min(), scores.double().max()
    unit = (scores.double() - low) / (high - low) if high > low else scores.double() * 0
    ctx.artifacts.update({"anomaly_scores": scores, "anomaly_target": target})
    ctx.notes.update({"protocol": ctx.real.meta.get("protocol", ""), "normal_classes": normal,
                      "test_normal": int((target == 0).sum()),
                      "test_anomalous": int(target.sum()), "score": source})
    return {"auroc": float(binary_auroc(unit, target)),
            "auprc": float(binary_average_precision(unit, target))}


def compute_likelihood(ctx: MetricContext) -> dict[str, float]:
    from genbench.likelihood import dims
    from genbench.metrics.likelihood import likelihood_metrics, split_log_likelihoods

    x, xin = ctx.real.x, _model_inputs(ctx)
    images = x.dim() == 4
    k = int(ctx.options.get("iwae_k") or 64)
    values = split_log_likelihoods(ctx.model, xin, ctx.real.y, images, k=k,
                                   seed=ctx.options.get("seed", 0), device=ctx.device)
    out = likelihood_metrics(values, dims(xin))
    # Numbers on other terms than the standard ones never share a column with them.
    suffix = ""
    if images and xin.shape != x.shape:
        suffix += f"@{xin.shape[-2]}x{xin.shape[-1]}"
    if k != 64 and "iwae" in values:
        suffix += f"@k{k}"
    return {f"{key}{suffix}": value for key, value in out.items()}


def _pairs_and_test(ctx: MetricContext) -> tuple[torch.Tensor, torch.Tensor, TensorData]:
    """The run's generated pairs at the test split's size, and the test split (x = domain A,
    target = domain B)."""
    from genbench.data.base import resize_images

    if ctx.pairs is None:
        raise ValueError("needs the pairs a coupled model generated")
    test = ctx.dataset.load(ctx.dataset.eval_split, root=ctx.options.get("data_root"))
    if test.target is None:
        raise ValueError(f"dataset {ctx.dataset.name!r} has no second domain")
    fake_a, fake_b = ctx.pairs
    if fake_a.shape[1:] != test.x.shape[1:]:
        fake_a = resize_images(fake_a, test.x.shape[-1])
    if fake_b.shape[1:] != test.target.shape[1:]:
        fake_b = resize_images(fake_b, test.target.shape[-1])
    return fake_a, fake_b, test


def compute_domain_fd(ctx: MetricContext) -> dict[str, float]:
    """FD of each domain's generated images to that domain's test images, in the run's
    feature space (the reference features are the ones the sample metrics use)."""
    from genbench.metrics.frechet import FrechetReference

    fake_a, fake_b, test = _pairs_and_test(ctx)
    scorer = ctx.scorer
    if ctx.extractor == "raw":
        from genbench.features.raw import too_wide

        why = too_wide(tuple(test.x.shape[1:])) or too_wide(tuple(test.target.shape[1:]))
        if why:  # raw vectors too wide for a feature space: not computed, said why
            ctx.notes["domain_fd"] = f"not computed: {why}"
            return {}
    ex = scorer.extractor(ctx.extractor)
    out = {}
    for domain, name, real, fake in (("A", test.name, test.x, fake_a),
                                     ("B", f"{test.name}-B", test.target, fake_b)):
        ref, _ = split_features(ex, name, test.split, real, scorer.workdir)
        reference = FrechetReference(ref.features.to(ctx.device))
        out[f"FD_{domain}"] = reference.distance(ex(fake).features)
    return out


def compute_pair_agreement(ctx: MetricContext) -> dict[str, float]:
    """The fraction of generated pairs whose two images the dataset's evaluator (the
    classifier of its ``evaluator_from`` dataset) puts in the same class. Each domain is read
    by the evaluator through the dataset's ``meta["evaluator_readers"]`` ("module:function"
    mapping that domain's images to the evaluator's input, None for as they are). The chance
    level (the agreement of independent draws with the same class frequencies) is noted."""
    from genbench.features.evaluator import make_evaluator

    fake_a, fake_b, test = _pairs_and_test(ctx)
    readers = test.meta.get("evaluator_readers")
    if not ctx.dataset.evaluator_from or readers is None:
        raise ValueError(f"dataset {ctx.dataset.name!r} names no classifier that reads both "
                         f"domains (evaluator_from and meta['evaluator_readers'])")
    scorer = ctx.scorer
    key = f"pair-evaluator:{ctx.dataset.name}"
    if key not in scorer.extractors:  # trained once per workdir, as every evaluator
        scorer.extractors[key] = make_evaluator(ExtractorContext(
            ctx.dataset, ctx.device, scorer.workdir, ctx.options, 0, progress=scorer.progress))
    ex = scorer.extractors[key]

    def classes(images: torch.Tensor, reader: str | None) -> torch.Tensor:
        if reader:
            images = load_object(reader)(images)
        return ex(images).logits.argmax(-1)

    pred_a, pred_b = classes(fake_a, readers[0]), classes(fake_b, readers[1])
    agreement = (pred_a == pred_b).double().mean().item()
    k = ex(test.x[:2]).logits.shape[-1]
    freq_a = torch.bincount(pred_a, minlength=k).double() / len(pred_a)
    freq_b = torch.bincount(pred_b, minlength=k).double() / len(pred_b)
    ctx.notes["pair_agreement"] = {
        "classifier": ex.key, "classifier_accuracy": ex.info.get("accuracy"),
        "classifier_dataset": ex.info.get("dataset"), "readers": list(readers),
        "pairs": len(pred_a), "chance": round(float((freq_a * freq_b).sum()), 6)}
    return {"pair_agreement": agreement}


# --- selection and scoring ------------------------------------------------------------------

def effective_capabilities(capabilities) -> tuple[str, ...]:
    """A model that reconstructs can also score anomalies (by its reconstruction error)."""
    capabilities = tuple(capabilities)
    if "reconstruct" in capabilities and "anomaly_score" not in capabilities:
        capabilities += ("anomaly_score",)
    return capabilities


def select_metrics(metrics: Registry[MetricSpec], dataset: DatasetSpec,
                   names: list[str] | None, capabilities: tuple[str, ...] = (),
                   model: str = "") -> list[MetricSpec]:
    """The metrics to compute: those named (each must apply), or every one that applies to the
    dataset and whose required capabilities the model has."""
    capabilities = effective_capabilities(capabilities)

    def has(spec: MetricSpec) -> bool:
        return set(spec.requires) <= set(capabilities)

    if not names:
        chosen = [m for m in metrics if m.applies(dataset) and has(m)]
        if "anomaly" in dataset.traits:
            # A test split full of anomalies is no reference for sample quality: on a protocol
            # dataset only the anomaly metrics run unless others are asked for by name.
            chosen = [m for m in chosen if "anomaly_score" in m.requires]
        return chosen
    chosen = []
    for name in names:
        spec = metrics.get(name)
        if not spec.applies(dataset):
            raise GenbenchError(f"metric {name!r} does not apply to dataset {dataset.name!r}")
        if not has(spec):
            who = f"model {model!r}" if model else "this model"
            raise GenbenchError(f"metric {name!r} needs a model that can "
                                f"{' and '.join(spec.requires)}; {who} cannot")
        chosen.append(spec)
    return chosen


# Resamples of the generated set behind a single run's interval (``--bootstrap``; 0 disables):
# fewer in wide feature spaces, where each Frechet distance costs seconds on a CPU.
BOOTSTRAP_ROUNDS, BOOTSTRAP_ROUNDS_WIDE, WIDE = 100, 10, 512


def bootstrap_rounds(ctx: MetricContext, requested: int | None) -> int:
    if requested is not None:
        return requested
    wide = ctx.fake_features is not None and ctx.fake_features.features.shape[1] > WIDE
    return BOOTSTRAP_ROUNDS_WIDE if wide else BOOTSTRAP_ROUNDS


def bootstrap_se(compute, ctx: MetricContext, rounds: int, seed: int) -> dict[str, float]:
    """Standard error of each output of ``compute`` over ``rounds`` resamples (with
    replacement) of the generated samples, the reference held fixed. The interval recorded is
    value ± 1.96 SE (the normal bootstrap interval): the spread that comes from drawing a finite
    set of samples from the model, which is what a single seed cannot otherwise show."""
    gen = torch.Generator().manual_seed(seed + 7919)
    n = len(ctx.fake if ctx.fake is not None else ctx.fake_features.features)
    draws: dict[str, list[float]] = {}
    for _ in range(rounds):
        idx = torch.randint(n, (n,), generator=gen)
        fake_features = None
        if ctx.fake_features is not None:
            logits = ctx.fake_features.logits
            fake_features = Features(ctx.fake_features.features[idx],
                                     None if logits is None else logits[idx])
        resampled = replace(ctx, fake=None if ctx.fake is None else ctx.fake[idx],
                            fake_features=fake_features)
        for key, value in compute(resampled).items():
            draws.setdefault(key, []).append(float(value))
    return {key: float(torch.tensor(v, dtype=torch.float64).std()) for key, v in draws.items()}


def metric_name(output: str, extractor: str | None) -> str:
    """``FD[evaluator]``, ``precision[raw]``...; the Fréchet distance on Inception is ``FID``."""
    if extractor is None:
        return output
    if extractor == "inception-v3" and output == "FD":
        return "FID"
    return f"{output}[{extractor}]"


class Scorer:
    """Builds each needed extractor once and caches the reference side's features."""

    def __init__(self, dataset: DatasetSpec | None, device: torch.device, workdir: Path,
                 options: dict[str, Any] | None = None, seed: int = 0,
                 progress: Callable[[str, int, int], None] | None = None):
        from genbench.plugins import get_registries

        self.registries = get_registries()
        self.dataset, self.device, self.workdir = dataset, device, Path(workdir)
        self.options = options or {}
        self.seed = seed
        self.progress = progress  # what extractors report while they build (the evaluator)
        self.extractors: dict[str, Extractor] = {}
        self.notes: dict[str, Any] = {}  # the metrics' notes from the last score()
        self.artifacts: dict[str, Any] = {}  # and their tensors (anomaly scores...) for plots

    def extractor(self, name: str) -> Extractor:
        if name not in self.extractors:
            spec = self.registries.extractors.get(name)
            if self.dataset is not None and not spec.applies(self.dataset):
                raise GenbenchError(f"extractor {name!r} does not apply to dataset "
                                    f"{self.dataset.name!r}")
            ctx = ExtractorContext(self.dataset, self.device, self.workdir, self.options,
                                   self.seed, progress=self.progress)
            self.extractors[name] = load_object(spec.factory)(ctx)
        return self.extractors[name]

    def score(self, real: TensorData, fake: torch.Tensor, metrics: list[MetricSpec],
              extractor_name: str, explicit: bool = False,
              report: Report | None = None, model=None,
              model_shape: tuple[int, ...] | None = None,
              bootstrap: bool = True,
              pairs: tuple[torch.Tensor, torch.Tensor] | None = None) -> list[MetricValue]:
        """Compute ``metrics``; raises DivergedError if the samples are not finite. ``fake``
        is None for a model that does not sample: only its capability metrics are computed.
        ``bootstrap=False`` skips the single-run intervals (evaluations during training).
        ``pairs``: a coupled model's (x_A, x_B), for the metrics that require "pairs"."""
        if fake is not None and not torch.isfinite(fake).all():
            raise DivergedError("the model produced NaN or inf samples")
        if fake is not None and (fake.dim() != real.x.dim() or fake.shape[1] != real.x.shape[1]):
            raise GenbenchError(f"samples have shape {tuple(fake.shape[1:])}, which does not "
                                f"match dataset {real.name!r} ({tuple(real.x.shape[1:])})")
        features: dict[str, tuple[Features, Features]] = {}
        values = []
        self.notes, self.artifacts = {}, {}
        not_computed: dict[str, str] = {}  # metric output -> why, one line
        for done, spec in enumerate(metrics):
            if report:
                report(spec.name, done)
            space = (spec.extractor or extractor_name) if spec.uses_features else None
            ctx = MetricContext(self.dataset, real, fake, extractor=space, device=self.device,
                                options={**self.options, "seed": self.seed})
            if spec.requires:
                if model is None:
                    continue
                ctx.model, ctx.model_shape = model, model_shape
                ctx.pairs, ctx.scorer = pairs, self
                # Scores the translations or the pairs: as many as the outputs.
                uses_outputs = bool({"translate", "pairs"} & set(spec.requires))
                values += self._compute(spec, ctx, len(real),
                                        fake.shape[0] if uses_outputs else 0, bootstrap)
                self.notes.update(ctx.notes)
                self.artifacts.update(ctx.artifacts)
                continue
            if fake is None:  # a model that does not sample (e.g. GANomaly)
                if explicit:
                    raise GenbenchError(f"metric {spec.name!r} scores samples, and this model "
                                        f"does not sample")
                continue
            if space is not None:
                space, why = self._usable_space(spec, space, real)
                if why:
                    if not spec.requires_logits:  # raw vectors have no logits to begin with
                        not_computed.update({metric_name(key, space): why
                                             for key in spec.outputs})
                    elif explicit:
                        raise GenbenchError(f"metric {spec.name!r} needs classifier logits, "
                                            f"which the {space!r} extractor does not give")
                    continue
                ctx.extractor = space
                if space not in features:
                    ex = self.extractor(space)
                    ref, _ = split_features(ex, real.name, real.split, real.x, self.workdir,
                                            what=real.meta.get("what"))
                    # Features of tens of thousands of samples take minutes on a CPU.
                    features[space] = (ref, ex(fake, progress=report and (
                        lambda d, t, name=f"{spec.name}: {space}", i=done: report(
                            f"{name} features of {d:,}/{t:,}", i))))
                ctx.real_features, ctx.fake_features = features[space]
                logits = ctx.fake_features.logits
                if spec.requires_logits and (logits is None or logits.dim() != 2):
                    if explicit:
                        raise GenbenchError(f"metric {spec.name!r} needs classifier logits, "
                                            f"which the {space!r} extractor does not give")
                    continue
            values += self._compute(spec, ctx, len(real), fake.shape[0], bootstrap)
        if not_computed:
            self.notes["not_computed"] = not_computed
        self._mark_variants(values)
        if report:
            report("done", len(metrics))
        return values

    def space_label(self, name: str) -> str:
        """How a feature space is named in records: ``inception-v3``, or ``inception-v3@bf16``
        for features computed under other terms than the standard ones."""
        ex = self.extractors.get(name)
        return f"{name}@{ex.variant}" if ex is not None and ex.variant else name

    def _mark_variants(self, values: list[MetricValue]) -> None:
        """Metrics in a space with a variant (bf16 Inception) carry it in their name and
        extractor, and the evaluation notes say how their features were computed."""
        for value in values:
            label = self.space_label(value.extractor) if value.extractor else None
            if label and label != value.extractor:
                ex = self.extractors[value.extractor]
                value.name, value.extractor = f"{value.name}@{ex.variant}", label
                self.notes.setdefault("features", {})[label] = ex.info.get(
                    "features", f"{ex.name} features in {ex.variant}")

    def _usable_space(self, spec: MetricSpec, space: str, real: TensorData
                      ) -> tuple[str, str | None]:
        """The space ``spec`` can be computed in, and why it cannot (None if it can).

        Raw vectors past :data:`genbench.features.raw.RAW_MAX_DIM` dimensions are no feature
        space (memory, and meaning): a metric in the run's default space moves to Inception-v3
        when its weights are at hand, otherwise it is not computed. A space the user chose
        (``--extractor raw``) or the metric's own (NDB's raw bins) is never swapped.
        """
        if space != "raw":
            return space, None
        from genbench.features.raw import too_wide

        why = too_wide(tuple(real.x.shape[1:]))
        if why is None:
            return space, None
        if spec.extractor is None and not self.options.get("extractor_explicit"):
            from genbench.features.inception import available_weights

            if available_weights(self.options.get("inception_weights")) is not None:
                return "inception-v3", None
        return space, why

    def _compute(self, spec: MetricSpec, ctx: MetricContext, n_real: int,
                 n_fake: int, bootstrap: bool = True) -> list[MetricValue]:
        compute = load_object(spec.compute)
        try:
            out = compute(ctx)
            rounds = bootstrap_rounds(ctx, self.options.get("bootstrap"))
            spread = (bootstrap_se(compute, ctx, rounds, self.seed)
                      if bootstrap and spec.bootstrap and n_fake > 1 and rounds > 1 else {})
        except ValueError as exc:
            from genbench.plugins import culprit

            # A ValueError from a model's code (its log_likelihood, say) is that plugin's
            # failure, reported as such by the caller; one from the metric is the metric's.
            blamed = culprit(exc)
            if blamed is not None and blamed.name != self.registries.metrics.owners.get(
                    spec.name):
                raise
            raise GenbenchError(f"metric {spec.name}: {exc}") from None
        values = []
        for key, value in out.items():
            se = spread.get(key)
            half = None if se is None else 1.96 * se
            values.append(MetricValue(
                name=metric_name(key, ctx.extractor), value=float(value),
                higher_is_better=spec.outputs[key.split("@")[0]], metric=spec.name,
                extractor=ctx.extractor, n_real=n_real, n_fake=n_fake,
                ci_low=None if half is None else float(value) - half,
                ci_high=None if half is None else float(value) + half))
        return values

    def extractor_info(self) -> dict[str, dict]:
        return {self.space_label(name): {"key": ex.key, **ex.info}
                for name, ex in self.extractors.items()}
