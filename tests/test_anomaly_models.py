"""The anomaly detectors (anogan, f-anogan, ganomaly): each trains and is scored through
`genbench run` on a one-class protocol, its anomaly_score keeps the contract (one score per
image, deterministic, weights untouched), checkpoints restore the scores, AnoGAN's latent search
is batched and lowers its loss, f-AnoGAN trains its encoder after the GAN, and each detector
tells trivially anomalous images from normal ones."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import pytest
import torch
from conftest import cli_json, numbers

from genbench.api import CAPABILITY_METHODS, load_trained
from genbench.config import resolve_config
from genbench.data.base import resize_images
from genbench.errors import GenbenchError
from genbench.evaluation import MetricContext, compute_anomaly
from genbench.model import DataInfo
from genbench.plugins import get_registries
from genbench.registry import load_object
from genbench.results.store import Store

MODELS = ("anogan", "f-anogan", "ganomaly")
NARROW = ("ngf=8", "ndf=8", "latent_dim=16", "batch_size=32")
SHAPE = (1, 32, 32)  # the digits at the nets' size
FAST_SEARCH = ("search_steps=5",)


def fast(model: str) -> tuple[str, ...]:
    return NARROW + (FAST_SEARCH if model == "anogan" else ())


@cache
def digits(split: str, k: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    data = get_registries().datasets.get(f"digits-oneclass:{k}").load(split, image_size=32)
    return data.x, data.y


def build(model: str, *overrides: str, seed: int = 0, steps: int = 10):
    spec = get_registries().models.get(model)
    config = resolve_config(spec, "quick", "images", steps, fast(model) + overrides)
    torch.manual_seed(seed)
    return load_object(spec.factory)(config, DataInfo("images", SHAPE, 10))


def train(net, steps: int = 3, batch: int = 32, seed: int = 0) -> list[dict]:
    x, y = digits("train")
    net.train()
    gen = torch.Generator().manual_seed(seed)
    out = []
    for _ in range(steps):
        idx = torch.randint(0, len(x), (batch,), generator=gen)
        out.append(numbers(net.train_step(x[idx], y[idx])))
    return out


def trained(model: str, *overrides: str, steps: int = 3, seed: int = 0):
    net = build(model, *overrides, seed=seed, steps=max(steps, 10))
    train(net, steps)
    return net


def auroc(scores: torch.Tensor, anomalous: torch.Tensor) -> float:
    """The probability that an anomaly outscores a normal example (ties count half)."""
    pos, neg = scores[anomalous.bool()], scores[~anomalous.bool()]
    wins = (pos[:, None] > neg[None, :]).double() + 0.5 * (pos[:, None] == neg[None, :]).double()
    return float(wins.mean())


def snapshot(net) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in net.state_dict().items()}


def same_weights(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


# -- registration -------------------------------------------------------------------------

@pytest.mark.parametrize("model", MODELS)
def test_specs_declare_what_the_models_have(model):
    spec = get_registries().models.get(model)
    assert spec.family == "anomaly" and spec.accepts == ("images",)
    assert "anomaly_score" in spec.capabilities and {"quick", "standard"} <= set(spec.profiles)
    net = build(model)
    assert callable(net.anomaly_score)
    for capability in spec.capabilities:
        for method in CAPABILITY_METHODS.get(capability, ()):
            assert callable(getattr(net, method, None)), (capability, method)
    assert ("sample" in spec.capabilities) == (model != "ganomaly")


@pytest.mark.parametrize("setting, message", [
    (("f-anogan", "encoder_fraction=1"), "encoder_fraction"),
    (("f-anogan", "kappa=-1"), "kappa"),
    (("anogan", "search_lambda=2"), "search_lambda"),
    (("anogan", "search_batch=0"), "search_batch"),
    (("anogan", "search_steps=-1"), "search_steps"),
    (("ganomaly", "w_con=-1"), "ganomaly: --set w_con=-1: must be >= 0"),
])
def test_bad_settings_are_refused(setting, message):
    model, override = setting
    with pytest.raises(GenbenchError, match=message):
        build(model, override)


# -- through genbench run -----------------------------------------------------------------

@pytest.mark.parametrize("model", MODELS)
def test_run_scores_anomalies_and_the_checkpoint_gives_the_same_scores(model, cli, workdir):
    sets = [arg for item in fast(model) for arg in ("--set", item)]
    record = cli_json(cli, "run", model, "--dataset", "digits-oneclass:0", "--steps", "4",
                      "--bootstrap", "0", "--workdir", workdir, *sets)
    assert record["status"] == "completed"
    metrics = {m["name"]: m["value"] for m in record["metrics"]}
    assert {"auroc", "auprc"} <= set(metrics)
    assert 0 <= metrics["auroc"] <= 1 and 0 <= metrics["auprc"] <= 1
    # The record says what the score is, in the model's own words and with its settings.
    expected = {"anogan": "after 5 Adam steps", "f-anogan": "izi_f loss",
                "ganomaly": "latent distance"}[model]
    assert expected in record["evaluation"]["score"]
    run_dir = Path(record["run_dir"])
    assert (run_dir / "anomaly_scores.png").is_file()
    assert json.loads((run_dir / "record.json").read_text())["run_id"] == record["run_id"]

    loaded = load_trained(str(run_dir / "checkpoint.pt"), Store(workdir), "cpu")
    test = loaded.dataset_spec.load("test")
    ctx = MetricContext(loaded.dataset_spec, test, None, model=loaded.model,
                        model_shape=tuple(loaded.ckpt["data_shape"]))
    again = compute_anomaly(ctx)
    assert again["auroc"] == pytest.approx(metrics["auroc"], abs=1e-6)
    assert again["auprc"] == pytest.approx(metrics["auprc"], abs=1e-6)


# -- the anomaly_score contract -----------------------------------------------------------

@pytest.mark.parametrize("model", MODELS)
def test_anomaly_score_is_deterministic_and_leaves_the_model_alone(model):
    net = trained(model)
    x = digits("test")[0][:40]
    net.train()
    before = snapshot(net)
    scores = net.anomaly_score(x)
    assert scores.shape == (40,) and scores.dtype == torch.float32
    assert torch.isfinite(scores).all()
    assert same_weights(before, snapshot(net))  # weights and BatchNorm statistics
    assert all(m.training for m in net.modules())  # the mode is restored
    assert all(p.requires_grad for p in net.parameters())
    with torch.no_grad():  # the caller's grad mode does not matter
        again = net.anomaly_score(x)
    assert torch.equal(scores, again)
    net.eval()
    assert torch.equal(scores, net.anomaly_score(x))


@pytest.mark.parametrize("model", MODELS)
def test_checkpoint_restores_anomaly_scores_and_training(model, tmp_path):
    net = trained(model)
    x = digits("test")[0][:30]
    path = tmp_path / "state.pt"
    torch.save(net.training_state(), path)
    fresh = build(model, seed=123)
    assert not torch.equal(fresh.anomaly_score(x), net.anomaly_score(x))
    fresh.load_training_state(torch.load(path, weights_only=True))
    assert torch.equal(fresh.anomaly_score(x), net.anomaly_score(x))
    # The optimizer states came along: one more identical step gives identical weights.
    for m in (net, fresh):
        torch.manual_seed(5)
        train(m, 1, seed=9)
    assert same_weights(snapshot(net), snapshot(fresh))


def test_a_checkpoint_of_another_detector_is_refused():
    state = trained("ganomaly", steps=1).training_state()
    with pytest.raises(GenbenchError, match="does not fit"):
        build("anogan").load_training_state(state)


# -- AnoGAN's latent search -----------------------------------------------------------------

def test_anogan_search_lowers_the_mapping_loss():
    net = trained("anogan", steps=5)
    x = digits("test")[0][:50]
    z0, start = net.latent_search(x, steps=0)
    z, end = net.latent_search(x, steps=20)
    assert torch.equal(z0, net.start(50)) and not torch.equal(z, z0)
    assert end.mean() < start.mean()
    assert (end < start).float().mean() > 0.9
    assert torch.equal(net.anomaly_score(x), net.latent_search(x)[1])


def test_anogan_searches_the_whole_split_at_once_or_in_chunks():
    net = trained("anogan")
    x = digits("test")[0][:50]
    sizes: list[int] = []
    hook = net.gan.generator.register_forward_hook(lambda m, args, out: sizes.append(len(out)))
    try:
        whole = net.anomaly_score(x)
        assert sizes == [50] * (net.config.search_steps + 1)  # every step, then the score
        sizes.clear()
        net.config.search_batch = 20
        chunked = net.anomaly_score(x)
    finally:
        hook.remove()
    assert sorted(set(sizes)) == [10, 20] and len(sizes) == 3 * (net.config.search_steps + 1)
    # Each image's search depends only on its own z: chunking changes nothing but rounding.
    assert torch.allclose(whole, chunked, rtol=1e-4, atol=1e-3)


# -- f-AnoGAN's two phases -------------------------------------------------------------------

def test_fanogan_trains_the_gan_then_only_the_encoder(tmp_path):
    net = build("f-anogan", "encoder_fraction=0.5", steps=6)
    assert (net.gan_steps, net.encoder_steps) == (3, 3)
    gan_logs = train(net, 3)
    assert all(log["izi_f"] == 0.0 and log["loss_d"] != 0.0 for log in gan_logs)
    gan, encoder = snapshot(net.gan), snapshot(net.encoder)
    encoder_logs = train(net, 1, seed=1)
    torch.save(net.training_state(), tmp_path / "state.pt")
    encoder_logs += train(net, 2, seed=2)
    assert all(log.keys() == gan_logs[0].keys() for log in encoder_logs)
    assert all(log["izi_f"] > 0 and log["loss_d"] == 0.0 for log in encoder_logs)
    assert same_weights(gan, snapshot(net.gan))  # G and D frozen, BatchNorm statistics too
    assert not same_weights(encoder, snapshot(net.encoder))
    # A run resumed in the encoder's phase continues there.
    fresh = build("f-anogan", "encoder_fraction=0.5", steps=6, seed=123)
    fresh.load_training_state(torch.load(tmp_path / "state.pt", weights_only=True))
    assert int(fresh.steps_done) == 4
    train(fresh, 2, seed=2)
    assert same_weights(snapshot(net), snapshot(fresh))
    x = digits("test")[0][:8]
    assert net.encode(x).shape == (8, 16) and net.reconstruct(x).shape == x.shape


# -- GANomaly ---------------------------------------------------------------------------------

def test_ganomaly_losses_and_reconstructions():
    net = build("ganomaly")
    logs = train(net, 2)
    assert {"adv", "con", "enc", "loss_g", "loss_d"} <= set(logs[-1])
    cfg = net.config
    last = logs[-1]
    assert last["loss_g"] == pytest.approx(cfg.w_adv * last["adv"] + cfg.w_con * last["con"]
                                           + cfg.w_enc * last["enc"], rel=1e-5)
    x = digits("test")[0][:6]
    rec = net.reconstruct(x)
    assert rec.shape == x.shape and rec.abs().max() <= 1
    with pytest.raises(GenbenchError, match="does not sample"):
        net.sample(2)


# -- known answer --------------------------------------------------------------------------

@pytest.mark.parametrize("model", MODELS)
def test_detectors_tell_blank_images_from_digits(model):
    """Trained briefly on digit 0 (150 steps: GANomaly's two encoders agree on everything for
    the first ~100); the test set is the 0s of the test split and as many all-white images.
    Any working detector ranks the white images above the digits."""
    net = trained(model, steps=150)
    x, y = digits("test")
    zeros = x[y == 0]
    blank = torch.ones_like(zeros)
    scores = net.anomaly_score(torch.cat([zeros, blank]))
    anomalous = torch.cat([torch.zeros(len(zeros)), torch.ones(len(blank))])
    assert auroc(scores, anomalous) > 0.9


def test_images_of_other_sizes_are_upsampled_to_the_nets():
    spec = get_registries().models.get("ganomaly")
    config = resolve_config(spec, "quick", "images", 2, NARROW)
    net = load_object(spec.factory)(config, DataInfo("images", (3, 32, 32), 10))
    x = resize_images(torch.rand(4, 3, 28, 28) * 2 - 1, 32)
    assert net.anomaly_score(x).shape == (4,)
    with pytest.raises(GenbenchError, match="32x32 or 64x64"):
        load_object(spec.factory)(config, DataInfo("images", (1, 28, 28), 10))
