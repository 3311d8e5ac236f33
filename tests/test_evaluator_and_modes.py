"""The evaluator extractor, the feature cache, stacked-digits modes and NDB/K."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from genbench.data.stacked import load_stacked_digits
from genbench.errors import GenbenchError
from genbench.features import evaluator as evaluator_module
from genbench.features.base import ExtractorContext
from genbench.features.cache import cache_dir, split_features
from genbench.features.evaluator import make_evaluator
from genbench.metrics.ndb import bin_difference_test, ndb
from genbench.metrics.stacked import stacked_mode_metrics
from genbench.plugins import get_registries


def context(name: str, workdir, seed: int = 0) -> ExtractorContext:
    return ExtractorContext(get_registries().datasets.get(name), torch.device("cpu"), workdir,
                            seed=seed)


def test_evaluator_is_accurate_cached_and_recorded(workdir):
    ex = make_evaluator(context("digits", workdir))
    assert ex.info["accuracy"] >= ex.info["min_accuracy"] == 0.98
    assert ex.info["tested_on"] == "digits/test" and ex.info["arch"] == "cnn-v2"
    assert ex.info["stopped"] in ("plateau", "cap") and ex.info["train_seconds"] > 0
    from genbench.data.digits import load_digits

    test = load_digits("test")
    out = ex(test.x)
    assert out.features.shape == (360, 128) and out.logits.shape == (360, 10)
    assert (out.logits.argmax(1) == test.y).float().mean().item() == pytest.approx(
        ex.info["accuracy"])
    # Upsampled images are brought back to 8x8 first: same predictions.
    up = torch.nn.functional.interpolate(test.x, scale_factor=4, mode="nearest")
    assert torch.equal(ex(up).logits.argmax(1), out.logits.argmax(1))
    again = make_evaluator(context("digits", workdir))  # from the cache: same key, same net
    assert again.key == ex.key and torch.allclose(again(test.x[:8]).logits, out.logits[:8],
                                                  atol=1e-5)
    # The anomaly protocols are scored by the digits evaluator (all classes), not their own.
    for variant in ("digits-oneclass:3", "digits-leaveout:3"):
        assert make_evaluator(context(variant, workdir)).key == ex.key


def test_evaluator_below_threshold_is_refused(workdir, monkeypatch):
    monkeypatch.setattr(evaluator_module, "MAX_EPOCHS", 0)  # an untrained classifier
    with pytest.raises(GenbenchError, match=r"below the 98\.0% bar for digits") as excinfo:
        make_evaluator(context("digits", workdir, seed=7))
    assert "\n" not in str(excinfo.value) and "--extractor raw" in str(excinfo.value)


def test_evaluator_needs_labelled_images(workdir):
    with pytest.raises(GenbenchError, match="labelled images"):
        make_evaluator(context("ring8", workdir))


def test_stacked_digits_evaluator_reads_each_channel(workdir):
    data = load_stacked_digits("test")
    assert data.x.shape == (26000, 3, 8, 8)
    ex = make_evaluator(context("stacked-digits", workdir))
    logits = ex(data.x[:500]).logits
    assert logits.shape == (500, 3, 10)
    pred = logits.argmax(-1)
    truth = torch.stack([data.y[:500] // 100, data.y[:500] // 10 % 10, data.y[:500] % 10], 1)
    assert (pred == truth).all(1).float().mean() > 0.95  # ~0.99^3


def test_feature_cache_reuses_and_survives_damage(workdir, monkeypatch):
    ex = make_evaluator(context("digits", workdir))
    monkeypatch.setenv("GENBENCH_CACHE_DIR", str(workdir / "own-cache"))
    x = torch.rand(50, 1, 8, 8) * 2 - 1
    first, cached = split_features(ex, "digits", "test", x, workdir)
    assert not cached
    second, cached = split_features(ex, "digits", "test", x, workdir)
    assert cached and torch.equal(first.features, second.features)
    (path,) = (cache_dir(workdir) / "features").glob("digits-test-*.pt")
    path.write_bytes(b"garbage")
    third, cached = split_features(ex, "digits", "test", x, workdir)
    assert not cached and torch.equal(third.features, first.features)
    other, cached = split_features(ex, "digits", "test", x.flip(0), workdir)
    assert not cached  # different contents, different file


def test_stacked_mode_metrics_closed_forms():
    all_modes = torch.tensor([[a, b, c] for a in range(10) for b in range(10)
                              for c in range(10)])
    out = stacked_mode_metrics(all_modes, classes=10)
    assert out == {"modes_covered": 1000.0, "reverse_kl": pytest.approx(0.0, abs=1e-12)}
    one = stacked_mode_metrics(torch.tensor([[1, 2, 3]] * 50), classes=10)
    assert one["modes_covered"] == 1 and one["reverse_kl"] == pytest.approx(math.log(1000))
    two = stacked_mode_metrics(torch.tensor([[0, 0, 0]] * 30 + [[9, 9, 9]] * 10), classes=10)
    q = np.array([0.75, 0.25])
    assert two["reverse_kl"] == pytest.approx(float((q * np.log(q * 1000)).sum()))


def test_ndb_z_test_against_hand_computation():
    real, fake = np.array([50, 50]), np.array([80, 20])
    # p_real = .5, p_fake = .8 for bin 0; pooled .65; se = sqrt(.65*.35*(1/100+1/100))
    z = (0.8 - 0.5) / math.sqrt(0.65 * 0.35 * 0.02)
    assert z > 1.96
    assert bin_difference_test(real, fake).tolist() == [True, True]
    assert bin_difference_test(real, np.array([52, 48])).tolist() == [False, False]


def test_ndb_on_separated_blobs():
    rng = np.random.default_rng(0)
    centres = np.array([[0, 0], [10, 0], [0, 10], [10, 10]], dtype=float)
    real = np.concatenate([c + rng.normal(0, 0.1, (100, 2)) for c in centres])
    same = np.concatenate([c + rng.normal(0, 0.1, (100, 2)) for c in centres])
    assert ndb(real, same, k=4)["NDB/K"] == 0.0
    dropped = np.concatenate([c + rng.normal(0, 0.1, (200, 2)) for c in centres[:2]])
    assert ndb(real, dropped, k=4)["NDB/K"] == 1.0  # 2 bins empty, 2 over-full
    with pytest.raises(ValueError, match="NaN"):
        ndb(real, np.full((10, 2), np.nan), k=4)
