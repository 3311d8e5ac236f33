"""The ``inception-v3`` extractor: torch-fidelity's port of the TensorFlow FID Inception network.

Outputs, per image: the 2048-d pool features (what FID, KID and precision/recall compare) and
the 1008 *unbiased* logits (``fc.weight @ pool``, without the bias), which is what torch-fidelity's
Inception Score uses, so IS computed from these logits matches ``torch_fidelity.calculate_metrics``.

Preprocessing, identical to scoring the images as saved PNG files: images in [-1, 1] become
``uint8`` by ``((x + 1) * 127.5).round().clamp(0, 255)`` (one channel is repeated to three);
torch-fidelity then resizes them to 299 x 299 with its TensorFlow-1.x-compatible bilinear
resize and scales them to [-1, 1] as the original graph does. Any change to this pipeline must
change :data:`PREPROCESSING`, which is part of the feature-cache key.

Throughput (issue 16): :meth:`InceptionExtractor.__call__` sends images to the device as
``uint8`` (a quarter of float32's bytes), through pinned buffers with non-blocking copies, in
batches of hundreds on a GPU (:func:`default_batch_size`), and keeps the features on the device
until the end: the only host synchronisation is the one final copy back. The old loop (batches
of 64, float32 pageable copies, a finiteness check and two ``.cpu()`` per batch) made the GPU
wait for the host after every batch. ``precision="bf16"`` runs the network under bfloat16
autocast: faster on a GPU, features within about 1% of float32's, recorded with every metric.

Weights are never fetched silently from anywhere else: see :func:`resolve_weights`. Before
torch-fidelity sees them, they are loaded with ``weights_only=True`` (no code runs), checked,
and handed over as a freshly serialised in-memory copy, so torch-fidelity's own unrestricted
``torch.load`` only ever reads tensors this module produced.
"""

from __future__ import annotations

import hashlib
import io
import os
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import torch
from torch_fidelity.feature_extractor_inceptionv3 import (
    URL_INCEPTION_V3,
    FeatureExtractorInceptionV3,
)

from genbench.errors import GenbenchError
from genbench.features.base import Extractor, ExtractorContext, Features

WEIGHTS_URL = URL_INCEPTION_V3
WEIGHTS_FILENAME = os.path.basename(urlparse(URL_INCEPTION_V3).path)
# torch.hub convention: the file name ends with the first hex digits of the file's sha256.
WEIGHTS_SHA256_PREFIX = WEIGHTS_FILENAME.rsplit("-", 1)[-1].split(".")[0]
ENV_WEIGHTS = "GENBENCH_INCEPTION_WEIGHTS"
ENV_OFFLINE = "GENBENCH_OFFLINE"
PREPROCESSING = "u8-tf299"  # uint8 like a PNG, TF1-style bilinear resize to 299
FEATURES_LIST = ["2048", "logits_unbiased"]
FEATURE_DIMS = (2048, 1008)  # the pool features, the logits
PRECISIONS = {"fp32": None, "bf16": torch.bfloat16}  # the network's autocast dtype
CPU_BATCH = 64
GPU_BATCH = 500  # measured on an H200: 5,360 img/s at 500 in bf16 against 4,170 at 64 in fp32
# Peak memory of one 299 x 299 image through the network, measured on the CPU (23 MiB); a GPU
# batch takes at most half the free memory at this cost.
BYTES_PER_IMAGE = 24 << 20
DOWNLOAD_TIMEOUT_S = 15  # per socket operation
DOWNLOAD_DEADLINE_S = 600  # for the whole file
# A few tensors whose shapes pin down the architecture (load_state_dict checks the rest).
EXPECTED_SHAPES = {
    "Conv2d_1a_3x3.conv.weight": (32, 3, 3, 3),
    "Mixed_7c.branch_pool.conv.weight": (192, 2048, 1, 1),
    "fc.weight": (1008, 2048),
    "fc.bias": (1008,),
}

_HOW_TO_SUPPLY = f"pass --inception-weights PATH or set {ENV_WEIGHTS}=PATH"
_sha256_cache: dict[tuple[str, int, int], str] = {}
_download_failed: str | None = None  # why the one download attempt of this process failed


def hub_weights_path() -> Path:
    """Where torch-fidelity (through ``torch.hub``) caches the weights file."""
    return Path(torch.hub.get_dir()) / "checkpoints" / WEIGHTS_FILENAME


def available_weights(explicit: str | None) -> Path | None:
    """The weights file :func:`resolve_weights` would use without downloading, or None: for
    choosing Inception-v3 over a feature space that cannot be used, never for requiring it."""
    for name in (explicit, os.environ.get(ENV_WEIGHTS)):
        if name:
            path = Path(name).expanduser()
            return path if path.is_file() else None
    cached = hub_weights_path()
    return cached if cached.is_file() else None


def resolve_weights(explicit: str | None) -> Path:
    """The Inception weights file to use, downloading it at most once per process.

    In order: ``explicit`` (``--inception-weights``), ``$GENBENCH_INCEPTION_WEIGHTS``, the torch
    hub cache file torch-fidelity itself would use, then a download into that cache (skipped when
    ``GENBENCH_OFFLINE=1``). Raises :class:`GenbenchError` when none is available.
    """
    given = ((explicit, "--inception-weights"), (os.environ.get(ENV_WEIGHTS), ENV_WEIGHTS))
    for name, source in given:
        if name:
            path = Path(name).expanduser()
            if not path.is_file():
                raise GenbenchError(f"Inception weights file {str(path)!r} (from {source}) does "
                                    f"not exist; {WEIGHTS_FILENAME} can be downloaded from "
                                    f"{WEIGHTS_URL}")
            return path
    cached = hub_weights_path()
    if cached.is_file():
        return cached
    if os.environ.get(ENV_OFFLINE, "").strip() not in ("", "0"):
        reason = f"{ENV_OFFLINE} is set"
    else:
        reason = _download_once(cached)
        if reason is None:
            return cached
    raise GenbenchError(f"the Inception weights file {WEIGHTS_FILENAME} is needed but was not "
                        f"found at {cached} and could not be downloaded ({reason}); download it "
                        f"from {WEIGHTS_URL} and {_HOW_TO_SUPPLY} (or put it at that path)")


def _download_once(target: Path) -> str | None:
    """Download the weights to ``target``; returns None on success or why it failed."""
    global _download_failed
    if _download_failed is not None:
        return _download_failed
    tmp_name = None
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        print(f"genbench: downloading {WEIGHTS_URL} to {target}", file=sys.stderr)
        deadline = time.monotonic() + DOWNLOAD_DEADLINE_S
        digest = hashlib.sha256()
        with urllib.request.urlopen(WEIGHTS_URL, timeout=DOWNLOAD_TIMEOUT_S) as response, \
                tempfile.NamedTemporaryFile(dir=target.parent, prefix=".download-",
                                            suffix=".part", delete=False) as tmp:
            tmp_name = tmp.name
            while chunk := response.read(1 << 20):
                if time.monotonic() > deadline:
                    raise TimeoutError(f"took more than {DOWNLOAD_DEADLINE_S} s")
                digest.update(chunk)
                tmp.write(chunk)
        if not digest.hexdigest().startswith(WEIGHTS_SHA256_PREFIX):
            raise ValueError("the downloaded file's sha256 does not match its name")
        os.replace(tmp_name, target)
        tmp_name = None
        return None
    except (OSError, urllib.error.URLError, TimeoutError, ValueError) as err:
        _download_failed = f"{type(err).__name__}: {err}".replace("\n", " ")
        return _download_failed
    finally:
        if tmp_name is not None:
            Path(tmp_name).unlink(missing_ok=True)


def _read(path: Path) -> tuple[bytes, str, tuple[str, int, int]]:
    try:
        stat = path.stat()
        data = path.read_bytes()
    except OSError as err:
        raise GenbenchError(f"cannot read Inception weights file {str(path)!r}: {err}") from None
    return data, hashlib.sha256(data).hexdigest(), (str(path.resolve()), stat.st_size,
                                                    stat.st_mtime_ns)


def _load_checked(data: bytes, path: Path) -> dict[str, torch.Tensor]:
    """The state dict in ``data``, loaded without running code and checked; else GenbenchError."""
    bad = (f"{str(path)!r} is not a valid Inception-v3 weights file ({WEIGHTS_FILENAME} from "
           f"{WEIGHTS_URL})")
    try:
        state = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except Exception as err:  # corrupt, truncated, or pickles anything but tensors
        text = str(err).strip()
        if text.startswith("Weights only load failed"):  # torch's long advice is not for users
            reason = "corrupt, or holds objects other than tensors, which are not loaded"
        else:
            reason = text.splitlines()[0][:200] if text else type(err).__name__
        raise GenbenchError(f"{bad}: it cannot be loaded safely ({reason})") from None
    if not isinstance(state, dict) or not all(
            isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items()):
        raise GenbenchError(f"{bad}: it does not hold a dict of named tensors")
    for key, shape in EXPECTED_SHAPES.items():
        if key not in state:
            raise GenbenchError(f"{bad}: it has no tensor {key!r}")
        if tuple(state[key].shape) != shape:
            raise GenbenchError(f"{bad}: {key!r} has shape {tuple(state[key].shape)}, "
                                f"expected {shape}")
    return state


def weights_sha256(path: Path) -> str:
    """sha256 of a weights file, checked to be loadable; cached per (path, size, mtime)."""
    try:
        stat = path.stat()
    except OSError as err:
        raise GenbenchError(f"cannot read Inception weights file {str(path)!r}: {err}") from None
    ident = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    if ident not in _sha256_cache:
        data, digest, ident = _read(path)
        _load_checked(data, path)
        _sha256_cache[ident] = digest
    return _sha256_cache[ident]


def check_precision(precision: str) -> str:
    if precision not in PRECISIONS:
        raise GenbenchError(f"extractor precision {precision!r} is not one of "
                            f"{', '.join(PRECISIONS)}")
    return precision


def check_batch_size(batch_size: int | None) -> int | None:
    if batch_size is not None and (isinstance(batch_size, bool) or not isinstance(
            batch_size, int) or batch_size < 1):
        raise GenbenchError(f"extractor batch size must be a whole number of at least 1, got "
                            f"{batch_size!r}")
    return batch_size


def default_batch_size(device: torch.device) -> int:
    """Images per forward pass: :data:`CPU_BATCH` on the CPU; on a GPU up to
    :data:`GPU_BATCH`, as many as half the free memory holds (never below ``CPU_BATCH``)."""
    if device.type != "cuda":
        return CPU_BATCH
    free, _ = torch.cuda.mem_get_info(device)
    return max(CPU_BATCH, min(GPU_BATCH, free // 2 // BYTES_PER_IMAGE))


def to_pixels(x: torch.Tensor) -> torch.Tensor:
    """Images as the uint8 a saved PNG would hold: float in [-1, 1] rounded, uint8 (genbench's
    8-bit datasets, ``v`` meaning ``v / 127.5 - 1``) as they are, which is the same."""
    if x.dtype == torch.uint8:
        return x
    return ((x.float() + 1) * 127.5).round().clamp(0, 255).to(torch.uint8)


class InceptionExtractor(Extractor):
    name = "inception-v3"
    batch_size = CPU_BATCH

    def __init__(self, weights: Path, device: torch.device, precision: str = "fp32",
                 batch_size: int | None = None):
        super().__init__()
        self.weights = Path(weights)
        self.device = torch.device(device)
        self.precision = check_precision(precision)
        self.batch_size = check_batch_size(batch_size) or default_batch_size(self.device)
        self.sha256 = weights_sha256(self.weights)
        self.info: dict[str, Any] = {"weights": str(self.weights), "weights_sha256": self.sha256}
        self.key = f"inception-v3-{self.sha256[:16]}-{PREPROCESSING}"
        self.same_features_hint = (f"the weights file {str(self.weights)!r} is probably not "
                                   f"Inception-v3's: use {WEIGHTS_FILENAME} from {WEIGHTS_URL}")
        if precision != "fp32":  # float32 keys and records stay as they were before bf16
            self.variant = precision
            self.key += f"-{precision}"
            self.info.update(precision=precision,
                             features=f"inception-v3 features in {precision}")
        self._model: FeatureExtractorInceptionV3 | None = None

    def model(self) -> FeatureExtractorInceptionV3:
        """The network, built on first use from the very file whose hash is in :attr:`key`."""
        if self._model is None:
            data, digest, _ = _read(self.weights)
            if digest != self.sha256:
                raise GenbenchError(f"Inception weights file {str(self.weights)!r} changed while "
                                    "in use; run again")
            state = _load_checked(data, self.weights)
            buffer = io.BytesIO()
            torch.save(state, buffer)  # only the checked tensors reach torch-fidelity's loader
            del state, data
            buffer.seek(0)
            try:
                model = FeatureExtractorInceptionV3(
                    "inception-v3-compat", list(FEATURES_LIST),
                    feature_extractor_weights_path=buffer)
            except RuntimeError as err:  # load_state_dict: missing / unexpected / misshapen keys
                detail = " ".join(str(err).split())[:300]
                raise GenbenchError(f"{str(self.weights)!r} does not match the Inception-v3 "
                                    f"architecture ({detail}); use {WEIGHTS_FILENAME} from "
                                    f"{WEIGHTS_URL}") from None
            self._model = model.to(self.device)
        return self._model

    def _check(self, x: torch.Tensor) -> None:
        if x.dim() != 4 or x.shape[1] not in (1, 3):
            raise GenbenchError("the inception-v3 extractor needs images shaped (N, 1 or 3, H, W)"
                                f", got {tuple(x.shape)}; use --extractor raw for other data")
        if x.is_floating_point() and not all(torch.isfinite(x[i:i + 4096]).all()
                                             for i in range(0, x.shape[0], 4096)):
            raise GenbenchError("images contain NaN or inf values; cannot compute Inception "
                                "features")

    def _forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Pool features and logits of uint8 images already on the device."""
        if images.shape[1] == 1:
            images = images.expand(-1, 3, -1, -1)
        dtype = PRECISIONS[self.precision]
        with torch.no_grad(), torch.autocast(self.device.type, dtype=dtype,
                                             enabled=dtype is not None):
            return self.model()(images)

    def extract(self, x: torch.Tensor) -> Features:
        """Features of one batch, on the CPU (the simple path; :meth:`__call__` is the fast
        one and gives the same features)."""
        self._check(x)
        self.model()
        pool, logits = self._forward(to_pixels(x.to(self.device)))
        return Features(features=pool.float().cpu(), logits=logits.float().cpu())

    @torch.no_grad()
    def __call__(self, x: torch.Tensor, progress=None) -> Features:
        """Features of any number of images, in batches of :attr:`batch_size`;
        ``progress(done, total)`` counts the batches handed to the device."""
        self._check(x)
        if x.shape[0] == 0:
            raise ValueError("no examples to extract features from")
        self.model()
        n = x.shape[0]
        # Gathered on the device, and copied back once at the end: the only host sync.
        out = [torch.empty(n, dim, device=self.device) for dim in FEATURE_DIMS]
        for start, images in self._device_batches(x):
            for buffer, values in zip(out, self._forward(images), strict=True):
                buffer[start:start + images.shape[0]] = values
            if progress:
                progress(start + images.shape[0], n)
        features, logits = (buffer.cpu() for buffer in out)
        return Features(features=features, logits=logits)

    def _device_batches(self, x: torch.Tensor):
        """(start, uint8 images on the device) for each batch of ``x``. From the CPU to a GPU,
        batches are made uint8 on the host, into one of two pinned buffers, and copied without
        blocking; a buffer is refilled only once its previous copy is done."""
        step = self.batch_size
        if x.device == self.device or self.device.type != "cuda":
            for start in range(0, x.shape[0], step):
                yield start, to_pixels(x[start:start + step].to(self.device))
            return
        x = x.cpu()
        pinned = [torch.empty((min(step, x.shape[0]), *x.shape[1:]), dtype=torch.uint8,
                              pin_memory=True) for _ in range(2)]
        copied: list[torch.cuda.Event | None] = [None, None]
        for k, start in enumerate(range(0, x.shape[0], step)):
            slot = k % 2
            if copied[slot] is not None:
                copied[slot].synchronize()
            host = pinned[slot][:min(step, x.shape[0] - start)]
            host.copy_(to_pixels(x[start:start + step]))
            images = host.to(self.device, non_blocking=True)
            copied[slot] = torch.cuda.Event()
            # On the stream the copy went to: with --device cuda:1 the current stream is
            # device 0's, and an event there would not wait for the copy.
            copied[slot].record(torch.cuda.current_stream(self.device))
            yield start, images


def make_inception_extractor(ctx: ExtractorContext) -> InceptionExtractor:
    precision = check_precision(ctx.options.get("extractor_precision") or "fp32")
    batch_size = check_batch_size(ctx.options.get("extractor_batch"))
    weights = resolve_weights(ctx.options.get("inception_weights"))
    return InceptionExtractor(weights, ctx.device, precision, batch_size)
