"""The GAN family: every variant trains and samples on the data it takes, checkpoints restore
samples exactly, and each training trick does what it claims."""

from __future__ import annotations

import dataclasses
from functools import cache
from pathlib import Path

import pytest
import torch
from conftest import cli_json
from torch import nn

from genbench import api
from genbench.config import resolve_config
from genbench.errors import GenbenchError
from genbench.model import DataInfo
from genbench.plugins import get_registries
from genbench.registry import load_object

FAMILY = ("gan", "dcgan", "wgan", "wgan-gp", "lsgan", "sngan")
PAIRS = [("gan", "points"), ("gan", "images"), ("dcgan", "images")] + [
    (m, kind) for m in ("wgan", "wgan-gp", "lsgan", "sngan") for kind in ("points", "images")]
DATASET = {"points": "ring8", "images": "digits"}


def narrow(model: str, kind: str) -> tuple[str, ...]:
    if kind == "points" or model == "gan":
        return ("hidden=16",)
    return ("ngf=8", "ndf=8")


@cache
def _data(dataset: str, image_size: int | None) -> torch.Tensor:
    spec = get_registries().datasets.get(dataset)
    return load_object(spec.loader)(split="train", image_size=image_size).x


def build(model: str, kind: str = "images", *overrides: str, steps: int = 10, seed: int = 0):
    """(model, data) for ``model`` on ring8 or digits, narrow nets, the quick profile."""
    spec = get_registries().models.get(model)
    dataset = get_registries().datasets.get(DATASET[kind])
    config = resolve_config(spec, "quick", kind, steps, narrow(model, kind) + overrides)
    x = _data(dataset.name, getattr(config, "image_size", 0) or None)
    torch.manual_seed(seed)
    net = load_object(spec.factory)(config, DataInfo(kind, tuple(x.shape[1:]), 10))
    return net, x


def train(net, x: torch.Tensor, steps: int = 3, batch: int = 16) -> list[dict]:
    net.train()
    gen = torch.Generator().manual_seed(0)
    out = []
    for _ in range(steps):
        idx = torch.randint(0, x.shape[0], (batch,), generator=gen)
        out.append(net.train_step(x[idx], None))
    return out


def samples(net, n: int = 8, seed: int = 7) -> torch.Tensor:
    net.eval()
    return net.sample(n, torch.Generator().manual_seed(seed))


# -- every model on every data kind it takes --------------------------------------------------

@pytest.mark.parametrize("model, kind", PAIRS)
def test_each_model_trains_and_samples(model, kind):
    net, x = build(model, kind)
    for losses in train(net, x):
        assert {"loss_d", "loss_g", "D(x)", "D(G(z))"} <= set(losses)
        assert all(torch.isfinite(torch.as_tensor(v)) for v in losses.values()), losses
    fake = samples(net, 6)
    assert fake.shape == (6, *x.shape[1:])
    if kind == "images":
        assert fake.min() >= -1 and fake.max() <= 1
        if model != "gan":
            assert x.shape[-1] == 32  # digits upsampled for the conv nets
    assert torch.equal(fake, samples(net, 6)), "sampling must be deterministic for a seed"
    z = net.latent(4, torch.Generator().manual_seed(1))
    assert z.shape == (4, net.config.latent_dim)
    assert torch.equal(net.generate(z), net.generate(z.clone()))


@pytest.mark.parametrize("model, dataset, overrides", [
    ("wgan-gp", "ring8", ("hidden=16",)),
    ("sngan", "digits", ("ngf=8", "ndf=8")),
])
def test_api_run_end_to_end(model, dataset, overrides, workdir):
    record = api.run(model, dataset, steps=3, overrides=overrides, workdir=workdir,
                     num_samples=300, metrics=["fd"] if dataset == "ring8" else ["ndb"])
    assert record.status == "completed" and record.steps == 3
    assert record.metrics and (Path(record.run_dir) / "samples.png").is_file()


@pytest.mark.parametrize("model, kind, overrides", [
    ("gan", "points", ()),
    ("dcgan", "images", ()),
    ("dcgan", "images", ("ema=0.9",)),
    ("wgan", "images", ()),
    ("wgan-gp", "points", ("ema=0.5",)),
    ("lsgan", "images", ("g_norm=instance", "d_norm=layer")),
    ("sngan", "images", ("ema=0.99",)),
])
def test_checkpoint_round_trip_gives_identical_samples(model, kind, overrides, tmp_path):
    net, x = build(model, kind, *overrides)
    train(net, x)
    path = tmp_path / "state.pt"
    torch.save(net.training_state(), path)
    fresh, _ = build(model, kind, *overrides, seed=123)  # different initial weights
    assert not torch.equal(samples(fresh), samples(net))
    fresh.load_training_state(torch.load(path, weights_only=True))
    assert torch.equal(samples(fresh), samples(net))
    assert int(fresh.steps_done) == 3
    if net.config.ema:
        assert any(k.startswith("ema_generator.") for k in net.training_state()["module"])


def test_checkpoints_of_the_first_gan_and_dcgan_still_load():
    """Before the refactor D was one ``net`` Sequential and there was no step counter."""
    from genbench_gans.core import upgrade_module_state

    for model, kind in (("gan", "points"), ("dcgan", "images")):
        net, x = build(model, kind)
        train(net, x)
        state = net.training_state()
        old = {}
        for key, value in state["module"].items():
            if key == "steps_done":
                continue
            key = key.replace("discriminator.body.", "discriminator.net.")
            last = len(net.discriminator.body)
            old[key.replace("discriminator.head.", f"discriminator.net.{last}.")] = value
        assert upgrade_module_state(old).keys() == state["module"].keys()
        fresh, _ = build(model, kind, seed=5)
        fresh.load_training_state({**state, "module": old})
        assert torch.equal(samples(fresh), samples(net))


# -- the tricks -------------------------------------------------------------------------------

@dataclasses.dataclass
class Tricks:
    label_smoothing: float = 0.0
    noisy_labels: bool = False
    label_flip: float = 0.0


def test_discriminator_targets():
    from genbench_gans.core import discriminator_targets

    real, fake = discriminator_targets(1000, Tricks())
    assert torch.equal(real, torch.ones(1000)) and torch.equal(fake, torch.zeros(1000))

    real, fake = discriminator_targets(1000, Tricks(label_smoothing=0.9))
    assert torch.allclose(real, torch.full((1000,), 0.9)) and torch.equal(fake, torch.zeros(1000))

    gen = torch.Generator().manual_seed(0)
    real, fake = discriminator_targets(1000, Tricks(noisy_labels=True), gen)
    assert 0.7 <= real.min() and real.max() <= 1.2 and real.std() > 0.1
    assert 0.0 <= fake.min() and fake.max() <= 0.3 and fake.std() > 0.05
    again = discriminator_targets(1000, Tricks(noisy_labels=True),
                                  torch.Generator().manual_seed(0))
    assert torch.equal(again[0], real) and torch.equal(again[1], fake)

    real, fake = discriminator_targets(100, Tricks(label_flip=1.0))
    assert torch.equal(real, torch.zeros(100)) and torch.equal(fake, torch.ones(100))
    real, fake = discriminator_targets(4000, Tricks(label_smoothing=0.9, label_flip=0.25), gen)
    flipped = real == 0
    assert 0.2 < flipped.float().mean() < 0.3
    assert torch.allclose(fake[flipped], torch.tensor(0.9))  # a swapped pair
    assert torch.equal(fake[~flipped], torch.zeros(int((~flipped).sum())))



def test_discriminator_targets_draw_where_their_generator_is(monkeypatch):
    """On a GPU, torch.rand(n, generator=<CPU generator>, device="cuda") raises ("Expected a
    'cuda' device type for generator"); "meta" stands in for the GPU, and torch.rand is made
    as strict as CUDA's."""
    from genbench_gans.core import discriminator_targets

    real_rand = torch.rand

    def strict_rand(*size, generator=None, device=None, **kwargs):
        if generator is not None and torch.device(device or "cpu") != generator.device:
            raise RuntimeError(f"Expected a {torch.device(device).type!r} device type for "
                               f"generator but found {generator.device.type!r}")
        return real_rand(*size, generator=generator, device=device, **kwargs)

    monkeypatch.setattr(torch, "rand", strict_rand)
    for tricks in (Tricks(noisy_labels=True), Tricks(label_flip=0.5)):
        real, fake = discriminator_targets(8, tricks, torch.Generator().manual_seed(0), "meta")
        assert real.device.type == fake.device.type == "meta"


def test_target_tricks_reach_the_loss():
    """Same batch, same weights: smoothing changes D's loss."""
    losses = []
    for extra in ((), ("label_smoothing=0.9",)):
        net, x = build("gan", "points", *extra)
        losses.append(train(net, x, steps=1)[0]["loss_d"])
    assert losses[0] != pytest.approx(losses[1])


def test_instance_noise_is_added_and_anneals_to_zero():
    net, x = build("dcgan", "images", "instance_noise=0.5", steps=10)
    seen = []
    net.discriminator.body.register_forward_pre_hook(lambda m, args: seen.append(args[0]))
    batch = x[:16]
    assert net.instance_noise_std() == pytest.approx(0.5)
    net.train_step(batch, None)
    assert (seen[0] - batch).std().item() == pytest.approx(0.5, rel=0.1)
    net.steps_done.fill_(5)
    net.step_count = 5  # the buffer's copy on the host, which the schedule reads
    assert net.instance_noise_std() == pytest.approx(0.25)
    net.steps_done.fill_(10)
    net.step_count = 10
    assert net.instance_noise_std() == 0.0
    seen.clear()
    net.train_step(batch, None)
    assert torch.equal(seen[0], batch)


def count_steps(optimizer) -> list[int]:
    counter = [0]
    step = optimizer.step

    def counted(*args, **kwargs):
        counter[0] += 1
        return step(*args, **kwargs)

    optimizer.step = counted
    return counter


def test_n_critic_d_updates_per_g_update():
    net, x = build("gan", "points", "n_critic=3")
    d, g = count_steps(net.optimizers["d"]), count_steps(net.optimizers["g"])
    train(net, x, steps=7)
    assert d[0] == 7 and g[0] == 2
    wgan, x = build("wgan", "points")
    d, g = count_steps(wgan.optimizers["d"]), count_steps(wgan.optimizers["g"])
    train(wgan, x, steps=10)
    assert d[0] == 10 and g[0] == 2


def test_optimizer_choices():
    net, _ = build("dcgan", "images", "d_optimizer=sgd", "lr_d=0.01")
    assert isinstance(net.optimizers["d"], torch.optim.SGD)
    assert net.optimizers["d"].defaults["momentum"] == 0.9
    assert net.optimizers["d"].defaults["lr"] == 0.01
    assert isinstance(net.optimizers["g"], torch.optim.Adam)
    wgan, _ = build("wgan", "images")
    assert all(isinstance(o, torch.optim.RMSprop) for o in wgan.optimizers.values())
    assert wgan.optimizers["d"].defaults["lr"] == 5e-5


def test_uniform_latent():
    net, _ = build("lsgan", "points", "latent=uniform")
    z = net.latent(5000, torch.Generator().manual_seed(0))
    assert z.min() >= -1 and z.max() <= 1 and z.min() < -0.99 and z.max() > 0.99
    gauss, _ = build("lsgan", "points")
    assert gauss.latent(5000, torch.Generator().manual_seed(0)).abs().max() > 2


def test_ema_weights_follow_g_and_are_used_for_sampling():
    net, x = build("dcgan", "images", "ema=0.9")
    params = lambda m: torch.cat([p.detach().flatten() for p in m.parameters()])  # noqa: E731
    train(net, x, steps=2)
    before = params(net.ema_generator)
    train(net, x, steps=1)
    g, after = params(net.generator), params(net.ema_generator)
    assert not torch.equal(after, g)
    assert torch.allclose(after, 0.9 * before + 0.1 * g, atol=1e-6)
    assert (after - g).norm() < (before - g).norm()
    z = net.latent(4, torch.Generator().manual_seed(0))
    net.ema_generator.eval()
    assert torch.equal(net.generate(z), net.ema_generator(z))
    net.generator.eval()
    assert not torch.equal(net.generate(z), net.generator(z))


def test_minimax_and_non_saturating_g_losses_differ():
    losses = {}
    for mode in ("non_saturating", "minimax"):
        net, x = build("gan", "points", f"g_loss={mode}")
        losses[mode] = train(net, x, steps=1)[0]
    assert losses["minimax"]["loss_d"] == pytest.approx(losses["non_saturating"]["loss_d"])
    assert losses["minimax"]["loss_g"] != pytest.approx(losses["non_saturating"]["loss_g"])
    assert losses["minimax"]["loss_g"] < 0 < losses["non_saturating"]["loss_g"]


def test_wgan_clips_critic_weights():
    net, x = build("wgan", "images")
    train(net, x, steps=2)
    weights = torch.cat([p.detach().flatten() for p in net.discriminator.parameters()])
    assert weights.abs().max() <= 0.01 + 1e-9
    assert (weights.abs() == 0.01).any()  # N(0, 0.02) initial weights were clipped


def test_gradient_penalty():
    from genbench_gans.objectives import gradient_penalty

    w = torch.randn(12)
    w = w / w.norm()
    real, fake = torch.randn(32, 3, 2, 2), torch.randn(32, 3, 2, 2)
    unit = gradient_penalty(lambda v: v.flatten(1) @ w, real, fake)
    assert unit.item() == pytest.approx(0.0, abs=1e-10)
    steep = gradient_penalty(lambda v: v.flatten(1) @ (3 * w), real, fake)
    assert steep.item() == pytest.approx(4.0)
    net, x = build("wgan-gp", "points")
    assert "gp" in train(net, x, steps=1)[0]


def test_sngan_has_spectral_norm_on_every_d_layer():
    from genbench_gans.nets import has_spectral_norm

    for kind in ("images", "points"):
        net, x = build("sngan", kind)
        layers = [m for m in net.discriminator.modules() if isinstance(m, nn.Conv2d | nn.Linear)]
        assert layers and all(has_spectral_norm(m) for m in layers)
        assert not any(has_spectral_norm(m) for m in net.generator.modules())
        train(net, x, steps=2)
    dcgan, _ = build("dcgan", "images")
    assert not any(has_spectral_norm(m) for m in dcgan.discriminator.modules())


def test_norm_and_activation_options():
    net, x = build("dcgan", "images", "g_norm=instance", "d_norm=none", "d_activation=relu")
    g_types = {type(m) for m in net.generator.modules()}
    d_types = {type(m) for m in net.discriminator.modules()}
    assert nn.InstanceNorm2d in g_types and nn.BatchNorm2d not in g_types
    assert not d_types & {nn.BatchNorm2d, nn.InstanceNorm2d, nn.GroupNorm}
    assert nn.ReLU in d_types and nn.LeakyReLU not in d_types
    train(net, x, steps=1)
    first = net.discriminator.body[1]
    batchnormed, _ = build("dcgan", "images")
    assert not isinstance(batchnormed.discriminator.body[1], nn.BatchNorm2d)  # first layer
    assert isinstance(first, nn.ReLU)


def test_nets_take_labels_for_conditional_variants():
    from genbench_gans.nets import ConvDiscriminator, ConvGenerator, MLPDiscriminator

    g = ConvGenerator(8, 4, 1, 32, num_classes=10)
    d = ConvDiscriminator(4, 1, 32, num_classes=10)
    labels = torch.arange(3)
    x = g(torch.randn(3, 8), labels)
    assert x.shape == (3, 1, 32, 32) and d(x, labels).shape == (3,)
    assert d.features(x, labels).shape == (3, 16, 4, 4)
    mlp = MLPDiscriminator(16, 2, (2,), num_classes=5)
    assert mlp(torch.randn(3, 2), labels).shape == (3,)
    with pytest.raises(GenbenchError, match="needs labels"):
        d(x)


@pytest.mark.parametrize("model, overrides, fragment", [
    ("wgan", ("label_smoothing=0.9",), "label_smoothing changes D's real/fake targets"),
    ("sngan", ("noisy_labels=true",), "hinge loss has no targets"),
    ("wgan-gp", ("label_flip=0.1",), "Wasserstein loss has no targets"),
    ("lsgan", ("g_loss=minimax",), "g_loss=minimax is a choice for the cross-entropy"),
    ("gan", ("label_smoothing=0.1",), "the real examples' target, e.g. 0.9"),
    ("gan", ("label_smoothing=0.9", "noisy_labels=true"), "choose one"),
    ("dcgan", ("n_critic=0",), "dcgan: --set n_critic=0: must be >= 1"),
    ("dcgan", ("ema=1.0",), "--set ema=1.0: must be in .*a decay"),
    ("wgan-gp", ("d_norm=batch",), "BatchNorm mixes examples"),
    ("gan", ("g_norm=instance",), "instance norm needs convolutional feature maps"),
    ("dcgan", ("image_size=48",), "32x32 or 64x64"),
])
def test_settings_that_do_not_apply_are_refused(model, overrides, fragment):
    with pytest.raises(GenbenchError, match="^.*" + fragment.replace("(", r"\(")):
        build(model, "points" if model == "gan" else "images", *overrides)


def test_target_tricks_are_accepted_by_lsgan():
    net, x = build("lsgan", "images", "noisy_labels=true", "label_flip=0.05")
    assert train(net, x, steps=2)


# -- the CLI ----------------------------------------------------------------------------------

def test_models_lists_the_family_with_papers(cli):
    models = {m["name"]: m for m in cli_json(cli, "models")}
    assert set(FAMILY) <= set(models)
    for name in FAMILY:
        assert models[name]["family"] == "gan"
        assert "arXiv:" in models[name]["paper"] and " 20" in models[name]["paper"]
        assert {"sample", "latent"} <= set(models[name]["capabilities"])
    assert "Arjovsky" in models["wgan"]["paper"] and "Gulrajani" in models["wgan-gp"]["paper"]
    assert "Mao" in models["lsgan"]["paper"] and "Miyato" in models["sngan"]["paper"]
    assert models["dcgan"]["data"] == ["images"]
    assert models["sngan"]["data"] == ["points", "images"]


def test_paper_defaults():
    reg = get_registries().models
    wgan = reg.get("wgan").config()
    assert (wgan.clip, wgan.lr_d, wgan.n_critic, wgan.d_optimizer) == (0.01, 5e-5, 5, "rmsprop")
    gp = reg.get("wgan-gp").config()
    assert (gp.gp_weight, gp.lr_g, gp.beta1, gp.beta2, gp.n_critic) == (10.0, 1e-4, 0.0, 0.9, 5)
    assert gp.d_norm != "batch"
    sn = reg.get("sngan").config()
    assert sn.spectral_norm and (sn.lr_d, sn.beta1, sn.beta2, sn.n_critic) == (2e-4, 0, 0.9, 1)
    ls = reg.get("lsgan").config()
    assert (ls.lr_g, ls.beta1, ls.beta2) == (2e-4, 0.5, 0.999)
    for name in FAMILY:
        config = reg.get(name).config()
        assert (config.label_smoothing, config.noisy_labels, config.label_flip,
                config.instance_noise, config.ema, config.latent) == (0, False, 0, 0, 0,
                                                                      "gaussian")


def test_unsupported_pair_is_a_clear_error(cli, workdir):
    code, _, stderr = cli("run", "dcgan", "--dataset", "ring8", "--workdir", workdir)
    assert code == 2 and "'dcgan' takes images" in stderr and "holds points" in stderr


def test_samples_with_interpolation_for_a_dcgan_run(cli, workdir):
    record = cli_json(cli, "run", "dcgan", "--dataset", "digits", "--steps", "3", "--set",
                      "ngf=8", "--set", "ndf=8", "--workdir", workdir, "--num-samples", "100",
                      "--metrics", "ndb")
    run_dir = Path(record["run_dir"])
    (run_dir / "samples.png").unlink()
    code, stdout, stderr = cli("samples", record["run_id"], "--interpolate", "--workdir",
                               workdir)
    assert code == 0, stderr
    for name in ("samples.png", "interpolate.png"):
        assert (run_dir / name).stat().st_size > 0 and name in stdout
