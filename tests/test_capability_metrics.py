"""Metrics of a model's capabilities (reconstruction, likelihood), checked on cases with known
answers, applied automatically to any plugin's model that has the capability, and the Gaussian
mixture baseline they were first checked on."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from conftest import cli_json

from genbench import likelihood as lk
from genbench.config import resolve_config
from genbench.evaluation import select_metrics
from genbench.metrics.likelihood import likelihood_metrics, split_log_likelihoods
from genbench.metrics.reconstruction import reconstruction_metrics, ssim_window
from genbench.model import DataInfo
from genbench.plugins import get_registries
from genbench.registry import load_object

# -- reconstruction --------------------------------------------------------------------------


def test_mse_and_psnr_by_hand():
    x = torch.zeros(4, 1, 8, 8)  # 0.5 in [0, 1]
    recon = x + 0.2  # +0.1 in [0, 1]: MSE 0.01, PSNR 10 log10(1 / 0.01) = 20 dB
    out = reconstruction_metrics(x, recon, images=True)
    assert out["mse"] == pytest.approx(0.01)
    assert out["psnr"] == pytest.approx(20.0)
    assert out["ssim"] < 1


def test_perfect_reconstruction_is_capped_not_infinite():
    x = torch.rand(3, 3, 16, 16) * 2 - 1
    out = reconstruction_metrics(x, x.clone(), images=True)
    assert out == {"mse": 0.0, "psnr": 100.0, "ssim": pytest.approx(1.0)}


def test_psnr_is_averaged_per_image():
    x = torch.zeros(2, 1, 8, 8)
    recon = torch.stack([x[0] + 0.2, x[1] + 0.02])  # 20 dB and 40 dB
    assert reconstruction_metrics(x, recon, images=True)["psnr"] == pytest.approx(30.0)


def test_ssim_window_fits_small_images():
    assert ssim_window(32, 32) == 11 and ssim_window(8, 8) == 7 and ssim_window(28, 28) == 11
    from torchmetrics.functional.image import structural_similarity_index_measure

    gen = torch.Generator().manual_seed(0)
    x = torch.rand(5, 1, 8, 8, generator=gen) * 2 - 1
    noisy = (x + 0.3 * torch.randn(x.shape, generator=gen)).clamp(-1, 1)
    want = structural_similarity_index_measure((noisy + 1) / 2, (x + 1) / 2, data_range=1.0,
                                               kernel_size=7)
    assert reconstruction_metrics(x, noisy, images=True)["ssim"] == pytest.approx(float(want))


def test_points_get_the_mse_only_and_bad_reconstructions_are_refused():
    x = torch.zeros(10, 2)
    assert reconstruction_metrics(x, x + 1, images=False) == {"mse": 1.0}
    with pytest.raises(ValueError, match="shape"):
        reconstruction_metrics(x, torch.zeros(10, 3), images=False)
    with pytest.raises(ValueError, match="NaN"):
        reconstruction_metrics(x, torch.full((10, 2), float("nan")), images=False)


# -- likelihood conventions ------------------------------------------------------------------


class Uniform(torch.nn.Module):
    """The uniform distribution on [-1, 1]^D: as a density, or over the 256 bins."""

    def __init__(self, likelihood: str):
        super().__init__()
        self.likelihood = likelihood
        self.seen: list[torch.Tensor] = []

    def log_likelihood(self, x, y=None, *, k=64, generator=None):
        self.seen.append(x)
        d = x[0].numel()
        per_value = -math.log(2) if self.likelihood == "density" else -math.log(256)
        return {"exact": torch.full((len(x),), d * per_value)}


@pytest.mark.parametrize("kind", ["density", "discrete"])
def test_uniform_models_score_exactly_8_bits_per_dim(kind):
    # Density 1/2 per value, plus log(2/256) per value for the bin: -log 256 per value either way.
    x = torch.rand(7, 3, 4, 4) * 2 - 1
    model = Uniform(kind)
    values = split_log_likelihoods(model, x, None, images=True, k=1, seed=0, device="cpu",
                                   chunk=3)
    out = likelihood_metrics(values, 48)
    assert out["bpd"] == pytest.approx(8.0) and out["nll"] == pytest.approx(48 * math.log(256))
    seen = torch.cat(model.seen)
    bins = lk.to_bins(x)
    assert torch.equal(lk.to_bins(seen), bins)  # every value stays in its own bin
    if kind == "discrete":
        assert torch.allclose(seen, (bins + 0.5) / 128 - 1)
    else:  # dequantised: spread inside the bins, and the same draw for the same seed
        frac = (seen + 1) * 128 - bins
        assert 0 <= frac.min() and frac.max() < 1 and frac.std() > 0.2
        again = Uniform(kind)
        split_log_likelihoods(again, x, None, images=True, k=1, seed=0, device="cpu", chunk=3)
        assert torch.equal(torch.cat(again.seen), seen)


def test_bins_and_bits_per_dim_by_hand():
    x = torch.tensor([-1.0, -0.99, 0.0, 0.999, 1.0])
    assert lk.to_bins(x).tolist() == [0, 1, 128, 255, 255]
    assert lk.bits_per_dim(2 * math.log(2) * 10, 10) == pytest.approx(2.0)
    # A 2-value image with probability 1/16: 4 bits in all, 2 bits per dimension.
    assert likelihood_metrics({"exact": torch.tensor([math.log(1 / 16)])}, 2)["bpd"] == \
        pytest.approx(2.0)


def test_bounds_are_reported_tightest_first_with_the_elbo_beside():
    values = {"elbo": torch.tensor([-12.0, -10.0]), "iwae": torch.tensor([-11.0, -9.0])}
    out = likelihood_metrics(values, 4)
    assert out["nll"] == 10.0 and out["nll_elbo"] == 11.0
    assert out["bpd"] == pytest.approx(10 / (4 * math.log(2)))
    assert set(likelihood_metrics({"exact": torch.tensor([-1.0])}, 1)) == {"nll", "bpd"}
    assert likelihood_metrics({}, 4) == {}


def test_non_finite_likelihoods_are_refused():
    class Broken(Uniform):
        def log_likelihood(self, x, y=None, *, k=64, generator=None):
            return {"exact": torch.full((len(x),), float("nan"))}

    with pytest.raises(ValueError, match="NaN"):
        split_log_likelihoods(Broken("density"), torch.zeros(3, 2), None, images=False, k=1,
                              seed=0, device="cpu")


# -- the Gaussian mixture: a known answer ----------------------------------------------------

def _known_mixture():
    from torch import distributions as dist

    means = torch.tensor([[-2.0, 0.0], [2.0, 1.0], [0.0, 3.0]], dtype=torch.float64)
    scales = torch.tensor([[0.5, 0.3], [0.4, 0.8], [0.6, 0.6]], dtype=torch.float64)
    return dist.MixtureSameFamily(dist.Categorical(torch.tensor([0.5, 0.3, 0.2],
                                                                dtype=torch.float64)),
                                  dist.Independent(dist.Normal(means, scales), 1))


def build_gmm(shape=(2,), kind="points", *overrides, steps=1):
    spec = get_registries().models.get("gmm")
    config = resolve_config(spec, "quick", kind, steps, ("components=3",) + overrides)
    return load_object(spec.factory)(config, DataInfo(kind, shape))


def test_gmm_fitted_to_a_known_mixture_scores_its_true_likelihood():
    truth = _known_mixture()
    torch.manual_seed(0)
    train, test = truth.sample((6000,)), truth.sample((4000,))
    model = build_gmm()
    losses = model.train_step(train.float(), None)
    assert losses["converged"] == 1.0
    got = model.log_likelihood(test.float())["exact"]
    true_nll = float(-truth.log_prob(test).mean())
    assert float(-got.mean()) == pytest.approx(true_nll, abs=0.03)
    values = split_log_likelihoods(model, test.float(), None, images=False, k=1, seed=0,
                                   device="cpu")
    out = likelihood_metrics(values, 2)
    assert out["bpd"] == pytest.approx(out["nll"] / (2 * math.log(2)))
    weights, _ = torch.sort(model.weights)
    assert torch.allclose(weights, torch.tensor([0.2, 0.3, 0.5], dtype=torch.float64),
                          atol=0.02)


@pytest.mark.parametrize("covariance", ["full", "diag", "tied", "spherical"])
def test_gmm_covariance_types_sample_and_reload(covariance, tmp_path):
    torch.manual_seed(0)
    x = _known_mixture().sample((500,)).float()
    model = build_gmm((2,), "points", f"covariance={covariance}")
    model.train_step(x, None)
    a = model.sample(50, torch.Generator().manual_seed(1))
    assert a.shape == (50, 2) and torch.isfinite(a).all()
    ll = model.log_likelihood(x)["exact"]
    assert torch.isfinite(ll).all() and ll.dtype == torch.float64
    path = tmp_path / "gmm.pt"
    torch.save(model.training_state(), path)
    fresh = build_gmm((2,), "points", f"covariance={covariance}")
    fresh.load_training_state(torch.load(path, weights_only=True))
    assert torch.equal(fresh.sample(50, torch.Generator().manual_seed(1)), a)
    assert torch.equal(fresh.log_likelihood(x)["exact"], ll)
    # a second step continues EM from the fit instead of starting over
    assert model.train_step(x, None)["em_iterations"] <= 3


@pytest.mark.parametrize("covariance", ["full", "diag", "tied", "spherical"])
def test_gmm_log_density_and_moments_match_scikit_learn(covariance):
    from sklearn.mixture import GaussianMixture

    torch.manual_seed(0)
    x = _known_mixture().sample((800,)).double()
    gm = GaussianMixture(3, covariance_type=covariance, random_state=0).fit(x.numpy())
    model = build_gmm((2,), "points", f"covariance={covariance}")
    model._store(gm)  # the torch side holds scikit-learn's fit
    ours = model.log_likelihood(x)["exact"].numpy()
    assert abs(ours - gm.score_samples(x.numpy())).max() < 1e-9
    # samples follow the fitted mixture: mean and covariance of many draws
    s = model.sample(200_000, torch.Generator().manual_seed(0)).double()
    mean = (torch.as_tensor(gm.weights_)[:, None] * torch.as_tensor(gm.means_)).sum(0)
    assert torch.allclose(s.mean(0), mean, atol=0.02)


def test_gmm_on_images_samples_in_range_and_is_dequantised():
    torch.manual_seed(0)
    x = (torch.rand(200, 1, 4, 4) * 2 - 1)
    model = build_gmm((1, 4, 4), "images", "components=2")
    model.train_step(x, None)
    s = model.sample(20, torch.Generator().manual_seed(0))
    assert s.shape == (20, 1, 4, 4) and s.min() >= -1 and s.max() <= 1


# -- applied automatically, by capability ----------------------------------------------------

def test_metrics_follow_capabilities():
    registries = get_registries()
    digits = registries.datasets.get("digits")
    names = lambda caps: {m.name for m in select_metrics(registries.metrics, digits, None, caps)}  # noqa: E731
    assert not {"reconstruction", "likelihood"} & names(("sample",))
    assert {"reconstruction", "likelihood"} <= names(("sample", "reconstruct", "log_prob"))
    from genbench.errors import GenbenchError

    with pytest.raises(GenbenchError, match="needs a model that can reconstruct; model 'dcgan'"):
        select_metrics(registries.metrics, digits, ["reconstruction"], ("sample",), "dcgan")


THIRD_PARTY = """
import math
import torch
from dataclasses import dataclass
from genbench import hookimpl
from genbench.config import TrainConfig
from genbench.model import GenerativeModel
from genbench.registry import ModelSpec


@dataclass
class Config(TrainConfig):
    steps: int = 2


class Blur(GenerativeModel):
    likelihood = "density"

    def __init__(self, config, data):
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(()))
        self.optimizers = {"opt": torch.optim.SGD([self.w], lr=0.1)}

    def train_step(self, x, y):
        return {"loss": 0.0}

    def sample(self, n, generator=None):
        return torch.rand(n, 1, 8, 8, generator=generator) * 2 - 1

    def reconstruct(self, x, y=None):
        return x * 0.5

    def log_likelihood(self, x, y=None, *, k=64, generator=None):
        return {"exact": torch.full((len(x),), -x[0].numel() * math.log(2))}

    def encode(self, x, y=None):
        return x.flatten(1)[:, 27:29]  # two central pixels: a 2-D latent space

    def latent(self, n, generator=None):
        return torch.rand(n, 2, generator=generator) * 2 - 1

    def generate(self, z, labels=None):
        return z[:, :1, None, None].expand(-1, 1, 8, 8).clone()


@hookimpl
def register_models(register):
    register(ModelSpec(name="blur", family="test", summary="s", paper="p",
                       factory="genbench_test_blur:Blur", config=Config, accepts=("images",),
                       capabilities=("sample", "reconstruct", "log_prob", "encode",
                                     "latent")))
"""


def test_a_third_party_model_gets_its_capability_metrics(fake_plugin, cli, workdir):
    fake_plugin("blur", THIRD_PARTY)
    record = cli_json(cli, "run", "blur", "--dataset", "digits", "--workdir", workdir,
                      "--metrics", "reconstruction,likelihood")
    values = {m["name"]: m for m in record["metrics"]}
    x = load_object(get_registries().datasets.get("digits").loader)(split="test").x
    assert values["mse"]["value"] == pytest.approx(float((((x + 1) / 2 - (x * 0.5 + 1) / 2)
                                                          ** 2).mean()), rel=1e-5)
    assert values["bpd"]["value"] == pytest.approx(8.0)
    assert values["mse"]["n_real"] == len(x) and values["mse"]["n_fake"] == 0
    assert (Path(record["run_dir"]) / "reconstructions.png").stat().st_size > 0
    likelihood_board = workdir / "leaderboards" / "digits-likelihood.md"
    assert "| blur" in likelihood_board.read_text()
    assert "bpd" not in (workdir / "leaderboards" / "digits.md").read_text()


def test_gmm_runs_end_to_end_and_gans_stay_off_the_likelihood_board(cli, workdir):
    gmm = cli_json(cli, "run", "gmm", "--dataset", "ring8", "--workdir", workdir)
    values = {m["name"]: m["value"] for m in gmm["metrics"]}
    assert {"nll", "bpd", "modes_covered"} <= set(values)
    assert values["bpd"] == pytest.approx(values["nll"] / (2 * math.log(2)))
    cli_json(cli, "run", "gan", "--dataset", "ring8", "--steps", "3", "--workdir", workdir,
             "--num-samples", "200")
    board = (workdir / "leaderboards" / "ring8-likelihood.md").read_text()
    assert "| gmm" in board and "| gan " not in board
    assert "| gan " in (workdir / "leaderboards" / "ring8.md").read_text()


def test_latent_views_of_a_model_that_encodes(fake_plugin, cli, workdir):
    fake_plugin("blur", THIRD_PARTY)
    record = cli_json(cli, "run", "blur", "--dataset", "digits", "--workdir", workdir,
                      "--metrics", "ndb")
    run_dir = Path(record["run_dir"])
    assert (run_dir / "latent.png").stat().st_size > 0  # 2-D codes coloured by class
    code, stdout, stderr = cli("samples", record["run_id"], "--workdir", workdir,
                               "--interpolate", "--out", workdir / "views")
    assert code == 0, stderr
    for name in ("samples", "interpolate", "reconstructions", "interpolate_data", "latent"):
        assert (workdir / "views" / f"{name}.png").stat().st_size > 0, name


def test_a_capability_without_its_method_is_refused_before_training(fake_plugin, cli, workdir):
    fake_plugin("blur", THIRD_PARTY.replace("    def reconstruct(self, x, y=None):",
                                            "    def not_reconstruct(self, x, y=None):"))
    code, _, stderr = cli("run", "blur", "--dataset", "digits", "--workdir", workdir)
    assert code == 2 and len(stderr.strip().splitlines()) == 1
    assert "declares the capability 'reconstruct' but has no reconstruct() method" in stderr
    assert not (workdir / "runs").exists()
