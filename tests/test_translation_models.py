"""The translation plugin: pix2pix, CycleGAN and DiscoGAN train on tiny paired/unpaired images
with any channel counts, translate deterministically, checkpoint exactly, and their pieces
(U-Net skips, PatchGAN patches, DiscoGAN's encoder-decoder and image-level D, loss weights,
history pool, learning-rate schedule, cycle metrics) do what the papers say. Everything runs at
32x32 with ngf = ndf = 8."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch
import torch.nn.functional as F
from conftest import numbers
from torch import nn

from genbench.config import resolve_config
from genbench.data.base import TensorData, resize_images
from genbench.errors import GenbenchError
from genbench.model import DataInfo
from genbench.plugins import get_registries
from genbench.registry import load_object

SIZE = 32
CHANNELS = [(1, 1), (1, 3), (3, 3)]
# The smallest networks of each model (discogan has no residual blocks to set).
SMALL = {"pix2pix": ("res_blocks=1",), "cyclegan": ("res_blocks=1",), "discogan": ()}


def build(model: str, c_a: int = 3, c_b: int = 3, *overrides: str, kind: str = "paired",
          size: int = SIZE, steps: int = 10, seed: int = 0):
    spec = get_registries().models.get(model)
    config = resolve_config(spec, "quick", kind, steps, ("ngf=8", "ndf=8", *overrides))
    torch.manual_seed(seed)
    return load_object(spec.factory)(config, DataInfo(kind, (c_a, size, size), 0,
                                                      (c_b, size, size)))


def smooth(n: int, channels: int, size: int = SIZE, seed: int = 0) -> torch.Tensor:
    """Random smooth images in (-1, 1): 4x4 noise upsampled bilinearly."""
    gen = torch.Generator().manual_seed(seed)
    low = torch.randn(n, channels, 4, 4, generator=gen) * 1.5
    return torch.tanh(F.interpolate(low, size=(size, size), mode="bilinear",
                                    align_corners=False))


def train(net, a: torch.Tensor, b: torch.Tensor, steps: int = 2, batch: int = 4,
          paired: bool = True) -> list[dict]:
    net.train()
    gen = torch.Generator().manual_seed(0)
    out = []
    for _ in range(steps):
        i = torch.randint(0, a.shape[0], (batch,), generator=gen)
        j = i if paired else torch.randint(0, b.shape[0], (batch,), generator=gen)
        out.append(numbers(net.train_step(a[i], b[j])))
    return out


def finite(losses: list[dict]) -> bool:
    return all(torch.isfinite(torch.tensor(v)) for step in losses for v in step.values())


# -- registration -------------------------------------------------------------------------------

def test_specs_and_profiles():
    reg = get_registries()
    for name, accepts in (("pix2pix", ("paired",)), ("cyclegan", ("paired", "unpaired"))):
        spec = reg.models.get(name)
        assert reg.models.owners[name] == "translation"
        assert spec.accepts == accepts and spec.capabilities == ("translate",)
        quick = resolve_config(spec, "quick", accepts[0])
        standard = resolve_config(spec, "standard", accepts[0])
        assert quick.image_size == 64 and quick.ngf < 64 and quick.steps < standard.steps
        assert standard.image_size == 256 and standard.ngf == standard.ndf == 64
        assert (standard.lr, standard.beta1, standard.beta2) == (2e-4, 0.5, 0.999)
    cyc = resolve_config(reg.models.get("cyclegan"), "standard", "unpaired")
    assert (cyc.generator, cyc.norm, cyc.lambda_cycle, cyc.pool_size) == ("resnet", "instance",
                                                                          10.0, 50)
    assert cyc.decay_from == 0.5
    p2p = resolve_config(reg.models.get("pix2pix"), "standard", "paired")
    assert (p2p.generator, p2p.norm, p2p.lambda_l1, p2p.dropout) == ("unet", "batch", 100.0, 0.5)
    code = ("import sys, genbench_translation; "
            "assert 'torch' not in sys.modules, 'the plugin module must not import torch'")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_bad_data_and_settings_are_refused():
    with pytest.raises(GenbenchError, match="paired"):
        build("pix2pix", kind="unpaired")
    with pytest.raises(GenbenchError, match="power of two"):
        build("pix2pix", size=48)
    with pytest.raises(GenbenchError, match="square"):
        load_object("genbench_translation.models:build_cyclegan")(
            build("cyclegan").config, DataInfo("unpaired", (3, 32, 32), 0, (3, 64, 64)))
    with pytest.raises(GenbenchError, match="dropout"):
        build("pix2pix", 3, 3, "dropout=1.5")
    net = build("pix2pix")
    with pytest.raises(GenbenchError, match="BtoA"):
        net.translate(smooth(1, 3), "BtoA")
    with pytest.raises(GenbenchError, match="shape"):
        net.translate(smooth(1, 1))
    with pytest.raises(NotImplementedError):
        net.sample(2)


# -- both models on every channel combination ---------------------------------------------------

@pytest.mark.parametrize("model, kind", [("pix2pix", "paired"), ("cyclegan", "paired"),
                                         ("cyclegan", "unpaired"), ("discogan", "paired"),
                                         ("discogan", "unpaired")])
@pytest.mark.parametrize("c_a, c_b", CHANNELS)
def test_trains_and_translates(model, kind, c_a, c_b):
    net = build(model, c_a, c_b, kind=kind)
    a, b = smooth(12, c_a, seed=1), smooth(12, c_b, seed=2)
    losses = train(net, a, b, paired=kind == "paired")
    assert finite(losses) and {"loss_d", "loss_g"} <= set(losses[0])
    net.eval()
    out = net.translate(a[:5])
    assert out.shape == (5, c_b, SIZE, SIZE)
    assert out.min() >= -1 and out.max() <= 1 and out.std() > 0
    assert torch.equal(out, net.translate(a[:5].clone())), "eval translation is deterministic"
    assert torch.allclose(out[:2], net.translate(a[:2]), atol=1e-5), "independent of the batch"
    if model != "pix2pix":
        back = net.translate(b[:3], "BtoA")
        assert back.shape == (3, c_a, SIZE, SIZE) and back.abs().max() <= 1
    net.train()
    assert torch.equal(out, net.translate(a[:5])), "translate always uses eval mode"
    assert net.generator_for("AtoB").training, "and restores the training mode"
    assert int(net.steps_done) == 2


@pytest.mark.parametrize("generator", ["unet", "resnet"])
def test_both_generators_in_both_models(generator):
    for model in ("pix2pix", "cyclegan"):
        net = build(model, 1, 3, f"generator={generator}", "res_blocks=1")
        assert finite(train(net, smooth(4, 1), smooth(4, 3), steps=1))
        assert net.translate(smooth(2, 1)).shape == (2, 3, SIZE, SIZE)


# -- the networks ------------------------------------------------------------------------------

@pytest.mark.parametrize("size, depth, grid, patch", [(32, 5, 14, 16), (64, 6, 14, 34),
                                                      (128, 7, 14, 70), (256, 8, 30, 70)])
def test_networks_adapt_to_the_image_size(size, depth, grid, patch):
    from genbench_translation.nets import (
        PatchDiscriminator,
        ResnetGenerator,
        UNetGenerator,
        patch_size,
    )

    x = torch.rand(1, 3, size, size) * 2 - 1
    unet = UNetGenerator(3, 1, size, ngf=2).eval()
    assert len(unet.down) == depth and unet(x).shape == (1, 1, size, size)
    assert unet.down[-1](torch.zeros(1, 2 * 8, 2, 2)).shape[-1] == 1  # 1x1 bottleneck
    resnet = ResnetGenerator(3, 2, size, ngf=2, blocks=1).eval()
    assert resnet(x).shape == (1, 2, size, size)
    d = PatchDiscriminator(3, size, ndf=2).eval()
    assert d(x).shape == (1, 1, grid, grid)  # a grid of patch logits
    assert patch_size(d.layers) == patch


def test_resnet_generator_block_count_follows_the_paper():
    from genbench_translation.nets import ResidualBlock, ResnetGenerator

    def blocks(size: int) -> int:
        net = ResnetGenerator(3, 3, size, ngf=2)
        return sum(isinstance(m, ResidualBlock) for m in net.modules())

    assert (blocks(64), blocks(128), blocks(256)) == (6, 6, 9)
    assert isinstance(ResnetGenerator(3, 3, 32, ngf=2).net[0], nn.ReflectionPad2d)


@pytest.mark.parametrize("layers", [1, 2, 3])
def test_patchgan_logits_see_patches_of_the_documented_size(layers):
    """The gradient of one central logit is non-zero exactly on a patch_size x patch_size
    square of the input (BatchNorm in eval mode is per pixel)."""
    from genbench_translation.nets import PatchDiscriminator, patch_size

    d = PatchDiscriminator(2, 128, ndf=2, layers=layers).eval()
    x = torch.randn(1, 2, 128, 128, requires_grad=True)
    out = d(x)
    out[0, 0, out.shape[2] // 2, out.shape[3] // 2].backward()
    touched = x.grad.abs().sum(dim=(0, 1)) > 0
    rows, cols = touched.any(dim=1).nonzero(), touched.any(dim=0).nonzero()
    assert rows.max() - rows.min() + 1 == patch_size(layers)
    assert cols.max() - cols.min() + 1 == patch_size(layers)


def test_unet_skip_connections_carry_the_input_past_the_bottleneck():
    """With the 1x1 bottleneck zeroed, an encoder-decoder without skips would give one constant
    image whatever the input; the U-Net's output still follows the input, most strongly where
    the input changed. Decoder blocks after the first take twice their width (the concat)."""
    from genbench_translation.nets import UNetGenerator

    torch.manual_seed(0)
    unet = UNetGenerator(1, 1, SIZE, ngf=8).eval()
    unet.down[-1].register_forward_hook(lambda module, args, out: torch.zeros_like(out))
    x = smooth(1, 1)
    poked = x.clone()
    poked[0, 0, 5, 20] += 1.0
    change = (unet(poked) - unet(x)).abs()[0, 0]
    assert change.max() > 0
    assert change[5, 20] > 0 and change[:, :8].max() < change[2:9, 17:24].max()
    assert not torch.equal(unet(x), unet(smooth(1, 1, seed=5)))
    depth = len(unet.down)
    for j, block in enumerate(unet.up):
        decoder = next(m for m in block if isinstance(m, nn.ConvTranspose2d))
        encoder = next(m for m in unet.down[depth - 1 - j] if isinstance(m, nn.Conv2d))
        assert decoder.in_channels == encoder.out_channels * (1 if j == 0 else 2)


def test_unet_dropout_in_the_first_three_decoder_blocks_in_train_mode_only():
    from genbench_translation.nets import UNetGenerator

    unet = UNetGenerator(1, 1, SIZE, ngf=8, dropout=0.5)
    with_dropout = [j for j, block in enumerate(unet.up)
                    if any(isinstance(m, nn.Dropout) for m in block)]
    assert with_dropout == [0, 1, 2]
    x = smooth(2, 1)
    unet.train()
    assert not torch.equal(unet(x), unet(x))
    unet.eval()
    assert torch.equal(unet(x), unet(x))
    plain = UNetGenerator(1, 1, SIZE, ngf=8, dropout=0.0)
    assert not any(isinstance(m, nn.Dropout) for m in plain.modules())


# -- pix2pix -------------------------------------------------------------------------------------

def test_pix2pix_l1_term_has_weight_lambda():
    a, b = smooth(4, 1, seed=1), smooth(4, 3, seed=2)
    logs = {}
    for lam in (0, 100):
        net = build("pix2pix", 1, 3, f"lambda_l1={lam}")
        torch.manual_seed(7)  # same dropout masks
        logs[lam] = numbers(net.train_step(a, b))
    assert logs[0]["loss_l1"] == pytest.approx(logs[100]["loss_l1"])
    assert logs[0]["loss_g_gan"] == pytest.approx(logs[100]["loss_g_gan"])
    assert logs[0]["loss_g"] == pytest.approx(logs[0]["loss_g_gan"])
    assert logs[100]["loss_g"] - logs[0]["loss_g"] == pytest.approx(
        100 * logs[100]["loss_l1"], rel=1e-4)


def test_pix2pix_discriminator_sees_the_input_and_the_output():
    net = build("pix2pix", 1, 3)
    assert net.discriminator.net[0].in_channels == 4
    assert net.optimizers["d"].param_groups[0]["betas"] == (0.5, 0.999)


def test_pix2pix_learns_a_paired_toy_mapping():
    """B = -A on 16 smooth images, the paper's settings on tiny nets: after 150 steps (about 2 s)
    the translation's L1 error is a small fraction of the identity baseline's (about 0.1 over
    three seeds when written)."""
    a = smooth(16, 1, seed=3)
    b = -a
    net = build("pix2pix", 1, 1, steps=150)
    losses = train(net, a, b, steps=150, batch=8)
    assert finite(losses)
    net.eval()
    error = (net.translate(a) - b).abs().mean().item()
    baseline = (a - b).abs().mean().item()
    assert error < 0.3 * baseline, (error, baseline)


# -- cyclegan ------------------------------------------------------------------------------------

def test_history_pool_follows_the_paper():
    from genbench_translation.models import HistoryPool

    pool = HistoryPool(50, (1, 2, 2))
    tags = iter(range(10 ** 6))

    def batch(n: int) -> torch.Tensor:
        return torch.stack([torch.full((1, 2, 2), float(next(tags))) for _ in range(n)])

    gen = torch.Generator().manual_seed(0)
    first = batch(30)
    assert torch.equal(pool.query(first, gen), first) and int(pool.count) == 30
    second = batch(20)
    assert torch.equal(pool.query(second, gen), second) and int(pool.count) == 50
    stored = sorted(pool.images[:, 0, 0, 0].tolist())
    assert stored == list(range(50))

    swaps = 0
    for _ in range(40):
        new = batch(25)
        inside = set(pool.images[:, 0, 0, 0].tolist())
        out = pool.query(new, gen)
        assert int(pool.count) == 50 and out.shape == new.shape
        for given, got in zip(new[:, 0, 0, 0].tolist(), out[:, 0, 0, 0].tolist(), strict=True):
            if got != given:  # an old image came back, and the new one took its place
                assert got in inside and got < given
                inside.remove(got)
                inside.add(given)
                swaps += 1
        assert inside == set(pool.images[:, 0, 0, 0].tolist())
    assert 0.4 < swaps / 1000 < 0.6  # half the time once full

    again = HistoryPool(50, (1, 2, 2))
    again.load_state_dict(pool.state_dict())
    x = batch(10)
    assert torch.equal(pool.query(x, torch.Generator().manual_seed(3)),
                       again.query(x, torch.Generator().manual_seed(3)))
    off = HistoryPool(0, (1, 2, 2))
    assert torch.equal(off.query(x), x)


def test_cyclegan_learning_rate_constant_then_linear_to_zero():
    net = build("cyclegan", 1, 1, "res_blocks=1", steps=8)
    a, b = smooth(2, 1), smooth(2, 1, seed=1)
    expected = {0: 1.0, 3: 1.0, 4: 1.0, 5: 0.75, 6: 0.5, 7: 0.25}
    for step, factor in expected.items():
        net.steps_done.fill_(step)
        net.step_count = step  # the buffer's copy on the host, which the schedule reads
        net.train_step(a, b)
        for opt in net.optimizers.values():
            assert opt.param_groups[0]["lr"] == pytest.approx(2e-4 * factor)
    assert net.lr_factor(8) == 0.0 and net.lr_factor(100) == 0.0
    p2p = build("pix2pix", 1, 1, steps=8)
    assert all(p2p.lr_factor(s) == 1.0 for s in range(20))


def _first_step(*overrides: str, c_a: int = 3, c_b: int = 3) -> dict:
    net = build("cyclegan", c_a, c_b, "res_blocks=1", *overrides)
    torch.manual_seed(7)
    return numbers(net.train_step(smooth(2, c_a, seed=1), smooth(2, c_b, seed=2)))


def test_cyclegan_loss_weights():
    """G's loss is computed before any update, so on the first step the weighted terms add up
    exactly: cycle weight lambda_cycle, identity weight lambda_cycle * lambda_identity."""
    base = _first_step("lambda_cycle=0", "lambda_identity=0")
    cycle = _first_step("lambda_cycle=10", "lambda_identity=0")
    both = _first_step("lambda_cycle=10", "lambda_identity=0.5")
    assert base["loss_g"] == pytest.approx(base["loss_gan"])
    assert cycle["loss_g"] - base["loss_g"] == pytest.approx(10 * cycle["loss_cycle"], rel=1e-4)
    assert both["loss_g"] - cycle["loss_g"] == pytest.approx(5 * both["loss_idt"], rel=1e-4)
    assert "loss_idt" not in cycle


def test_cyclegan_identity_loss_is_off_when_channels_differ():
    net = build("cyclegan", 1, 3)
    assert net.identity_weight == 0.0 and build("cyclegan", 3, 3).identity_weight == 5.0
    on = _first_step("lambda_identity=0.5", c_a=1, c_b=3)
    off = _first_step("lambda_identity=0", c_a=1, c_b=3)
    assert "loss_idt" not in on and on["loss_g"] == pytest.approx(off["loss_g"])


def test_cyclegan_extra_metrics_are_cycle_errors():
    net = build("cyclegan", 1, 3, "res_blocks=1")
    train(net, smooth(8, 1), smooth(8, 3, seed=1), steps=1)
    a, b = smooth(70, 1, seed=4), smooth(70, 3, seed=5)  # more than one chunk of 64
    metrics = net.extra_metrics(TensorData("toy", "test", x=a, target=b))
    assert set(metrics) == {"cycle_l1_A", "cycle_l1_B"}
    by_hand_a = (net.translate(net.translate(a), "BtoA") - a).abs().mean().item()
    by_hand_b = (net.translate(net.translate(b, "BtoA")) - b).abs().mean().item()
    assert metrics["cycle_l1_A"] == (pytest.approx(by_hand_a, rel=1e-5), False, 70)
    assert metrics["cycle_l1_B"] == (pytest.approx(by_hand_b, rel=1e-5), False, 70)
    assert net.generator_for("AtoB").training  # the model's mode is left as it was

    big = TensorData("toy", "test", x=smooth(6, 1, size=64), target=smooth(6, 3, size=64))
    small_a = resize_images(big.x, SIZE)
    resized = net.extra_metrics(big)["cycle_l1_A"][0]
    assert resized == pytest.approx(
        (net.translate(net.translate(small_a), "BtoA") - small_a).abs().mean().item(), rel=1e-5)

    same = build("cyclegan", 1, 1, "res_blocks=1")
    same.g_ab, same.g_ba = nn.Identity(), nn.Identity()
    exact = same.extra_metrics(TensorData("toy", "test", x=a, target=smooth(3, 1)))
    assert exact["cycle_l1_A"][0] == 0.0 and exact["cycle_l1_B"][0] == 0.0


# -- discogan ------------------------------------------------------------------------------------

def test_discogan_spec_follows_the_paper_and_sits_beside_cyclegan():
    reg = get_registries()
    spec = reg.models.get("discogan")
    assert reg.models.owners["discogan"] == "translation" and spec.family == "translation"
    assert spec.accepts == ("paired", "unpaired") and spec.capabilities == ("translate",)
    assert "Kim et al. 2017" in spec.paper and "arXiv:1703.05192" in spec.paper
    standard = resolve_config(spec, "standard", "unpaired")
    assert (standard.image_size, standard.ngf, standard.ndf, standard.batch_size) == (64, 64,
                                                                                      64, 64)
    assert (standard.lr, standard.beta1, standard.beta2) == (2e-4, 0.5, 0.999)
    assert (standard.weight_decay, standard.lambda_recon, standard.decay_from) == (1e-5, 1.0,
                                                                                   1.0)
    quick = resolve_config(spec, "quick", "unpaired")
    cyclegan = resolve_config(reg.models.get("cyclegan"), "quick", "unpaired")
    assert (quick.image_size, quick.ngf, quick.ndf) == (cyclegan.image_size, cyclegan.ngf,
                                                        cyclegan.ndf)
    assert quick.steps == cyclegan.steps < standard.steps
    with pytest.raises(GenbenchError, match="res_blocks"):  # no options it would ignore
        build("discogan", 1, 3, "res_blocks=1")
    with pytest.raises(GenbenchError, match="power of two"):
        build("discogan", size=48)

    net = build("discogan", 1, 3)
    for name in ("g", "d"):
        group = net.optimizers[name].param_groups[0]
        assert (group["lr"], group["betas"], group["weight_decay"]) == (2e-4, (0.5, 0.999),
                                                                        1e-5)
    assert build("cyclegan", 1, 3).optimizers["g"].param_groups[0]["weight_decay"] == 0


@pytest.mark.parametrize("size, depth", [(16, 2), (32, 3), (64, 4), (128, 5)])
def test_discogan_networks_are_an_encoder_decoder_and_an_image_level_discriminator(size, depth):
    """Four 4x4 stride-2 levels at the paper's 64x64 down to a 4x4 map and back, LeakyReLU in
    the encoder, ReLU in the decoder, BatchNorm but not on the first layer, no residual blocks
    nor skips; D ends in one logit per image that sees every pixel (not a grid of patches)."""
    from genbench_translation.nets import (
        EncoderDecoderGenerator,
        ImageDiscriminator,
        ResidualBlock,
    )

    g = EncoderDecoderGenerator(3, 1, size, ngf=4)
    convs = [m for m in g.encoder if isinstance(m, nn.Conv2d)]
    ups = [m for m in g.decoder if isinstance(m, nn.ConvTranspose2d)]
    assert len(convs) == len(ups) == depth
    assert all(m.kernel_size == (4, 4) and m.stride == (2, 2) for m in convs + ups)
    assert [m.out_channels for m in convs] == [4 * min(2 ** i, 8) for i in range(depth)]
    encoder_kinds = {type(m) for m in g.encoder}
    decoder_kinds = {type(m) for m in g.decoder}
    assert nn.LeakyReLU in encoder_kinds and nn.ReLU not in encoder_kinds
    assert nn.ReLU in decoder_kinds and nn.LeakyReLU not in decoder_kinds
    assert isinstance(g.encoder[1], nn.LeakyReLU)  # no BatchNorm on the first layer
    assert sum(isinstance(m, nn.BatchNorm2d) for m in g.modules()) == 2 * (depth - 1)
    assert not any(isinstance(m, ResidualBlock) for m in g.modules())
    assert isinstance(g.decoder[-1], nn.Tanh)
    x = torch.rand(2, 3, size, size) * 2 - 1
    g.eval()
    assert g.encoder(x).shape == (2, 4 * min(2 ** (depth - 1), 8), 4, 4)
    assert g(x).shape == (2, 1, size, size)

    d = ImageDiscriminator(3, size, ndf=4).eval()
    assert d(x).shape == (2,)
    x = x[:1].clone().requires_grad_(True)
    d(x).sum().backward()
    seen = x.grad.abs().sum(dim=(0, 1)) > 0
    assert seen[0, 0] and seen[0, -1] and seen[-1, 0] and seen[-1, -1]  # the whole image


def test_discogan_bottleneck_carries_everything():
    """No skip connections: with the 4x4 bottleneck zeroed the output is one image whatever
    the input (a U-Net's would still follow it)."""
    from genbench_translation.nets import EncoderDecoderGenerator

    torch.manual_seed(0)
    g = EncoderDecoderGenerator(1, 3, SIZE, ngf=8).eval()
    g.encoder.register_forward_hook(lambda module, args, out: torch.zeros_like(out))
    assert torch.equal(g(smooth(1, 1)), g(smooth(1, 1, seed=5)))


def test_discogan_losses_are_bce_and_mse_reconstruction():
    """On the first step the losses equal the paper's, computed by hand from the initial
    networks (in train mode, so BatchNorm uses the batch's statistics): each D's BCE halved,
    and L_CONST = MSE(G_BA(G_AB(a)), a) + MSE(G_AB(G_BA(b)), b) with weight lambda_recon."""
    a, b = smooth(4, 1, seed=1), smooth(4, 3, seed=2)
    logs = {}
    for lam in (0, 1, 10):
        net = build("discogan", 1, 3, f"lambda_recon={lam}")
        with torch.no_grad():
            fake_b, fake_a = net.g_ab(a), net.g_ba(b)
            recon = (F.mse_loss(net.g_ba(fake_b), a) + F.mse_loss(net.g_ab(fake_a), b)).item()
            d_a = 0.5 * (F.softplus(-net.d_a(a)).mean() + F.softplus(net.d_a(fake_a)).mean())
            d_b = 0.5 * (F.softplus(-net.d_b(b)).mean() + F.softplus(net.d_b(fake_b)).mean())
        logs[lam] = numbers(net.train_step(a, b))
        assert logs[lam]["loss_recon"] == pytest.approx(recon, rel=1e-5)
        assert logs[lam]["loss_d_a"] == pytest.approx(d_a.item(), rel=1e-5)
        assert logs[lam]["loss_d_b"] == pytest.approx(d_b.item(), rel=1e-5)
    assert logs[0]["loss_g"] == pytest.approx(logs[0]["loss_gan"])
    for lam in (1, 10):
        assert logs[lam]["loss_gan"] == pytest.approx(logs[0]["loss_gan"], rel=1e-5)
        assert logs[lam]["loss_g"] - logs[0]["loss_g"] == pytest.approx(
            lam * logs[lam]["loss_recon"], rel=1e-4)


def test_discogan_reconstruction_loss_makes_the_round_trip_consistent():
    """B = -A shown unpaired, 16x16 (two levels), 100 steps (about 3 s a run): with the
    reconstruction term (lambda_recon 10) both round trips' test errors fall well below where
    they start (about 0.59: initial generators output near 0) and below those of the same run
    without it (which stay near 0.6). Over three seeds when written: 0.37-0.42 against
    0.58-0.62, and the training MSE fell to 0.33-0.36 from 0.86."""
    images = smooth(64, 1, size=16, seed=3)
    a, b = images[:32], -images[32:]
    held_out = smooth(16, 1, size=16, seed=11)
    test = TensorData("toy", "test", x=held_out, target=-held_out)
    cycle, losses = {}, {}
    for lam in (0, 10):
        net = build("discogan", 1, 1, f"lambda_recon={lam}", size=16, steps=100)
        before = net.extra_metrics(test)
        losses[lam] = train(net, a, b, steps=100, batch=8, paired=False)
        assert finite(losses[lam])
        cycle[lam] = {name: value for name, (value, *_) in net.extra_metrics(test).items()}
    assert losses[10][-1]["loss_recon"] < 0.6 * losses[10][0]["loss_recon"]
    for name in ("cycle_l1_A", "cycle_l1_B"):
        assert cycle[10][name] < 0.8 * before[name][0]
        assert cycle[10][name] < 0.8 * cycle[0][name], cycle


def test_discogan_runs_end_to_end_from_the_cli(cli, workdir):
    """``genbench run discogan --dataset digits2ink --steps 3``: the quick profile at 64x64,
    scored against the true translations at the dataset's 32x32, with the cycle errors."""
    from pathlib import Path

    from conftest import cli_json

    record = cli_json(cli, "run", "discogan", "--dataset", "digits2ink", "--steps", "3",
                      "--workdir", workdir)
    assert record["status"] == "completed" and record["model"] == "discogan"
    assert record["profile"] == "quick" and record["config"]["image_size"] == 64
    values = {m["name"]: m for m in record["metrics"]}
    assert {"l1", "psnr", "ssim", "FD[raw]", "cycle_l1_A", "cycle_l1_B"} <= set(values)
    assert values["l1"]["n_fake"] == 360 and 0 < values["l1"]["value"] < 1
    assert (Path(record["run_dir"]) / "translations.png").stat().st_size > 0
    code, stdout, stderr = cli("models")
    assert code == 0 and "discogan" in stdout, stderr


# -- checkpoints --------------------------------------------------------------------------------

@pytest.mark.parametrize("model, c_a, c_b", [("pix2pix", 1, 3), ("cyclegan", 3, 1),
                                             ("discogan", 1, 3)])
def test_checkpoint_round_trip(model, c_a, c_b, tmp_path):
    a, b = smooth(12, c_a, seed=1), smooth(12, c_b, seed=2)
    net = build(model, c_a, c_b, *SMALL[model])
    train(net, a, b, steps=3)
    path = tmp_path / "state.pt"
    torch.save(net.training_state(), path)
    fresh = build(model, c_a, c_b, *SMALL[model], seed=123)
    assert not torch.equal(fresh.translate(a[:4]), net.translate(a[:4]))
    fresh.load_training_state(torch.load(path, weights_only=True))
    assert torch.equal(fresh.translate(a[:4]), net.translate(a[:4]))
    assert int(fresh.steps_done) == 3
    if model != "pix2pix":
        assert torch.equal(fresh.translate(b[:4], "BtoA"), net.translate(b[:4], "BtoA"))
    if model == "discogan":  # the BatchNorm statistics and Adam's moments came back too
        assert torch.equal(fresh.g_ab.encoder[3].running_var, net.g_ab.encoder[3].running_var)
        assert fresh.optimizers["d"].state_dict()["state"][0]["step"] == 3
    if model == "cyclegan":
        for pool in ("pool_a", "pool_b"):
            assert int(getattr(fresh, pool).count) == 12
            assert torch.equal(getattr(fresh, pool).images, getattr(net, pool).images)
    # training continues identically (same RNG: same dropout masks and pool draws)
    torch.manual_seed(9)
    expected = numbers(net.train_step(a[:4], b[:4]))
    torch.manual_seed(9)
    assert numbers(fresh.train_step(a[:4], b[:4])) == pytest.approx(expected)


# -- real sizes: how many images a pass takes, and what a cycle error counts ---------------------


def test_cycle_errors_count_the_images_of_their_own_domain():
    """cycle_l1_B is computed on domain B's test images: the board showed testA's count."""
    from genbench.api import model_metrics

    net = build("cyclegan", 3, 3, "res_blocks=1", kind="unpaired")
    reference = TensorData("t", "test", smooth(5, 3), target=smooth(7, 3, seed=1))
    counts = {m.name: m.n_real for m in model_metrics(net, reference)}
    assert counts == {"cycle_l1_A": 5, "cycle_l1_B": 7}


def test_large_images_go_through_a_model_a_few_at_a_time(monkeypatch):
    """500 images of 256x256 in one pass took 6.3 GB through DiscoGAN's generator: a pass
    keeps the pixels of 500 images of 64x64."""
    from genbench import api
    from genbench.data.base import images_per_pass

    assert images_per_pass((3, 64, 64)) == 500 and images_per_pass((2,)) == 500
    assert images_per_pass((3, 128, 128)) == 125 and images_per_pass((3, 256, 256)) == 31
    assert images_per_pass((1, 28, 28)) == 500 and images_per_pass((3, 4096, 4096)) == 1

    net = build("pix2pix", 3, 3, size=128)
    seen = []
    translate = net.translate
    monkeypatch.setattr(net, "translate", lambda x, *a: seen.append(len(x)) or translate(x, *a))
    out = api.translate_split(net, smooth(130, 3, size=128), (3, 128, 128), (3, 128, 128))
    assert out.shape == (130, 3, 128, 128) and seen == [125, 5]
    seen.clear()
    cycled = build("cyclegan", 3, 3, "res_blocks=1", size=128, kind="unpaired")
    translate = cycled.translate
    monkeypatch.setattr(cycled, "translate",
                        lambda x, *a: seen.append(len(x)) or translate(x, *a))
    cycled.cycle_error(smooth(20, 3, size=128))
    assert max(seen) == 16  # CHUNK (64) images of 64x64 make 16 of 128x128
