"""pixelrnn-diagonal (Diagonal BiLSTM): skew/unskew invert each other; causal in pixelcnn's
channel-major raster order with the *whole* context as receptive field (unlike the Row LSTM's
triangle); exactly normalised; it learns, samples reproducibly, resumes exactly and runs through
the CLI."""

from __future__ import annotations

import itertools

import pytest
import torch
from conftest import cli_json
from genbench_vaes.pixelrnn import DiagonalBiLSTMNet, skew, unskew
from test_pixelcnn_vqvae import build, order_index, random_images
from test_pixelrnn import reach_of

from genbench.plugins import get_registries

TINY = ("hidden=4", "layers=2", "first_kernel=3", "out_hidden=16")


def tiny_net(channels: int, levels: int = 6, *, layers: int = 2, seed: int = 0,
             embedding: int = 0) -> DiagonalBiLSTMNet:
    torch.manual_seed(seed)
    return DiagonalBiLSTMNet(channels, levels, hidden=4, layers=layers, first_kernel=3,
                             out_hidden=8, embedding=embedding)


def test_skew_puts_each_diagonal_in_a_column_and_unskew_inverts_it():
    x = torch.arange(2 * 3 * 4, dtype=torch.float32).view(1, 2, 3, 4)
    s = skew(x)
    assert s.shape == (1, 2, 3, 6)
    for i, j in itertools.product(range(3), range(4)):
        assert torch.equal(s[0, :, i, i + j], x[0, :, i, j])
    assert torch.equal(unskew(s, 4), x)


@pytest.mark.parametrize("layers", [1, 2])
def test_diagonal_bilstm_sees_the_whole_past_but_one_value_and_nothing_else(layers):
    """One channel: position (i, j) reaches no value at or after it in raster order, and every
    value before it (whole rows above, including their upper-right part, which the Row LSTM
    misses) except one: the last value of the row above, which only reaches the first layer's
    features of row i (the mask-A convolution keeps a value out of its own row's features), so
    positions more than first_kernel // 2 columns from the right edge, which the left-to-right
    LSTM takes only from their left, do not see it. The paper's construction has this blind
    spot too; more layers do not close it."""
    height, width = 5, 7
    net = tiny_net(1, layers=layers)
    reach = reach_of(net, torch.randint(0, 6, (2, 1, height, width)))
    order = order_index(1, height, width)[0]
    for i, j in itertools.product(range(height), range(width)):
        seen = reach(0, i, j)[0]
        before = order < int(order[i, j])
        assert not seen[~before].any(), f"{(i, j)} sees the future"
        blind = torch.zeros_like(before)
        if i > 0 and j < width - 1 - 1:  # first_kernel 3: a reach of 1 column to the right
            blind[i - 1, width - 1] = True
        assert seen[before & ~blind].all(), f"{(i, j)} misses part of its context"
        assert not seen[blind].any()


@pytest.mark.parametrize("embedding", [0, 4])
def test_three_channels_are_factorised_in_pixelcnns_order(embedding):
    channels, height, width = 3, 3, 4
    net = tiny_net(channels, embedding=embedding)
    reach = reach_of(net, torch.randint(0, 6, (2, channels, height, width)))
    order = order_index(channels, height, width)
    for c, i, j in itertools.product(range(channels), range(height), range(width)):
        seen = reach(c, i, j)
        assert not seen[order >= int(order[c, i, j])].any(), f"{(c, i, j)} sees the future"
        assert seen[:c, i, j].all()


def test_probabilities_of_all_configurations_sum_to_one():
    net = tiny_net(1, 3, seed=2)
    every = torch.tensor(list(itertools.product(range(3), repeat=4))).view(-1, 1, 2, 2)
    with torch.no_grad():
        logp = net.log_prob(every)
    assert torch.logsumexp(logp.double(), 0).exp().item() == pytest.approx(1.0, abs=1e-5)


def test_sampling_draws_from_the_model_chain():
    """The sampler's logits at each value are the full network's on the values drawn before
    (teacher forcing the drawn image reproduces them)."""
    net = tiny_net(1, 5, seed=3)
    recorded = {}

    def choose(logits, c, i, j):
        recorded[(c, i, j)] = logits.clone()
        return torch.softmax(logits, 1).argmax(1)

    with torch.no_grad():
        k = net._run(3, (3, 4), torch.device("cpu"), choose)
        full = net.logits(k)
    for (c, i, j), logits in recorded.items():
        assert torch.allclose(logits, full[:, c, :, i, j], atol=1e-5)


def test_learns_on_digits_and_samples_reproducibly(cli, workdir):
    record = cli_json(cli, "run", "pixelrnn-diagonal", "--dataset", "digits", "--steps", "30",
                      "--set", "hidden=4", "--set", "layers=1", "--set", "out_hidden=16",
                      "--metrics", "likelihood", "--workdir", workdir)
    assert record["status"] == "completed"
    names = {m["name"] for m in record["metrics"]}
    assert {"nll", "bpd"} <= names
    model = build("pixelrnn-diagonal", (1, 4, 4), *TINY)
    a = model.sample(2, torch.Generator().manual_seed(0))
    b = model.sample(2, torch.Generator().manual_seed(0))
    assert torch.equal(a, b) and a.shape == (2, 1, 4, 4)


def test_resume_from_a_checkpoint_continues_exactly():
    batch = random_images(4, (1, 4, 4))
    straight = build("pixelrnn-diagonal", (1, 4, 4), *TINY)
    state = {k: v.clone() for k, v in straight.state_dict().items()}
    for _ in range(4):
        straight.train_step(batch, None)
    first = build("pixelrnn-diagonal", (1, 4, 4), *TINY)
    first.load_state_dict(state)
    for _ in range(2):
        first.train_step(batch, None)
    second = build("pixelrnn-diagonal", (1, 4, 4), *TINY)
    second.load_training_state(first.training_state())
    for _ in range(2):
        second.train_step(batch, None)
    for key, value in straight.state_dict().items():
        assert torch.allclose(value.float(), second.state_dict()[key].float(), atol=1e-6), key


def test_listed_with_its_paper_and_pixelrnns_quick_budget():
    spec = get_registries().models.get("pixelrnn-diagonal")
    row = get_registries().models.get("pixelrnn")
    assert "1601.06759" in spec.paper and spec.profiles == row.profiles
    config = spec.config()
    assert (config.hidden, config.layers, config.first_kernel) == (128, 12, 7)
