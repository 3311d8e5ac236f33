"""The GANs that use labels or learn codes (cgan, acgan, infogan, bigan, sgan): each trains and
samples on digits, checkpoints restore samples exactly, and each extra (conditioning, auxiliary
classifier, codes, encoder, classifier accuracy) does what it claims."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import pytest
import torch
from conftest import cli_json

from genbench.config import resolve_config
from genbench.errors import GenbenchError
from genbench.model import DataInfo
from genbench.plugins import get_registries
from genbench.registry import load_object

NARROW = ("ngf=8", "ndf=8")


@cache
def _digits() -> tuple[torch.Tensor, torch.Tensor]:
    spec = get_registries().datasets.get("digits")
    data = load_object(spec.loader)(split="train", image_size=32)
    return data.x, data.y


def build(model: str, *overrides: str, steps: int = 10, seed: int = 0, num_classes: int = 10):
    """(model, x, y) for ``model`` on digits at 32x32, narrow nets, the quick profile."""
    spec = get_registries().models.get(model)
    config = resolve_config(spec, "quick", "images", steps, NARROW + overrides)
    x, y = _digits()
    torch.manual_seed(seed)
    net = load_object(spec.factory)(config, DataInfo("images", tuple(x.shape[1:]), num_classes))
    return net, x, y


def train(net, x: torch.Tensor, y: torch.Tensor, steps: int = 3, batch: int = 16) -> list[dict]:
    net.train()
    gen = torch.Generator().manual_seed(0)
    out = []
    for _ in range(steps):
        idx = torch.randint(0, x.shape[0], (batch,), generator=gen)
        out.append(net.train_step(x[idx], y[idx]))
    return out


def samples(net, n: int = 8, seed: int = 7) -> torch.Tensor:
    net.eval()
    return net.sample(n, torch.Generator().manual_seed(seed))


def check_trains_samples_and_reloads(model: str, tmp_path: Path, *overrides: str) -> None:
    net, x, y = build(model, *overrides)
    for losses in train(net, x, y):
        assert {"loss_d", "loss_g"} <= set(losses)
        assert all(torch.isfinite(torch.as_tensor(v)) for v in losses.values()), losses
    fake = samples(net, 6)
    assert fake.shape == (6, *x.shape[1:])
    assert fake.min() >= -1 and fake.max() <= 1
    assert torch.equal(fake, samples(net, 6)), "sampling must be deterministic for a seed"
    path = tmp_path / f"{model}.pt"
    torch.save(net.training_state(), path)
    fresh, _, _ = build(model, *overrides, seed=123)
    assert not torch.equal(samples(fresh), samples(net))
    fresh.load_training_state(torch.load(path, weights_only=True))
    assert torch.equal(samples(fresh), samples(net))
    assert int(fresh.steps_done) == 3


def run_cli(cli, model: str, workdir: Path, *extra: str) -> dict:
    args = ["run", model, "--dataset", "digits", "--steps", "3", "--workdir", workdir,
            "--num-samples", "100", "--metrics", "ndb", *extra]
    for setting in NARROW:
        args += ["--set", setting]
    return cli_json(cli, *args)


# -- cgan ---------------------------------------------------------------------------------

def test_cgan_trains_samples_and_reloads(tmp_path):
    check_trains_samples_and_reloads("cgan", tmp_path)


@pytest.mark.parametrize("model", ["cgan", "acgan"])
def test_generate_follows_the_labels(model):
    net, _, _ = build(model)  # untrained: the label embedding alone must change the image
    net.eval()
    z = net.latent(1, torch.Generator().manual_seed(0)).repeat(10, 1)
    labels = torch.arange(10)
    out = net.generate(z, labels)
    assert out.shape == (10, 1, 32, 32)
    assert torch.equal(out, net.generate(z.clone(), labels.clone()))  # same label, same image
    same = net.generate(z, torch.full((10,), 3))
    assert torch.allclose(same, same[:1].expand_as(same))
    gaps = (out[:, None] - out[None]).flatten(2).abs().amax(-1)
    assert (gaps + torch.eye(10) > 1e-4).all(), "every label must change the image"
    with pytest.raises(GenbenchError, match="needs labels"):
        net.generator(z)


def test_cgan_sample_draws_labels_from_the_generator():
    net, _, _ = build("cgan")
    gen = torch.Generator().manual_seed(3)
    z = net.latent(5, gen)
    labels = net.random_labels(5, gen)
    assert torch.equal(samples(net, 5, seed=3), net.generate(z, labels))


def test_cgan_samples_cli_writes_a_class_grid(cli, workdir):
    record = run_cli(cli, "cgan", workdir)
    assert record["status"] == "completed"
    run_dir = Path(record["run_dir"])
    code, stdout, stderr = cli("samples", record["run_id"], "--workdir", workdir,
                               "--interpolate")
    assert code == 0, stderr
    assert (run_dir / "classes.png").stat().st_size > 0 and "classes.png" in stdout
    assert (run_dir / "interpolate.png").stat().st_size > 0  # one class per row


# -- acgan --------------------------------------------------------------------------------

def test_acgan_trains_samples_and_reloads(tmp_path):
    check_trains_samples_and_reloads("acgan", tmp_path)


def test_acgan_classifier_head_and_class_losses():
    net, x, y = build("acgan")
    assert net.discriminator.labels.embed is None  # D does not see the label
    h = net.discriminator.features(x[:4])
    assert net.classify(h).shape == (4, 10)
    without, _, _ = build("acgan", "aux_weight=0")
    with_aux = train(net, x, y, steps=1)[0]
    plain = train(without, x, y, steps=1)[0]
    assert with_aux["loss_d"] > plain["loss_d"] + 1.0  # + two ~log(10) cross-entropies
    assert with_aux["loss_g"] > plain["loss_g"] + 1.0


# -- infogan -------------------------------------------------------------------------------

def test_infogan_trains_samples_and_reloads(tmp_path):
    check_trains_samples_and_reloads("infogan", tmp_path)


def test_infogan_latent_codes_and_information_loss():
    net, x, y = build("infogan")
    z = net.latent(500, torch.Generator().manual_seed(0))
    assert z.shape == (500, 62 + 10 + 2)
    one_hot, cont = z[:, 62:72], z[:, 72:]
    assert torch.equal(one_hot.sum(1), torch.ones(500)) and set(one_hot.unique().tolist()) == {0, 1}
    assert len(one_hot.argmax(1).unique()) == 10
    assert cont.min() >= -1 and cont.max() <= 1 and cont.min() < -0.9 and cont.max() > 0.9
    h = net.discriminator.features(x[:4])
    assert net.discriminator.q(h.flatten(1)).shape == (4, 10 + 2 * 2)
    no_info, _, _ = build("infogan", "info_weight=0")
    assert train(net, x, y, steps=1)[0]["loss_g"] > train(no_info, x, y, steps=1)[0]["loss_g"] + 1
    # labels are not needed
    assert torch.isfinite(torch.as_tensor(net.train_step(x[:8], None)["loss_d"]))


def test_infogan_traversal_grid():
    net, x, y = build("infogan")
    train(net, x, y, steps=1)
    images, ncol = net.traversal(torch.Generator().manual_seed(0))
    assert ncol == 10 and images.shape == (10 * 10, 1, 32, 32)
    rows = images.view(10, 10, -1)
    assert not torch.equal(rows[0], rows[1])  # the categorical code changes the images
    assert not torch.equal(rows[0, 0], rows[0, -1])  # so does the continuous sweep


def test_infogan_samples_cli_writes_a_traversal(cli, workdir):
    record = run_cli(cli, "infogan", workdir)
    code, stdout, stderr = cli("samples", record["run_id"], "--workdir", workdir)
    assert code == 0, stderr
    assert (Path(record["run_dir"]) / "traversal.png").stat().st_size > 0
    assert "traversal.png" in stdout and "classes.png" not in stdout


# -- bigan ---------------------------------------------------------------------------------

def test_bigan_trains_samples_and_reloads(tmp_path):
    check_trains_samples_and_reloads("bigan", tmp_path)


def test_bigan_encode_and_reconstruct():
    net, x, y = build("bigan")
    e_before = [p.detach().clone() for p in net.encoder.parameters()]
    train(net, x, y, steps=2)
    assert not torch.equal(e_before[0], next(net.encoder.parameters()))  # E is trained
    net.eval()
    z = net.encode(x[:5])
    assert z.shape == (5, net.config.latent_dim)
    rec = net.reconstruct(x[:5])
    assert rec.shape == (5, 1, 32, 32) and rec.min() >= -1 and rec.max() <= 1
    assert torch.equal(rec, net.generate(z))
    assert net.discriminator(x[:5], z).shape == (5,)
    g_params = {id(p) for group in net.optimizers["g"].param_groups for p in group["params"]}
    assert {id(p) for p in net.encoder.parameters()} <= g_params
    assert {"encode", "reconstruct"} <= set(get_registries().models.get("bigan").capabilities)


# -- sgan ----------------------------------------------------------------------------------

def test_sgan_trains_samples_and_reloads(tmp_path):
    check_trains_samples_and_reloads("sgan", tmp_path)


def test_sgan_keeps_a_fixed_labelled_bank():
    net, x, y = build("sgan", "labelled_per_class=2")
    h = net.discriminator.features(x[:4])
    assert net.discriminator.class_logits(h).shape == (4, 10)
    assert torch.allclose(net.discriminator.logits(h),
                          torch.logsumexp(net.discriminator.class_logits(h), 1))
    first = net.labelled_mask(x[:64], y[:64])
    assert int(first.sum()) == int(net.labelled_count.sum()) <= 20
    assert (net.labelled_count <= 2).all()
    assert torch.equal(net.labelled_mask(x[:64], y[:64]), first)  # known ones stay labelled
    everything = torch.cat([net.labelled_mask(x[i:i + 64], y[i:i + 64])
                            for i in range(0, len(x), 64)])
    assert torch.equal(net.labelled_count, torch.full((10,), 2))
    assert int(everything.sum()) == 20 and torch.equal(everything[:64], first)
    again = torch.cat([net.labelled_mask(x[i:i + 64], y[i:i + 64])
                       for i in range(0, len(x), 64)])
    assert torch.equal(again, everything)
    losses = train(net, x, y, steps=2)
    assert all("loss_sup" in step for step in losses)
    assert torch.equal(net.labelled_count, torch.full((10,), 2))  # the bank is full


def test_sgan_classifier_accuracy_is_recorded(workdir):
    from genbench import api

    net, x, y = build("sgan")
    train(net, x, y, steps=2)
    reference = load_object(get_registries().datasets.get("digits").loader)(split="test")
    value, higher = net.extra_metrics(reference)["classifier_accuracy"]
    assert 0 <= value <= 1 and higher is True
    record = api.run("sgan", "digits", steps=3, overrides=NARROW, workdir=workdir,
                     num_samples=100, metrics=["ndb"])
    assert record.status == "completed"
    accuracy = {m.name: m for m in record.metrics}["classifier_accuracy"]
    assert 0 <= accuracy.value <= 1 and accuracy.higher_is_better


@pytest.mark.parametrize("model", ["cgan", "acgan", "sgan"])
def test_label_models_refuse_unlabelled_data(model, cli, workdir):
    with pytest.raises(GenbenchError, match=f"^{model}: needs class labels"):
        build(model, num_classes=0)
    code, _, stderr = cli("run", model, "--dataset", "ring8", "--workdir", workdir)
    assert code == 2 and f"'{model}' takes images" in stderr
    assert len(stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("model", ["cgan", "acgan", "infogan", "bigan", "sgan"])
def test_models_list_the_papers(model, cli):
    models = {m["name"]: m for m in cli_json(cli, "models")}
    assert models[model]["family"] == "gan" and "arXiv:" in models[model]["paper"]


# -- the requested class, on a toy where the answer is known ------------------------------

def _squares() -> tuple[torch.Tensor, torch.Tensor]:
    """Ten classes of 32x32 images: class k is a bright 8x8 square in cell k of a 4x4 grid,
    with a little pixel noise. A generated image's class is its nearest template."""
    templates = torch.full((10, 1, 32, 32), -1.0)
    for k in range(10):
        r, c = divmod(k, 4)
        templates[k, :, 8 * r:8 * r + 8, 8 * c:8 * c + 8] = 1.0
    gen = torch.Generator().manual_seed(0)
    y = torch.arange(10).repeat(64)
    x = (templates[y] + 0.1 * torch.randn(len(y), 1, 32, 32, generator=gen)).clamp(-1, 1)
    return x, y, templates


def _trained_on_squares(model: str, steps: int) -> tuple:
    """(net, labels, the template class nearest each sample drawn for ``labels``)."""
    x, y, templates = _squares()
    spec = get_registries().models.get(model)
    config = resolve_config(spec, "quick", "images", steps, ("ngf=16", "ndf=16"))
    torch.manual_seed(0)
    net = load_object(spec.factory)(config, DataInfo("images", (1, 32, 32), 10))
    train(net, x, y, steps=steps, batch=32)
    net.eval()
    gen = torch.Generator().manual_seed(1)
    labels = torch.arange(10).repeat(20)
    with torch.no_grad():
        out = net.generate(net.latent(len(labels), gen), labels)
    nearest = torch.cdist(out.flatten(1), templates.flatten(1)).argmin(1)
    return net, labels, out, nearest


@pytest.mark.slow
def test_short_trained_cgan_draws_the_requested_class():
    # Measured on this toy (seeds 0-4, 20 samples per class): right on every class at 300 steps.
    _, labels, _, nearest = _trained_on_squares("cgan", 300)
    accuracy = (nearest == labels).float().mean().item()
    # Chance is 10%; a model that ignored its labels could match at most one class per z.
    assert accuracy >= 0.9, f"cgan: only {accuracy:.0%} of samples show the requested class"


@pytest.mark.slow
def test_short_trained_acgan_draws_one_class_per_label_that_its_classifier_names():
    # AC-GAN's D learns its class head on the fakes too (Odena et al.), so the head and G can
    # agree on a wrong class: measured on this toy at 900 steps (seeds 0-4), the class drawn for
    # a label was the requested one for 30-90% of samples depending on the seed (neighbouring
    # squares swap or merge), while every label's samples showed one class (purity 96-100%)
    # and D's head named the requested label for 100% of them. Those two are what the
    # objective promises, and what is checked here.
    net, labels, out, nearest = _trained_on_squares("acgan", 900)
    with torch.no_grad():
        named = net.classify(net.discriminator.body(out)).argmax(1)
    agrees = (named == labels).float().mean().item()
    assert agrees >= 0.9, f"acgan: D's classifier names the requested label for {agrees:.0%}"
    counts = torch.zeros(10, 10).index_put_((labels, nearest), torch.ones(len(labels)),
                                            accumulate=True)
    purity = counts.max(1).values.sum().item() / len(labels)
    # A G that ignored its labels would spread each label's samples like the others'.
    assert purity >= 0.9, f"acgan: a label's samples show one class only {purity:.0%} of the time"
    assert (counts.sum(0) > 0).sum() >= 5, "acgan: fewer than 5 of the 10 classes are drawn"
