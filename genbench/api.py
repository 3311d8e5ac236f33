"""The Python API behind the CLI: ``run`` trains and scores, ``evaluate`` re-scores.

Both return a :class:`RunRecord` that is also stored in the workdir's SQLite store.
"""

from __future__ import annotations

import dataclasses
import difflib
import hashlib
import json
import os
import platform
import re
import secrets
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from genbench import contract
from genbench.atomic import hold_folder, output_folder, remove_leftovers, write_text
from genbench.config import check_seed, config_dict, resolve_config
from genbench.errors import DivergedError, GenbenchError
from genbench.plugins import blame_plugins, get_registries, plugin_error
from genbench.registry import ALIGNED_KINDS, DatasetSpec, ModelSpec, load_object
from genbench.results.publish import render
from genbench.results.record import RunRecord
from genbench.results.store import Store, inside, stored_run_dir

DEFAULT_WORKDIR = "genbench-work"
SAMPLE_CHUNK = 500
Progress = Callable[[int, int, dict[str, float]], None]
# Called as report(what, done, total) while a model is scored.
EvalProgress = Callable[[str, int, int], None]


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def prepare_workdir(workdir: str | Path) -> Path:
    path = Path(workdir)
    if path.exists() and not path.is_dir():
        raise GenbenchError(f"workdir {path} is a file, not a folder; pass --workdir DIR")
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as exc:
        raise GenbenchError(f"workdir {path} is not writable ({exc.strerror or exc}); "
                            f"pass --workdir DIR") from None
    return path


def own_run_dir(record: RunRecord, workdir: str | Path) -> Path:
    """The run's folder, to write in: genbench writes nowhere outside the workdir in use."""
    run_dir = Path(record.run_dir or "")
    if not record.run_dir or not inside(run_dir, workdir):
        raise GenbenchError(f"run {record.run_id}'s folder {record.run_dir or '(none)'} is "
                            f"outside the workdir {workdir} (an imported record?); use the "
                            f"workdir it belongs to, copy the folder into "
                            f"{Path(workdir) / 'runs'}, or pass --out DIR for pictures")
    return run_dir


def save_record(store: Store, record: RunRecord, run_dir: Path) -> None:
    """Store the record and write ``run_dir/record.json`` with it: the file on disk always
    says what the store says (``evaluate`` used to leave it stale)."""
    store.save(record)
    saved = {**record.to_dict(), "run_dir": stored_run_dir(record.run_dir, store.workdir)}
    write_text(run_dir / "record.json", json.dumps(saved, indent=2) + "\n")


def _folder_name(run_id: str) -> str:
    """A run id as a folder name: no path separators, no leading dots."""
    return re.sub(r"[^A-Za-z0-9._:-]+", "_", run_id).strip("_.") or "run"


def run_folder(store: Store, run_id: str) -> Path:
    """Where a trained run's pictures go: its stored folder, else ``runs/<run id>`` of the
    workdir (a checkpoint from elsewhere is never written beside)."""
    matches = store.query("run_id = ?", (run_id,))
    if matches:
        return own_run_dir(matches[0], store.workdir)
    return store.workdir.resolve() / "runs" / _folder_name(run_id)


def resolve_device(device: str):
    import torch

    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cpu":
        return torch.device("cpu")
    if device == "cuda" or device.startswith("cuda:"):
        if not torch.cuda.is_available():
            raise GenbenchError("--device cuda: no CUDA device is available here; "
                                "use --device cpu or auto")
        try:
            chosen = torch.device(device)
        except RuntimeError:
            raise GenbenchError(f"unknown device {device!r}; use auto, cpu or cuda[:N]") \
                from None
        count = torch.cuda.device_count()
        if chosen.index is not None and chosen.index >= count:
            raise GenbenchError(f"--device {device}: {count} GPU{'s are' if count > 1 else ' is'}"
                                f" visible here (cuda:0 to cuda:{count - 1}); pick one of "
                                f"them, or cuda for the first")
        return chosen
    raise GenbenchError(f"unknown device {device!r}; use auto, cpu or cuda[:N]")


def check_compatible(model: ModelSpec, dataset: DatasetSpec) -> None:
    if dataset.kind not in model.accepts:
        raise GenbenchError(f"model {model.name!r} takes {' or '.join(model.accepts)}, but "
                            f"dataset {dataset.name!r} holds {dataset.kind}")


def _git_revision() -> str | None:
    here = Path(__file__).resolve().parent
    try:
        rev = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True,
                             text=True, timeout=5)
        if rev.returncode != 0:
            return None
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=here, capture_output=True, text=True, timeout=5)
        return rev.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return None


def _environment(device, model: ModelSpec, dataset: DatasetSpec | None = None,
                 scoring=None) -> tuple[dict, dict]:
    """The hardware, and the versions of the libraries and of every plugin that contributed:
    the model's, the dataset's, each metric's and extractor's (``scoring``, from
    :func:`prepare_scoring`); :mod:`genbench.results.provenance` reads them back."""
    import numpy
    import torch
    import torchvision

    import genbench

    hardware = {"platform": platform.platform(), "machine": platform.machine(),
                "cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads()}
    if device.type == "cuda":
        hardware["gpu"] = torch.cuda.get_device_name(device)
    # Plain strings (torch's is a str subclass): checkpoints hold them, and load only plain
    # types (weights_only).
    versions = {"python": platform.python_version(), "genbench": str(genbench.__version__),
                "torch": str(torch.__version__), "torchvision": str(torchvision.__version__),
                "numpy": str(numpy.__version__)}
    used = _plugins_used(model, dataset, scoring)
    for entry in [used.get("model"), used.get("dataset"), *used.get("metrics", ()),
                  *used.get("extractors", ())]:
        if entry:
            versions[f"plugin:{entry['distribution']}"] = entry["version"]
    versions["plugins"] = used
    return hardware, versions


def _plugins_used(model: ModelSpec, dataset: DatasetSpec | None, scoring) -> dict:
    """Who provided the run's model, dataset, metrics and extractors: per name, the plugin's
    entry-point name, distribution and version."""
    registries = get_registries()

    def entry(kind: str, name: str) -> dict | None:
        info = registries.provider(kind, name)
        if info is None:
            return None
        return {"name": name, "plugin": info.name, "distribution": info.distribution,
                "version": info.version}

    used = {"model": entry("models", model.name)}
    if dataset is not None:
        used["dataset"] = entry("datasets", dataset.name)
    if scoring is not None:
        metrics, extractor, _ = scoring
        used["metrics"] = [entry("metrics", spec.name) for spec in metrics]
        spaces = dict.fromkeys(spec.extractor or extractor for spec in metrics
                               if spec.uses_features)
        used["extractors"] = [entry("extractors", name) for name in spaces]
    return {role: [e for e in found if e] if isinstance(found, list) else found
            for role, found in used.items() if found}


def config_hash(model: str, dataset: str, profile: str, config: dict[str, Any],
                options: dict[str, Any] | None = None) -> str:
    """What identifies a configuration: runs with equal hashes are seeds of one row, a sweep
    skips an entry whose hash completed, --resume continues a run of the same hash.
    ``options`` are the training options that may change the numbers and differ from the
    defaults (:meth:`genbench.speed.SpeedOptions.hashed`); without them the hash is the one
    runs had before those options existed."""
    blob = json.dumps([model, dataset, profile, config] + ([options] if options else []),
                      sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:12]


def _find_resumable(store: Store, model: str, dataset: str, seed: int,
                    key: str) -> tuple[RunRecord, Path | None]:
    """The run ``--resume`` continues, with the checkpoint it continues from.

    A run killed with -9 is left ``running`` (nothing could record otherwise) and is resumed
    like an interrupted one; one killed before its first checkpoint (None) starts again from
    step 0 under its own id, which gives the same run since everything is seeded. When the
    latest attempt completed, that record is returned: a kill may have come after the store's
    commit, before record.json or the leaderboard were written, and --resume finishes those."""
    mine = store.query("model = ? AND dataset = ? AND seed = ? AND config_hash = ?",
                       (model, dataset, seed, key))
    done = [i for i, r in enumerate(mine) if r.status == "completed"]
    later = mine[done[-1] + 1:] if done else mine  # an attempt before a completed one is moot

    def checkpoint(record: RunRecord) -> Path | None:
        path = Path(record.run_dir or "") / "checkpoint.pt"
        return path if record.run_dir and path.is_file() else None

    saved = [r for r in later if r.status in ("running", "interrupted", "failed")
             and checkpoint(r)]
    if saved:
        return saved[-1], checkpoint(saved[-1])
    unsaved = [r for r in later if r.status in ("running", "interrupted")
               and r.run_dir and inside(r.run_dir, store.workdir)]
    if unsaved:
        return unsaved[-1], None
    if done:
        return mine[done[-1]], None
    raise GenbenchError(f"nothing to resume: no interrupted run of {model} on {dataset} "
                        f"with seed {seed} and this configuration (settings, --precision, "
                        f"--channels-last and --compile included) in "
                        f"{store.path.parent}; run without --resume")


def _finish_completed(store: Store, record: RunRecord, workdir: Path,
                      notify: Callable[[str], None] | None) -> RunRecord:
    """--resume of a run that completed: write what a kill may have kept from being written
    after the store's commit (record.json, the leaderboard), and nothing else."""
    run_dir = own_run_dir(record, workdir)
    if notify:
        notify(f"{record.run_id} already completed; nothing to resume")
    remove_leftovers(run_dir)
    save_record(store, record, run_dir)
    render(store.runs(), workdir / "leaderboards", [record.dataset])
    return record


# The methods each capability promises (see genbench.model.GenerativeModel).
CAPABILITY_METHODS = {"latent": ("latent", "generate"), "conditional": ("generate",),
                      "encode": ("encode",), "reconstruct": ("reconstruct",),
                      "log_prob": ("log_likelihood",), "anomaly_score": ("anomaly_score",),
                      "pairs": ("sample_pairs",)}


def build_model(spec: ModelSpec, config, data_info, device):
    try:
        factory = load_object(spec.factory, owner=f"model {spec.name!r}")
    except ImportError as exc:  # the module exists, but one of its own imports fails
        raise GenbenchError(f"model {spec.name!r} could not be imported: {exc}") from None
    with blame_plugins(spec.name):
        model = factory(config, data_info)
    contract.check_model_object(model, spec.name)
    for capability in spec.capabilities:
        for method in CAPABILITY_METHODS.get(capability, ()):
            if not callable(getattr(model, method, None)):
                raise GenbenchError(f"model {spec.name!r} declares the capability "
                                    f"{capability!r} but has no {method}() method; fix the "
                                    f"plugin or drop the capability from its ModelSpec")
    from genbench.model import fit_optimizers

    with blame_plugins(spec.name):
        model = model.to(device)
        fit_optimizers(getattr(model, "optimizers", {}).values())  # fused kernels on CUDA
        return model


def check_num_samples(n: int | None, shape: tuple[int, ...]) -> None:
    """Refuse, before anything runs, more samples than this machine's memory holds (as
    float32): --num-samples 100000000 sat "sampling" until it was killed."""
    import math

    if not n:
        return
    try:
        memory = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):  # not a POSIX system: no check
        return
    needed = n * math.prod(shape) * 4
    if needed > memory // 2:
        raise GenbenchError(f"--num-samples {n:,}: {n:,} samples of {'x'.join(map(str, shape))} "
                            f"take at least {needed / 2**30:,.1f} GiB as float32, more than "
                            f"half of this machine's {memory / 2**30:,.0f} GiB; give fewer")


def num_samples_unused(model: ModelSpec, dataset: DatasetSpec) -> str | None:
    """Why --num-samples does not apply to ``model`` on ``dataset`` (None where it does): the
    cases :func:`_score` scores on the evaluation split as it is."""
    split = f"the {dataset.eval_split} split of {dataset.name}"
    if "translate" in model.capabilities and dataset.kind not in ("points", "images"):
        return (f"--num-samples does not apply to {model.name}: a model that translates is "
                f"scored on its translations of every image of {split}")
    if "sample" not in model.capabilities:
        return (f"--num-samples does not apply to {model.name}: it does not sample, and is "
                f"scored on {split}")
    return None


def generate(model, n: int, seed: int, progress: Callable[[int], None] | None = None,
             shape: tuple[int, ...] | None = None):
    """n samples from the model, in chunks, reproducible for a given seed; ``progress(done)``
    hears after each chunk. Each chunk is checked (:func:`genbench.contract.check_output`):
    floats, as many as asked for, of ``shape`` (the model's data shape) when given, images in
    [-1, 1]."""
    import torch

    from genbench.data.base import images_per_pass

    gen = torch.Generator().manual_seed(seed)
    model.eval()
    parts = []
    images = shape is not None and len(shape) == 3
    step = images_per_pass(shape or (), SAMPLE_CHUNK)
    with torch.no_grad():
        for i in range(0, n, step):
            size = min(step, n - i)
            out = contract.check_output(model.sample(size, generator=gen), "sample", size,
                                        shape, images)
            parts.append(out.float().cpu())
            if progress:
                progress(i + size)
    return torch.cat(parts)


def generate_pairs(model, n: int, seed: int):
    """n pairs (x_A, x_B) from a coupled model, in chunks, reproducible for a given seed."""
    import torch

    gen = torch.Generator().manual_seed(seed)
    model.eval()
    parts_a, parts_b = [], []
    with torch.no_grad():
        for i in range(0, n, SAMPLE_CHUNK):
            size = min(SAMPLE_CHUNK, n - i)
            out = model.sample_pairs(size, generator=gen)
            if not isinstance(out, (tuple, list)) or len(out) != 2:
                raise contract.ContractError("sample_pairs() must return a pair (x_A, x_B)")
            a, b = (contract.check_output(part, "sample_pairs", size, None,
                                          isinstance(part, torch.Tensor) and part.dim() == 4)
                    for part in out)
            parts_a.append(a.float().cpu())
            parts_b.append(b.float().cpu())
    return torch.cat(parts_a), torch.cat(parts_b)


def translate_split(model, x, model_shape, out_shape, chunk: int = SAMPLE_CHUNK,
                    inpaint: bool = False):
    """``model.translate`` over a split, in chunks, at the model's size and back to the
    target domain's native size. Inpainting (``inpaint``): the completed images, ``x``'s
    context with the output's hole (:func:`genbench.data.inpaint.paste`)."""
    import torch

    from genbench.data.base import images_per_pass, resize_images

    context = x
    if model_shape and tuple(x.shape[1:]) != tuple(model_shape):
        x = resize_images(x, model_shape[-1])
    chunk = images_per_pass(tuple(x.shape[1:]), chunk)  # fewer where the images are large
    model.eval()
    parts = []
    with torch.no_grad():
        for i in range(0, len(x), chunk):
            part = x[i:i + chunk]
            out = contract.check_output(model.translate(part.to(model.device)), "translate",
                                        len(part), None, images=True)
            if out.dim() != 4 or out.shape[1] != out_shape[0]:
                raise contract.ContractError(
                    f"translate() returned examples of shape {tuple(out.shape[1:])}; the "
                    f"target domain's images have {out_shape[0]} channels")
            parts.append(out.float().cpu())
    out = torch.cat(parts)
    if tuple(out.shape[1:]) != tuple(out_shape):
        out = resize_images(out, out_shape[-1])
    if inpaint:
        from genbench.data.inpaint import paste

        return paste(context, out)
    return out


def _train_size(config) -> int | None:
    return getattr(config, "image_size", 0) or None


def default_extractor(dataset: DatasetSpec) -> str:
    """The feature space a run is scored in unless --extractor says otherwise: the trained
    evaluator for labelled images (offline, meaningful on small domains), else the raw data."""
    if dataset.default_extractor:
        return dataset.default_extractor
    return "evaluator" if dataset.kind == "images" and dataset.num_classes > 1 else "raw"


def check_extractor(name: str | None, dataset: DatasetSpec) -> str:
    name = name or default_extractor(dataset)
    spec = get_registries().extractors.get(name)
    if not spec.applies(dataset):
        raise GenbenchError(f"extractor {name!r} does not apply to dataset {dataset.name!r}")
    return name


def _random_state_kept(device):
    """torch's random state (the CPU's and ``device``'s) as it was, after the block."""
    import torch

    return torch.random.fork_rng(
        devices=[device.index or 0] if device.type == "cuda" else [])


def prepare_scoring(dataset: DatasetSpec, metric_names, extractor: str | None, device,
                    workdir: Path, options: dict | None, model: ModelSpec | None = None,
                    progress: EvalProgress | None = None):
    """Choose the metrics and build every extractor they need, before any training, so a
    missing weights file or a weak evaluator stops the run before it costs anything.
    ``progress(what, done, total)`` hears about slow builds (training the evaluator)."""
    from genbench import evaluation

    metrics = evaluation.select_metrics(get_registries().metrics, dataset, metric_names,
                                        model.capabilities if model else (),
                                        model.name if model else "")
    if "anomaly" in dataset.traits and not metric_names and not any(
            "anomaly_score" in m.requires for m in metrics):
        raise GenbenchError(f"model {model.name if model else '?'!r} cannot score anomalies: it "
                            f"has neither anomaly_score() nor reconstruct(); try anogan, "
                            f"f-anogan, ganomaly or an autoencoder (`genbench models`)")
    extractor = check_extractor(extractor, dataset)
    for spec in metrics if metric_names else ():
        if spec.requires_logits and spec.uses_features and (spec.extractor or extractor) == "raw":
            raise GenbenchError(f"metric {spec.name!r} needs classifier logits, which the 'raw' "
                                f"extractor does not give; drop --extractor raw (or the "
                                f"metric)")
    # The evaluator's seed is fixed: every run on a dataset is scored by the same classifier.
    scorer = evaluation.Scorer(dataset, device, workdir, options, seed=0, progress=progress)
    for spec in metrics:
        if spec.uses_features:
            scorer.extractor(spec.extractor or extractor)
    return metrics, extractor, scorer


def model_metrics(model, reference) -> list:
    """Numbers only the model can give about itself, e.g. a semi-supervised GAN's classifier
    accuracy: ``model.extra_metrics(reference) -> {name: (value, higher_is_better)}``."""
    import torch

    from genbench.results.record import MetricValue

    if not hasattr(model, "extra_metrics"):
        return []
    with torch.no_grad():
        values = model.extra_metrics(reference)
    out = []
    for name, entry in values.items():
        # (value, higher_is_better), or with the number of examples it was computed on when
        # that is not the reference split's (a cycle error on domain B's test images).
        if not isinstance(entry, tuple) or len(entry) not in (2, 3):
            raise contract.ContractError(f"extra_metrics() gave {entry!r} for {name!r}; give "
                                         f"(value, higher_is_better[, number of examples])")
        value, higher, count = (*entry, len(reference))[:3]
        out.append(MetricValue(name=name, value=float(value), higher_is_better=bool(higher),
                               metric="model", n_real=int(count)))
    return out


def fitted_quantities(model, name: str) -> dict[str, Any]:
    """What the model says it fitted that is not a metric (a KDE's bandwidth, the number of
    components a mixture chose): ``model.fitted_quantities() -> {name: number or text}``,
    kept in the run's record under ``evaluation["fitted"]``."""
    method = getattr(model, "fitted_quantities", None)
    if not callable(method):
        return {}
    values = method()
    kept = {}
    for key, value in (values or {}).items():
        if hasattr(value, "item") and getattr(value, "ndim", 1) == 0:  # a 0-d tensor or array
            value = value.item()
        if not isinstance(key, str) or not isinstance(value, (bool, int, float, str)):
            raise GenbenchError(f"model {name!r}: fitted_quantities() must return "
                                f"{{name: number or text}}, got {type(value).__name__} for "
                                f"{key!r}")
        kept[key] = value
    return kept


def _score(record: RunRecord, model_spec: ModelSpec, dataset: DatasetSpec, model, config,
           metric_names, num_samples, scoring, report: EvalProgress | None = None,
           model_shape: tuple[int, ...] | None = None, bootstrap: bool = True):
    """Generate (or translate the test split), score, and add the model's own metrics.
    Returns (metric values, the reference scored against, the model's input data, outputs)."""
    from genbench.data.base import TensorData

    metrics, extractor, scorer = scoring
    # Inpainting is scored at the size it was trained at (--set image_size=128, the paper's):
    # the hole must be the one the model learnt to fill, not a resized one.
    reference = dataset.load(dataset.eval_split, root=scorer.options.get("data_root"),
                             image_size=_train_size(config) if dataset.kind == "inpaint"
                             else None)
    if dataset.kind == "points" and model_shape and reference.example_shape != tuple(model_shape):
        raise GenbenchError(f"dataset {dataset.name!r}{contract.owner('datasets', dataset.name)}"
                            f": its {dataset.eval_split} split holds points of shape "
                            f"{reference.example_shape} and the training split "
                            f"{tuple(model_shape)}; every split must have the same dimension")
    own_metrics = hasattr(model, "extra_metrics")  # a step of its own: they can take minutes
    total = len(metrics) + 1 + own_metrics
    model_data = reference
    pairs = None
    model.eval()
    if "translate" in model_spec.capabilities and reference.target is not None:
        # A translation model is scored on its translations of every test image of domain A,
        # against the test images of domain B.
        if report:
            report(f"translating {len(reference)}", 0, total)
        fake = translate_split(model, reference.x, model_shape, reference.target.shape[1:],
                               inpaint=dataset.kind == "inpaint")
        meta = {"aligned": dataset.kind in ALIGNED_KINDS or "aligned-target" in dataset.traits}
        if "scale" in reference.meta:  # super-resolution: the metrics crop this border
            meta["scale"] = reference.meta["scale"]
        reference = TensorData(f"{dataset.name}-B", reference.split, reference.target,
                               meta=meta)
    elif "pairs" in model_spec.capabilities and reference.target is not None:
        # A coupled model's pairs: domain B's images are scored by the sample metrics against
        # the test images of B (as translations are, so the columns mean the same); the
        # "pairs" metrics score both domains and the pairs.
        n = num_samples or config.num_samples or len(reference)
        if report:
            report(f"sampling {n} pairs", 0, total)
        pairs = generate_pairs(model, n, seed=record.seed + 1)
        fake = pairs[1]
        reference = TensorData(f"{dataset.name}-B", reference.split, reference.target)
    elif "sample" not in model_spec.capabilities:
        fake = None  # e.g. GANomaly: scored by its capabilities only
    else:
        n = num_samples or config.num_samples or len(reference)
        if report:
            report(f"sampling {n:,}", 0, total)
        # Sampling can take minutes on a CPU (26,000 stacked digits): said as it goes.
        fake = generate(model, n, seed=record.seed + 1, progress=report and (
            lambda done: report(f"sampling {done:,} of {n:,}", 0, total)), shape=model_shape)
    if report:
        report("scoring", 1, total)
    values = scorer.score(reference, fake, metrics, extractor, explicit=bool(metric_names),
                          model=model, model_shape=model_shape, bootstrap=bootstrap,
                          pairs=pairs,
                          report=report and (lambda name, i: report(
                              f"scoring {name}", 1 + i, total)))
    if report and own_metrics:
        report("scoring the model's own metrics", total - 1, total)
    values += model_metrics(model, model_data)
    return values, reference, model_data, fake


def _score_and_draw(record: RunRecord, model_spec: ModelSpec, dataset: DatasetSpec, model,
                    config, metric_names, num_samples, run_dir: Path, scoring,
                    report: EvalProgress | None = None,
                    model_shape: tuple[int, ...] | None = None) -> None:
    from genbench import plots

    record.metrics, reference, model_data, fake = _score(
        record, model_spec, dataset, model, config, metric_names, num_samples, scoring, report,
        model_shape)
    record.extractors = scoring[2].extractor_info()
    record.evaluation = dict(scoring[2].notes)
    fitted = fitted_quantities(model, model_spec.name)
    if fitted:
        record.evaluation["fitted"] = fitted
    if "anomaly" in dataset.traits:
        record.evaluation["selection"] = (
            f"the final weights after the profile's fixed {record.steps} steps; the test split "
            f"is never used for training or model selection")
    record.split = dataset.eval_split
    title = f"{model_spec.name} on {dataset.name} ({record.profile}, seed {record.seed})"
    import torch

    with torch.no_grad():
        latent_views(model_spec, dataset, model, model_shape or tuple(reference.x.shape[1:]),
                     run_dir, torch.Generator().manual_seed(record.seed), interpolate=False,
                     root=scoring[2].options.get("data_root"))
    scores = scoring[2].artifacts.get("anomaly_scores")
    if scores is not None:
        plots.score_histogram(scores, scoring[2].artifacts["anomaly_target"],
                              run_dir / "anomaly_scores.png", title)
    if fake is None:
        pass
    elif "pairs" in model_spec.capabilities and model_data.target is not None:
        pairs = generate_pairs(model, 8, seed=record.seed + 1)  # the first 8 scored
        plots.translation_grid(pairs[0], pairs[1], None, run_dir / "pairs.png")
    elif reference is not model_data:  # translations: input | output | truth
        truth = reference.x if reference.meta.get("aligned") else None
        plots.translation_grid(model_data.x[:8], fake[:8], None if truth is None else truth[:8],
                               run_dir / "translations.png")
    elif dataset.kind == "images":
        plots.image_grid(fake[:64], run_dir / "samples.png")
    else:
        plots.scatter(fake, reference.x, run_dir / "samples.png", title,
                      reference.meta.get("modes"))


def expand_classes(dataset: str) -> list[str]:
    """``NAME:all`` for a dataset whose argument is a class (the anomaly protocols): one name
    per class, ``NAME:0`` ... ; any other name as it is."""
    base, _, arg = dataset.partition(":")
    if arg != "all":
        return [dataset]
    from genbench.registry import Registry

    spec = Registry.get(get_registries().datasets, base)  # the spec itself, no argument bound
    if not spec.argument or "anomaly" not in spec.traits or not spec.num_classes:
        raise GenbenchError(f"dataset {base!r} has no classes to run one by one ('all')")
    return [f"{base}:{k}" for k in range(spec.num_classes)]


def run(model: str, dataset: str, *, profile: str = "quick", seed: int = 0,
        steps: int | None = None, device: str = "auto", overrides: tuple[str, ...] = (),
        workdir: str | Path = DEFAULT_WORKDIR, resume: bool = False,
        metrics: list[str] | None = None, num_samples: int | None = None,
        progress: Progress | None = None, eval_progress: EvalProgress | None = None,
        extractor: str | None = None, extractor_options: dict | None = None,
        data_root: str | None = None, eval_every: int = 0,
        notify: Callable[[str], None] | None = None, precision: str = "fp32",
        channels_last: bool = False, compile: bool | str = False,
        log_every: int | None = None) -> RunRecord:
    """Train ``model`` on ``dataset``, score it, store the record, update the leaderboard.

    ``notify(text)`` hears what happens beside the progress (which run a resume continues).

    ``eval_every=N`` also scores the model every N steps during training (without the
    bootstrap intervals) and keeps the trajectory of (step, training seconds, metrics) in the
    record, ending with the final scores.

    Training speed (:mod:`genbench.speed`): ``precision`` "fp32" or "bf16" (autocast around
    each training step), ``channels_last`` (4-D weights and image batches),
    ``compile`` (True or a torch.compile mode: the model's networks are compiled in place),
    ``log_every`` (steps between reads of the losses; default 1 on the CPU, 50 on a GPU)."""
    from genbench.speed import SpeedOptions

    check_seed(seed)
    speed = SpeedOptions.of(precision, channels_last, compile, log_every)
    registries = get_registries()
    model_spec = registries.models.get(model)
    dataset_spec = registries.datasets.get(dataset)
    check_compatible(model_spec, dataset_spec)
    with blame_plugins(model):  # a plugin's config checks (__post_init__) are its model's
        config = resolve_config(model_spec, profile, dataset_spec.kind, steps, overrides)
    check_num_samples(num_samples or config.num_samples, dataset_spec.target_shape
                      or dataset_spec.shape)
    unused = num_samples and num_samples_unused(model_spec, dataset_spec)
    if unused and notify:  # scored all the same, on what the model is scored on
        notify(unused)
    torch_device = resolve_device(device)
    speed.check_device(torch_device)
    workdir = prepare_workdir(workdir)
    store = Store(workdir)  # a corrupt store is refused before anything is written
    from genbench import plots, training
    from genbench import speed as speeds
    from genbench.model import DataInfo

    cfg = config_dict(config)
    key = config_hash(model, dataset, profile, cfg, speed.hashed())
    # Data, feature spaces and model before anything is stored: a missing dataset, weights
    # file or setting is the user's to fix, and leaves nothing behind. The data comes first,
    # so a user without it hears that before being asked for Inception weights.
    training.seed_everything(seed)
    # uint8 where the loader can (4x less memory), converted a batch at a time by the batches.
    train_data = dataset_spec.load("train", image_size=_train_size(config), root=data_root,
                                   uint8=True)
    extractor_options = {**(extractor_options or {}), "data_root": data_root,
                         "extractor_explicit": extractor is not None}
    # Building a feature space (training the evaluator) draws random numbers; the model's
    # initialisation must not depend on whether the evaluator was cached.
    with _random_state_kept(torch_device):
        scoring = prepare_scoring(dataset_spec, metrics, extractor, torch_device, workdir,
                                  extractor_options, model_spec, eval_progress)
    info = DataInfo(dataset_spec.kind, train_data.example_shape, dataset_spec.num_classes,
                    train_data.target_shape)
    net = build_model(model_spec, config, info, torch_device)
    with blame_plugins(model_spec.name):
        compiled = speeds.prepare(net, speed)
    resume_from = None
    if resume:
        record, saved = _find_resumable(store, model, dataset, seed, key)
        if record.status == "completed":
            return _finish_completed(store, record, workdir, notify)
        own_run_dir(record, workdir)  # refused before anything is loaded from elsewhere
        resume_from = training.load_checkpoint(saved) if saved else None
        previous = record.status, record.message
        record.status, record.message = "running", ""
        if notify:
            notify(f"resuming {record.run_id} from step "
                   f"{resume_from['step'] if resume_from else 0:,} of {config.steps:,}"
                   + ("" if resume_from else " (it stopped before its first checkpoint)"))
    else:
        stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
        # A folder dataset's name holds its path; the id is a folder name: no separators.
        safe = re.sub(r"[^A-Za-z0-9._:-]+", "_", dataset).strip("_")
        run_id = f"{model}-{safe}-s{seed}-{stamp}-{secrets.token_hex(2)}"
        record = RunRecord(run_id=run_id, model=model, dataset=dataset, split="",
                           profile=profile, seed=seed, config=cfg, created=_now(),
                           overrides=([f"steps={steps}"] if steps else []) + list(overrides)
                           + speed.settings(),
                           run_dir=str((workdir / "runs" / run_id).resolve()), config_hash=key)
    record.device = str(torch_device)
    record.training = speed.describe(torch_device)
    record.hardware, record.versions = _environment(torch_device, model_spec, dataset_spec,
                                                     scoring)
    record.git_revision = _git_revision()
    run_dir = own_run_dir(record, workdir)
    run_dir.mkdir(parents=True, exist_ok=True)
    # Held until this run ends, however it ends: a resume of a run left 'running' checks that
    # its process is really gone (the system drops the hold of a killed process).
    hold = hold_folder(run_dir)
    if hold is None:
        raise GenbenchError(f"run {record.run_id} is running in another process (its folder "
                            f"{run_dir} is held); wait for it, or stop it and --resume")
    started = time.perf_counter()
    previous_wall = record.wall_time if resume else 0.0
    discard = False
    try:
        # Before the first save (it may raise): the hold is released in `finally`.
        record.updated = _now()
        save_record(store, record, run_dir)
        remove_leftovers(run_dir)  # temporary files of writes a kill cut short
        batches = training.InMemoryBatches.from_data(train_data, config.batch_size, seed,
                                                     torch_device,
                                                     paired=dataset_spec.kind in ALIGNED_KINDS,
                                                     channels_last=speed.channels_last)
        meta = {"model": model, "dataset": dataset, "profile": profile, "seed": seed,
                "run_id": record.run_id, "config": cfg, "data_shape": list(info.shape),
                "target_shape": list(info.target_shape), "options": speed.hashed(),
                # What the record lists, so a record made from the checkpoint alone (evaluate
                # FILE in another workdir) says how the run differed from its profile and
                # which plugins' versions trained it.
                "overrides": list(record.overrides), "versions": record.versions,
                # Where its data was: evaluate and samples read it there unless told otherwise.
                "data_root": None if data_root is None
                else str(Path(data_root).expanduser().resolve())}

        def evaluate_now(step: int, seconds: float) -> None:
            point = {"step": step, "seconds": round(seconds, 3), "metrics": {}}
            try:
                with speeds.eager(compiled):
                    values, *_ = _score(record, model_spec, dataset_spec, net, config,
                                        metrics, num_samples, scoring, eval_progress and (
                                            lambda what, done, total: eval_progress(
                                                f"step {step}: {what}", done, total)),
                                        info.shape, bootstrap=False)
                point["metrics"] = {m.name: m.value for m in values}
            except DivergedError as exc:  # training goes on; the final scoring decides
                point["message"] = str(exc)
            record.trajectory.append(point)
            record.updated = _now()
            save_record(store, record, run_dir)

        if resume_from is None:
            record.trajectory = []
        else:
            # Points scored after the checkpoint were saved in the record before a kill; the
            # resumed run scores them again, so they must not stay twice.
            record.trajectory = [p for p in record.trajectory
                                 if p["step"] <= resume_from["step"]]
        outcome = training.train(net, batches, config, checkpoint=run_dir / "checkpoint.pt",
                                 meta=meta, resume_from=resume_from, progress=progress,
                                 evaluate_every=eval_every, evaluate=evaluate_now,
                                 log_every=speed.log_interval(torch_device),
                                 precision=speed.precision, compiled=bool(compiled))
        record.steps = outcome.step
        if outcome.history.get("step"):
            plots.loss_curves(outcome.history, run_dir / "losses.png",
                              f"{model} on {dataset}: training losses")
        record.status, record.message = outcome.status, outcome.message
        if outcome.status == "completed":
            try:
                with speeds.eager(compiled):  # scored as every run is: fp32, eager
                    _score_and_draw(record, model_spec, dataset_spec, net, config, metrics,
                                    num_samples, run_dir, scoring, eval_progress, info.shape)
            except DivergedError as exc:
                record.status, record.message = "diverged", str(exc)
            if eval_every and record.status == "completed":
                record.trajectory.append({"step": outcome.step,
                                          "seconds": round(outcome.seconds, 3),
                                          "metrics": {m.name: m.value for m in record.metrics}})
    except KeyboardInterrupt:
        record.status, record.message = "interrupted", "interrupted; rerun with --resume"
        raise
    except training.CompileError:
        discard = True  # nothing was trained: the run leaves no trace
        raise
    except contract.ContractError as exc:  # the model broke the interface: name it
        error = contract.named(exc, model)
        record.status, record.message = "failed", str(error)
        raise error from None
    except GenbenchError as exc:
        record.status, record.message = "failed", str(exc)
        raise
    except Exception as exc:
        error = plugin_error(exc, model)  # a plugin's bug is reported as the plugin's
        record.status, record.message = "failed", str(error or f"{type(exc).__name__}: {exc}")
        if error is None:
            raise
        raise error from exc
    finally:
        try:
            if discard and not resume:
                store.delete(record.run_id)
                shutil.rmtree(run_dir, ignore_errors=True)
            else:
                if discard:
                    record.status, record.message = previous
                else:
                    record.wall_time = previous_wall + time.perf_counter() - started
                record.updated = _now()
                save_record(store, record, run_dir)
                if record.status == "completed":
                    # All runs: an anomaly protocol's board gathers the runs of every class.
                    render(store.runs(), workdir / "leaderboards", [dataset])
        finally:
            hold.release()
    return record


def _training_versions(ckpt: dict, store: Store) -> dict:
    """The versions that trained a checkpoint's run: its own (checkpoints since plugins were
    recorded hold them), else its record's in ``store``, else none."""
    if ckpt.get("versions"):
        return ckpt["versions"]
    matches = store.query("run_id = ?", (ckpt["run_id"],))
    return matches[0].versions if matches else {}


def _check_providers(ckpt: dict, store: Store) -> None:
    """A run whose model or dataset came from a plugin that is not here (uninstalled,
    disabled, failed, or a version without it) names that plugin and how to get it back,
    rather than guessing at a similar name."""
    from genbench.plugins import why_missing
    from genbench.results.provenance import provider

    registries = get_registries()
    for role, registry, name in (("model", registries.models, ckpt["model"]),
                                 ("dataset", registries.datasets, ckpt["dataset"])):
        if name in registry or name.partition(":")[0] in registry:
            continue
        made_by = provider(_training_versions(ckpt, store), role)
        if made_by is not None:  # otherwise the registry's unknown-name error says the rest
            raise GenbenchError(why_missing(f"run {ckpt['run_id']}", role, name, made_by,
                                            registries.plugins))


@dataclasses.dataclass
class Loaded:
    """A trained model rebuilt from its checkpoint."""

    ckpt: dict
    model_spec: ModelSpec
    dataset_spec: DatasetSpec
    config: Any
    device: Any
    model: Any
    path: Path


def load_trained(target: str, store: Store, device: str = "auto") -> Loaded:
    """``target`` is a checkpoint file or the id of a run in ``store``."""
    from genbench import training
    from genbench.model import DataInfo

    registries = get_registries()
    path = Path(target)
    if path.suffix == ".pt" or path.exists():
        ckpt = training.load_checkpoint(path)
    else:
        path = Path(store.get(target).run_dir) / "checkpoint.pt"
        ckpt = training.load_checkpoint(path)
    _check_providers(ckpt, store)
    model_spec = registries.models.get(ckpt["model"])
    dataset_spec = registries.datasets.get(ckpt["dataset"])
    known = {f.name for f in dataclasses.fields(model_spec.config)}
    if not set(ckpt["config"]) <= known:
        extra = ", ".join(sorted(set(ckpt["config"]) - known))
        raise GenbenchError(f"checkpoint has settings {model_spec.name} no longer knows: {extra}")
    config = model_spec.config(**ckpt["config"])
    torch_device = resolve_device(device)
    info = DataInfo(dataset_spec.kind, tuple(ckpt["data_shape"]), dataset_spec.num_classes,
                    tuple(ckpt.get("target_shape") or ()))
    net = build_model(model_spec, config, info, torch_device)
    with blame_plugins(model_spec.name):
        net.load_training_state(ckpt["state"])
        net.eval()
    return Loaded(ckpt, model_spec, dataset_spec, config, torch_device, net, path)


SAMPLE_GRID = 64  # images in a sample grid unless asked otherwise
# Rows of a translation (or pairs) grid, one example per row, by default and at most: at
# pix2pix's 256x256, 100 rows were a 24 MB PNG of 25,600 pixels tall.
TRANSLATION_ROWS = 16


def samples(target: str, *, workdir: str | Path = DEFAULT_WORKDIR, n: int | None = None,
            seed: int = 0, interpolate: bool = False, out_dir: str | Path | None = None,
            device: str = "auto", data_root: str | None = None,
            notify: Callable[[str], None] | None = None) -> list[Path]:
    """Pictures of a trained model: a sample grid of ``n`` (default 64) images (or a scatter
    plot), and with ``interpolate`` latent interpolations; conditional models add a
    class-by-row grid, models with interpretable codes (InfoGAN) a code traversal. A model
    that translates (or draws pairs) gets one row per test image (pair) instead, at most
    :data:`TRANSLATION_ROWS`; ``notify(text)`` hears when fewer rows than ``n`` are drawn.
    Returns the files written."""
    check_seed(seed)
    out = output_folder(out_dir) if out_dir else None
    store = Store(prepare_workdir(workdir))
    loaded = load_trained(target, store, device)
    out = out or run_folder(store, loaded.ckpt["run_id"])
    data_root = data_root or remembered_data_root(loaded.ckpt)
    with blame_plugins(loaded.model_spec.name), contract.naming(loaded.model_spec.name):
        return _draw(loaded, out, n, seed, interpolate, data_root, notify)


def remembered_data_root(ckpt: dict) -> str | None:
    """The --data-root the run was trained with, where it still exists (the checkpoint may
    have come from another machine)."""
    root = ckpt.get("data_root")
    return root if root and Path(root).is_dir() else None


def _check_interpolate(loaded: Loaded, draws: str | None) -> None:
    """Refuse --interpolate before anything is drawn where there is nothing to interpolate:
    the user asked for those pictures, and the others alone are not what they wanted."""
    name, dataset = loaded.model_spec.name, loaded.dataset_spec
    if draws:
        raise GenbenchError(f"{name} on {dataset.name}: --interpolate does not apply to a "
                            f"model that {draws}; run without --interpolate")
    if dataset.kind != "images" or not hasattr(loaded.model, "latent"):
        raise GenbenchError(f"{name} on {dataset.name}: latent interpolation needs an image "
                            f"model with a latent space; run without --interpolate")


def _rows(n: int | None, available: int | None, what: str,
          notify: Callable[[str], None] | None) -> int:
    """Rows of a translation or pairs grid: ``n``, at most :data:`TRANSLATION_ROWS` and the
    ``available`` examples; says so when that is fewer than asked."""
    rows = min(n or TRANSLATION_ROWS, TRANSLATION_ROWS, available or TRANSLATION_ROWS)
    if n is not None and rows < n and notify:
        why = (f"the test split holds {available:,}" if available is not None
               and available < min(n, TRANSLATION_ROWS)
               else f"the grid shows one per row, at most {TRANSLATION_ROWS}")
        notify(f"{rows} {what}, not {n:,}: {why}")
    return rows


def _draw(loaded: Loaded, out: Path, n: int | None, seed: int, interpolate: bool,
          data_root: str | None, notify: Callable[[str], None] | None = None) -> list[Path]:
    """The pictures :func:`samples` writes, of a model rebuilt from its checkpoint."""
    import torch

    from genbench import plots

    model, dataset = loaded.model, loaded.dataset_spec
    caps = loaded.model_spec.capabilities
    gen = torch.Generator().manual_seed(seed)
    title = f"{loaded.model_spec.name} on {dataset.name}"
    written = []
    translates = "sample" not in caps and "translate" in caps
    draws_pairs = "pairs" in caps and dataset.kind in ("paired", "unpaired")
    if "sample" not in caps and not translates:
        raise GenbenchError(f"{loaded.model_spec.name} neither samples nor translates: "
                            f"nothing to draw")
    if interpolate:
        _check_interpolate(loaded, "translates" if translates else
                           "draws pairs" if draws_pairs else None)
    if translates:
        test = dataset.load(dataset.eval_split, root=data_root, image_size=_train_size(
            loaded.config) if dataset.kind == "inpaint" else None)
        rows = _rows(n, len(test), "test images translated", notify)
        pick = torch.randperm(len(test), generator=gen)[:rows]
        outputs = translate_split(model, test.x[pick], tuple(loaded.ckpt["data_shape"]),
                                  test.target.shape[1:], inpaint=dataset.kind == "inpaint")
        aligned = dataset.kind in ALIGNED_KINDS or "aligned-target" in dataset.traits
        return [plots.translation_grid(test.x[pick], outputs,
                                       test.target[pick] if aligned else None,
                                       out / "translations.png")]
    if draws_pairs:
        pairs = generate_pairs(model, _rows(n, None, "pairs", notify), seed)  # x_A | x_B
        return [plots.translation_grid(pairs[0], pairs[1], None, out / "pairs.png")]
    n = n or SAMPLE_GRID
    with torch.no_grad():
        fake = generate(model, n, seed, shape=tuple(loaded.ckpt["data_shape"]))
        if dataset.kind == "images":
            written.append(plots.image_grid(fake, out / "samples.png"))
        else:
            reference = dataset.load(dataset.eval_split, root=data_root)
            points = generate(model, max(n, 2500), seed, shape=tuple(loaded.ckpt["data_shape"]))
            written.append(plots.scatter(points, reference.x, out / "samples.png", title,
                                         reference.meta.get("modes")))
        if interpolate:
            rows, steps = 8, 10
            z0, z1 = model.latent(rows, gen), model.latent(rows, gen)
            t = torch.linspace(0, 1, steps, device=z0.device).view(1, steps, 1)
            z = (z0[:, None] * (1 - t) + z1[:, None] * t).reshape(rows * steps, -1)
            if "conditional" in loaded.model_spec.capabilities:  # one class per row
                labels = (torch.arange(rows) % max(1, dataset.num_classes)).repeat_interleave(
                    steps).to(z.device)
                images = model.generate(z, labels)
            else:
                images = model.generate(z)
            written.append(plots.image_grid(images.cpu(), out / "interpolate.png", nrow=steps))
        if "conditional" in loaded.model_spec.capabilities and dataset.kind == "images":
            classes, per_class = min(dataset.num_classes, 10), 10  # the first 10 classes
            labels = torch.arange(classes).repeat_interleave(per_class).to(loaded.device)
            z = model.latent(classes * per_class, gen)
            written.append(plots.image_grid(model.generate(z, labels).cpu(),
                                            out / "classes.png", nrow=per_class))
        if hasattr(model, "traversal") and dataset.kind == "images":
            grid, ncol = model.traversal(gen)
            written.append(plots.image_grid(grid.cpu(), out / "traversal.png", nrow=ncol))
        written += latent_views(loaded.model_spec, dataset, model, tuple(loaded.ckpt["data_shape"]),
                                out, gen, interpolate, root=data_root)
    return written


def latent_views(model_spec: ModelSpec, dataset: DatasetSpec, model, shape: tuple[int, ...],
                 out: Path, gen, interpolate: bool = True, root: str | None = None
                 ) -> list[Path]:
    """Pictures of what a model that encodes does with real data, from the evaluation split:
    originals above their reconstructions, interpolations between two encoded test images
    (originals at both ends), and for a 2-D latent space every test example's code coloured by
    class."""
    import torch

    from genbench import plots
    from genbench.data.base import resize_images

    caps = set(model_spec.capabilities)
    if not caps & {"reconstruct", "encode"}:
        return []
    data = dataset.load(dataset.eval_split, root=root)
    x, y = data.x, data.y
    if dataset.kind == "images" and tuple(x.shape[1:]) != shape:
        x = resize_images(x, shape[-1])
    device = model.device
    label = (lambda idx: y[idx].to(device)) if y is not None else (lambda idx: None)  # noqa: E731
    pick = torch.randperm(len(x), generator=gen)
    written = []
    if "reconstruct" in caps and dataset.kind == "images":
        idx = pick[:16]
        recon = model.reconstruct(x[idx].to(device), label(idx)).cpu()
        rows = torch.cat([x[idx[:8]], recon[:8], x[idx[8:]], recon[8:]])
        written.append(plots.image_grid(rows, out / "reconstructions.png", nrow=8))
    if "encode" not in caps:
        return written
    conditional = "conditional" in caps
    if interpolate and "latent" in caps and dataset.kind == "images":
        rows, steps = 8, 8
        a, b = pick[:rows], pick[rows:2 * rows]
        if conditional and y is not None:  # interpolate within a class: pair with the same label
            b = torch.stack([next((j for j in pick[rows:] if y[j] == y[i]), i) for i in a])
        za, zb = model.encode(x[a].to(device), label(a)), model.encode(x[b].to(device), label(a))
        t = torch.linspace(0, 1, steps, device=za.device).view(1, steps, 1)
        z = (za[:, None] * (1 - t) + zb[:, None] * t).reshape(rows * steps, -1)
        labels = label(a).repeat_interleave(steps) if conditional and y is not None else None
        middle = (model.generate(z, labels) if labels is not None else model.generate(z))
        middle = middle.cpu().view(rows, steps, *x.shape[1:])
        grid = torch.cat([x[a][:, None], middle, x[b][:, None]], dim=1).flatten(0, 1)
        written.append(plots.image_grid(grid, out / "interpolate_data.png", nrow=steps + 2))
    codes = torch.cat([model.encode(x[i:i + 500].to(device),
                                    None if y is None else y[i:i + 500].to(device)).cpu()
                       for i in range(0, len(x), 500)])
    if codes.dim() == 2 and codes.shape[1] == 2:
        written.append(plots.latent_scatter(
            codes, y, out / "latent.png",
            f"{model_spec.name} on {dataset.name}: test codes ({dataset.eval_split} split)"))
    return written


def evaluate(target: str, *, workdir: str | Path = DEFAULT_WORKDIR,
             metrics: list[str] | None = None, num_samples: int | None = None,
             device: str = "auto", eval_progress: EvalProgress | None = None,
             extractor: str | None = None, extractor_options: dict | None = None,
             data_root: str | None = None,
             notify: Callable[[str], None] | None = None) -> RunRecord:
    """Re-score a trained model without training: ``target`` is a run id or a checkpoint file.

    The record keeps the versions that trained the run (``versions``); those that scored it
    now go to ``evaluation["versions"]``, and ``notify(text)`` hears when a plugin's version
    differs between the two, and when ``num_samples`` does not apply to the model."""
    from genbench.speed import settings_of

    store = Store(prepare_workdir(workdir))
    loaded = load_trained(target, store, device)
    ckpt, model_spec, dataset_spec, config, torch_device, net, path = (
        loaded.ckpt, loaded.model_spec, loaded.dataset_spec, loaded.config, loaded.device,
        loaded.model, loaded.path)
    check_num_samples(num_samples, dataset_spec.target_shape or dataset_spec.shape)
    data_root = data_root or remembered_data_root(ckpt)
    unused = num_samples and num_samples_unused(model_spec, dataset_spec)
    if unused and notify:  # scored all the same, on what the model is scored on
        notify(unused)
    extractor_options = {**(extractor_options or {}), "data_root": data_root,
                         "extractor_explicit": extractor is not None}
    scoring = prepare_scoring(dataset_spec, metrics, extractor, torch_device, Path(workdir),
                              extractor_options, model_spec, eval_progress)
    hardware, versions = _environment(torch_device, model_spec, dataset_spec, scoring)
    matches = store.query("run_id = ?", (ckpt["run_id"],))
    if matches:
        record = matches[0]
    else:
        record = RunRecord(run_id=ckpt["run_id"], model=ckpt["model"], dataset=ckpt["dataset"],
                           split="", profile=ckpt["profile"], seed=ckpt["seed"],
                           config=ckpt["config"], created=_now(), steps=ckpt["step"],
                           overrides=list(ckpt.get("overrides")
                                          or settings_of(ckpt.get("options") or {})),
                           wall_time=float(ckpt.get("train_seconds", 0.0)),
                           config_hash=config_hash(ckpt["model"], ckpt["dataset"],
                                                   ckpt["profile"], ckpt["config"],
                                                   ckpt.get("options")),
                           run_dir=str(run_folder(store, ckpt["run_id"])), status="completed",
                           message=f"evaluated from checkpoint {path}")
        # Checkpoints older than the record of versions tell nothing better than today's.
        record.hardware, record.versions = hardware, ckpt.get("versions") or versions
        record.git_revision = _git_revision()
    changed = _changed_versions(record.versions, versions)
    if changed and notify:
        notify(f"run {record.run_id} was made with {changed}; the record keeps the versions "
               f"that made it, and lists those that scored it under evaluation.versions")
    old = {m.name: m for m in record.metrics}
    old_extractors = dict(record.extractors)
    with blame_plugins(model_spec.name), contract.naming(model_spec.name):
        _score_and_draw(record, model_spec, dataset_spec, net, config, metrics, num_samples,
                        own_run_dir(record, workdir), scoring, eval_progress,
                        tuple(ckpt["data_shape"]))
    old.update({m.name: m for m in record.metrics})
    record.metrics = list(old.values())
    record.extractors = {**old_extractors, **record.extractors}
    record.evaluation["versions"] = versions
    record.device = str(torch_device)
    record.updated = _now()
    save_record(store, record, own_run_dir(record, workdir))
    if record.status == "completed":
        render(store.runs(dataset=record.dataset), Path(workdir) / "leaderboards",
               [record.dataset])
    return record


def _changed_versions(made: dict, scoring: dict) -> str:
    """The plugins whose version differs between the run's record and the scoring now:
    ``genbench-mymodel 0.3.1 and is scored with 0.4.0``; "" where none does."""
    from genbench.results.provenance import distributions

    before, now = distributions(made), distributions(scoring)
    changed = [(d, before[d], now[d]) for d in sorted(set(before) & set(now))
               if before[d] != now[d]]
    if not changed:
        return ""
    return (", ".join(f"{d} {old}" for d, old, _ in changed) + " and is scored with "
            + ", ".join(f"{d} {new}" for d, _, new in changed))


# The keys of `score`'s output, in its order ("fd" is the Fréchet distance outside Inception).
SCORE_KEYS = {"FD": "fid", "fd": "fd", "kid_mean": "kid_mean", "kid_std": "kid_std",
              "precision": "precision", "recall": "recall", "density": "density",
              "coverage": "coverage", "is_mean": "is_mean", "is_std": "is_std"}
SCORE_METRICS = ("fd", "kid", "prdc", "is")


def _same_channels(real_x, fake_x):
    """A grayscale set against an RGB one is compared in RGB, its channel repeated: what a
    folder dataset holding both kinds of image loads (docs/datasets.md)."""
    if real_x.dim() == fake_x.dim() == 4 and {real_x.shape[1], fake_x.shape[1]} == {1, 3}:
        real_x, fake_x = (x.expand(-1, 3, -1, -1).contiguous() for x in (real_x, fake_x))
    return real_x, fake_x


def score(real: str | Path, fake: str | Path, *, metrics: list[str] | None = None,
          extractor: str = "inception-v3", k: int = 5, device: str = "auto",
          workdir: str | Path = DEFAULT_WORKDIR, extractor_options: dict | None = None,
          report: EvalProgress | None = None) -> dict[str, Any]:
    """Score two sample sets given as files: image folders, .npy/.npz image arrays, or (with
    ``extractor="raw"``) .npy/.npz feature arrays. Returns ``{"fid": ..., "precision": ...}``
    plus ``"extractor"``, ``"n_real"``, ``"n_fake"`` and the extractor's info."""
    from genbench import evaluation
    from genbench.data.base import TensorData
    from genbench.data.files import load_features, load_images

    registries = get_registries()
    names = metrics or list(SCORE_METRICS)
    specs = []
    for name in names:
        if name not in SCORE_METRICS and name not in registries.metrics.names():
            close = difflib.get_close_matches(name, SCORE_METRICS, n=1)
            raise GenbenchError(f"unknown metric {name!r}"
                                + (f" (did you mean {close[0]!r}?)" if close else "")
                                + f"; `score` computes {', '.join(SCORE_METRICS)}")
        spec = registries.metrics.get(name)
        if name not in SCORE_METRICS:
            raise GenbenchError(f"metric {name!r} needs a dataset (use `genbench evaluate`); "
                                f"`score` computes {', '.join(SCORE_METRICS)}")
        specs.append(spec)
    registries.extractors.get(extractor)
    torch_device = resolve_device(device)
    if extractor == "raw":
        load = lambda p: load_features(p) if Path(p).suffix in (".npy", ".npz") else load_images(p)  # noqa: E731
    else:
        load = load_images
    real_x, fake_x = _same_channels(load(real), load(fake))
    if (real_x.dim() != fake_x.dim() or real_x.shape[1] != fake_x.shape[1]
            or (extractor == "raw" and real_x.shape[1:] != fake_x.shape[1:])):
        same_channels = real_x.dim() == fake_x.dim() == 4 and real_x.shape[1] == fake_x.shape[1]
        raise GenbenchError(f"REAL and FAKE differ in shape: {tuple(real_x.shape[1:])} vs "
                            f"{tuple(fake_x.shape[1:])}" + (
                                "; raw features compare pixel by pixel: give images of one "
                                "size, or score in Inception-v3 features (--extractor "
                                "inception-v3), which resizes both" if same_channels else ""))
    options = {**(extractor_options or {}), "k": k, "extractor_explicit": True}
    scorer = evaluation.Scorer(None, torch_device, prepare_workdir(workdir), options)
    reference = TensorData(f"file-{Path(real).name}", "given", real_x,
                           meta={"what": f"REAL ({str(real)!r})"})
    values = scorer.score(reference, fake_x, specs, extractor, explicit=metrics is not None,
                          report=report and (lambda name, i: report(f"scoring {name}", i,
                                                                    len(specs))))
    out: dict[str, Any] = {}
    for v in values:
        base = v.name.split("@")[0]  # bf16 features: said once, in "features", not per key
        key = SCORE_KEYS.get(base.split("[")[0] if base != "FID" else "FD", v.name)
        if key == "fid" and extractor != "inception-v3":
            key = "fd"  # the Fréchet distance is FID in Inception-v3 features only
        out[key] = v.value
    info = scorer.extractor_info().get(scorer.space_label(extractor), {})
    out.update({"extractor": extractor, "n_real": len(real_x), "n_fake": len(fake_x),
                "k": k, "extractor_info": info})
    if "features" in info:
        out["features"] = info["features"]
    skipped = scorer.notes.get("not_computed") or {}
    if skipped and not values:  # nothing to show: a failure, not an empty table
        reasons = list(dict.fromkeys(skipped.values()))
        raise GenbenchError("nothing could be scored: " + (
            reasons[0] if len(reasons) == 1 else
            "; ".join(f"{name}: {why}" for name, why in skipped.items())))
    if skipped:
        out["not_computed"] = skipped
    return out
