"""The autoencoders and VAEs (ae, dae, vae, beta-vae, cvae): every model trains and samples on
points and images of several sizes, checkpoints restore samples and reconstructions exactly,
the likelihood bounds agree with closed forms, and each variant's extra does what it claims."""

from __future__ import annotations

import math
import subprocess
import sys
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

MODELS = ("ae", "dae", "vae", "beta-vae", "cvae")
NARROW = ("width=8",)


@cache
def _dataset(name: str) -> tuple[torch.Tensor, torch.Tensor]:
    spec = get_registries().datasets.get(name)
    data = load_object(spec.loader)(split="train")
    return data.x, data.y


def _random_images(shape: tuple[int, ...], n: int = 64) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(0)
    return torch.rand(n, *shape, generator=gen) * 2 - 1, torch.randint(10, (n,), generator=gen)


CASES = {  # name -> (kind, data)
    "ring8": ("points", lambda: _dataset("ring8")),
    "digits-1x8x8": ("images", lambda: _dataset("digits")),
    "rgb-3x32x32": ("images", lambda: _random_images((3, 32, 32))),
    "gray-1x28x28": ("images", lambda: _random_images((1, 28, 28))),
}


def build(model: str, kind: str, shape: tuple[int, ...], *overrides: str, seed: int = 0,
          num_classes: int = 10, steps: int = 10):
    spec = get_registries().models.get(model)
    config = resolve_config(spec, "quick", kind, steps, NARROW + overrides)
    torch.manual_seed(seed)
    return load_object(spec.factory)(config, DataInfo(kind, tuple(shape), num_classes))


def frozen(net):
    """The model with its weights fixed (learning rate 0: a setting genbench refuses, so set on
    the optimizer), its code statistics still updated by every training step."""
    for group in net.optimizers["opt"].param_groups:
        group["lr"] = 0.0
    return net


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


def digits_vae(model: str = "vae", *overrides: str, steps: int = 3, seed: int = 0):
    x, y = _dataset("digits")
    net = build(model, "images", (1, 8, 8), *overrides, seed=seed)
    train(net, x, y, steps=steps, batch=32)
    return net, x, y


# -- every model, every kind of data -------------------------------------------------------

@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("model", MODELS)
def test_trains_samples_encodes_and_reconstructs(model, case):
    kind, data = CASES[case]
    x, y = data()
    net = build(model, kind, x.shape[1:])
    for losses in train(net, x, y):
        assert "loss" in losses
        assert all(math.isfinite(v) for v in losses.values()), losses
    fake = samples(net, 6)
    assert fake.shape == (6, *x.shape[1:])
    assert torch.isfinite(fake).all()
    if kind == "images":
        assert fake.min() >= -1 and fake.max() <= 1
    assert torch.equal(fake, samples(net, 6)), "sampling must be deterministic for a seed"
    assert not torch.equal(fake, samples(net, 6, seed=8))
    codes = net.encode(x[:5], y[:5])
    assert codes.shape == (5, net.latent_dim)
    rec = net.reconstruct(x[:5], y[:5])
    assert rec.shape == x[:5].shape and torch.equal(rec, net.reconstruct(x[:5], y[:5]))
    if kind == "images":
        assert rec.min() >= -1 and rec.max() <= 1


@pytest.mark.parametrize("size", [4, 8, 12, 16, 20, 28, 32, 64])
def test_conv_blocks_handle_square_sizes(size):
    from genbench_vaes.blocks import ConvDecoder, ConvEncoder, map_sizes

    enc = ConvEncoder(3, size, 4, 7, cond_dim=2)
    assert enc(torch.zeros(2, 3, size, size), torch.zeros(2, 2)).shape == (2, 7)
    assert min(map_sizes(size)) >= 4 and (size < 8 or map_sizes(size)[-1] < 8)
    assert ConvDecoder(5, 3, size, 4)(torch.zeros(2, 5)).shape == (2, 3, size, size)
    maps = ConvEncoder(3, size, 4, None)(torch.zeros(2, 3, size, size))
    assert maps.shape[2:] == (enc.map_size, enc.map_size)
    dec = ConvDecoder.from_map(maps.shape[1], 3, size, 4)
    assert dec(maps).shape == (2, 3, size, size)
    assert ConvDecoder.from_map(6, 1, size, 4)(torch.zeros(2, 6, *maps.shape[2:])).shape == (
        2, 1, size, size)


# -- checkpoints ---------------------------------------------------------------------------

@pytest.mark.parametrize("model", MODELS)
def test_checkpoint_restores_samples_reconstructions_and_training(model, tmp_path: Path):
    net, x, y = digits_vae(model)
    path = tmp_path / f"{model}.pt"
    torch.save(net.training_state(), path)
    fresh = build(model, "images", (1, 8, 8), seed=123)
    assert not torch.equal(samples(fresh), samples(net))
    fresh.load_training_state(torch.load(path, weights_only=True))
    assert int(fresh.steps_done) == 3
    assert torch.equal(samples(fresh), samples(net))
    assert torch.equal(fresh.reconstruct(x[:20], y[:20]), net.reconstruct(x[:20], y[:20]))
    if hasattr(net, "log_likelihood"):
        a = net.log_likelihood(x[:10], y[:10], k=4, generator=torch.Generator().manual_seed(1))
        b = fresh.log_likelihood(x[:10], y[:10], k=4,
                                 generator=torch.Generator().manual_seed(1))
        assert a.keys() == b.keys() == {"elbo", "iwae"}
        assert all(torch.equal(a[key], b[key]) for key in a)
    # The optimizer state came along: one more identical step gives identical weights.
    for m in (net, fresh):
        m.train()
        torch.manual_seed(5)
        m.train_step(x[:16], y[:16])
    for (name, p), q in zip(net.state_dict().items(), fresh.state_dict().values(), strict=True):
        assert torch.equal(p, q), name


def test_checkpoint_of_another_model_is_refused(tmp_path: Path):
    state = digits_vae("vae")[0].training_state()
    with pytest.raises(GenbenchError, match="does not fit"):
        build("ae", "images", (1, 8, 8)).load_training_state(state)


# -- likelihoods -----------------------------------------------------------------------------

def test_iwae_bounds_the_elbo_and_tightens_with_k():
    net, x, y = digits_vae("vae", steps=150)
    x = x[:1000]  # enough examples that the means' Monte Carlo noise (~0.02) is below the gaps

    def bounds(k: int, seed: int = 0) -> dict[str, torch.Tensor]:
        return net.log_likelihood(x, k=k, generator=torch.Generator().manual_seed(seed))

    one, eight, many = bounds(1), bounds(8), bounds(64)
    for out in (one, eight, many):
        assert out["elbo"].shape == out["iwae"].shape == (len(x),)
        assert torch.isfinite(out["iwae"]).all()
        # The ELBO is the mean of the same k log-weights whose log-mean-exp is the IWAE bound.
        assert (out["iwae"] >= out["elbo"] - 1e-4).all()
    assert torch.equal(one["iwae"], one["elbo"]), "with k = 1 the two bounds are one estimate"
    # Measured (3 training seeds x 3 generator seeds): k=1 -> 8 gains about 0.4-0.5 nats,
    # 8 -> 64 about 0.06-0.12.
    assert one["iwae"].mean() + 0.2 < eight["iwae"].mean() < many["iwae"].mean()
    assert many["iwae"].mean() > many["elbo"].mean() + 0.2
    # The ELBO does not depend on k in expectation.
    assert abs(many["elbo"].mean() - one["elbo"].mean()) < 0.1
    # Deterministic for a generator, random across generators.
    assert torch.equal(bounds(8)["iwae"], eight["iwae"])
    assert not torch.equal(bounds(8, seed=1)["iwae"], eight["iwae"])


def _linear_gaussian_vae(exact_posterior: bool):
    """A VAE on 2-D points with a 1-D latent and single linear layers (depth 0), weights set
    by hand: p(z) = N(0, 1), p(x|z) = N(w z + b, diag s^2), so p(x) = N(b, w w^T + diag s^2).
    The encoder is the exact posterior N(a^T (x - b), v), v = 1 / (1 + w^T S^-1 w),
    a = v S^-1 w, or a deliberately wrong one."""
    net = build("vae", "points", (2,), "depth=0", "latent_dim=1")
    w, b, s = torch.tensor([1.5, -0.7]), torch.tensor([0.3, -0.2]), torch.tensor([0.5, 0.8])
    v = 1 / (1 + (w ** 2 / s ** 2).sum())
    a = v * w / s ** 2
    if not exact_posterior:
        a, v = a * 0.8, v * 2.0
    with torch.no_grad():
        dec, enc = net.decoder.net[0], net.encoder.net[0]
        dec.weight.copy_(w[:, None])
        dec.bias.copy_(b)
        net.log_scale.copy_(s.log())
        enc.weight.copy_(torch.stack([a, torch.zeros(2)]))
        enc.bias.copy_(torch.stack([-(a * b).sum() + (0.0 if exact_posterior else 0.3),
                                    v.log()]))
    marginal = torch.distributions.MultivariateNormal(b, torch.outer(w, w) + torch.diag(s ** 2))
    x = b + torch.randn(50, 2, generator=torch.Generator().manual_seed(3)) * 1.5
    return net, x, marginal.log_prob(x), (w, b, s)


def test_exact_posterior_gives_the_exact_marginal():
    # Every importance weight is then p(x) itself: ELBO = IWAE = log p(x) for any k.
    net, x, exact, _ = _linear_gaussian_vae(exact_posterior=True)
    for k in (1, 16):
        out = net.log_likelihood(x, k=k, generator=torch.Generator().manual_seed(0))
        torch.testing.assert_close(out["iwae"], exact, atol=1e-4, rtol=0)
        torch.testing.assert_close(out["elbo"], exact, atol=1e-4, rtol=0)


def test_iwae_approaches_the_exact_marginal_from_below():
    net, x, exact, (w, b, s) = _linear_gaussian_vae(exact_posterior=False)
    gaps = []
    for k in (1, 16, 4096):
        out = net.log_likelihood(x, k=k, generator=torch.Generator().manual_seed(0))
        gaps.append((exact - out["iwae"]).mean().item())
    assert gaps[0] > gaps[1] > gaps[2] > -2e-3, gaps  # tightens, and stays below on average
    assert gaps[0] > 0.05 and gaps[2] < 5e-3, gaps
    # The ELBO's gap is KL(q(z|x) || p(z|x)) between two 1-D Gaussians, in closed form.
    with torch.no_grad():
        mu, logvar = net.posterior(x, None)
    post_v = 1 / (1 + (w ** 2 / s ** 2).sum())
    post_mu = post_v * (w / s ** 2 * (x - b)).sum(1)
    q_mu, q_v = mu.squeeze(1), logvar.exp().squeeze(1)
    kl = 0.5 * (q_v / post_v + (q_mu - post_mu) ** 2 / post_v - 1 - torch.log(q_v / post_v))
    elbo = net.log_likelihood(x, k=4096, generator=torch.Generator().manual_seed(1))["elbo"]
    # Monte Carlo error: the log-weights' std is about 3 here, so about 0.05 per example.
    error = elbo - (exact - kl)
    assert error.abs().max() < 0.25 and abs(error.mean()) < 0.02, error


def test_cvae_likelihood_sums_the_class_bounds(monkeypatch):
    from genbench_vaes import autoencoders

    monkeypatch.setattr(autoencoders, "LL_BUDGET", 40)  # several chunks of 5 examples
    net, x, y = digits_vae("cvae")
    x, k = x[:12], 8
    out = net.log_likelihood(x, k=k, generator=torch.Generator().manual_seed(0))
    per_class = [net.conditional_log_likelihood(x, torch.full((12,), c), k=k,
                                                generator=torch.Generator().manual_seed(0))
                 for c in range(10)]
    for key in ("elbo", "iwae"):
        by_hand = torch.logsumexp(torch.stack([p[key] for p in per_class], 1), 1) - math.log(10)
        torch.testing.assert_close(out[key], by_hand, atol=1e-5, rtol=0)
        assert out[key].shape == (12,)
    assert (out["iwae"] >= out["elbo"] - 1e-4).all()
    # log p(x) >= log p(x|c) + log p(c) for every class c.
    best = torch.stack([p["iwae"] for p in per_class], 1).max(1).values - math.log(10)
    assert (out["iwae"] >= best - 1e-5).all()
    # y is not needed (and not used) for the likelihood of x alone.
    again = net.log_likelihood(x, y[:12], k=k, generator=torch.Generator().manual_seed(0))
    assert torch.equal(again["iwae"], out["iwae"])
    # Too many classes to sum over: no likelihood in that configuration.
    many = build("cvae", "images", (3, 8, 8), num_classes=1000)
    assert many.log_likelihood(torch.zeros(2, 3, 8, 8), k=2) == {}
    assert "elbo" in build("cvae", "images", (3, 8, 8), "likelihood_max_classes=1000",
                           num_classes=1000).log_likelihood(torch.zeros(2, 3, 8, 8), k=2)


def test_bernoulli_decoder_trains_but_has_no_likelihood():
    net, x, y = digits_vae("vae", "decoder=bernoulli")
    fake = samples(net)
    assert fake.min() >= -1 and fake.max() <= 1
    assert net.log_likelihood(x[:4], k=4) == {}
    assert not hasattr(net, "log_scale")


def test_gaussian_decoder_scale_is_bounded_and_images_dequantised(monkeypatch):
    net = build("vae", "images", (1, 8, 8), "min_scale=0.5")
    seen = []
    monkeypatch.setattr(net, "log_px", lambda x, out: seen.append(x) or -(out - x).pow(2).sum(
        (1, 2, 3)) * 1e3)
    x = _dataset("digits")[0][:16]
    net.train_step(x, None)
    assert not torch.equal(seen[0], x) and (seen[0] - x).abs().max() <= 2 / 256
    assert net.log_scale.min() >= math.log(0.5) - 1e-6
    off = build("vae", "images", (1, 8, 8), "dequantize=false")
    monkeypatch.setattr(off, "log_px", lambda x, out: seen.append(x) or -(out - x).pow(2).sum(
        (1, 2, 3)))
    off.train_step(x, None)
    assert torch.equal(seen[1], x)


# -- autoencoders: the fitted code Gaussian and the denoising corruption --------------------

def test_ae_fits_a_gaussian_to_its_codes():
    # A frozen encoder: the codes of each batch are known in advance.
    net = frozen(build("ae", "points", (2,), "latent_dim=3", "code_decay=0.9"))
    gen = torch.Generator().manual_seed(0)
    batches = [torch.randn(50, 2, generator=gen) * 2 + 1 for _ in range(4)]
    for xb in batches:
        net.train_step(xb, None)
    codes = torch.cat([net.encode(xb) for xb in batches]).double()
    # Bias-corrected exponential averages: batch t of T weighs decay^(T-1-t), each example
    # 1/50 of its batch; the covariance is the weighted population covariance.
    weights = torch.tensor([0.9 ** (3 - t) for t in range(4)]).repeat_interleave(50).double()
    mean = (weights[:, None] * codes).sum(0) / weights.sum()
    cov = torch.cov(codes.T, correction=0, aweights=weights)
    torch.testing.assert_close(net.code_mean, mean)
    torch.testing.assert_close(net.code_cov, cov)
    # One repeated batch: the fit is that batch's mean and covariance at any step.
    same = frozen(build("ae", "points", (2,), "latent_dim=3"))
    for _ in range(3):
        same.train_step(batches[0], None)
    z = same.encode(batches[0]).double()
    torch.testing.assert_close(same.code_mean, z.mean(0))
    torch.testing.assert_close(same.code_cov, torch.cov(z.T, correction=0))
    # The latent draws follow the fitted Gaussian.
    draws = net.latent(40000, torch.Generator().manual_seed(1)).double()
    torch.testing.assert_close(draws.mean(0), mean, atol=0.05 * cov.diag().max().sqrt(),
                               rtol=0)
    torch.testing.assert_close(torch.cov(draws.T), cov, atol=0.05 * cov.diag().max(), rtol=0)


def test_ae_samples_from_a_standard_normal_before_training():
    net = build("ae", "points", (2,), "latent_dim=2")
    assert torch.equal(net.code_mean, torch.zeros(2, dtype=torch.float64))
    z = net.latent(5, torch.Generator().manual_seed(0))
    torch.testing.assert_close(z, torch.randn(5, 2, generator=torch.Generator().manual_seed(0)))


@pytest.mark.parametrize("noise", ["gaussian", "mask"])
def test_dae_corrupts_in_training_only(noise):
    net = frozen(build("dae", "images", (1, 8, 8), f"noise={noise}", "noise_std=0.5",
                       "mask_prob=0.5"))
    seen = []
    net.encoder.register_forward_pre_hook(lambda module, args: seen.append(args[0].clone()))
    x = torch.rand(200, 1, 8, 8, generator=torch.Generator().manual_seed(0)) * 1.8 - 0.9
    net.train_step(x, None)
    corrupted, clean = seen[0], seen[1]  # the loss's input, then the clean codes' input
    if noise == "gaussian":
        assert abs((corrupted - x).std().item() - 0.5) < 0.02
    else:
        masked = corrupted == -1
        assert abs(masked.float().mean().item() - 0.5) < 0.03
        assert torch.equal(corrupted[~masked], x[~masked])
    assert torch.equal(clean, x)
    # The code statistics are of the clean codes.
    torch.testing.assert_close(net.code_mean, net.encode(x).double().mean(0))
    seen.clear()
    net.reconstruct(x)
    net.encode(x)
    assert len(seen) == 2 and all(torch.equal(s, x) for s in seen)


def test_dae_masks_points_to_zero():
    net = build("dae", "points", (2,), "noise=mask", "mask_prob=1.0")
    x = torch.randn(8, 2)
    assert torch.equal(net.corrupt(x), torch.zeros(8, 2))


# -- the conditional VAE ---------------------------------------------------------------------

def test_cvae_refuses_unlabelled_data(cli, workdir):
    with pytest.raises(GenbenchError, match="^cvae: needs class labels") as info:
        build("cvae", "images", (1, 8, 8), num_classes=0)
    assert len(str(info.value).splitlines()) == 1
    code, _, stderr = cli("run", "cvae", "--dataset", "ring8", "--workdir", workdir,
                          "--steps", "1")
    assert code != 0 and "cvae: needs class labels" in stderr
    assert len(stderr.strip().splitlines()) == 1


def test_cvae_follows_its_labels():
    net, x, y = digits_vae("cvae", steps=5)
    z = net.latent(10, torch.Generator().manual_seed(0))
    zeros, ones = net.generate(z, torch.zeros(10, dtype=torch.long)), net.generate(
        z, torch.ones(10, dtype=torch.long))
    assert not torch.allclose(zeros, ones)
    assert torch.equal(zeros, net.generate(z, torch.zeros(10, dtype=torch.long)))
    for call in (lambda: net.generate(z), lambda: net.encode(x[:3]),
                 lambda: net.reconstruct(x[:3]), lambda: net.train_step(x[:3], None)):
        with pytest.raises(GenbenchError, match="^cvae: .* needs class labels"):
            call()
    # sample draws its labels from the generator: z first, then the labels.
    gen = torch.Generator().manual_seed(4)
    z = net.latent(6, gen)
    labels = torch.randint(10, (6,), generator=gen)
    assert torch.equal(samples(net, 6, seed=4), net.generate(z, labels))
    # The encoder uses the label too.
    assert not torch.allclose(net.encode(x[:4], torch.zeros(4, dtype=torch.long)),
                              net.encode(x[:4], torch.ones(4, dtype=torch.long)))


def _squares() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Ten classes of 8x8 images: class k is a bright 2x2 square in cell k of a 4x4 grid."""
    templates = torch.full((10, 1, 8, 8), -1.0)
    for k in range(10):
        r, c = divmod(k, 4)
        templates[k, :, 2 * r:2 * r + 2, 2 * c:2 * c + 2] = 1.0
    gen = torch.Generator().manual_seed(0)
    y = torch.arange(10).repeat(64)
    x = (templates[y] + 0.1 * torch.randn(len(y), 1, 8, 8, generator=gen)).clamp(-1, 1)
    return x, y, templates


@pytest.mark.slow
def test_short_trained_cvae_draws_the_requested_class():
    x, y, templates = _squares()
    net = build("cvae", "images", (1, 8, 8), "width=16", steps=400)
    train(net, x, y, steps=400, batch=64)
    labels = torch.arange(10).repeat(20)
    out = net.generate(net.latent(len(labels), torch.Generator().manual_seed(1)), labels)
    nearest = torch.cdist(out.flatten(1), templates.flatten(1)).argmin(1)
    assert (nearest == labels).float().mean().item() >= 0.9


# -- specs and the command line --------------------------------------------------------------

def test_specs_are_registered_without_torch():
    code = ("import sys; from genbench_vaes import ae_specs; "
            "assert 'torch' not in sys.modules, 'torch imported'; "
            "print(' '.join(s.name for s in ae_specs.SPECS))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.split() == list(MODELS)
    models = get_registries().models
    for name in MODELS:
        spec = models.get(name)
        assert spec.family == ("autoencoder" if name in ("ae", "dae") else "vae")
        assert spec.accepts == ("points", "images") and spec.summary and spec.paper
        assert {"sample", "latent", "encode", "reconstruct"} <= set(spec.capabilities)
        assert ("log_prob" in spec.capabilities) == (name not in ("ae", "dae"))
        assert ("conditional" in spec.capabilities) == (name == "cvae")
        for kind in ("images", "points"):
            resolve_config(spec, "quick", kind)
            resolve_config(spec, "standard", kind)
    assert "arXiv:1312.6114" in models.get("vae").paper
    assert resolve_config(models.get("beta-vae"), "quick", "images").beta == 4.0
    assert resolve_config(models.get("vae"), "quick", "points").latent_dim == 2


@pytest.mark.parametrize("model", ["vae", "ae", "cvae"])
def test_cli_run_completes(model, cli, workdir):
    record = cli_json(cli, "run", model, "--dataset", "digits", "--steps", "3", "--workdir",
                      workdir, "--num-samples", "100", "--metrics", "ndb", "--set", "width=8")
    assert record["status"] == "completed"


def test_cli_run_on_points_completes(cli, workdir):
    record = cli_json(cli, "run", "vae", "--dataset", "ring8", "--steps", "3", "--workdir",
                      workdir, "--num-samples", "100", "--metrics", "modes", "--set", "width=8")
    assert record["status"] == "completed"


def test_cli_scores_likelihood_and_reconstructions(cli, workdir):
    record = cli_json(cli, "run", "vae", "--dataset", "digits", "--steps", "3", "--workdir",
                      workdir, "--num-samples", "100", "--metrics",
                      "likelihood,reconstruction", "--set", "width=8")
    assert record["status"] == "completed"
    values = {m["name"]: m["value"] for m in record["metrics"]}
    assert {"nll", "bpd", "nll_elbo", "mse"} <= set(values)
    assert values["nll"] <= values["nll_elbo"] and all(map(math.isfinite, values.values()))
