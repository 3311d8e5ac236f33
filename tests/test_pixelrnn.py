"""pixelrnn (Row LSTM): causal in pixelcnn's channel-major raster order with the triangular
receptive field the paper describes, exactly normalised, its likelihood equal to a direct
chain-rule computation, its cached sampling path equal to the full pass; it learns, samples
reproducibly, resumes from a checkpoint exactly and runs through the CLI."""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import pytest
import torch
from conftest import cli_json, numbers
from genbench_vaes.pixelrnn import RowLSTMNet
from test_pixelcnn_vqvae import build, fit, order_index, random_images

from genbench.config import resolve_config
from genbench.errors import GenbenchError
from genbench.likelihood import LEVELS, bin_centres, to_bins
from genbench.model import DataInfo
from genbench.plugins import get_registries
from genbench.registry import load_object

TINY = ("hidden=4", "layers=2", "first_kernel=5", "out_hidden=16")


def tiny_net(channels: int, levels: int = 6, *, embedding: int = 0, layers: int = 2,
             seed: int = 0) -> RowLSTMNet:
    torch.manual_seed(seed)
    return RowLSTMNet(channels, levels, hidden=4, layers=layers, first_kernel=5, kernel=3,
                      state_kernel=3, out_hidden=8, embedding=embedding)


def reach_of(net: RowLSTMNet, k: torch.Tensor):
    """reach(c, i, j) -> (C, H, W) bool: which inputs of example 0 the logits at (c, i, j)
    have a non-zero gradient for (example 1 must never be reached)."""
    inputs = net.embed(k).detach().requires_grad_(True)
    logits = net.logits_from_inputs(inputs)

    def reach(c: int, i: int, j: int) -> torch.Tensor:
        (grad,) = torch.autograd.grad(logits[0, c, :, i, j].sum(), inputs, retain_graph=True)
        assert grad[1].abs().sum() == 0, "examples must not interact"
        return grad[0].abs().sum(dim=1) > 0

    return reach


# -- causality and the receptive field --------------------------------------------------------


def test_row_lstm_sees_a_triangle_of_the_past_and_nothing_else():
    """One channel, 2 layers, a 5x5 first layer, kernels 3: position (i, j) sees nothing at or
    after itself; the row d above it up to column j + (d - 1) + 2 exactly (the state-to-state
    kernel adds one column per row, the first layer two), so the upper-right context beyond
    is not seen; in its own row, the 2 + 2 values before it."""
    height, width = 6, 12
    net = tiny_net(1)
    reach = reach_of(net, torch.randint(0, 6, (2, 1, height, width)))
    order = order_index(1, height, width)[0]
    unseen_past = 0
    for i, j in itertools.product(range(height), range(width)):
        seen = reach(0, i, j)[0]
        assert not seen[order >= int(order[i, j])].any(), f"{(i, j)} sees the future"
        for d in range(1, i + 1):
            edge = j + (d - 1) + 2
            assert not seen[i - d, edge + 1:].any(), f"{(i, j)} sees beyond the triangle"
            assert seen[i - d, min(edge, width - 1)], f"{(i, j)}: the triangle's edge unseen"
            assert seen[i - d, max(j - d, 0):min(edge, width - 1) + 1].all()
            unseen_past += int((~seen[i - d, edge + 1:]).sum())
        assert seen[i, max(j - 4, 0):j].all(), f"{(i, j)} misses values before it in its row"
        assert not seen[i, :max(j - 4, 0)].any()
    assert unseen_past > 0  # the Row LSTM does not see the whole context


@pytest.mark.parametrize("embedding", [0, 4])
def test_channels_are_factorised_in_pixelcnns_order(embedding):
    """Three channels, channel-major raster order as pixelcnn: no value or channel at or after
    the position is reached; the earlier channels are, at the position's own pixel, and so are
    the values just left of it and just above it in its channel."""
    channels, height, width = 3, 4, 5
    net = tiny_net(channels, embedding=embedding)
    reach = reach_of(net, torch.randint(0, 6, (2, channels, height, width)))
    order = order_index(channels, height, width)
    for c, i, j in itertools.product(range(channels), range(height), range(width)):
        seen = reach(c, i, j)
        assert not seen[order >= int(order[c, i, j])].any(), f"{(c, i, j)} sees the future"
        assert seen[:c, i, j].all(), f"{(c, i, j)} misses the earlier channels at its pixel"
        assert j == 0 or seen[c, i, j - 1]
        assert i == 0 or seen[c, i - 1, j]


def test_changing_later_values_leaves_earlier_log_probabilities_unchanged():
    """Perturbation, on the model's own per-value log-probabilities: rewriting every value
    from position p on changes none of the log-probabilities before p."""
    channels, height, width = 3, 4, 4
    model = build("pixelrnn", (channels, height, width), *TINY)
    model.eval()
    k = torch.randint(0, LEVELS, (4, channels, height, width),
                      generator=torch.Generator().manual_seed(0))
    order = order_index(channels, height, width)
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        base = model.net.log_probs(k)
        for p in (1, 7, 20, 33, 47):
            later = order >= p
            other = k.clone()
            other[:, later] = torch.randint(0, LEVELS, (4, int(later.sum())), generator=g)
            changed = model.net.log_probs(other)
            assert torch.equal(changed[:, ~later], base[:, ~later])
            assert not torch.equal(changed[:, later], base[:, later])


@pytest.mark.parametrize("channels,embedding", [(1, 0), (3, 4)])
def test_cached_sampling_path_computes_the_same_logits(channels, embedding):
    net = tiny_net(channels, 7, embedding=embedding, layers=3, seed=1)
    k = torch.randint(0, 7, (3, channels, 5, 6))
    with torch.no_grad():
        full = net.logits(k)
    assert torch.allclose(net.cached_logits(k), full, atol=1e-5)


# -- exactness --------------------------------------------------------------------------------


@pytest.mark.parametrize("channels,size,levels", [(1, (2, 2), 3), (3, (1, 2), 2)])
def test_probabilities_of_all_configurations_sum_to_one(channels, size, levels):
    net = tiny_net(channels, levels, seed=2)
    values = channels * size[0] * size[1]
    every = torch.tensor(list(itertools.product(range(levels), repeat=values)))
    every = every.view(-1, channels, *size)
    with torch.no_grad():
        logp = net.log_prob(every)
    assert every.shape[0] == levels ** values
    assert torch.logsumexp(logp.double(), 0).exp().item() == pytest.approx(1.0, abs=1e-5)


@pytest.mark.parametrize("channels", [1, 3])
def test_likelihood_and_bits_per_dim_match_a_direct_chain_rule_computation(channels):
    """log P(x) = sum over positions p of log softmax(logits of x with every value from p on
    replaced by noise)[x_p]: each conditional computed from its own context alone. Bits/dim is
    -log P / (D ln 2), the training step's ``bits_per_dim`` on the same batch."""
    shape = (channels, 3, 3)
    model = build("pixelrnn", shape, *TINY)
    model.eval()
    x = random_images(5, shape)
    k = to_bins(x)
    order = order_index(*shape)
    g = torch.Generator().manual_seed(9)
    direct = torch.zeros(5, dtype=torch.float64)
    with torch.no_grad():
        for c, i, j in itertools.product(*map(range, shape)):
            hidden = order >= int(order[c, i, j])
            noisy = k.clone()
            noisy[:, hidden] = torch.randint(0, LEVELS, (5, int(hidden.sum())), generator=g)
            logp = torch.log_softmax(model.net.logits(noisy)[:, c, :, i, j].double(), dim=1)
            direct += logp.gather(1, k[:, c, i, j].unsqueeze(1)).squeeze(1)
    ll = model.log_likelihood(x)["exact"]
    assert torch.isfinite(ll).all() and (ll < 0).all()
    assert ll.double().tolist() == pytest.approx(direct.tolist(), rel=1e-5)
    dims = math.prod(shape)
    bpd = -ll.double().mean().item() / (dims * math.log(2))
    model.train()
    losses = numbers(model.train_step(x, None))
    assert losses["bits_per_dim"] == pytest.approx(bpd, rel=1e-5)
    assert math.isfinite(bpd) and 0 < bpd < 10  # near log2(256) = 8 untrained


# -- the model --------------------------------------------------------------------------------


def test_pixelrnn_learns_a_constant_image_and_samples_it():
    model = build("pixelrnn", (1, 4, 4), *TINY, "lr=0.01")
    constant = torch.full((1, 1, 4, 4), 200)
    losses = fit(model, bin_centres(constant), 150, batch=8)
    assert losses[0]["loss"] > 4  # about log 256 at the start
    assert losses[-1]["loss"] < 0.05 * losses[0]["loss"]
    model.eval()
    nll = -model.log_likelihood(bin_centres(constant))["exact"]
    assert nll.item() < 0.5, f"NLL of the only image should be near 0 nats, got {nll.item()}"
    fake = model.sample(20, torch.Generator().manual_seed(0))
    assert torch.equal(to_bins(fake), constant.expand(20, -1, -1, -1))


def test_a_few_steps_lower_the_loss_on_digits_like_data():
    """Ten steps on a fixed set of 16 random 8x8 images: the held-in NLL goes down."""
    model = build("pixelrnn", (1, 8, 8), *TINY, "lr=0.01")
    x = random_images(16, (1, 8, 8))
    model.eval()
    before = -model.log_likelihood(x)["exact"].mean().item()
    fit(model, x, 10, batch=16)
    model.eval()
    after = -model.log_likelihood(x)["exact"].mean().item()
    assert after < before - 5, (before, after)


@pytest.mark.parametrize("channels", [1, 3])
def test_pixelrnn_samples_are_reproducible_bin_centres(channels):
    shape = (channels, 3, 4)
    model = build("pixelrnn", shape, *TINY)
    model.eval()
    fake = model.sample(5, torch.Generator().manual_seed(3))
    assert fake.shape == (5, *shape)
    assert fake.min() >= -1 and fake.max() <= 1
    assert torch.equal(fake, bin_centres(to_bins(fake)))
    assert torch.equal(fake, model.sample(5, torch.Generator().manual_seed(3)))
    assert not torch.equal(fake, model.sample(5, torch.Generator().manual_seed(4)))


def test_pixelrnn_refuses_other_data_and_even_kernels():
    with pytest.raises(GenbenchError, match="images"):
        load_object("genbench_vaes.pixelrnn:build_pixelrnn")(
            resolve_config(get_registries().models.get("pixelrnn"), "quick", "points"),
            DataInfo("points", (2,)))
    for setting in ("kernel=4", "state_kernel=2", "first_kernel=6"):
        with pytest.raises(GenbenchError, match="odd"):
            build("pixelrnn", (1, 4, 4), setting)
    model = build("pixelrnn", (1, 4, 4), *TINY)
    with pytest.raises(GenbenchError, match="pixelrnn: built for images of shape"):
        model.log_likelihood(random_images(2, (1, 5, 5)))


def test_quick_profile_has_pixelcnns_budget():
    models = get_registries().models
    rnn = resolve_config(models.get("pixelrnn"), "quick", "images")
    cnn = resolve_config(models.get("pixelcnn"), "quick", "images")
    for name in ("image_size", "batch_size", "steps", "lr"):
        assert getattr(rnn, name) == getattr(cnn, name), name
    paper = resolve_config(models.get("pixelrnn"), "standard", "images")
    assert (paper.hidden, paper.layers, paper.first_kernel, paper.kernel,
            paper.state_kernel) == (128, 12, 7, 3, 3)


# -- checkpoints and the CLI ------------------------------------------------------------------


def test_resume_from_a_checkpoint_continues_exactly(tmp_path: Path):
    """Save after 3 steps, load into a differently initialised model: same samples and
    likelihoods, and the next 3 steps give the losses of an uninterrupted run."""
    shape = (3, 4, 4)
    x = random_images(16, shape)
    model = build("pixelrnn", shape, *TINY, steps=6)
    fit(model, x, 3, batch=8)
    path = tmp_path / "state.pt"
    torch.save(model.training_state(), path)
    fresh = build("pixelrnn", shape, *TINY, steps=6, seed=123)
    fresh.load_training_state(torch.load(path, weights_only=True))
    assert int(fresh.steps_done) == 3
    model.eval()
    fresh.eval()
    assert torch.equal(fresh.sample(4, torch.Generator().manual_seed(5)),
                       model.sample(4, torch.Generator().manual_seed(5)))
    assert torch.equal(fresh.log_likelihood(x)["exact"], model.log_likelihood(x)["exact"])
    assert fit(fresh, x, 3, batch=8, seed=1) == fit(model, x, 3, batch=8, seed=1)
    with pytest.raises(GenbenchError, match="checkpoint does not fit"):
        build("pixelrnn", shape, *TINY, "layers=3").load_training_state(
            torch.load(path, weights_only=True))


def test_runs_through_the_cli_and_reports_its_likelihood(cli, workdir):
    args = ["run", "pixelrnn", "--dataset", "digits", "--steps", "3", "--workdir", workdir,
            "--num-samples", "50", "--metrics", "ndb,likelihood"]
    for setting in TINY:
        args += ["--set", setting]
    record = cli_json(cli, *args)
    assert record["status"] == "completed"
    assert record["model"] == "pixelrnn"
    metrics = {m["name"]: m["value"] for m in record["metrics"]}
    assert {"nll", "bpd"} <= set(metrics)
    assert metrics["bpd"] == pytest.approx(metrics["nll"] / (64 * math.log(2)))
    assert 0 < metrics["bpd"] < 9  # 8 bits/dim is a uniform guess after 3 steps


def test_models_lists_pixelrnn_with_its_paper(cli):
    models = cli_json(cli, "models")
    entries = models if isinstance(models, list) else models["models"]
    (entry,) = [m for m in entries if m["name"] == "pixelrnn"]
    assert "arXiv:1601.06759" in entry["paper"]
    assert entry["family"] == "autoregressive"
    assert set(entry["capabilities"]) == {"sample", "log_prob"}
