"""A feature space that fits the data, always: raw vectors past RAW_MAX_DIM are no feature space.

Translation folders of real-size images (pix2pix's and CycleGAN's 256x256 layouts) used to fail
after training with a 288 GiB allocation: the Fréchet distance on raw pixels. Now the run
completes, FD/KID/PRDC say why they were not computed (in the table, the record and the
leaderboard), the metrics against the ground truth (L1, PSNR, SSIM) and the cycle errors are
computed, and Inception-v3 takes over when its weights are at hand.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from genbench.data.base import TensorData
from genbench.features import raw
from genbench.metrics import reconstruction
from genbench.registry import MetricSpec

WIDE_REASON = "above the 4,096-d limit for raw-pixel metrics"


def _image(rng, height: int, width: int) -> Image.Image:
    return Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8))


def make_paired(base: Path, side: int, counts=(4, 2)) -> Path:
    rng = np.random.default_rng(0)
    for split, n in zip(("train", "test"), counts, strict=True):
        (base / split).mkdir(parents=True)
        for i in range(n):
            _image(rng, side, 2 * side).save(base / split / f"{i}.png")
    return base


def make_unpaired(base: Path, side: int, counts=(4, 4, 2, 2)) -> Path:
    rng = np.random.default_rng(1)
    for sub, n in zip(("trainA", "trainB", "testA", "testB"), counts, strict=True):
        (base / sub).mkdir(parents=True)
        for i in range(n):
            _image(rng, side, side).save(base / sub / f"{i}.jpg", quality=90)
    return base


def test_the_limit_and_its_reason():
    assert raw.too_wide((3, 32, 32)) is None and raw.too_wide((1, 64, 64)) is None
    assert raw.too_wide((2,)) is None
    why = raw.too_wide((3, 256, 256))
    assert "196,608-d" in why and WIDE_REASON in why and "288 GiB" in why
    assert "--inception-weights" in why and "\n" not in why
    assert "1.1 GiB" in raw.too_wide((3, 64, 64))  # 12,288-d: CelebA goes to Inception


def _scorer(tmp_path, **options):
    from genbench.evaluation import Scorer

    return Scorer(None, torch.device("cpu"), tmp_path, {"bootstrap": 0, **options})


def test_wide_raw_metrics_are_not_computed_and_say_why(tmp_path):
    from genbench.plugins import get_registries

    metrics = [get_registries().metrics.get(name) for name in ("fd", "kid", "prdc", "is")]
    gen = torch.Generator().manual_seed(0)
    real = TensorData("wide", "test", torch.rand(6, 3, 40, 40, generator=gen) * 2 - 1)
    fake = torch.rand(6, 3, 40, 40, generator=gen) * 2 - 1
    scorer = _scorer(tmp_path, extractor_explicit=True)
    values = scorer.score(real, fake, metrics, "raw")
    assert values == []
    skipped = scorer.notes["not_computed"]
    # IS needs logits, which raw vectors never have: skipped as before, not listed.
    assert set(skipped) == {"FD[raw]", "kid_mean[raw]", "kid_std[raw]", "precision[raw]",
                            "recall[raw]", "density[raw]", "coverage[raw]"}
    assert all("4,800-d" in why and WIDE_REASON in why for why in skipped.values())
    # At the limit itself raw vectors are still a feature space.
    narrow = TensorData("narrow", "test", real.x[:, :1, :32, :32])
    values = _scorer(tmp_path).score(narrow, fake[:, :1, :32, :32], metrics[:1], "raw")
    assert [v.name for v in values] == ["FD[raw]"]


def test_inception_takes_over_only_where_the_space_was_not_chosen(tmp_path, monkeypatch):
    """With weights at hand a default-space metric moves to Inception-v3; an explicit
    ``--extractor raw`` and a metric's own space (NDB bins raw pixels) never do."""
    from genbench.evaluation import Scorer
    from genbench.features import inception

    weights = tmp_path / "weights.pth"
    weights.write_bytes(b"stand-in: only its existence is consulted here")
    real = TensorData("wide", "test", torch.zeros(2, 3, 40, 40))
    fd = MetricSpec(name="fd", summary="", compute="", outputs={"FD": False})
    ndb = MetricSpec(name="ndb", summary="", compute="", outputs={"NDB/K": False},
                     extractor="raw")

    def usable(spec, **options):
        scorer = Scorer(None, torch.device("cpu"), tmp_path, options)
        return scorer._usable_space(spec, "raw", real)

    monkeypatch.setattr(inception, "hub_weights_path", lambda: tmp_path / "absent.pth")
    monkeypatch.delenv(inception.ENV_WEIGHTS, raising=False)
    assert usable(fd)[0] == "raw" and WIDE_REASON in usable(fd)[1]
    assert usable(fd, inception_weights=str(weights)) == ("inception-v3", None)
    monkeypatch.setenv(inception.ENV_WEIGHTS, str(weights))
    assert usable(fd) == ("inception-v3", None)
    assert usable(fd, extractor_explicit=True)[1] is not None
    assert usable(ndb)[1] is not None
    assert usable(fd, inception_weights=str(tmp_path / "missing.pth"))[1] is not None


def test_ssim_in_pieces_equals_ssim_at_once(monkeypatch):
    from torchmetrics.functional.image import structural_similarity_index_measure

    gen = torch.Generator().manual_seed(3)
    x = torch.rand(9, 3, 24, 24, generator=gen, dtype=torch.float64) * 2 - 1
    recon = (x + 0.2 * torch.randn(x.shape, generator=gen, dtype=torch.float64)).clamp(-1, 1)
    whole = reconstruction_metrics_at(x, recon, chunk_bytes=1 << 40)
    monkeypatch.setattr(reconstruction, "CHUNK_BYTES", 1)  # one image at a time
    pieces = reconstruction.reconstruction_metrics(x, recon, images=True)
    assert pieces == pytest.approx(whole, rel=1e-12)
    a, b = (x + 1) / 2, ((recon + 1) / 2).clamp(0, 1)
    want = structural_similarity_index_measure(b, a, data_range=1.0, kernel_size=11)
    assert pieces["ssim"] == pytest.approx(float(want), abs=1e-6)  # float32 filtering
    assert pieces["mse"] == pytest.approx(float(((b - a) ** 2).mean()), rel=1e-12)


def reconstruction_metrics_at(x, recon, chunk_bytes: int) -> dict[str, float]:
    saved = reconstruction.CHUNK_BYTES
    reconstruction.CHUNK_BYTES = chunk_bytes
    try:
        return reconstruction.reconstruction_metrics(x, recon, images=True)
    finally:
        reconstruction.CHUNK_BYTES = saved


def test_translation_metrics_at_256x256_stay_in_memory():
    """100 images of 3x256x256 needed 32 GB in float64 SSIM; a few at a time need little."""
    import resource

    gen = torch.Generator().manual_seed(0)
    x = torch.rand(24, 3, 256, 256, generator=gen) * 2 - 1
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    out = reconstruction.reconstruction_metrics(x, x.clone(), images=True)
    grown_mib = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert out["mse"] == 0 and out["psnr"] == 100 and out["ssim"] == pytest.approx(1.0)
    assert grown_mib < 1024


def _record(workdir: Path) -> dict:
    (path,) = workdir.glob("runs/*/record.json")  # one folder per run, no nesting
    return json.loads(path.read_text())


@pytest.mark.slow
def test_pix2pix_on_a_256x256_paired_folder_completes(tmp_path, cli):
    folder = make_paired(tmp_path / "facades", 256)
    work = tmp_path / "work"
    code, out, err = cli("run", "pix2pix", "--dataset", f"paired-folder:{folder}:BtoA",
                         "--steps", "2", "--workdir", work)
    assert code == 0, err
    text = " ".join(out.split())
    assert "not computed: FD[raw]" in text and "196,608-d" in text
    record = _record(work)
    assert record["status"] == "completed"
    assert "/" not in record["run_id"] and record["run_id"].startswith("pix2pix-paired-folder:")
    names = {m["name"] for m in record["metrics"]}
    assert {"l1", "psnr", "ssim"} <= names and not any("[raw]" in n for n in names)
    skipped = record["evaluation"]["not_computed"]
    assert "FD[raw]" in skipped and WIDE_REASON in skipped["FD[raw]"]
    (board,) = (work / "leaderboards").glob("paired-folder_*.md")
    board_text = board.read_text()
    assert "Not computed:" in board_text and "`FD[raw]`" in board_text
    assert WIDE_REASON in board_text
    # Raw space was prepared but nothing was computed in it: it is no feature space of the board.
    assert "Feature spaces" not in board_text and "`raw`:" not in board_text
    assert "2 real and 2 generated samples per run" in board_text


@pytest.mark.slow
def test_cyclegan_on_a_256x256_unpaired_folder_completes(tmp_path, cli):
    folder = make_unpaired(tmp_path / "horse2zebra", 256)
    work = tmp_path / "work"
    code, out, err = cli("run", "cyclegan", "--dataset", f"unpaired-folder:{folder}",
                         "--steps", "2", "--workdir", work)
    assert code == 0, err
    assert "not computed: FD[raw]" in " ".join(out.split())
    record = _record(work)
    names = {m["name"] for m in record["metrics"]}
    assert {"cycle_l1_A", "cycle_l1_B"} <= names
    assert "FD[raw]" in record["evaluation"]["not_computed"]
    (board,) = (work / "leaderboards").glob("unpaired-folder_*.md")
    board_text = " ".join(board.read_text().split())
    assert "0 generated" not in board_text and "Feature spaces" not in board_text
    assert "2 examples per run (no generated samples)" in board_text


def test_score_with_raw_features_of_wide_images(tmp_path, cli):
    """`score` has nothing to show when no metric fits the features: that is a failure with
    the reason, not an empty table and exit status 0 (as it was)."""
    rng = np.random.default_rng(2)
    for name in ("real", "fake"):
        (tmp_path / name).mkdir()
        for i in range(4):
            _image(rng, 40, 40).save(tmp_path / name / f"{i}.png")
    for fmt in ("json", "table"):
        code, out, err = cli("score", tmp_path / "real", tmp_path / "fake", "--extractor", "raw",
                             "--workdir", tmp_path / "work", "--format", fmt)
        assert code == 2 and (out == "" or fmt == "table")  # the table form shows progress
        (line,) = [line for line in err.splitlines() if line.startswith("error:")]
        assert "nothing could be scored" in line and "4,800-d" in line, err
    # IS asked for in raw space: raw vectors have no logits.
    code, out, err = cli("score", tmp_path / "real", tmp_path / "fake", "--extractor", "raw",
                         "--metrics", "is", "--workdir", tmp_path / "work")
    assert code == 2 and "needs classifier logits" in err and "'raw'" in err, err
