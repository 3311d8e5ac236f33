"""The super-resolution models: bicubic, srresnet, srgan (Ledig et al. 2017)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from conftest import cli_json

from genbench.api import build_model
from genbench.config import resolve_config
from genbench.data.superres import upsample_bicubic
from genbench.metrics.superres import superres_metrics
from genbench.model import DataInfo
from genbench.plugins import get_registries

TINY = ["channels=8", "blocks=2", "batch_size=4"]


def _model(name: str, overrides=(), steps: int = 4):
    registries = get_registries()
    data = registries.datasets.get("sr-digits").load("train")
    info = DataInfo("superres", data.example_shape, 10, data.target_shape)
    spec = registries.models.get(name)
    config = resolve_config(spec, "quick", "superres", steps, list(overrides))
    return build_model(spec, config, info, torch.device("cpu")), data


@pytest.mark.parametrize(("name", "overrides"), [
    ("bicubic", []), ("srresnet", TINY),
    ("srgan", TINY + ["ndf=4", "d_dense=16", "pretrain=0.5"])])
def test_each_model_trains_and_upscales_to_the_hr_shape_and_range(name, overrides):
    torch.manual_seed(0)
    model, data = _model(name, overrides)
    x, y = data.x[:4], data.target[:4]
    for _ in range(4):
        losses = model.train_step(x, y)
        assert all(torch.isfinite(torch.as_tensor(v)) for v in losses.values())
    if name == "srgan":
        assert {"adversarial", "feature", "d_loss"} <= set(losses)  # the second phase ran
    out = model.translate(data.x[:5])
    assert out.shape == (5, 1, 32, 32)
    assert out.min() >= -1 and out.max() <= 1


def test_paper_defaults_and_profiles():
    spec = get_registries().models.get("srgan")
    config = spec.config()
    assert (config.blocks, config.channels, config.batch_size, config.lr) == (16, 64, 16, 1e-4)
    assert config.adversarial_weight == 1e-3
    assert "1609.04802" in spec.paper
    assert set(spec.profiles) == {"quick", "standard"}
    model, _ = _model("srresnet", steps=1)
    gen = model.generator
    assert gen.head[0].kernel_size == (9, 9) and gen.tail.kernel_size == (9, 9)
    assert sum(isinstance(m, torch.nn.PixelShuffle) for m in gen.modules()) == 2  # x4


def test_bicubic_psnr_is_that_of_plain_bicubic_upsampling(cli, workdir):
    record = cli_json(cli, "run", "bicubic", "--dataset", "sr-digits", "--workdir", workdir,
                      "--metrics", "superres")
    values = {m["name"]: m["value"] for m in record["metrics"]}
    test = get_registries().datasets.get("sr-digits").load("test")
    direct = torch.nn.functional.interpolate(test.x, scale_factor=4, mode="bicubic",
                                             align_corners=False).clamp(-1, 1)
    assert torch.equal(direct, upsample_bicubic(test.x))
    expected = superres_metrics(test.target, direct, 4)
    assert values["psnr_y"] == pytest.approx(expected["psnr_y"], abs=1e-9)
    assert values["ssim_y"] == pytest.approx(expected["ssim_y"], abs=1e-9)


@pytest.mark.parametrize("stop", [2, 5])  # inside the MSE phase, inside the adversarial one
def test_srgan_resumes_from_a_checkpoint_in_either_phase(stop):
    overrides = TINY + ["ndf=4", "d_dense=16", "pretrain=0.5"]
    batches = [(torch.rand(4, 1, 8, 8) * 2 - 1, torch.rand(4, 1, 32, 32) * 2 - 1)
               for _ in range(8)]
    torch.manual_seed(0)
    straight, _ = _model("srgan", overrides, steps=8)
    state = {k: v.clone() for k, v in straight.state_dict().items()}
    for x, y in batches:
        straight.train_step(x, y)

    first, _ = _model("srgan", overrides, steps=8)
    first.load_state_dict(state)
    for x, y in batches[:stop]:
        first.train_step(x, y)
    saved = first.training_state()
    second, _ = _model("srgan", overrides, steps=8)
    second.load_training_state(saved)
    assert second.step_count == stop
    for x, y in batches[stop:]:
        second.train_step(x, y)
    for key, value in straight.state_dict().items():
        assert torch.allclose(value.float(), second.state_dict()[key].float(), atol=1e-6), key


def test_srgan_end_to_end_through_the_cli(cli, workdir):
    record = cli_json(cli, "run", "srgan", "--dataset", "sr-digits", "--steps", "3",
                      "--workdir", workdir)
    assert record["status"] == "completed" and record["dataset"] == "sr-digits"
    names = {m["name"] for m in record["metrics"]}
    assert {"l1", "psnr_y", "ssim_y", "FD[evaluator]"} <= names
    assert (Path(record["run_dir"]) / "translations.png").stat().st_size > 0


def test_sr_models_refuse_other_data(cli, workdir):
    code, _, err = cli("run", "srresnet", "--dataset", "edges2digits", "--workdir", workdir)
    assert code != 0 and "superres" in err


def test_srgan_losses_of_the_second_phase_stay_aligned_with_their_steps(tmp_path):
    from genbench.training import InMemoryBatches, train

    model, data = _model("srgan", TINY + ["ndf=4", "d_dense=16", "pretrain=0.5"], steps=4)
    batches = InMemoryBatches(data.x[:8], None, 4, 0, torch.device("cpu"),
                              target=data.target[:8])
    outcome = train(model, batches, model.config, checkpoint=tmp_path / "c.pt", meta={})
    history = outcome.history
    assert history["step"] == [1, 2, 3, 4] and len(history["mse"]) == 4
    for key in ("adversarial", "feature", "d_loss"):  # NaN while D was idle
        assert len(history[key]) == 4
        assert all(v != v for v in history[key][:2]) and all(v == v for v in history[key][2:])
