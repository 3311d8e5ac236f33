"""pixelcnn and vq-vae: the gated PixelCNN is causal in its channel-major raster order (so its
likelihood is exact), normalised, learns known answers and samples reproducibly; the VQ-VAE
quantises to the nearest code, passes gradients straight through, updates its codebook by EMA,
trains its prior only in the second phase, and reports codebook usage; both reload exactly and
run through the CLI."""

from __future__ import annotations

import itertools
import math
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from conftest import cli_json, numbers
from genbench_vaes.pixelcnn import GatedPixelCNN
from genbench_vaes.vqvae import code_statistics, nearest_codes

from genbench.config import resolve_config
from genbench.errors import GenbenchError
from genbench.likelihood import LEVELS, bin_centres, to_bins
from genbench.model import DataInfo
from genbench.plugins import get_registries
from genbench.registry import load_object

TINY_PIXELCNN = ("hidden=8", "layers=3", "first_kernel=5", "out_hidden=16")
TINY_VQVAE = ("hidden=8", "code_dim=4", "codebook_size=8", "downsample=1", "res_blocks=1",
              "prior_hidden=8", "prior_layers=2", "prior_first_kernel=3", "prior_out_hidden=16",
              "prior_embedding=4")


def build(model: str, shape: tuple[int, ...], *overrides: str, steps: int = 10, seed: int = 0):
    spec = get_registries().models.get(model)
    config = resolve_config(spec, "quick", "images", steps, overrides)
    torch.manual_seed(seed)
    return load_object(spec.factory)(config, DataInfo("images", tuple(shape)))


def order_index(channels: int, height: int, width: int) -> torch.Tensor:
    """Position of each value in the autoregressive order: channel-major, then raster."""
    return torch.arange(channels * height * width).view(channels, height, width)


def random_images(n: int, shape: tuple[int, ...], seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return bin_centres(torch.randint(0, LEVELS, (n, *shape), generator=g))


# -- the network ------------------------------------------------------------------------------


@pytest.mark.parametrize("channels,embedding", [(1, 0), (3, 0), (1, 4), (3, 4)])
def test_logits_depend_only_on_earlier_values(channels, embedding):
    """Autograd: position p's logits have zero gradient w.r.t. every input at or after p in the
    order (channel-major raster). And no blind spot: with this receptive field they depend on
    every earlier value of their own channel, and on the earlier channels at least at every
    pixel up to and including their own (the context R->G->B masks would give)."""
    torch.manual_seed(0)
    height, width = 4, 5
    net = GatedPixelCNN(channels, 6, hidden=8, layers=3, first_kernel=5, kernel=3,
                        out_hidden=8, embedding=embedding)
    k = torch.randint(0, 6, (2, channels, height, width))
    inputs = net.embed(k).detach().requires_grad_(True)
    logits = net.logits_from_inputs(inputs)
    order = order_index(channels, height, width)
    for c, i, j in itertools.product(range(channels), range(height), range(width)):
        (grad,) = torch.autograd.grad(logits[0, c, :, i, j].sum(), inputs, retain_graph=True)
        assert grad[1].abs().sum() == 0, "examples must not interact"
        reach = grad[0].abs().sum(dim=1)  # (C, H, W)
        position = int(order[c, i, j])
        assert reach[order >= position].sum() == 0, f"value {(c, i, j)} sees the future"
        own = order[c] < position
        assert (reach[c][own] > 0).all(), f"value {(c, i, j)} has a blind spot"
        raster = order[0] <= int(order[0, i, j])
        assert (reach[:c, raster] > 0).all(), f"value {(c, i, j)} misses earlier channels"


@pytest.mark.parametrize("channels,embedding", [(1, 0), (3, 4)])
def test_cached_sampling_path_computes_the_same_logits(channels, embedding):
    torch.manual_seed(1)
    net = GatedPixelCNN(channels, 7, hidden=8, layers=3, first_kernel=5, kernel=3,
                        out_hidden=8, embedding=embedding)
    k = torch.randint(0, 7, (3, channels, 5, 4))
    with torch.no_grad():
        full = net.logits(k)
    assert torch.allclose(net.cached_logits(k), full, atol=1e-5)


@pytest.mark.parametrize("channels,size,levels", [(1, (2, 2), 3), (3, (1, 2), 2)])
def test_probabilities_of_all_configurations_sum_to_one(channels, size, levels):
    torch.manual_seed(2)
    net = GatedPixelCNN(channels, levels, hidden=8, layers=2, first_kernel=3, kernel=3,
                        out_hidden=8)
    values = channels * size[0] * size[1]
    every = torch.tensor(list(itertools.product(range(levels), repeat=values)))
    every = every.view(-1, channels, *size)
    with torch.no_grad():
        logp = net.log_prob(every)
        per_value = torch.log_softmax(net.logits(every), dim=2)
    assert every.shape[0] == levels ** values
    assert torch.allclose(per_value.logsumexp(dim=2), torch.zeros(()), atol=1e-5)
    assert torch.logsumexp(logp.double(), 0).exp().item() == pytest.approx(1.0, abs=1e-5)
    assert torch.allclose(net.log_probs(every).flatten(1).sum(1), logp)


# -- pixelcnn ---------------------------------------------------------------------------------


def fit(model, data: torch.Tensor, steps: int, batch: int = 16, seed: int = 0) -> list[dict]:
    model.train()
    g = torch.Generator().manual_seed(seed)
    out = []
    for _ in range(steps):
        idx = torch.randint(0, data.shape[0], (batch,), generator=g)
        out.append(numbers(model.train_step(data[idx], None)))
    return out


def test_pixelcnn_learns_a_constant_image_and_samples_it():
    model = build("pixelcnn", (1, 4, 4), *TINY_PIXELCNN, "lr=0.01")
    constant = torch.full((1, 1, 4, 4), 200)
    losses = fit(model, bin_centres(constant), 300, batch=8)
    assert losses[0]["loss"] > 4  # about log 256 at the start
    model.eval()
    nll = -model.log_likelihood(bin_centres(constant))["exact"]
    assert nll.item() < 0.05, f"NLL of the only image should be near 0 nats, got {nll.item()}"
    fake = model.sample(20, torch.Generator().manual_seed(0))
    assert torch.equal(to_bins(fake), constant.expand(20, -1, -1, -1))


def test_pixelcnn_learns_two_images_to_log_2():
    """Two equally likely images differing everywhere: the first value is a coin flip, the rest
    follow, so the NLL tends to log 2 per image."""
    model = build("pixelcnn", (1, 4, 4), *TINY_PIXELCNN, "lr=0.01")
    pair = torch.stack([torch.full((1, 4, 4), 10), torch.full((1, 4, 4), 240)])
    batch = bin_centres(pair).repeat(8, 1, 1, 1)  # balanced batches: a fair coin
    model.train()
    for _ in range(300):
        model.train_step(batch, None)
    model.eval()
    nll = -model.log_likelihood(bin_centres(pair))["exact"]
    assert nll.tolist() == pytest.approx([math.log(2)] * 2, abs=0.1)


@pytest.mark.parametrize("channels", [1, 3])
def test_log_likelihood_is_minus_the_training_loss_times_dims(channels):
    shape = (channels, 4, 4)
    model = build("pixelcnn", shape, *TINY_PIXELCNN)
    x = random_images(6, shape)
    ll = model.log_likelihood(x)["exact"]
    assert ll.shape == (6,)
    assert (ll < 0).all()
    losses = numbers(model.train_step(x, None))
    dims = channels * 16
    assert -ll.mean().item() == pytest.approx(losses["loss"] * dims, rel=1e-5)
    assert losses["bits_per_dim"] == pytest.approx(losses["loss"] / math.log(2))
    # Bin centres and any value inside the same bin are the same 8-bit image.
    assert torch.allclose(model.log_likelihood(x + 0.3 / LEVELS)["exact"],
                          model.log_likelihood(x)["exact"])


@pytest.mark.parametrize("channels", [1, 3])
def test_pixelcnn_samples_are_reproducible_bin_centres(channels):
    shape = (channels, 3, 4)
    model = build("pixelcnn", shape, *TINY_PIXELCNN)
    model.eval()
    fake = model.sample(5, torch.Generator().manual_seed(3))
    assert fake.shape == (5, *shape)
    assert fake.min() >= -1 and fake.max() <= 1
    assert torch.equal(fake, bin_centres(to_bins(fake)))
    assert torch.equal(fake, model.sample(5, torch.Generator().manual_seed(3)))
    assert not torch.equal(fake, model.sample(5, torch.Generator().manual_seed(4)))


def test_pixelcnn_refuses_other_data():
    with pytest.raises(GenbenchError, match="images"):
        load_object("genbench_vaes.pixelcnn:build_pixelcnn")(
            resolve_config(get_registries().models.get("pixelcnn"), "quick", "points"),
            DataInfo("points", (2,)))
    with pytest.raises(GenbenchError, match="odd"):
        build("pixelcnn", (1, 4, 4), "kernel=4")


# -- vq-vae -----------------------------------------------------------------------------------


def test_quantisation_picks_the_nearest_code():
    g = torch.Generator().manual_seed(0)
    codebook = torch.randn(10, 3, generator=g)
    z = torch.randn(4, 3, 2, 5, generator=g)
    idx = nearest_codes(z, codebook)
    assert idx.shape == (4, 2, 5)
    flat = z.permute(0, 2, 3, 1).reshape(-1, 3)
    brute = torch.cdist(flat, codebook).argmin(dim=1).view(4, 2, 5)
    assert torch.equal(idx, brute)
    # An encoding equal to a code maps to that code.
    exact = codebook[[7, 2]].t().reshape(1, 3, 1, 2)
    assert nearest_codes(exact, codebook).flatten().tolist() == [7, 2]


def test_nearest_codes_are_found_in_fp32_under_bf16_autocast():
    """Codes closer to each other than bf16 can tell apart: under autocast the distances in
    bf16 chose other codes than the nearest."""
    g = torch.Generator().manual_seed(1)
    codebook = 4 + 0.01 * torch.randn(64, 16, generator=g)  # far from 0, close together
    z = 4 + 0.01 * torch.randn(8, 16, 4, 4, generator=g)
    expected = nearest_codes(z, codebook)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert torch.equal(nearest_codes(z, codebook), expected)
        assert torch.equal(nearest_codes(z.bfloat16(), codebook), nearest_codes(
            z.bfloat16().float(), codebook))


def test_straight_through_passes_the_reconstruction_gradient_to_the_encoder():
    model = build("vq-vae", (1, 8, 8), *TINY_VQVAE, "codebook=loss")
    x = random_images(4, (1, 8, 8))
    recon, codebook, commitment, _, _ = model.vq_losses(x)
    encoder_weight = model.encoder[0].weight
    grads = torch.autograd.grad(recon, [encoder_weight, model.codebook], allow_unused=True)
    assert grads[0] is not None and grads[0].abs().sum() > 0
    # The reconstruction does not train the codebook: only the codebook loss does.
    assert grads[1] is None or grads[1].abs().sum() == 0
    (code_grad,) = torch.autograd.grad(codebook, [model.codebook])
    assert code_grad.abs().sum() > 0
    with pytest.raises(RuntimeError):  # sg[e]: the commitment loss has no path to the codebook
        torch.autograd.grad(commitment, [model.codebook])


def test_commitment_weight_changes_the_loss():
    x = random_images(8, (1, 8, 8))
    losses = {}
    for beta in ("0.25", "2.0"):
        model = build("vq-vae", (1, 8, 8), *TINY_VQVAE, "codebook=loss", f"beta={beta}")
        recon, codebook, commitment, _, _ = model.vq_losses(x)
        total = model.vq_objective(recon, codebook, commitment)
        assert total.item() == pytest.approx(
            (recon + codebook + float(beta) * commitment).item(), rel=1e-6)
        losses[beta] = numbers(model.train_step(x, None))
    assert losses["2.0"]["loss"] > losses["0.25"]["loss"]
    assert losses["2.0"]["recon"] == pytest.approx(losses["0.25"]["recon"])


def test_ema_codebook_moves_toward_its_encodings_without_gradients():
    model = build("vq-vae", (1, 8, 8), *TINY_VQVAE, "codebook=ema", "ema_decay=0.5")
    assert not model.codebook.requires_grad
    assert all(p is not model.codebook for group in model.optimizers["vqvae"].param_groups
               for p in group["params"])
    x = random_images(16, (1, 8, 8))
    before = model.codebook.detach().clone()
    with torch.no_grad():
        z_e = model.encoder(x)
        idx = nearest_codes(z_e, before)
    flat = z_e.permute(0, 2, 3, 1).reshape(-1, z_e.shape[1])
    used = idx.flatten().unique()
    targets = torch.stack([flat[idx.flatten() == i].mean(0) for i in used])
    model.ema_update(z_e, idx)
    after = model.codebook.detach().clone()
    moved_closer = (after[used] - targets).norm(dim=1) < (before[used] - targets).norm(dim=1)
    assert moved_closer.all()
    unused = torch.ones(len(before), dtype=torch.bool)
    unused[used] = False
    # Unused codes keep their sums; only the smoothed counts rescale them slightly.
    assert torch.allclose(after[unused], before[unused], rtol=0.05, atol=1e-6)
    # A training step: no gradient on the codebook, and the EMA moves it.
    losses = numbers(model.train_step(x, None))
    assert model.codebook.grad is None
    assert not torch.equal(model.codebook.detach(), after)
    assert losses["loss"] == pytest.approx(losses["recon"] + losses["vq"], rel=1e-5)


def test_code_statistics_on_hand_made_assignments():
    k = 16
    assert code_statistics(torch.full((50,), 3), k) == pytest.approx((1 / k, 1.0))
    uniform = torch.arange(5).repeat(20)  # five codes, equally often
    assert code_statistics(uniform, k) == pytest.approx((5 / k, 5.0))
    skewed = torch.tensor([0, 0, 0, 1])
    entropy = -(0.75 * math.log(0.75) + 0.25 * math.log(0.25))
    assert code_statistics(skewed, k) == pytest.approx((2 / k, math.exp(entropy)))


def test_extra_metrics_report_usage_and_perplexity(monkeypatch):
    model = build("vq-vae", (1, 8, 8), *TINY_VQVAE)
    reference = SimpleNamespace(x=random_images(600, (1, 8, 8)))  # two chunks
    metrics = model.extra_metrics(reference)
    assert set(metrics) == {"codebook_usage", "codebook_perplexity"}
    usage, higher = metrics["codebook_usage"]
    assert higher and 0 < usage <= 1
    # Every grid position a different code, cycling over four: usage 4/8, perplexity 4.
    monkeypatch.setattr(model, "codes",
                        lambda x: (torch.arange(x.shape[0] * 16) % 4).view(-1, 4, 4))
    metrics = model.extra_metrics(reference)
    assert metrics["codebook_usage"][0] == pytest.approx(0.5)
    assert metrics["codebook_perplexity"][0] == pytest.approx(4.0)
    # Reference images at another size are resized to the model's input.
    monkeypatch.undo()
    bigger = SimpleNamespace(x=random_images(3, (1, 16, 16)))
    assert set(model.extra_metrics(bigger)) == {"codebook_usage", "codebook_perplexity"}


def test_vqvae_phases_train_disjoint_parameters():
    model = build("vq-vae", (1, 8, 8), *TINY_VQVAE, "prior_fraction=0.5", steps=6)
    assert (model.vqvae_steps, model.prior_steps) == (3, 3)
    x = random_images(32, (1, 8, 8))

    def snapshot(module):
        return [p.detach().clone() for p in module.parameters()]

    def same(a, b):
        return all(torch.equal(p, q) for p, q in zip(a, b, strict=True))

    prior, autoencoder = snapshot(model.prior), snapshot(model.encoder) + [model.codebook.clone()]
    decoder = snapshot(model.decoder)
    for _ in range(3):
        losses = numbers(model.train_step(x, None))
        assert losses["prior_nll"] == 0.0
    assert same(snapshot(model.prior), prior)
    assert not same(snapshot(model.encoder) + [model.codebook.clone()], autoencoder)
    assert not model.in_prior_phase() or int(model.steps_done) == 3
    autoencoder = snapshot(model.encoder) + [model.codebook.clone()]
    decoder = snapshot(model.decoder)
    for _ in range(3):
        losses = numbers(model.train_step(x, None))
        assert losses["prior_nll"] > 0 and losses["loss"] == losses["prior_nll"]
    assert same(snapshot(model.encoder) + [model.codebook.clone()], autoencoder)
    assert same(snapshot(model.decoder), decoder)
    assert not same(snapshot(model.prior), prior)
    assert set(losses) == {"loss", "recon", "vq", "prior_nll"}


def test_vqvae_samples_and_reconstructions():
    model = build("vq-vae", (3, 8, 8), *TINY_VQVAE)
    model.eval()
    x = random_images(5, (3, 8, 8))
    rec = model.reconstruct(x)
    assert rec.shape == x.shape and rec.min() >= -1 and rec.max() <= 1
    assert torch.equal(rec, model.reconstruct(x))
    fake = model.sample(6, torch.Generator().manual_seed(0))
    assert fake.shape == (6, 3, 8, 8) and fake.min() >= -1 and fake.max() <= 1
    assert torch.equal(fake, model.sample(6, torch.Generator().manual_seed(0)))
    with pytest.raises(GenbenchError, match="downsample"):
        build("vq-vae", (1, 6, 6), *TINY_VQVAE, "downsample=2")


# -- checkpoints and the CLI ------------------------------------------------------------------


@pytest.mark.parametrize("model_name,overrides", [("pixelcnn", TINY_PIXELCNN),
                                                  ("vq-vae", TINY_VQVAE + ("codebook=ema",)),
                                                  ("vq-vae", TINY_VQVAE + ("codebook=loss",))])
def test_reload_reproduces_samples_and_reconstructions(model_name, overrides, tmp_path: Path):
    shape = (3, 8, 8)
    model = build(model_name, shape, *overrides, steps=4)
    x = random_images(16, shape)
    fit(model, x, 4, batch=8)
    model.eval()

    def outputs(net):
        out = [net.sample(4, torch.Generator().manual_seed(5))]
        if hasattr(net, "reconstruct"):
            out.append(net.reconstruct(x[:4]))
        if hasattr(net, "log_likelihood"):
            out.append(net.log_likelihood(x[:4])["exact"])
        return out

    path = tmp_path / "state.pt"
    torch.save(model.training_state(), path)
    fresh = build(model_name, shape, *overrides, steps=4, seed=123)
    fresh.eval()
    assert not torch.equal(outputs(fresh)[0], outputs(model)[0])
    fresh.load_training_state(torch.load(path, weights_only=True))
    for a, b in zip(outputs(fresh), outputs(model), strict=True):
        assert torch.equal(a, b)
    assert int(fresh.steps_done) == 4
    # The optimizers' states came back too.
    for name, opt in model.optimizers.items():
        assert fresh.optimizers[name].state_dict()["state"].keys() == \
            opt.state_dict()["state"].keys()


@pytest.mark.parametrize("model_name,overrides", [("pixelcnn", TINY_PIXELCNN),
                                                  ("vq-vae", TINY_VQVAE)])
def test_runs_through_the_cli(cli, workdir, model_name, overrides):
    args = ["run", model_name, "--dataset", "digits", "--steps", "3", "--workdir", workdir,
            "--num-samples", "50", "--metrics", "ndb"]
    for setting in overrides:
        args += ["--set", setting]
    record = cli_json(cli, *args)
    assert record["status"] == "completed"
    names = {m["name"] for m in record["metrics"]}
    if model_name == "vq-vae":
        assert {"codebook_usage", "codebook_perplexity"} <= names
