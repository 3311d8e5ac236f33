"""The inception-v3 extractor: weights resolution, safety checks, and the end-to-end plumbing.

The network here runs with *random* weights of the right architecture, written to a local file:
these tests check the plumbing (file handling, preprocessing, shapes, cache keys), not the real
weights' features. Nothing is downloaded: every test that could reach the download path replaces
``urllib.request.urlopen``.
"""

from __future__ import annotations

import hashlib
import io
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import torch
from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3

from genbench.errors import GenbenchError
from genbench.features import inception
from genbench.features.base import ExtractorContext
from genbench.features.inception import (
    WEIGHTS_FILENAME,
    WEIGHTS_URL,
    InceptionExtractor,
    make_inception_extractor,
    resolve_weights,
)


class _NoLoad(FeatureExtractorInceptionV3):
    """torch-fidelity's network left at its fresh random initialisation."""

    def load_state_dict(self, state_dict, *args, **kwargs):
        return None


def _random_state_dict(varied: bool = False) -> dict[str, torch.Tensor]:
    """Random weights of the real architecture. Left as initialised, the activations fade
    through the network: every image gets features of about 4e-7 that hardly differ, which
    scoring refuses. ``varied``: each batch norm's statistics are set from one batch of random
    images (as a data-dependent initialisation does), so features vary by O(1), as a trained
    network's do, and scores can be computed."""
    empty = io.BytesIO()
    torch.save({}, empty)
    empty.seek(0)
    torch.manual_seed(0)
    module = _NoLoad("random-inception", ["2048"], feature_extractor_weights_path=empty)
    if varied:
        for layer in module.modules():
            if isinstance(layer, torch.nn.BatchNorm2d):
                layer.reset_running_stats()
                layer.momentum = None  # the running statistics become the batch's own
        module.train()
        with torch.no_grad():
            module((torch.rand(4, 3, 64, 64) * 255).to(torch.uint8))
    return {k: v.clone() for k, v in module.state_dict().items()}


@pytest.fixture(scope="module")
def random_state() -> dict[str, torch.Tensor]:
    return _random_state_dict()


@pytest.fixture(scope="module")
def weights_file(tmp_path_factory, random_state) -> Path:
    path = tmp_path_factory.mktemp("inception") / "random-inception.pth"
    torch.save(random_state, path)
    return path


@pytest.fixture(scope="module")
def varied_weights_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("inception") / "varied-inception.pth"
    torch.save(_random_state_dict(varied=True), path)
    return path


@pytest.fixture
def isolated(monkeypatch, tmp_path):
    """No weights anywhere: empty torch hub cache, no env var, and no network allowed."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch-home"))
    monkeypatch.setattr(torch.hub, "_hub_dir", None)
    monkeypatch.delenv(inception.ENV_WEIGHTS, raising=False)
    monkeypatch.delenv(inception.ENV_OFFLINE, raising=False)
    monkeypatch.setattr(inception, "_download_failed", None)

    def no_network(*args, **kwargs):
        pytest.fail("tried to reach the network")

    monkeypatch.setattr(urllib.request, "urlopen", no_network)
    return tmp_path


def _ctx(tmp_path: Path, **options) -> ExtractorContext:
    return ExtractorContext(dataset=None, device=torch.device("cpu"), workdir=tmp_path,
                            options=options)


def test_end_to_end_with_random_weights(weights_file, tmp_path, isolated):
    ext = make_inception_extractor(_ctx(tmp_path, inception_weights=str(weights_file)))
    assert isinstance(ext, InceptionExtractor)
    assert ext.name == "inception-v3" and ext.batch_size == 64
    sha = hashlib.sha256(weights_file.read_bytes()).hexdigest()
    assert ext.key == f"inception-v3-{sha[:16]}-{inception.PREPROCESSING}"
    assert ext.info == {"weights": str(weights_file), "weights_sha256": sha}

    gen = torch.Generator().manual_seed(1)
    gray = torch.rand(2, 1, 16, 16, generator=gen) * 2 - 1
    out = ext(gray)
    assert out.features.shape == (2, 2048) and out.logits.shape == (2, 1008)
    assert out.features.dtype == torch.float32 and out.logits.dtype == torch.float32
    assert torch.isfinite(out.features).all() and torch.isfinite(out.logits).all()
    assert out.features.abs().sum() > 0

    # One channel is the same image as three equal channels.
    same = ext.extract(gray[:1].repeat(1, 3, 1, 1))
    torch.testing.assert_close(same.features, out.features[:1], rtol=1e-4, atol=1e-6)

    rgb = torch.rand(1, 3, 32, 32, generator=gen) * 2 - 1
    first, second = ext(rgb), ext(rgb)
    assert first.features.shape == (1, 2048) and first.logits.shape == (1, 1008)
    assert torch.equal(first.features, second.features)
    assert torch.equal(first.logits, second.logits)


def test_logits_are_the_unbiased_ones_isc_uses():
    assert FeatureExtractorInceptionV3.get_default_feature_layer_for_metric("isc") == \
        "logits_unbiased"
    assert inception.FEATURES_LIST == ["2048", "logits_unbiased"]


def test_images_become_uint8_as_a_saved_png_would(weights_file, tmp_path, isolated):
    ext = make_inception_extractor(_ctx(tmp_path, inception_weights=str(weights_file)))
    seen = []

    def fake_model(images):
        seen.append(images)
        return torch.zeros(images.shape[0], 2048), torch.zeros(images.shape[0], 1008)

    ext._model = fake_model
    x = torch.tensor([-1.0, -0.999, 0.0, 1 / 255, 0.5, 1.0, 1.2, -3.0]).reshape(1, 1, 2, 4)
    ext.extract(x)
    images = seen[0]
    assert images.dtype == torch.uint8 and images.shape == (1, 3, 2, 4)
    expected = ((x + 1) * 127.5).round().clamp(0, 255).to(torch.uint8).repeat(1, 3, 1, 1)
    assert torch.equal(images, expected)
    assert images[0, 0].flatten().tolist() == [0, 0, 128, 128, 191, 255, 255, 0]


def test_rejects_other_channel_counts_and_non_finite(weights_file, tmp_path, isolated):
    ext = make_inception_extractor(_ctx(tmp_path, inception_weights=str(weights_file)))
    with pytest.raises(GenbenchError, match="1 or 3"):
        ext.extract(torch.zeros(1, 2, 8, 8))
    with pytest.raises(GenbenchError, match="1 or 3"):
        ext.extract(torch.zeros(4, 10))
    with pytest.raises(GenbenchError, match="NaN"):
        ext.extract(torch.full((1, 3, 8, 8), float("nan")))
    assert ext._model is None  # rejected before the network was even built


def test_key_changes_with_the_weights_file(weights_file, random_state, tmp_path, isolated,
                                           monkeypatch):
    other = dict(random_state)
    other["fc.bias"] = other["fc.bias"] + 1
    other_file = tmp_path / "other.pth"
    torch.save(other, other_file)
    a = make_inception_extractor(_ctx(tmp_path, inception_weights=str(weights_file)))
    b = make_inception_extractor(_ctx(tmp_path, inception_weights=str(other_file)))
    assert a.key != b.key and a.key.startswith("inception-v3-")

    # The hash is cached per (path, size, mtime): the file is not read again.
    def no_read(path):
        pytest.fail("re-read a weights file whose hash is cached")

    monkeypatch.setattr(inception, "_read", no_read)
    assert make_inception_extractor(_ctx(tmp_path, inception_weights=str(weights_file))).key \
        == a.key


def test_env_var_and_hub_cache_are_used(weights_file, tmp_path, isolated, monkeypatch):
    monkeypatch.setenv(inception.ENV_WEIGHTS, str(weights_file))
    assert resolve_weights(None) == weights_file
    monkeypatch.delenv(inception.ENV_WEIGHTS)
    cached = inception.hub_weights_path()
    assert cached.name == WEIGHTS_FILENAME == "weights-inception-2015-12-05-6726825d.pth"
    assert str(cached).startswith(str(isolated))
    cached.parent.mkdir(parents=True)
    cached.symlink_to(weights_file)
    assert resolve_weights(None) == cached
    assert resolve_weights(str(weights_file)) == weights_file  # explicit wins


def test_missing_explicit_file_is_named(tmp_path, isolated):
    missing = tmp_path / "nope.pth"
    with pytest.raises(GenbenchError, match="nope.pth") as err:
        make_inception_extractor(_ctx(tmp_path, inception_weights=str(missing)))
    assert "\n" not in str(err.value)


def test_corrupt_file_is_rejected(tmp_path, isolated):
    bad = tmp_path / "corrupt.pth"
    bad.write_bytes(torch.randint(0, 256, (4096,), dtype=torch.uint8).numpy().tobytes())
    with pytest.raises(GenbenchError, match="corrupt.pth") as err:
        make_inception_extractor(_ctx(tmp_path, inception_weights=str(bad)))
    assert "\n" not in str(err.value)


_executed = []


class _Payload:
    def __reduce__(self):
        return (_executed.append, ("ran",))


def test_foreign_files_are_rejected_without_running_code(tmp_path, isolated):
    pickled = tmp_path / "pickled.pth"
    torch.save({"fc.weight": _Payload()}, pickled)
    with pytest.raises(GenbenchError, match="pickled.pth"):
        make_inception_extractor(_ctx(tmp_path, inception_weights=str(pickled)))
    assert _executed == []

    other = tmp_path / "other-model.pth"
    torch.save({"weight": torch.zeros(3)}, other)
    with pytest.raises(GenbenchError, match="no tensor 'Conv2d_1a_3x3.conv.weight'"):
        make_inception_extractor(_ctx(tmp_path, inception_weights=str(other)))

    shaped = tmp_path / "shaped.pth"
    torch.save({**{k: torch.zeros(s) for k, s in inception.EXPECTED_SHAPES.items()},
                "fc.weight": torch.zeros(10, 2048)}, shaped)
    with pytest.raises(GenbenchError, match="shape"):
        make_inception_extractor(_ctx(tmp_path, inception_weights=str(shaped)))


def test_incomplete_state_dict_fails_when_building(tmp_path, isolated):
    partial = tmp_path / "partial.pth"
    torch.save({k: torch.zeros(s) for k, s in inception.EXPECTED_SHAPES.items()}, partial)
    ext = make_inception_extractor(_ctx(tmp_path, inception_weights=str(partial)))
    with pytest.raises(GenbenchError, match="architecture") as err:
        ext.extract(torch.zeros(1, 3, 8, 8))
    assert "\n" not in str(err.value)


def test_offline_without_weights_says_what_to_do(tmp_path, isolated, monkeypatch):
    monkeypatch.setenv(inception.ENV_OFFLINE, "1")
    with pytest.raises(GenbenchError) as err:
        make_inception_extractor(_ctx(tmp_path))
    message = str(err.value)
    assert "weights-inception-2015-12-05-6726825d.pth" in message
    assert "--inception-weights" in message and inception.ENV_WEIGHTS in message
    assert WEIGHTS_URL in message and "\n" not in message


def test_failed_download_is_tried_once_and_leaves_nothing(tmp_path, isolated, monkeypatch):
    calls = []

    def unreachable(url, timeout=None):
        calls.append((url, timeout))
        raise urllib.error.URLError("no route to host")

    monkeypatch.setattr(urllib.request, "urlopen", unreachable)
    for _ in range(2):
        with pytest.raises(GenbenchError, match="no route to host") as err:
            resolve_weights(None)
        assert WEIGHTS_URL in str(err.value) and "--inception-weights" in str(err.value)
    assert calls == [(WEIGHTS_URL, inception.DOWNLOAD_TIMEOUT_S)]
    cache_dir = inception.hub_weights_path().parent
    assert not cache_dir.exists() or list(cache_dir.iterdir()) == []


class _FakeResponse(io.BytesIO):
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def test_download_is_checked_and_renamed_atomically(tmp_path, isolated, monkeypatch):
    payload = b"pretend these are the weights" * 1000
    monkeypatch.setattr(urllib.request, "urlopen", lambda url, timeout: _FakeResponse(payload))
    # A file whose hash does not match its name is refused.
    with pytest.raises(GenbenchError, match="sha256"):
        resolve_weights(None)
    cache_dir = inception.hub_weights_path().parent
    assert list(cache_dir.iterdir()) == []

    monkeypatch.setattr(inception, "_download_failed", None)
    monkeypatch.setattr(inception, "WEIGHTS_SHA256_PREFIX", hashlib.sha256(payload).hexdigest()[:8])
    path = resolve_weights(None)
    assert path == inception.hub_weights_path() and path.read_bytes() == payload
    assert list(cache_dir.iterdir()) == [path]


# --- the fast path (issue 16): uint8 batches, features gathered on the device, bf16 ----------

@pytest.fixture(scope="module")
def images() -> torch.Tensor:
    """Two dozen 8-bit RGB images as genbench holds them: float in [-1, 1]."""
    gen = torch.Generator().manual_seed(2)
    pixels = torch.randint(0, 256, (24, 3, 12, 12), dtype=torch.uint8, generator=gen)
    return pixels.float().div(127.5).sub(1)


def test_fast_path_gives_the_per_batch_paths_features(weights_file, tmp_path, isolated, images):
    ext = make_inception_extractor(_ctx(tmp_path, inception_weights=str(weights_file)))
    old = [ext.extract(images[i:i + 64]) for i in range(0, len(images), 64)]
    old_features = torch.cat([o.features for o in old])
    old_logits = torch.cat([o.logits for o in old])
    new = ext(images)
    # Same batches, same arithmetic: the same bits.
    assert torch.equal(new.features, old_features) and torch.equal(new.logits, old_logits)

    # uint8 pixels (8-bit datasets) are exactly what float images round to...
    pixels = inception.to_pixels(images)
    assert pixels.dtype == torch.uint8 and torch.equal(inception.to_pixels(pixels), pixels)
    # ...and other batch sizes only reorder float32 sums: differences of a few float32
    # roundings (measured: 2e-7 of the largest value at batch 7), so 1e-4 of it is ample.
    small = make_inception_extractor(_ctx(tmp_path, inception_weights=str(weights_file),
                                          extractor_batch=5))
    assert small.batch_size == 5 and small.key == ext.key
    again = small(pixels)
    for got, want in ((again.features, old_features), (again.logits, old_logits)):
        torch.testing.assert_close(got, want, rtol=0, atol=1e-4 * want.abs().max().item())


def test_batch_size_fits_the_device(monkeypatch):
    assert inception.default_batch_size(torch.device("cpu")) == inception.CPU_BATCH == 64
    for free, batch in ((80 << 30, 500), (4 << 30, 85), (1 << 30, 64)):
        monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device, free=free: (free, free))
        assert inception.default_batch_size(torch.device("cuda")) == batch


def test_bf16_is_an_option_and_is_recorded(weights_file, varied_weights_file, tmp_path,
                                           isolated, images):
    from genbench import evaluation
    from genbench.data.base import TensorData
    from genbench.plugins import get_registries

    options = {"inception_weights": str(weights_file), "extractor_precision": "bf16"}
    ext = make_inception_extractor(_ctx(tmp_path, **options))
    fp32 = make_inception_extractor(_ctx(tmp_path, inception_weights=str(weights_file)))
    assert ext.key == fp32.key + "-bf16" and ext.variant == "bf16" and fp32.variant == ""
    assert ext.info["features"] == "inception-v3 features in bf16"
    half, full = ext(images[:4]).features, fp32(images[:4]).features
    assert half.dtype == torch.float32
    # bfloat16 keeps 8 bits of mantissa: about 1% (0.9% measured here and on an H200).
    assert (half - full).abs().max() <= 0.03 * full.abs().max()

    options["inception_weights"] = str(varied_weights_file)
    scorer = evaluation.Scorer(None, torch.device("cpu"), tmp_path, options)
    fd = get_registries().metrics.get("fd")
    values = scorer.score(TensorData("real", "given", images[:8]), images[8:16], [fd],
                          "inception-v3", explicit=True, bootstrap=False)
    assert [(v.name, v.extractor) for v in values] == [("FID@bf16", "inception-v3@bf16")]
    assert scorer.notes["features"] == {"inception-v3@bf16": "inception-v3 features in bf16"}
    assert scorer.extractor_info()["inception-v3@bf16"]["precision"] == "bf16"


def test_bad_precision_or_batch_is_one_line(weights_file, tmp_path, isolated):
    for options, message in (({"extractor_precision": "fp16"}, "fp32, bf16"),
                             ({"extractor_batch": 0}, "at least 1")):
        with pytest.raises(GenbenchError, match=message) as err:
            make_inception_extractor(_ctx(tmp_path, inception_weights=str(weights_file),
                                          **options))
        assert "\n" not in str(err.value)
