"""`genbench score REAL FAKE` on files made here in the real formats, checked against
independent computations; and the Inception extractor through the CLI with random weights."""

from __future__ import annotations

import json

import numpy as np
import pytest
import scipy.linalg
import torch
from PIL import Image
from test_inception import _random_state_dict

from genbench.results.store import Store


def fid_reference(a: np.ndarray, b: np.ndarray) -> float:
    mu1, mu2 = a.mean(0), b.mean(0)
    s1, s2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2)
                 - 2 * np.trace(scipy.linalg.sqrtm(s1 @ s2)).real)


def score_json(cli, *args):
    code, stdout, stderr = cli("score", *args, "--format", "json")
    assert code == 0, stderr
    return json.loads(stdout)


@pytest.fixture
def features(tmp_path):
    rng = np.random.default_rng(0)
    real = rng.normal(0, 1, (300, 16))
    fake = rng.normal(0.3, 1.2, (250, 16))
    np.save(tmp_path / "real.npy", real)
    np.savez(tmp_path / "fake.npz", features=fake)
    return real, fake, tmp_path / "real.npy", tmp_path / "fake.npz"


def test_score_features_matches_independent_references(cli, features, workdir):
    real, fake, real_path, fake_path = features
    out = score_json(cli, real_path, fake_path, "--extractor", "raw", "--workdir", workdir)
    assert set(out) >= {"fd", "kid_mean", "kid_std", "precision", "recall", "density",
                        "coverage"}
    assert "is_mean" not in out and "fid" not in out  # raw: no logits, and FD is not FID
    assert out["fd"] == pytest.approx(fid_reference(real, fake), rel=1e-6)
    assert out["k"] == 5 and out["n_real"] == 300 and out["n_fake"] == 250
    prdc = pytest.importorskip("prdc")
    ref = prdc.compute_prdc(real.astype(np.float32), fake.astype(np.float32), nearest_k=5)
    for key in ("precision", "recall", "density", "coverage"):
        assert out[key] == pytest.approx(ref[key], abs=1e-6), key
    k3 = score_json(cli, real_path, fake_path, "--extractor", "raw", "--k", "3",
                    "--metrics", "prdc", "--workdir", workdir)
    assert set(k3) & {"fd", "kid_mean"} == set()
    ref3 = prdc.compute_prdc(real.astype(np.float32), fake.astype(np.float32), nearest_k=3)
    assert k3["coverage"] == pytest.approx(ref3["coverage"], abs=1e-6)


def test_score_image_folders_in_pixel_space(cli, tmp_path, workdir):
    rng = np.random.default_rng(1)
    for name in ("real", "fake"):
        (tmp_path / name).mkdir()
        for i in range(12):
            pixels = rng.integers(0, 256, (8, 8), dtype=np.uint8)
            Image.fromarray(pixels, mode="L").save(tmp_path / name / f"{i:03d}.png")
    out = score_json(cli, tmp_path / "real", tmp_path / "fake", "--extractor", "raw",
                     "--metrics", "fd", "--workdir", workdir)
    load = lambda d: np.stack([np.asarray(Image.open(p), dtype=np.float64).ravel() / 127.5 - 1  # noqa: E731
                               for p in sorted((tmp_path / d).glob("*.png"))])
    assert out["fd"] == pytest.approx(fid_reference(load("real"), load("fake")), rel=1e-6)


def test_score_with_inception_weights_file(cli, tmp_path, workdir):
    """Plumbing only: random weights of the real architecture, passed as the local file."""
    weights = tmp_path / "inception.pth"
    torch.save(_random_state_dict(varied=True), weights)
    images = (torch.rand(6, 1, 16, 16) * 255).to(torch.uint8).numpy()
    np.save(tmp_path / "real.npy", images[:3])
    np.save(tmp_path / "fake.npy", images[3:])
    out = score_json(cli, tmp_path / "real.npy", tmp_path / "fake.npy", "--inception-weights",
                     weights, "--k", "1", "--workdir", workdir)
    assert out["extractor"] == "inception-v3"
    assert set(out) >= {"fid", "kid_mean", "precision", "coverage", "is_mean", "is_std"}
    assert np.isfinite([out["fid"], out["is_mean"]]).all()
    assert out["extractor_info"]["weights"] == str(weights)


def test_offline_without_inception_weights_is_one_clear_line(cli, tmp_path, workdir,
                                                             monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "empty-torch-home"))
    monkeypatch.setattr(torch.hub, "_hub_dir", None)
    monkeypatch.delenv("GENBENCH_INCEPTION_WEIGHTS", raising=False)
    np.save(tmp_path / "x.npy", np.zeros((4, 8, 8, 3), dtype=np.uint8))
    code, _, err = cli("score", tmp_path / "x.npy", tmp_path / "x.npy", "--workdir", workdir)
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "weights-inception-2015-12-05-6726825d.pth" in err and "--inception-weights" in err
    # `run` checks the same before training anything.
    code, _, err = cli("run", "gan", "--dataset", "digits", "--extractor", "inception-v3",
                       "--workdir", workdir)
    assert code == 2 and "--inception-weights" in err
    assert not (workdir / "genbench.sqlite").exists() or Store(workdir).runs() == []


@pytest.mark.parametrize("real, fake, message", [
    (np.zeros((20, 8)), np.zeros((20, 4)), "differ in shape"),
    (np.zeros((3, 8)), np.ones((20, 8)), "at least"),
    (np.full((20, 8), np.nan), np.ones((20, 8)), "NaN"),
])
def test_score_bad_features(cli, tmp_path, workdir, real, fake, message):
    np.save(tmp_path / "real.npy", real)
    np.save(tmp_path / "fake.npy", fake)
    code, _, err = cli("score", tmp_path / "real.npy", tmp_path / "fake.npy", "--extractor",
                       "raw", "--metrics", "prdc", "--workdir", workdir)
    assert code == 2 and len(err.strip().splitlines()) == 1 and message in err, err


def test_score_folders_of_two_image_sizes_in_raw_space(cli, tmp_path, workdir):
    rng = np.random.default_rng(0)
    for name, size in (("small", 8), ("large", 16)):
        (tmp_path / name).mkdir()
        for i in range(12):
            Image.fromarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8)).save(
                tmp_path / name / f"{i}.png")
    code, out, err = cli("score", tmp_path / "small", tmp_path / "large", "--extractor", "raw",
                         "--workdir", workdir)
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert "differ in shape: (3, 8, 8) vs (3, 16, 16)" in err and "--extractor inception-v3" in err


def test_score_empty_folder_and_dataset_only_metric(cli, tmp_path, workdir):
    (tmp_path / "empty").mkdir()
    code, _, err = cli("score", tmp_path / "empty", tmp_path / "empty", "--extractor", "raw",
                       "--workdir", workdir)
    assert code == 2 and "no images" in err.lower()
    np.save(tmp_path / "f.npy", np.zeros((20, 4)))
    code, _, err = cli("score", tmp_path / "f.npy", tmp_path / "f.npy", "--extractor", "raw",
                       "--metrics", "ndb", "--workdir", workdir)
    assert code == 2 and "needs a dataset" in err


def test_score_in_bf16_says_so(cli, tmp_path, workdir):
    weights = tmp_path / "inception.pth"
    torch.save(_random_state_dict(varied=True), weights)
    images = (torch.rand(6, 3, 16, 16) * 255).to(torch.uint8).numpy()
    np.save(tmp_path / "real.npy", images[:3])
    np.save(tmp_path / "fake.npy", images[3:])
    out = score_json(cli, tmp_path / "real.npy", tmp_path / "fake.npy", "--inception-weights",
                     weights, "--metrics", "is", "--extractor-precision", "bf16",
                     "--extractor-batch", "2", "--workdir", workdir)
    # IS, not FID: FID's bootstrap of 2048-d covariances takes half a minute on a CPU.
    assert np.isfinite(out["is_mean"]) and out["features"] == "inception-v3 features in bf16"
    assert out["extractor_info"]["precision"] == "bf16"


@pytest.mark.parametrize("args, message", [
    (["--extractor-precision", "fp16"], "is not one of fp32, bf16"),
    (["--extractor-batch", "0"], "at least 1"),
])
def test_bad_extractor_settings_are_one_line(cli, tmp_path, workdir, args, message):
    from test_cli import assert_one_line_error

    np.save(tmp_path / "x.npy", np.zeros((4, 8, 8, 3), dtype=np.uint8))
    assert_one_line_error(cli("score", tmp_path / "x.npy", tmp_path / "x.npy", *args,
                              "--workdir", workdir), message)
    assert_one_line_error(cli("evaluate", "no-such-run", *args, "--workdir", workdir), message)
    assert_one_line_error(cli("run", "gan", "--dataset", "ring8", *args, "--workdir", workdir),
                          message)


def test_a_run_asking_for_is_in_raw_space_is_refused_before_training(cli, workdir):
    code, _, err = cli("run", "gan", "--dataset", "digits", "--metrics", "is", "--extractor",
                       "raw", "--steps", "1", "--workdir", workdir)
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert "needs classifier logits" in err and "--extractor raw" in err
    assert not (workdir / "runs").exists()  # refused before a run began (it used to train)


# -- folders as the folder datasets read them ----------------------------------------------

def _folder(path, images) -> None:
    path.mkdir(parents=True)
    for i, pixels in enumerate(images):
        Image.fromarray(pixels).save(path / f"{i:03d}.png")


def test_grayscale_images_in_an_rgb_folder_are_scored_as_rgb(cli, tmp_path, workdir):
    """horse2zebra's trainB holds a few grayscale zebras: it trains as an RGB domain, and must
    score as one (it was 'images mix channel counts')."""
    rng = np.random.default_rng(2)
    horses = [rng.integers(0, 256, (3, 3, 3), dtype=np.uint8) for _ in range(40)]
    zebras = [rng.integers(0, 256, (3, 3, 3), dtype=np.uint8) for _ in range(36)]
    zebras += [rng.integers(0, 256, (3, 3), dtype=np.uint8) for _ in range(4)]
    _folder(tmp_path / "trainA", horses)
    _folder(tmp_path / "trainB", zebras)
    out = score_json(cli, tmp_path / "trainA", tmp_path / "trainB", "--extractor", "raw",
                     "--metrics", "fd", "--workdir", workdir)
    as_rgb = lambda images: np.stack([  # noqa: E731
        np.asarray(Image.fromarray(p).convert("RGB"), np.float64).transpose(2, 0, 1).ravel()
        / 127.5 - 1 for p in images])
    assert out["n_fake"] == 40
    assert out["fd"] == pytest.approx(fid_reference(as_rgb(horses), as_rgb(zebras)), rel=1e-6)

    # A grayscale set against an RGB one: compared in RGB, as a dataset holding both would be.
    gray = [rng.integers(0, 256, (3, 3), dtype=np.uint8) for _ in range(30)]
    _folder(tmp_path / "gray", gray)
    out = score_json(cli, tmp_path / "gray", tmp_path / "trainA", "--extractor", "raw",
                     "--metrics", "fd", "--workdir", workdir)
    assert out["fd"] == pytest.approx(fid_reference(as_rgb(gray), as_rgb(horses)), rel=1e-6)


# -- a feature space that tells no image apart ----------------------------------------------

def test_features_that_are_the_same_for_every_image_are_refused(cli, tmp_path, workdir):
    """Random Inception weights, as left initialised: every image gets (nearly) the same
    features, and horses against zebras scored FID 2e-13, IS 1, exit 0."""
    weights = tmp_path / "random-inception.pth"
    torch.save(_random_state_dict(), weights)
    images = (torch.rand(6, 3, 16, 16) * 255).to(torch.uint8).numpy()
    np.save(tmp_path / "real.npy", images[:3])
    np.save(tmp_path / "fake.npy", images[3:])
    code, out, err = cli("score", tmp_path / "real.npy", tmp_path / "fake.npy",
                         "--inception-weights", weights, "--metrics", "is", "--workdir", workdir)
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert "gives every image the same features" in err and "is_mean" not in out
    assert "3 different examples of REAL" in err and "probably not Inception-v3's" in err
    assert str(weights) in err.replace("\n", "")


def test_a_generator_that_collapsed_is_still_scored(cli, tmp_path, workdir):
    """Identical samples have identical features legitimately: only the reference is checked."""
    rng = np.random.default_rng(4)
    real = rng.normal(0, 1, (40, 6))
    collapsed = np.repeat(real[:1], 40, axis=0)
    np.save(tmp_path / "real.npy", real)
    np.save(tmp_path / "collapsed.npy", collapsed)
    out = score_json(cli, tmp_path / "real.npy", tmp_path / "collapsed.npy", "--extractor",
                     "raw", "--metrics", "fd", "--workdir", workdir)
    # One point: its covariance is 0, and FD = |mean - point|^2 + trace(real covariance).
    expected = ((real.mean(0) - real[0]) ** 2).sum() + np.trace(np.cov(real, rowvar=False))
    assert out["fd"] > 1 and out["fd"] == pytest.approx(expected, rel=1e-6)
    # Given as the reference, the collapsed set is not the extractor's fault either.
    swapped = score_json(cli, tmp_path / "collapsed.npy", tmp_path / "real.npy", "--extractor",
                         "raw", "--metrics", "fd", "--workdir", workdir)
    assert swapped["fd"] == pytest.approx(out["fd"], rel=1e-6)


def test_run_and_evaluate_refuse_such_features_where_score_does(tmp_path):
    """The check sits where every score's reference features come from (run, evaluate, score),
    and also applies to features cached before it existed."""
    from genbench import evaluation
    from genbench.data.base import TensorData
    from genbench.errors import GenbenchError
    from genbench.features import cache
    from genbench.features.base import Extractor, Features
    from genbench.plugins import get_registries

    class Constant(Extractor):
        name, key = "constant", "constant-test"

        def extract(self, x):
            return Features(torch.full((len(x), 8), 0.5) + 1e-7 * torch.rand(len(x), 8))

    gen = torch.Generator().manual_seed(0)
    real = TensorData("toy", "test", torch.rand(30, 1, 4, 4, generator=gen) * 2 - 1)
    scorer = evaluation.Scorer(None, torch.device("cpu"), tmp_path)
    scorer.extractors["constant"] = Constant()
    fd = get_registries().metrics.get("fd")
    with pytest.raises(GenbenchError, match="gives every image the same features") as err:
        scorer.score(real, torch.rand(30, 1, 4, 4) * 2 - 1, [fd], "constant", explicit=True,
                     bootstrap=False)
    assert "30 different examples of the test split of 'toy'" in str(err.value)
    assert "\n" not in str(err.value)

    saved = cache.check_tells_apart
    cache.check_tells_apart = lambda *args: None  # as before the check existed
    try:
        cache.split_features(Constant(), "toy", "test", real.x, tmp_path)
    finally:
        cache.check_tells_apart = saved
    with pytest.raises(GenbenchError, match="same features"):
        cache.split_features(Constant(), "toy", "test", real.x, tmp_path)
