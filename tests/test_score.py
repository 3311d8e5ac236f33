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
    torch.save(_random_state_dict(), weights)
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
    torch.save(_random_state_dict(), weights)
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
