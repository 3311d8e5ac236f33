"""vq-vae-2: two code maps at the right sizes, straight-through gradients into both encoders,
EMA codebooks that move, a training loss that falls, a prior phase that trains both priors
(the bottom one really conditioned on the top codes, also along its sampling path), samples
and reconstructions in range, an exact checkpoint round trip, per-level metrics, and the CLI."""

from __future__ import annotations

import math
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from conftest import cli_json, numbers
from test_pixelcnn_vqvae import build, fit, random_images

from genbench.errors import GenbenchError

TINY = ("hidden=8", "code_dim=4", "codebook_size=8", "bottom_downsample=1", "top_downsample=1",
        "res_blocks=1", "prior_hidden=8", "prior_layers=2", "prior_first_kernel=3",
        "prior_out_hidden=16", "prior_embedding=4", "prior_cond_blocks=1")
SHAPE = (1, 8, 8)


def snapshot(*modules) -> list[torch.Tensor]:
    return [p.detach().clone() for m in modules for p in m.parameters()]


def same(a, b) -> bool:
    return all(torch.equal(p, q) for p, q in zip(a, b, strict=True))


def test_code_maps_have_both_grid_sizes():
    model = build("vq-vae-2", (3, 16, 16), *TINY, "bottom_downsample=2")
    x = random_images(5, (3, 16, 16))
    top, bottom = model.codes(x)
    assert top.shape == (5, 2, 2) and bottom.shape == (5, 4, 4)
    assert model.grid_top == (2, 2) and model.grid_bottom == (4, 4)
    assert 0 <= int(top.min()) and int(top.max()) < 8
    step = model.vq_losses(x)
    assert torch.equal(step.top, top) and torch.equal(step.bottom, bottom)
    with pytest.raises(GenbenchError, match="downsampled"):
        build("vq-vae-2", (1, 12, 12), *TINY, "bottom_downsample=2")


def test_straight_through_gradients_reach_both_encoders():
    model = build("vq-vae-2", SHAPE, *TINY)
    step = model.vq_losses(random_images(4, SHAPE))
    top_first = model.encoder_top[0].weight
    bottom_first = model.encoder_bottom[0].weight
    grads = torch.autograd.grad(step.recon, [top_first, bottom_first, model.decoder_top[0].weight])
    assert all(g.abs().sum() > 0 for g in grads)
    # The top encoder gets the reconstruction's gradient through its quantiser alone: the
    # decoder's input is the straight-through top code, so d recon / d z_top is not zero.
    assert torch.autograd.grad(model.vq_losses(random_images(4, SHAPE)).recon,
                               [model.upsample_top[0].weight])[0].abs().sum() > 0
    # The codebooks are buffers: no gradient path to them at all.
    assert not model.codebook_top.weight.requires_grad
    assert not model.codebook_bottom.weight.requires_grad


def test_ema_codebooks_of_both_levels_move_toward_their_encodings():
    model = build("vq-vae-2", SHAPE, *TINY, "ema_decay=0.5")
    x = random_images(16, SHAPE)
    before = {lvl: getattr(model, f"codebook_{lvl}").weight.clone() for lvl in ("top", "bottom")}
    with torch.no_grad():
        step = model.vq_losses(x)
    losses = numbers(model.train_step(x, None))
    assert losses["loss"] == pytest.approx(losses["recon"] + losses["vq"], rel=1e-5)
    for level, z, idx in (("top", step.z_top, step.top), ("bottom", step.z_bottom, step.bottom)):
        after = getattr(model, f"codebook_{level}").weight
        flat = z.permute(0, 2, 3, 1).reshape(-1, z.shape[1])
        used = idx.flatten().unique()
        targets = torch.stack([flat[idx.flatten() == i].mean(0) for i in used])
        closer = (after[used] - targets).norm(dim=1) < (before[level][used] - targets).norm(dim=1)
        assert closer.all(), level


def test_a_few_steps_reduce_the_reconstruction_loss():
    model = build("vq-vae-2", SHAPE, *TINY, "lr=0.01", steps=1000)
    x = random_images(8, SHAPE)
    losses = fit(model, x, 60, batch=8)
    first = sum(step["recon"] for step in losses[:5]) / 5
    last = sum(step["recon"] for step in losses[-5:]) / 5
    assert last < 0.7 * first
    assert all(step["prior_nll_top"] == 0.0 for step in losses)


def test_prior_phase_trains_both_priors_and_nothing_else():
    model = build("vq-vae-2", SHAPE, *TINY, "prior_fraction=0.5", steps=6)
    assert (model.vqvae_steps, model.prior_steps) == (3, 3)
    x = random_images(32, SHAPE)
    autoencoder = [model.encoder_bottom, model.encoder_top, model.decoder_top,
                   model.pre_bottom, model.upsample_top, model.decoder]
    priors = snapshot(model.prior_top, model.prior_bottom)
    fit(model, x, 3, batch=16)
    assert same(snapshot(model.prior_top, model.prior_bottom), priors)
    frozen = snapshot(*autoencoder)
    codebooks = [model.codebook_top.weight.clone(), model.codebook_bottom.weight.clone()]
    top_prior, bottom_prior = snapshot(model.prior_top), snapshot(model.prior_bottom)
    losses = fit(model, x, 3, batch=16)
    assert same(snapshot(*autoencoder), frozen)
    assert same([model.codebook_top.weight, model.codebook_bottom.weight], codebooks)
    assert not same(snapshot(model.prior_top), top_prior)
    assert not same(snapshot(model.prior_bottom), bottom_prior)
    for step in losses:
        assert step["prior_nll_top"] > 0 and step["prior_nll_bottom"] > 0
        assert step["loss"] == pytest.approx(step["prior_nll_top"] + step["prior_nll_bottom"])
    assert set(losses[-1]) == {"loss", "recon", "vq", "prior_nll_top", "prior_nll_bottom"}


def test_bottom_prior_depends_on_the_top_codes_and_stays_causal():
    model = build("vq-vae-2", SHAPE, *TINY)
    prior = model.prior_bottom
    g = torch.Generator().manual_seed(0)
    bottom = torch.randint(0, 8, (3, 1, 4, 4), generator=g)
    top = torch.randint(0, 8, (3, 2, 2), generator=g)
    other = (top + 1) % 8
    with torch.no_grad():
        logits = prior.logits(bottom, top)
        assert not torch.allclose(logits, prior.logits(bottom, other))
        # The very first bottom code sees no earlier codes, only the top ones.
        assert not torch.allclose(logits[..., 0, 0], prior.logits(bottom, other)[..., 0, 0])
        # Changing one top code changes the logits over its 2x2 block of bottom codes.
        one = top.clone()
        one[:, 1, 1] = (one[:, 1, 1] + 3) % 8
        assert not torch.allclose(logits[..., 2:, 2:], prior.logits(bottom, one)[..., 2:, 2:])
    # Causal in the bottom codes: a position's logits ignore the bottom codes at and after it.
    inputs = prior.embed(bottom).detach().requires_grad_(True)
    with prior.given(top):
        out = prior.logits_from_inputs(inputs)
    (grad,) = torch.autograd.grad(out[0, 0, :, 1, 2].sum(), inputs)
    reach = grad[0, 0].abs().sum(dim=0)
    order = torch.arange(16).view(4, 4)
    assert reach[order >= 6].sum() == 0 and (reach[order < 6] > 0).all()
    # The sampling path computes the same conditional logits.
    assert torch.allclose(prior.cached_logits(bottom, top), logits, atol=1e-5)
    with pytest.raises(GenbenchError, match="top codes"):
        prior.logits(bottom)


def test_samples_and_reconstructions():
    model = build("vq-vae-2", (3, 8, 8), *TINY)
    model.eval()
    x = random_images(5, (3, 8, 8))
    rec = model.reconstruct(x)
    assert rec.shape == x.shape and rec.min() >= -1 and rec.max() <= 1
    assert torch.equal(rec, model.decode_codes(*model.codes(x)))
    fake = model.sample(6, torch.Generator().manual_seed(0))
    assert fake.shape == (6, 3, 8, 8) and fake.min() >= -1 and fake.max() <= 1
    assert torch.equal(fake, model.sample(6, torch.Generator().manual_seed(0)))
    assert not torch.equal(fake, model.sample(6, torch.Generator().manual_seed(1)))
    # Larger reference images are resized in and out.
    assert model.reconstruct(random_images(2, (3, 16, 16))).shape == (2, 3, 16, 16)


def test_extra_metrics_per_level(monkeypatch):
    model = build("vq-vae-2", SHAPE, *TINY)
    reference = SimpleNamespace(x=random_images(600, SHAPE))  # two chunks
    metrics = model.extra_metrics(reference)
    names = {f"{m}_{lvl}" for m in ("codebook_usage", "codebook_perplexity", "prior_bpd")
             for lvl in ("top", "bottom")}
    assert set(metrics) == names
    assert metrics["prior_bpd_top"][1] is False and metrics["codebook_usage_top"][1] is True
    # The bits per code are the priors' mean NLL over all codes, in bits.
    top, bottom = model.codes(reference.x)
    with torch.no_grad():
        nll_top, nll_bottom = model.prior_nll(top, bottom)
    assert metrics["prior_bpd_top"][0] == pytest.approx(nll_top.item() / math.log(2), rel=1e-4)
    assert metrics["prior_bpd_bottom"][0] == pytest.approx(nll_bottom.item() / math.log(2),
                                                           rel=1e-4)
    # Hand-made codes: top always code 2, bottom cycling over four codes.
    monkeypatch.setattr(model, "codes", lambda x: (
        torch.full((x.shape[0], 2, 2), 2), (torch.arange(x.shape[0] * 16) % 4).view(-1, 4, 4)))
    metrics = model.extra_metrics(reference)
    assert metrics["codebook_usage_top"][0] == pytest.approx(1 / 8)
    assert metrics["codebook_perplexity_top"][0] == pytest.approx(1.0)
    assert metrics["codebook_usage_bottom"][0] == pytest.approx(0.5)
    assert metrics["codebook_perplexity_bottom"][0] == pytest.approx(4.0)


def test_checkpoint_round_trip(tmp_path: Path):
    shape = (3, 8, 8)
    model = build("vq-vae-2", shape, *TINY, steps=4)
    x = random_images(16, shape)
    fit(model, x, 4, batch=8)
    model.eval()

    def outputs(net):
        return [net.sample(4, torch.Generator().manual_seed(5)), net.reconstruct(x[:4]),
                net.codebook_top.ema_count, net.codebook_bottom.weight]

    path = tmp_path / "state.pt"
    torch.save(model.training_state(), path)
    fresh = build("vq-vae-2", shape, *TINY, steps=4, seed=123)
    fresh.eval()
    assert not torch.equal(outputs(fresh)[0], outputs(model)[0])
    fresh.load_training_state(torch.load(path, weights_only=True))
    for a, b in zip(outputs(fresh), outputs(model), strict=True):
        assert torch.equal(a, b)
    assert fresh.step_count == 4 and fresh.in_prior_phase()
    for name, opt in model.optimizers.items():
        assert fresh.optimizers[name].state_dict()["state"].keys() == \
            opt.state_dict()["state"].keys()
    # Resuming continues identically: the same next step from both.
    fresh.prior_steps, model.prior_steps = 4, 4
    assert numbers(fresh.train_step(x[:8], None)) == numbers(model.train_step(x[:8], None))


def test_runs_through_the_cli(cli, workdir):
    args = ["run", "vq-vae-2", "--dataset", "digits", "--steps", "3", "--workdir", workdir,
            "--num-samples", "50", "--metrics", "ndb,reconstruction"]
    for setting in TINY:
        args += ["--set", setting]
    record = cli_json(cli, *args)
    assert record["status"] == "completed"
    names = {m["name"] for m in record["metrics"]}
    assert {"codebook_usage_top", "codebook_usage_bottom", "prior_bpd_top",
            "prior_bpd_bottom", "mse"} <= names
