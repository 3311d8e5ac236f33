"""The inpainting task kind: the fixed centre hole, the datasets, the hole-only metrics (checked
against independent formulas), the scoring that keeps the context, and the three models
(mean-fill, blur-fill, context-encoder) trained a few steps on tiny data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import cli_json
from test_superres_data import _ssim_numpy

from genbench.api import build_model
from genbench.config import resolve_config
from genbench.data.inpaint import FILL, hole_box, paste
from genbench.errors import GenbenchError
from genbench.metrics.inpaint import inpaint_metrics
from genbench.model import DataInfo
from genbench.plugins import get_registries

TINY = ["nef=4", "ngf=4", "ndf=4", "bottleneck=8", "batch_size=4"]


@pytest.mark.parametrize(("side", "box"), [(32, (8, 8, 16, 16)), (28, (7, 7, 14, 14)),
                                            (128, (32, 32, 64, 64)), (9, (2, 2, 4, 4))])
def test_the_hole_is_the_centre_square_of_half_the_side(side, box):
    assert hole_box(side, side) == box


def test_images_too_small_for_a_hole_are_refused():
    with pytest.raises(GenbenchError, match="at least 8x8"):
        hole_box(6, 6)


def test_inpaint_digits_cuts_the_centre_of_the_32x32_digits():
    from genbench.data.digits import load_digits

    spec = get_registries().datasets.get("inpaint-digits")
    assert spec.kind == "inpaint" and spec.shape == spec.target_shape == (1, 32, 32)
    data = spec.load("test")
    digits = load_digits("test").x.repeat_interleave(4, 2).repeat_interleave(4, 3)
    assert torch.equal(data.target, digits) and data.y is not None
    assert data.meta["hole"] == [8, 8, 16, 16]
    inside = torch.zeros(32, 32, dtype=torch.bool)
    inside[8:24, 8:24] = True
    assert (data.x[..., inside] == FILL).all()
    assert torch.equal(data.x[..., ~inside], data.target[..., ~inside])
    assert len(spec.load("train")) == 1437 and len(data) == 360


def test_an_image_size_resizes_first_then_cuts():
    data = get_registries().datasets.get("inpaint-digits").load("test", image_size=64)
    assert data.x.shape == (360, 1, 64, 64) and data.meta["hole"] == [16, 16, 32, 32]
    assert (data.x[..., 16:48, 16:48] == FILL).all()
    assert torch.equal(data.x[..., :16, :], data.target[..., :16, :])


def test_inpaint_folder_centre_crops_and_resizes(tmp_path):
    from PIL import Image

    rng = np.random.default_rng(0)
    for split, sizes in (("train", [(40, 20), (16, 16)]), ("val", [(20, 24)])):
        (tmp_path / split).mkdir()
        for i, (w, h) in enumerate(sizes):
            Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)).save(
                tmp_path / split / f"{i}.png")
    spec = get_registries().datasets.get(f"inpaint-folder:{tmp_path}")
    train = spec.load("train", image_size=16)
    test = spec.load("test", image_size=20)
    assert train.x.shape == (2, 3, 16, 16) and test.x.shape == (1, 3, 20, 20)
    # 40x20: the centre 20x20 square (columns 10..29), area-averaged to 16x16.
    pixels = np.asarray(Image.open(tmp_path / "train" / "0.png")).astype(np.float64)
    square = torch.from_numpy(pixels[:, 10:30].transpose(2, 0, 1).copy())[None] / 127.5 - 1
    expected = torch.nn.functional.adaptive_avg_pool2d(square, 16)[0].float()
    assert torch.allclose(train.target[0], expected, atol=1e-5)
    # 20x24 (w x h): the centre 20x20 (rows 2..21), no resize; its hole is 10x10 at (5, 5).
    pixels = np.asarray(Image.open(tmp_path / "val" / "0.png"))
    centre = torch.from_numpy(pixels[2:22].transpose(2, 0, 1).copy()).float() / 127.5 - 1
    assert torch.allclose(test.target[0], centre)
    assert test.meta["hole"] == [5, 5, 10, 10] and (test.x[0, :, 5:15, 5:15] == FILL).all()


def test_inpaint_folder_without_a_test_folder_says_the_layout(tmp_path):
    (tmp_path / "train").mkdir()
    with pytest.raises(GenbenchError, match="PATH/train/ and PATH/test/"):
        get_registries().datasets.get(f"inpaint-folder:{tmp_path}").load("train")


def test_inpaint_horse2zebra_takes_both_domains_under_the_data_root(tmp_path):
    from PIL import Image

    base = tmp_path / "horse2zebra"
    rng = np.random.default_rng(1)
    for folder, sizes in (("trainA", [(40, 20)]), ("trainB", [(24, 24)]), ("testA", [(32, 32)]),
                          ("testB", [(20, 24), (16, 16)])):
        (base / folder).mkdir(parents=True)
        for i, (w, h) in enumerate(sizes):
            Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)).save(
                base / folder / f"{i}.jpg", quality=95)
    spec = get_registries().datasets.get("inpaint-horse2zebra")
    assert spec.needs_data_root and spec.kind == "inpaint" and spec.shape == (3, 64, 64)
    train = spec.load("train", image_size=16, root=tmp_path)
    test = spec.load("test", image_size=16, root=tmp_path)
    assert train.x.shape == (2, 3, 16, 16) and test.x.shape == (3, 3, 16, 16)
    assert test.meta["hole"] == [4, 4, 8, 8] and (test.x[:, :, 4:12, 4:12] == FILL).all()
    # testB's 20x24 (w x h) photo: its centre 20x20 (rows 2..21), area-averaged to 16x16.
    pixels = np.asarray(Image.open(base / "testB" / "0.jpg")).astype(np.float64)
    square = torch.from_numpy(pixels[2:22].transpose(2, 0, 1).copy())[None] / 127.5 - 1
    expected = torch.nn.functional.adaptive_avg_pool2d(square, 16)[0].float()
    assert torch.allclose(test.target[1], expected, atol=1e-5)
    (base / "testB" / "0.jpg").unlink()
    (base / "testB" / "1.jpg").unlink()
    (base / "testB").rmdir()
    with pytest.raises(GenbenchError, match="testB"):
        spec.load("test", root=tmp_path)
    with pytest.raises(GenbenchError, match="--data-root"):
        spec.load("train", root=tmp_path / "elsewhere")


@pytest.mark.skipif(not (Path(__file__).parents[2] / "shared/data/horse2zebra/testB").is_dir(),
                    reason="../shared/data/horse2zebra is not beside the checkout")
def test_inpaint_horse2zebra_reads_the_shared_photos():
    spec = get_registries().datasets.get("inpaint-horse2zebra")
    test = spec.load("test", root=Path(__file__).parents[2] / "shared/data")
    assert test.target.shape[1:] == (3, 64, 64) and len(test.target) >= 100
    assert test.target.min() >= -1 and test.target.max() <= 1


def test_inpaint_mnist_cuts_a_14x14_hole(tmp_path):
    from conftest import write_idx

    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    images = np.random.default_rng(0).integers(0, 256, size=(5, 28, 28)).astype(np.uint8)
    write_idx(raw / "t10k-images-idx3-ubyte", images, 2051, True)
    write_idx(raw / "t10k-labels-idx1-ubyte", np.arange(5, dtype=np.uint8), 2049, True)
    spec = get_registries().datasets.get("inpaint-mnist")
    assert spec.needs_data_root and spec.evaluator_from == "mnist"
    data = spec.load("test", root=tmp_path)
    assert torch.allclose(data.target[:, 0], torch.from_numpy(images).float() / 127.5 - 1)
    assert data.meta["hole"] == [7, 7, 14, 14] and (data.x[..., 7:21, 7:21] == FILL).all()


def test_paste_keeps_the_context_and_takes_the_clamped_hole():
    context = torch.rand(2, 3, 16, 16) * 2 - 1
    output = torch.full((2, 3, 16, 16), 5.0)
    done = paste(context, output)
    assert (done[..., 4:12, 4:12] == 1.0).all()  # clamped to [-1, 1]
    outside = torch.ones(16, 16, dtype=torch.bool)
    outside[4:12, 4:12] = False
    assert torch.equal(done[..., outside], context[..., outside])
    with pytest.raises(GenbenchError, match="whole images of the input's shape"):
        paste(context, output[..., :8, :8])


@pytest.mark.parametrize("channels", [1, 3])
def test_hole_metrics_match_independent_formulas(channels):
    gen = torch.Generator().manual_seed(0)
    truth = torch.rand(3, channels, 32, 32, generator=gen) * 2 - 1
    completed = (truth + 0.3 * torch.randn(3, channels, 32, 32, generator=gen)).clamp(-1, 1)
    completed[..., :8, :] = 1.0  # the context does not count
    got = inpaint_metrics(truth, completed)
    l1s, l2s, psnrs, ssims = [], [], [], []
    for i in range(3):
        a = (truth[i].double().numpy()[:, 8:24, 8:24] + 1) / 2
        b = (completed[i].double().numpy()[:, 8:24, 8:24] + 1) / 2
        l1s.append(np.abs(a - b).mean())
        l2s.append(((a - b) ** 2).mean())
        psnrs.append(10 * np.log10(1.0 / l2s[-1]))
        ssims.append(np.mean([_ssim_numpy(a[c], b[c]) for c in range(channels)]))
    assert got["l1_hole"] == pytest.approx(np.mean(l1s), abs=1e-9)
    assert got["l2_hole"] == pytest.approx(np.mean(l2s), abs=1e-9)
    assert got["psnr_hole"] == pytest.approx(np.mean(psnrs), abs=1e-5)
    assert got["ssim_hole"] == pytest.approx(np.mean(ssims), abs=1e-4)


def test_metric_applies_only_to_inpaint_and_fd_uses_the_evaluator():
    from genbench.api import default_extractor

    registries = get_registries()
    inpaint, sr = registries.datasets.get("inpaint-digits"), registries.datasets.get("sr-digits")
    metric = registries.metrics.get("inpaint")
    assert metric.applies(inpaint) and not metric.applies(sr)
    assert not registries.metrics.get("superres").applies(inpaint)
    assert not registries.metrics.get("translation").applies(inpaint)
    assert default_extractor(inpaint) == "evaluator"
    assert registries.extractors.get("evaluator").applies(inpaint)


# -- the models --------------------------------------------------------------------------------

def _model(name: str, overrides=(), steps: int = 4, shape=(1, 32, 32)):
    spec = get_registries().models.get(name)
    config = resolve_config(spec, "quick", "inpaint", steps, list(overrides))
    return build_model(spec, config, DataInfo("inpaint", shape, 10, shape), torch.device("cpu"))


@pytest.mark.parametrize(("name", "overrides"), [("mean-fill", []), ("blur-fill", []),
                                                 ("context-encoder", TINY)])
def test_each_model_trains_and_fills_only_the_hole(name, overrides):
    torch.manual_seed(0)
    data = get_registries().datasets.get("inpaint-digits").load("train")
    model = _model(name, overrides)
    if hasattr(model, "fit_training_set"):
        model.fit_training_set(data.x, data.target)
    for _ in range(3):
        losses = model.train_step(data.x[:4], data.target[:4])
        assert all(torch.isfinite(torch.as_tensor(v)) for v in losses.values())
    out = model.translate(data.x[:5])
    assert out.shape == (5, 1, 32, 32) and out.min() >= -1 and out.max() <= 1
    assert torch.equal(out[..., :8, :], data.x[:5, :, :8, :])  # the context, untouched
    # The model never sees the hole's content: the true images give the same output.
    assert torch.equal(model.translate(data.target[:5]), out)


def test_mean_fill_fills_with_the_mean_training_hole():
    data = get_registries().datasets.get("inpaint-digits").load("train")
    model = _model("mean-fill", steps=1)
    model.fit_training_set(data.x, data.target)
    expected = data.target[..., 8:24, 8:24].double().mean(0).float()
    assert torch.allclose(model.translate(data.x[:2])[..., 8:24, 8:24],
                          expected.expand(2, 1, 16, 16), atol=1e-6)


def test_blur_fill_is_the_normalised_gaussian_convolution_of_the_context():
    x = torch.rand(2, 3, 16, 16) * 2 - 1
    x[..., 4:12, 4:12] = 0.0
    out = _model("blur-fill", steps=1, shape=(3, 16, 16)).translate(x)
    sigma = 0.25 * 8
    ys, xs = np.mgrid[:16, :16]
    known = np.ones((16, 16))
    known[4:12, 4:12] = 0
    for r, c in ((4, 4), (7, 8), (11, 10)):
        w = np.exp(-((ys - r) ** 2 + (xs - c) ** 2) / (2 * sigma ** 2)) * known
        w[np.abs(ys - r) > 6] = 0  # the kernel's radius: ceil(3 sigma)
        w[np.abs(xs - c) > 6] = 0
        expected = (x[0].double().numpy() * w).sum((1, 2)) / w.sum()
        assert np.allclose(out[0, :, r, c].double().numpy(), expected, atol=1e-5)
    flat = torch.full((1, 1, 16, 16), 0.3)  # a constant context is filled exactly
    assert torch.allclose(_model("blur-fill", steps=1, shape=(1, 16, 16)).translate(flat),
                          torch.full_like(flat, 0.3), atol=1e-6)


@pytest.mark.parametrize("side", [28, 64, 128])
def test_the_context_encoder_predicts_the_hole_at_any_size(side):
    model = _model("context-encoder", TINY, shape=(3, side, side))
    x = torch.rand(2, 3, side, side) * 2 - 1
    h = side // 2
    assert model.fill(x).shape == (2, 3, h, h)
    assert model.discriminator(model.fill(x)).shape == (2,)


def test_context_encoder_paper_defaults():
    spec = get_registries().models.get("context-encoder")
    config = spec.config()
    assert (config.bottleneck, config.nef, config.ngf, config.ndf) == (4000, 64, 64, 64)
    assert (config.l2_weight, config.lr, config.beta1, config.batch_size) == \
        (0.999, 2e-4, 0.5, 64)
    assert "1604.07379" in spec.paper and set(spec.profiles) == {"quick", "standard"}
    model = _model("context-encoder", shape=(3, 128, 128), steps=1,
                   overrides=["nef=64", "ngf=64", "bottleneck=4000"])
    convs = [m for m in model.encoder.modules() if isinstance(m, torch.nn.Conv2d)]
    # 128 -> 64 -> 32 -> 16 -> 8 -> 4, then 4x4 to the 4000-d code: the paper's encoder.
    assert [m.out_channels for m in convs] == [64, 64, 128, 256, 512, 4000]
    ups = [m for m in model.decoder.modules() if isinstance(m, torch.nn.ConvTranspose2d)]
    assert [m.out_channels for m in ups] == [512, 256, 128, 64, 3]


def test_context_encoder_resumes_from_a_checkpoint():
    batches = [(torch.rand(4, 1, 32, 32) * 2 - 1, torch.rand(4, 1, 32, 32) * 2 - 1)
               for _ in range(6)]
    torch.manual_seed(0)
    straight = _model("context-encoder", TINY, steps=6)
    state = {k: v.clone() for k, v in straight.state_dict().items()}
    for x, y in batches:
        straight.train_step(x, y)
    first = _model("context-encoder", TINY, steps=6)
    first.load_state_dict(state)
    for x, y in batches[:3]:
        first.train_step(x, y)
    second = _model("context-encoder", TINY, steps=6)
    second.load_training_state(first.training_state())
    assert second.step_count == 3
    for x, y in batches[3:]:
        second.train_step(x, y)
    for key, value in straight.state_dict().items():
        assert torch.allclose(value.float(), second.state_dict()[key].float(), atol=1e-6), key


def test_mean_fill_end_to_end_scores_the_hole_of_the_completed_images(cli, workdir):
    record = cli_json(cli, "run", "mean-fill", "--dataset", "inpaint-digits", "--workdir",
                      workdir)
    assert record["status"] == "completed"
    values = {m["name"]: m["value"] for m in record["metrics"]}
    assert {"l1_hole", "l2_hole", "psnr_hole", "ssim_hole", "FD[evaluator]"} <= set(values)
    registries = get_registries()
    train = registries.datasets.get("inpaint-digits").load("train")
    test = registries.datasets.get("inpaint-digits").load("test")
    completed = test.x.clone()
    completed[..., 8:24, 8:24] = train.target[..., 8:24, 8:24].double().mean(0).float()
    expected = inpaint_metrics(test.target, completed)
    for name in ("l1_hole", "l2_hole", "psnr_hole", "ssim_hole"):
        assert values[name] == pytest.approx(expected[name], rel=1e-5), name
    assert (Path(record["run_dir"]) / "translations.png").stat().st_size > 0


def test_context_encoder_end_to_end_through_the_cli(cli, workdir):
    record = cli_json(cli, "run", "context-encoder", "--dataset", "inpaint-digits", "--steps",
                      "3", "--set", "bottleneck=16", "--workdir", workdir)
    assert record["status"] == "completed"
    names = {m["name"] for m in record["metrics"]}
    assert {"l1_hole", "psnr_hole", "ssim_hole", "FD[evaluator]"} <= names
    code, out, err = cli("samples", record["run_id"], "--workdir", workdir)
    assert code == 0, err


def test_inpainting_models_refuse_other_data(cli, workdir):
    code, _, err = cli("run", "context-encoder", "--dataset", "sr-digits", "--workdir",
                       workdir)
    assert code != 0 and "inpaint" in err and "Traceback" not in err


def test_image_size_sets_the_size_inpainting_trains_and_is_scored_at(cli, workdir):
    """--set image_size=128 is the paper's size (the docs said so, and the setting did not
    exist): the test split is cut at the trained size, so the hole scored is the one learnt."""
    from genbench.results.store import Store

    code, _, stderr = cli("run", "context-encoder", "--dataset", "inpaint-digits", "--steps", "2",
                          "--device", "cpu", "--workdir", workdir, "--metrics", "inpaint",
                          "--set", "image_size=16", "--set", "nef=8", "--set", "ngf=8",
                          "--set", "ndf=8", "--set", "bottleneck=16")
    assert code == 0, stderr
    (record,) = Store(workdir).runs()
    assert record.config["image_size"] == 16 and "psnr_hole" in record.metric_map()
    code, _, stderr = cli("run", "mean-fill", "--dataset", "inpaint-digits", "--device", "cpu",
                          "--workdir", workdir, "--metrics", "inpaint", "--set",
                          "image_size=16")
    assert code == 0, stderr
