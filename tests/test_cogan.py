"""CoGAN (Liu & Tuzel 2016): the shared layers are one set of parameters that both domains
train, a latent gives one pair of the domains' shapes, training and resuming work, and the
pair-agreement metric counts what it says on pairs whose answer is known. Nets at 32x32 with
ngf = ndf = 8."""

from __future__ import annotations

import copy

import pytest
import torch
from conftest import cli_json, numbers

from genbench.config import resolve_config
from genbench.data.translation import ink_style, ink_to_digits, load_digits2ink
from genbench.errors import GenbenchError
from genbench.evaluation import MetricContext, compute_pair_agreement
from genbench.features.base import Extractor, Features
from genbench.model import DataInfo
from genbench.plugins import get_registries
from genbench.registry import load_object

SIZE = 32


def build(c_a: int = 1, c_b: int = 3, *overrides: str, kind: str = "unpaired", seed: int = 0):
    spec = get_registries().models.get("cogan")
    config = resolve_config(spec, "quick", kind, 10, ("ngf=8", "ndf=8", *overrides))
    torch.manual_seed(seed)
    return load_object(spec.factory)(config, DataInfo(kind, (c_a, SIZE, SIZE), 0,
                                                      (c_b, SIZE, SIZE)))


def batches(n: int = 6, seed: int = 0):
    gen = torch.Generator().manual_seed(seed)
    return (torch.rand(n, 1, SIZE, SIZE, generator=gen) * 2 - 1,
            torch.rand(n, 3, SIZE, SIZE, generator=gen) * 2 - 1)


def test_spec_cites_the_paper_and_profiles(cli):
    spec = get_registries().models.get("cogan")
    assert "arXiv:1606.07536" in spec.paper and spec.family == "gan"
    assert spec.accepts == ("unpaired",) and "pairs" in spec.capabilities
    standard = resolve_config(spec, "standard", "unpaired")
    quick = resolve_config(spec, "quick", "unpaired")
    assert (standard.lr_g, standard.lr_d, standard.beta1, standard.beta2) == (2e-4, 2e-4, 0.5,
                                                                              0.999)
    assert (standard.latent_dim, standard.latent, standard.batch_size) == (100, "uniform", 128)
    assert quick.steps < standard.steps and quick.ngf < standard.ngf
    listed = {m["name"]: m for m in cli_json(cli, "models")}
    assert "1606.07536" in listed["cogan"]["paper"]


def test_generators_share_their_trunk_and_discriminators_their_top():
    net = build()
    g_a, g_b = net.generator.domain(0), net.generator.domain(1)
    ids_a = {id(p) for p in g_a.parameters()}
    ids_b = {id(p) for p in g_b.parameters()}
    trunk = {id(p) for p in net.generator.trunk.parameters()}
    assert trunk and ids_a & ids_b == trunk  # the very same Parameter objects, not copies
    assert not {id(p) for p in net.generator.heads[0].parameters()} & ids_b
    d_a, d_b = net.discriminator.domain(0), net.discriminator.domain(1)
    shared = {id(p) for p in net.discriminator.shared.parameters()} | {
        id(p) for p in net.discriminator.head.parameters()}
    assert {id(p) for p in d_a.parameters()} & {id(p) for p in d_b.parameters()} == shared
    # the domain views compute what the coupled forward does
    z = net.latent(3)
    net.eval()
    a, b = net.generator(z)
    assert torch.equal(g_a(z[:, :, None, None]), a) and torch.equal(g_b(z[:, :, None, None]), b)
    assert torch.equal(d_b(b), net.discriminator(b, 1))


@pytest.mark.parametrize("domain", [0, 1])
def test_each_domains_loss_reaches_the_shared_layers(domain):
    net = build()
    z = net.latent(4)
    out = net.generator(z)[domain]
    loss = net.discriminator(out, domain).mean()
    loss.backward()
    trunk_grads = [p.grad for p in net.generator.trunk.parameters()]
    assert all(g is not None and g.abs().sum() > 0 for g in trunk_grads)
    other = net.generator.heads[1 - domain]
    assert all(p.grad is None for p in other.parameters())  # the other head is untouched
    shared = [p.grad for p in net.discriminator.shared.parameters()]
    assert all(g is not None and g.abs().sum() > 0 for g in shared)


def test_pairs_have_each_domains_shape_and_range_and_repeat_with_a_seed():
    net = build(1, 3)
    a, b = net.sample_pairs(5, torch.Generator().manual_seed(1))
    assert a.shape == (5, 1, SIZE, SIZE) and b.shape == (5, 3, SIZE, SIZE)
    assert a.min() >= -1 and a.max() <= 1 and b.min() >= -1 and b.max() <= 1
    a2, b2 = net.sample_pairs(5, torch.Generator().manual_seed(1))
    assert torch.equal(a, a2) and torch.equal(b, b2)
    assert torch.equal(net.sample(5, torch.Generator().manual_seed(1)), a)


def test_a_few_steps_train_every_part():
    net = build()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    x_a, x_b = batches()
    for _ in range(3):
        losses = numbers(net.train_step(x_a, x_b))
    assert set(losses) >= {"loss_d", "loss_g", "D(x_A)", "D(x_B)", "D(G(z)_A)", "D(G(z)_B)"}
    assert all(torch.isfinite(torch.tensor(v)) for v in losses.values())
    changed = {k.split(".")[1] for k, v in net.state_dict().items()
               if v.is_floating_point() and not torch.equal(v, before[k])}
    assert {"trunk", "heads", "stems", "shared", "head"} <= changed
    assert net.step_count == 3


def test_refuses_data_it_cannot_couple():
    with pytest.raises(GenbenchError, match="two domains"):
        build(kind="images")
    with pytest.raises(GenbenchError, match="one size"):
        spec = get_registries().models.get("cogan")
        config = resolve_config(spec, "quick", "unpaired", 2, ("ngf=8", "ndf=8"))
        load_object(spec.factory)(config, DataInfo("unpaired", (1, 32, 32), 0, (3, 64, 64)))


def test_checkpoint_resumes_exactly():
    net = build()
    x_a, x_b = batches()
    net.train_step(x_a, x_b)
    state = copy.deepcopy(net.training_state())  # as saved: not the live tensors
    torch.manual_seed(5)
    expected = numbers(net.train_step(x_a, x_b))
    again = build(seed=1)  # other initial weights: everything must come from the state
    again.load_training_state(state)
    assert again.step_count == 1
    torch.manual_seed(5)
    assert numbers(again.train_step(x_a, x_b)) == pytest.approx(expected, rel=1e-6)
    for (k, v), w in zip(net.state_dict().items(), again.state_dict().values(), strict=True):
        assert torch.allclose(v.float(), w.float(), atol=1e-6), k


# -- pair agreement ----------------------------------------------------------------------------

def test_ink_to_digits_inverts_ink_style():
    digits = load_digits2ink("test").x[:20]
    assert torch.allclose(ink_to_digits(ink_style(digits)), digits, atol=1e-5)


class ClassOfMean(Extractor):
    """A fake evaluator: class = round(mean pixel in [0, 1] x 9)."""

    key = "fake-evaluator"

    def extract(self, x):
        t = ((x.float().mean(dim=(1, 2, 3)) + 1) / 2 * 9).round().long().clamp(0, 9)
        return Features(t[:, None].float(), torch.nn.functional.one_hot(t, 10).float())


class FakeScorer:
    def __init__(self):
        self.extractors = {"pair-evaluator:digits2ink": ClassOfMean()}
        self.workdir, self.progress = None, None


def agreement_of(fake_a: torch.Tensor, fake_b: torch.Tensor) -> tuple[float, dict]:
    dataset = get_registries().datasets.get("digits2ink")
    ctx = MetricContext(dataset, None, fake_b, pairs=(fake_a, fake_b), scorer=FakeScorer())
    return compute_pair_agreement(ctx)["pair_agreement"], ctx.notes["pair_agreement"]


def flat(levels: list[float], channels: int) -> torch.Tensor:
    """Flat images whose mean pixel (in [0, 1]) is each level."""
    return torch.tensor(levels).view(-1, 1, 1, 1).expand(-1, channels, SIZE, SIZE) * 2 - 1


def test_pair_agreement_counts_pairs_of_one_class():
    levels = [k / 9 for k in range(10)]
    a = flat(levels, 1)
    b = ink_style(a)  # the same classes, through the ink reader: all agree
    value, notes = agreement_of(a, b)
    assert value == 1.0 and notes["chance"] == pytest.approx(0.1)
    shifted = ink_style(flat(levels[1:] + levels[:1], 1))  # every class moved by one
    assert agreement_of(a, shifted)[0] == 0.0
    half = torch.cat([b[:5], shifted[5:]])  # 5 of 10 agree
    assert agreement_of(a, half)[0] == 0.5
    one_class = flat([0.5] * 10, 1)  # collapsed: agreement 1, but chance 1 too
    value, notes = agreement_of(one_class, ink_style(one_class))
    assert value == 1.0 and notes["chance"] == 1.0


def test_true_pairs_agree_with_the_digits_evaluator(workdir):
    """The real test digits and their ink versions, read by the trained digits evaluator."""
    from genbench.evaluation import Scorer

    dataset = get_registries().datasets.get("digits2ink")
    test = load_digits2ink("test")
    scorer = Scorer(dataset, torch.device("cpu"), workdir)
    ctx = MetricContext(dataset, None, test.target, pairs=(test.x, test.target), scorer=scorer)
    value = compute_pair_agreement(ctx)["pair_agreement"]
    assert value > 0.97  # the evaluator's own accuracy is 98% or more on these digits
    assert ctx.notes["pair_agreement"]["chance"] < 0.12


# -- end to end --------------------------------------------------------------------------------

def test_cli_run_on_digits2ink(cli, workdir):
    record = cli_json(cli, "run", "cogan", "--dataset", "digits2ink", "--steps", "3", "--set",
                      "ngf=8", "--set", "ndf=8", "--workdir", workdir)
    assert record["status"] == "completed"
    values = {m["name"]: m["value"] for m in record["metrics"]}
    assert {"FD_A[raw]", "FD_B[raw]", "FD[raw]", "pair_agreement"} <= set(values)
    assert values["FD_B[raw]"] == pytest.approx(values["FD[raw]"])  # domain B, same samples
    assert 0 <= values["pair_agreement"] <= 1
    assert "chance" in record["evaluation"]["pair_agreement"]
    run_dir = workdir / "runs" / record["run_id"]
    assert (run_dir / "pairs.png").is_file() and (run_dir / "checkpoint.pt").is_file()
    code, _, stderr = cli("samples", record["run_id"], "--workdir", workdir, "--out",
                          workdir / "pictures")
    assert code == 0, stderr
    assert (workdir / "pictures" / "pairs.png").is_file()
    # One pair per row, at most 16 (n pairs made n rows); and no interpolations to draw.
    code, _, stderr = cli("samples", record["run_id"], "--workdir", workdir, "-n", "40",
                          "--out", workdir / "pictures")
    assert code == 0 and "16 pairs, not 40" in stderr, stderr
    code, _, stderr = cli("samples", record["run_id"], "--workdir", workdir, "--interpolate")
    assert code == 2 and "--interpolate does not apply to a model that draws pairs" in stderr
